"""Conversations as trees, in SQL: each message has a parent (`messages.parent_id`, NULL
for a first message) and each conversation a current leaf (`conversations.current_leaf`),
the end of the path the app shows and the model gets as history.

A message is always stored after its parent, so along any path ids grow: the path read
from the leaf up, in id order, is the conversation as it reads, and the newest message
under a message (the largest id) is a leaf, the end of its latest continuation. Each
message also remembers which version after it the path last took (`current_child`).
Called inside Store's lock or transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from codhechat.models import Message
from codhechat.store.rows import Reads

if TYPE_CHECKING:
    import sqlite_utils  # imported by Store when it first needs it (not before the first frame)

# The current path of conversation :conversation, as rows `path(id)`, leaf first.
PATH = (
    "with recursive path(id) as ("
    "select current_leaf from conversations where id = :conversation and current_leaf is not null "
    "union all select m.parent_id from messages m join path on m.id = path.id where m.parent_id is not null) "
)
# The message :message and everything under it, as rows `subtree(id)`.
SUBTREE = (
    "with recursive subtree(id) as (select :message "
    "union all select m.id from messages m join subtree on m.parent_id = subtree.id) "
)


def link_in_order(db: sqlite_utils.Database) -> None:
    """Make every conversation that has no current leaf one path, its messages in the
    order written (the migration to trees; messages inserted by other tools)."""
    db.execute(
        "update messages set parent_id = (select max(p.id) from messages p "
        "where p.conversation_id = messages.conversation_id and p.id < messages.id) "
        "where conversation_id in (select id from conversations where current_leaf is null)"
    )
    db.execute(
        "update conversations set current_leaf = "
        "(select max(m.id) from messages m where m.conversation_id = conversations.id) where current_leaf is null"
    )


def leaf_of(db: sqlite_utils.Database, conversation_id: int) -> int | None:
    row = db.execute("select current_leaf from conversations where id = ?", [conversation_id]).fetchone()
    return row[0] if row else None


def set_leaf(db: sqlite_utils.Database, conversation_id: int, leaf: int | None) -> None:
    """Make `leaf` the end of the current path, and each message on the path remember the
    version after it that the path takes (`current_child`), so that coming back to it
    later comes back to the same continuation."""
    db.execute("update conversations set current_leaf = ? where id = ?", [leaf, conversation_id])
    pairs = db.execute(
        PATH + "select m.id, m.parent_id from path join messages m on m.id = path.id where m.parent_id is not null",
        {"conversation": conversation_id},
    ).fetchall()
    db.conn.executemany(
        "update messages set current_child = ? where id = ? and current_child is not ?",
        [(child, parent, child) for child, parent in pairs],
    )


def continuation(db: sqlite_utils.Database, message_id: int) -> int:
    """The leaf a path through `message_id` goes on to: after each message, the version it
    remembers being on (see set_leaf), else the newest."""
    sql = (
        "with recursive down(id) as (select :message union all select coalesce("
        "(select c.id from messages p join messages c on c.id = p.current_child where p.id = down.id), "
        "(select max(k.id) from messages k where k.parent_id = down.id)) from down where down.id is not null) "
        "select max(id) from down"
    )
    return int(db.execute(sql, {"message": message_id}).fetchone()[0])


def path_page(
    db: Reads, conversation_id: int, *, before: int | None, after: int | None, limit: int
) -> list[dict[str, Any]]:
    """Rows of a page of the current path, in id order: the newest, or those before/after an id.

    The path is walked from the leaf up, newest first, and the walk stops once the page is
    full (SQLite feeds a recursive CTE to an unordered outer query row by row), so the
    newest page and those near it cost the same however long the conversation is."""
    params: dict[str, Any] = {"conversation": conversation_id, "limit": limit}
    if after is not None:
        ids = [row[0] for row in db.execute(PATH + "select id from path where id > :after", params | {"after": after})]
        ids = ids[::-1][:limit]
    else:
        sql = PATH + "select id from path where id < :before limit :limit"
        ids = [row[0] for row in db.execute(sql, params | {"before": before if before is not None else 2**62})][::-1]
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        rows += db.query(f"select * from messages where id in ({','.join('?' * len(part))}) order by id", part)
    return rows


def subtree_ids(db: sqlite_utils.Database, message_id: int) -> list[int]:
    return [row[0] for row in db.execute(SUBTREE + "select id from subtree", {"message": message_id})]


def on_path(db: sqlite_utils.Database, conversation_id: int, message_id: int) -> bool:
    sql = PATH + "select 1 from path where id = :message"
    return db.execute(sql, {"conversation": conversation_id, "message": message_id}).fetchone() is not None


def reset_leaf(db: sqlite_utils.Database, conversation_id: int, parent_id: int | None) -> None:
    """After messages under `parent_id` were deleted, if the current leaf was one of them:
    the newest continuation left under that parent (the parent itself if none is)."""
    leaf = leaf_of(db, conversation_id)
    if leaf is not None and db.execute("select 1 from messages where id = ?", [leaf]).fetchone():
        return
    if parent_id is not None:
        set_leaf(db, conversation_id, continuation(db, parent_id))
    else:
        row = db.execute("select max(id) from messages where conversation_id = ?", [conversation_id]).fetchone()
        set_leaf(db, conversation_id, row[0] if row else None)


def with_siblings(db: Reads, messages: Sequence[Message]) -> list[Message]:
    """The messages, each with the ids of it and its alternatives when it has any (one
    query per 500 parents, and one per conversation for first messages)."""
    children: dict[int | None, list[int]] = {}
    parents = sorted({m.parent_id for m in messages if m.parent_id is not None})
    for start in range(0, len(parents), 500):
        part = parents[start : start + 500]
        rows = db.execute(
            f"select parent_id, id from messages where parent_id in ({','.join('?' * len(part))}) order by id", part
        ).fetchall()
        for parent_id, message_id in rows:
            children.setdefault(parent_id, []).append(message_id)
    roots: dict[int, list[int]] = {}
    for conversation_id in {m.conversation_id for m in messages if m.parent_id is None}:
        rows = db.execute(
            "select id from messages where conversation_id = ? and parent_id is null order by id", [conversation_id]
        ).fetchall()
        roots[conversation_id] = [row[0] for row in rows]
    result = []
    for m in messages:
        kids = children.get(m.parent_id, []) if m.parent_id is not None else roots.get(m.conversation_id, [])
        result.append(replace(m, siblings=tuple(kids)) if len(kids) > 1 else m)
    return result
