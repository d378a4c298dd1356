"""Local conversations in SQLite, through sqlite-utils.

sqlite-utils (about 0.1 s to import, with click and dateutil) is loaded when the store
first needs it, not to open the file or list conversations: those run on the plain
sqlite3 connection, so the first frame never waits for it.

The only module that runs SQL in local mode. It is synchronous and
thread-safe (one connection behind a lock): the backend calls it from worker
threads so the UI never waits on the disk. Two app instances may share a file:
WAL lets readers run beside a writer, a busy timeout lets writers queue, and
every write transaction takes the write lock up front (BEGIN IMMEDIATE), so a
read-then-write transaction can never deadlock into "database is locked".
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codhechat import __version__
from codhechat.errors import StorageError
from codhechat.models import (
    PREVIOUS,
    Conversation,
    ConversationRecord,
    Generation,
)
from codhechat.store.blobs import attach, detach
from codhechat.store.failures import _translated, read_only_error, storage_error
from codhechat.store.messages import MessageTable
from codhechat.store.migrations import MIGRATIONS, SCHEMA_VERSION
from codhechat.store.rows import PlainReads, _conversation, _inserted_id, _now
from codhechat.store.tree import PATH, set_leaf
from codhechat.tools.calls import tool_calls_json

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_S = 10.0


class Store(MessageTable):
    """Conversations and messages in one SQLite file."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self.conn = conn
        self.path = path
        self._lock = threading.RLock()
        self._db: sqlite_utils.Database | None = None
        self.reads = PlainReads(conn)  # what opening the app and a conversation read through
        conn.execute("PRAGMA recursive_triggers = on")  # as sqlite-utils sets it, from the start

    @property
    def db(self) -> sqlite_utils.Database:  # type: ignore[override]
        """The connection through sqlite-utils, imported on first use."""
        if self._db is None:
            with self._lock:
                if self._db is None:
                    import sqlite_utils

                    self._db = sqlite_utils.Database(self.conn)
        return self._db

    @classmethod
    def open(cls, path: Path | str, *, readonly: bool = False) -> Store:
        """Open (and create, and migrate) the database; `readonly` only reads it, which
        works on a read-only file or folder and on a database from a newer codhechat."""
        path = Path(path)
        if readonly:
            return cls._open_readonly(path)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        except OSError as exc:
            raise StorageError(
                f"Cannot create the database at {path}: {exc.strerror}.",
                "Set `database` in the config, or CODHECHAT_DATABASE, to a writable path.",
            ) from None
        except sqlite3.Error as exc:
            raise StorageError(
                f"Cannot open the database at {path}: {exc}.",
                "Set `database` in the config, or CODHECHAT_DATABASE, to a writable path.",
            ) from None
        try:
            store = cls(conn, path)
            store._refuse_newer()
            store._prepare()
        except sqlite3.Error as exc:
            conn.close()
            if "unable to open" in str(exc) and path.exists():
                raise read_only_error() from None  # its folder refuses the -wal and -shm files
            raise storage_error(exc) from None
        except StorageError:
            conn.close()
            raise
        return store

    @classmethod
    def empty(cls) -> Store:
        """A database with nothing in it, in memory: what reading commands see where
        no database has been made yet (they must not create one)."""
        store = cls(sqlite3.connect(":memory:", check_same_thread=False))
        store.migrate()
        return store

    @classmethod
    def _open_readonly(cls, path: Path) -> Store:
        if not path.exists():
            raise StorageError(
                f"There is no conversation database at {path} yet.",
                'Start one with `codhechat` or `codhechat ask "..."`.',
            )
        # A WAL database needs its -shm file, which a read-only folder cannot get: then
        # read the file as immutable (nobody can be writing to a folder nobody may write).
        for query in ("mode=ro", "immutable=1"):
            try:
                conn = sqlite3.connect(
                    f"{path.resolve().as_uri()}?{query}", uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
                )
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                break
            except sqlite3.Error as exc:
                error = exc
        else:
            raise storage_error(error)
        store = cls(conn, path)
        if version < SCHEMA_VERSION:
            conn.close()
            raise StorageError(
                f"The conversation database at {path} is from an older codhechat and needs "
                "upgrading, which needs write access to it.",
                "Run `codhechat` once where the file can be written, or check its permissions.",
            )
        return store

    def _refuse_newer(self) -> None:
        """A newer codhechat's database may hold what this one would corrupt: never write it."""
        version = self.schema_version
        if version <= SCHEMA_VERSION:
            return
        written_by = None
        try:
            row = self.conn.execute("select value from meta where key = 'written_by'").fetchone()
            written_by = row[0] if row else None
        except sqlite3.Error:
            pass
        who = f"codhechat {written_by}" if written_by else "a newer codhechat"
        raise StorageError(
            f"The conversation database at {self.path} was written by {who} (schema version "
            f"{version}); this codhechat ({__version__}) knows schema {SCHEMA_VERSION} and will "
            "not write to it.",
            "Upgrade codhechat (e.g. `pipx upgrade codhechat`). Reading commands (list, show, "
            "search, export) still work.",
        )

    def _prepare(self) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self._enable_wal()
        self.conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; no fsync per commit
        self.migrate()

    def _enable_wal(self) -> None:
        """Switch to WAL, waiting for a concurrent opener: SQLite answers this
        PRAGMA with SQLITE_BUSY at once instead of honouring the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self, target: int = SCHEMA_VERSION) -> None:
        """Bring the schema up to `target`, each step in its own transaction."""
        with self._lock:
            while (version := self.schema_version) < target:
                with self._write():
                    if self.schema_version != version:
                        continue  # another process migrated meanwhile
                    MIGRATIONS[version](self.db)
                    self.conn.execute(f"PRAGMA user_version = {version + 1}")
                    if version + 1 >= 6:
                        self.db.table("meta").upsert({"key": "written_by", "value": __version__}, pk="key")

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.rollback()
                raise
            self.conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    # Conversations

    @_translated
    def list_conversations(self, *, limit: int = 200, offset: int = 0) -> list[Conversation]:
        with self._lock:
            rows = self.reads.query(
                "select * from conversations "
                "order by pinned_at is null, pinned_at desc, updated_at desc, id desc "
                "limit ? offset ?",
                [limit, offset],
            )
            return [_conversation(row) for row in rows]

    @_translated
    def count_conversations(self) -> int:
        with self._lock:
            return int(self.reads.execute("select count(*) from conversations").fetchone()[0])

    @_translated
    def get_conversation(self, conversation_id: int) -> Conversation | None:
        with self._lock:
            rows = list(self.reads.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def create_conversation(self, title: str, *, model: str | None = None) -> Conversation:
        now = _now()
        with self._write():
            table = self.db.table("conversations").insert(
                {"title": title, "created_at": now, "updated_at": now, "model": model}
            )
            return _conversation(table.get(_inserted_id(table)))

    @_translated
    def rename_conversation(self, conversation_id: int, title: str) -> Conversation | None:
        """Retitle a conversation; None if there is no such conversation. Its
        place in the list (last activity) does not change."""
        with self._write():
            self.db.execute("update conversations set title = ? where id = ?", [title, conversation_id])
            rows = list(self.db.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def set_pinned(self, conversation_id: int, pinned: bool) -> Conversation | None:
        """Pin a conversation to the top of the list, or unpin it; None if there is
        no such conversation. Its last activity does not change."""
        with self._write():
            self.db.execute(
                "update conversations set pinned_at = ? where id = ?",
                [_now() if pinned else None, conversation_id],
            )
            rows = list(self.db.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def set_conversation_options(
        self, conversation_id: int, *, model: str | None, system_prompt: str | None
    ) -> Conversation | None:
        """Set the model and system prompt a conversation's replies use (None: the
        configured ones); None if there is no such conversation."""
        with self._write():
            self.db.execute(
                "update conversations set model = ?, system_prompt = ? where id = ?",
                [model, system_prompt, conversation_id],
            )
            rows = list(self.db.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def set_generation(self, conversation_id: int, generation: Generation) -> Conversation | None:
        """Set a conversation's generation parameters; None if there is no such conversation."""
        value = json.dumps(generation.options()) if generation.options() else None
        with self._write():
            self.db.execute("update conversations set generation = ? where id = ?", [value, conversation_id])
            rows = list(self.db.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def set_tools_off(self, conversation_id: int, names: Collection[str]) -> Conversation | None:
        """The tools (or MCP servers) not offered in a conversation; None if there is no such conversation."""
        value = json.dumps(sorted(names)) if names else None
        with self._write():
            self.db.execute("update conversations set tools_off = ? where id = ?", [value, conversation_id])
            rows = list(self.db.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def context_tokens(self, conversation_id: int) -> int | None:
        """The size of the conversation as the model last saw it: the newest reply on the
        current path with reported usage, its prompt plus its completion (None when none
        reported any). Not a sum over replies: every prompt already holds the history
        before it; and not another branch's reply."""
        with self._lock:
            row = self.reads.execute(
                PATH + "select m.prompt_tokens + coalesce(m.completion_tokens, 0) from path "
                "join messages m on m.id = path.id where m.prompt_tokens is not null order by m.id desc limit 1",
                {"conversation": conversation_id},
            ).fetchone()
            return int(row[0]) if row else None

    @_translated
    def delete_conversation(self, conversation_id: int) -> int | None:
        """Delete a conversation and its messages (and their search entries);
        returns how many messages went, or None if there was no such conversation."""
        with self._write():
            if not self.db.execute("select 1 from conversations where id = ?", [conversation_id]).fetchone():
                return None
            detach(self.db, "conversation_id = ?", [conversation_id])
            deleted = self.db.execute("delete from messages where conversation_id = ?", [conversation_id]).rowcount
            self.db.execute("delete from conversations where id = ?", [conversation_id])
            return deleted

    @_translated
    def import_conversations(
        self, records: Sequence[ConversationRecord]
    ) -> tuple[list[Conversation], list[ConversationRecord]]:
        """Add whole conversations, timestamps as given, in one transaction: all
        or nothing. A record whose conversation is already here (same title and
        creation time, as after importing a file twice) is skipped; returns
        (imported, skipped)."""
        imported: list[Conversation] = []
        skipped: list[ConversationRecord] = []
        with self._write():
            for record in records:
                if self.db.execute(
                    "select 1 from conversations where created_at = ? and title = ?",
                    [record.created_at, record.title],
                ).fetchone():
                    skipped.append(record)
                    continue
                conversation = {f.name: getattr(record, f.name) for f in fields(record)
                                if f.name not in ("messages", "current")}  # fmt: skip
                conversation["generation"] = json.dumps(record.generation) if record.generation else None
                conversations = self.db.table("conversations").insert(conversation)
                conversation_id = _inserted_id(conversations)
                self._import_messages(conversation_id, record)
                imported.append(_conversation(conversations.get(conversation_id)))
        return imported, skipped

    def _import_messages(self, conversation_id: int, record: ConversationRecord) -> None:
        """In order (ids are the order), in batches, each attachment after its message; then
        each message's parent and the current leaf, by their places in the record."""
        batch: list[dict[str, Any]] = []
        for m in record.messages:
            row = {f.name: getattr(m, f.name) for f in fields(m) if f.name not in ("attachments", "parent", "next")}
            row["tool_calls"] = tool_calls_json(m.tool_calls)
            batch.append({**row, "status": str(m.status), "conversation_id": conversation_id})
            if m.attachments:
                self.db.table("messages").insert_all(batch, batch_size=500)
                batch.clear()
                attach(self.db, self.db.execute("select max(id) from messages").fetchone()[0], m.attachments)
        self.db.table("messages").insert_all(batch, batch_size=500)
        ids = [row[0] for row in self.db.execute("select id from messages where conversation_id = ? order by id",
                                                 [conversation_id])]  # fmt: skip
        parents = [
            (ids[i - 1] if i else None) if m.parent == PREVIOUS else (None if m.parent is None else ids[m.parent])
            for i, m in enumerate(record.messages)
        ]
        self.db.conn.executemany("update messages set parent_id = ? where id = ?",
                                 [(p, i) for p, i in zip(parents, ids, strict=True) if p is not None])  # fmt: skip
        self.db.conn.executemany("update messages set current_child = ? where id = ?",
                                 [(ids[m.next], i) for m, i in zip(record.messages, ids, strict=True) if m.next is not None])  # fmt: skip
        current = record.current if record.current is not None else len(ids) - 1
        set_leaf(self.db, conversation_id, ids[current] if ids else None)
