"""Attachments in the local database: each file's bytes once (`blobs`, by SHA-256),
and the files each message carries (`attachments`). Called inside Store's transactions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from codhechat.models import AttachedFile, Attachment, Message
from codhechat.store.rows import Reads

if TYPE_CHECKING:
    import sqlite_utils  # imported by Store when it first needs it (not before the first frame)


def attach(db: sqlite_utils.Database, message_id: int, files: Sequence[AttachedFile]) -> None:
    for position, file in enumerate(files):
        a = file.attachment
        db.execute("insert or ignore into blobs (sha256, data) values (?, ?)", [a.sha256, file.data])
        db.table("attachments").insert(
            {"message_id": message_id, "position": position, "name": a.name, "mime": a.mime,
             "kind": a.kind, "size": a.size, "sha256": a.sha256}
        )  # fmt: skip


def with_attachments(db: Reads, messages: list[Message]) -> list[Message]:
    """The messages, each with the attachments it carries (one query for all)."""
    ids = [m.id for m in messages]
    if not ids or not db.execute("select 1 from attachments limit 1").fetchone():
        return messages
    found: dict[int, list[Attachment]] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        rows = db.execute(
            f"select message_id, name, mime, kind, size, sha256 from attachments "
            f"where message_id in ({','.join('?' * len(part))}) order by message_id, position",
            part,
        ).fetchall()
        for message_id, *fields in rows:
            found.setdefault(message_id, []).append(Attachment(*fields))
    if not found:
        return messages
    from dataclasses import replace

    return [replace(m, attachments=tuple(found[m.id])) if m.id in found else m for m in messages]


def blob(db: sqlite_utils.Database, sha256: str) -> bytes | None:
    row = db.execute("select data from blobs where sha256 = ?", [sha256]).fetchone()
    return bytes(row[0]) if row else None


def detach(db: sqlite_utils.Database, where: str, params: Sequence[object]) -> None:
    """Remove the attachments of the messages `where` selects, and blobs no message uses."""
    db.execute(f"delete from attachments where message_id in (select id from messages where {where})", list(params))
    db.execute("delete from blobs where sha256 not in (select sha256 from attachments)")
