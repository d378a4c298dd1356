"""Conversations as trees in the server's database (the same tree as local mode's
store/tree.py): each message has a parent (`messages.parent_id`, NULL for a first
message), each conversation a current leaf (`conversations.current_leaf`), the end of
the path that the classic history shows and the model gets; each message remembers
which version after it the path last took (`current_child`).

A message is always stored after its parent, so ids grow along any path: a path read
from its leaf up, sorted by id, is the conversation as it reads. Plain SQL with
recursive CTEs, the same on SQLite and PostgreSQL; called inside a caller's transaction
(nothing here commits). A turn's helpers (prompt_parent, recent_path, appended) run on a
bare connection as well as on a session (`Db`), and their statements are built once with
bound parameters: SQLAlchemy keys its compiled cache by walking a statement, which costs
more than running these when each call builds its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Row, String, Table, bindparam, case, column, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from codhechat.server.models import Conversation, Message, UTCDateTime

Db = AsyncSession | AsyncConnection  # a turn's statements need no ORM session around them

# The path up from :start (a message id), as rows `up(id)`.
_UP = (
    "WITH RECURSIVE up(id) AS (SELECT CAST(:start AS INTEGER) "
    "UNION ALL SELECT m.parent_id FROM messages m JOIN up ON m.id = up.id WHERE m.parent_id IS NOT NULL) "
)
# The current paths of the conversations :ids, as rows `path(id)`.
_PATHS = (
    "WITH RECURSIVE path(id) AS (SELECT current_leaf FROM conversations "
    "WHERE id IN :ids AND current_leaf IS NOT NULL "
    "UNION ALL SELECT m.parent_id FROM messages m JOIN path ON m.id = path.id WHERE m.parent_id IS NOT NULL) "
)
_DOWN = (
    "WITH RECURSIVE down(id) AS (SELECT CAST(:start AS INTEGER) UNION ALL SELECT COALESCE("
    "(SELECT c.id FROM messages p JOIN messages c ON c.id = p.current_child WHERE p.id = down.id), "
    "(SELECT max(k.id) FROM messages k WHERE k.parent_id = down.id)) FROM down WHERE down.id IS NOT NULL) "
    "SELECT max(id) FROM down"
)
_SUBTREE = (
    "WITH RECURSIVE sub(id) AS (SELECT CAST(:start AS INTEGER) "
    "UNION ALL SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id) SELECT id FROM sub"
)


_conversations, _messages = cast(Table, Conversation.__table__), cast(Table, Message.__table__)
_RECENT = text(  # the newest first up from :start, cut at :limit, then in id order
    _UP + "SELECT m.id, m.conversation_id, m.role, m.content, m.timestamp FROM messages m "
    "WHERE m.id IN (SELECT id FROM up LIMIT :limit) ORDER BY m.id"
).columns(column("id", Integer), column("conversation_id", Integer), column("role", String),
          column("content", String), column("timestamp", UTCDateTime))  # fmt: skip
_NEWEST = select(func.max(_messages.c.id)).where(_messages.c.conversation_id == bindparam("c", type_=Integer))
_LEAF, _PARENT = bindparam("t_leaf", type_=Integer), bindparam("t_parent", type_=Integer)
_MOVE_LEAF = (
    update(_conversations).where(_conversations.c.id == bindparam("t_conversation", type_=Integer))
    .values(updated_at=bindparam("t_now", type_=UTCDateTime), current_leaf=_LEAF)
)  # fmt: skip
_MOVE_LEAF_IF_AT_PARENT = _MOVE_LEAF.values(
    current_leaf=case((_conversations.c.current_leaf == _PARENT, _LEAF), else_=_conversations.c.current_leaf)
)
_CHOOSE_CHILD = update(_messages).where(_messages.c.id == _PARENT).values(current_child=_LEAF)


async def leaf_of(session: AsyncSession, conversation_id: int) -> int | None:
    return await session.scalar(select(Conversation.current_leaf).where(Conversation.id == conversation_id))


async def up_from(session: AsyncSession, message_id: int) -> list[int]:
    """The ids of the path that ends at `message_id`, oldest first."""
    rows = await session.execute(text(_UP + "SELECT id FROM up"), {"start": message_id})
    return sorted(int(row[0]) for row in rows)


async def path_ids(session: AsyncSession, conversation_id: int) -> list[int]:
    """The current path's message ids, oldest first. A conversation without a leaf (its
    messages written by something that knows no tree) reads as every message in order."""
    leaf = await leaf_of(session, conversation_id)
    if leaf is None:
        rows = await session.scalars(select(Message.id).where(Message.conversation_id == conversation_id))
        return sorted(rows)
    return await up_from(session, leaf)


async def on_paths(session: AsyncSession, conversation_ids: Iterable[int]) -> set[int]:
    """The ids of the messages on the current paths of these conversations (one query)."""
    ids = list(conversation_ids)
    if not ids:
        return set()
    statement = text(_PATHS + "SELECT id FROM path").bindparams(bindparam("ids", expanding=True))
    return {int(row[0]) for row in await session.execute(statement, {"ids": ids})}


async def messages_by_id(session: AsyncSession, ids: Sequence[int]) -> list[Message]:
    found: list[Message] = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        found += (await session.scalars(select(Message).where(Message.id.in_(part)))).all()
    return sorted(found, key=lambda m: m.id)


async def page(
    session: AsyncSession, *, conversation_id: int, skip: int, limit: int, before: int | None
) -> tuple[list[Message], int]:
    """A page of the current path (the classic history), in id order, and the path's length;
    with `before`, the `limit` messages just before that id."""
    ids = await path_ids(session, conversation_id)
    if before is not None:
        earlier = [i for i in ids if i < before]
        chosen = earlier[max(0, len(earlier) - skip - limit) : len(earlier) - skip]
    else:
        chosen = ids[skip : skip + limit]
    return await messages_by_id(session, chosen), len(ids)


async def recent_path(db: Db, *, start: int | None, limit: int) -> list[Row[Any]]:
    """The last `limit` messages of the path that ends at `start` (None: none), oldest
    first, as rows (id, conversation_id, role, content, timestamp)."""
    if start is None or limit <= 0:
        return []
    # The walk goes up from `start`, newest first, and stops once `limit` rows are out
    # (SQLite and PostgreSQL both run a recursive CTE lazily under a LIMIT), so a turn
    # costs the same however long the conversation is.
    return list((await db.execute(_RECENT, {"start": start, "limit": limit})).all())


async def set_leaf(session: AsyncSession, conversation_id: int, leaf: int | None) -> None:
    """Make `leaf` the end of the current path, and each message on the path remember the
    version after it that the path takes, so that coming back there comes back to it."""
    await session.execute(
        text("UPDATE conversations SET current_leaf = :leaf WHERE id = :c"), {"leaf": leaf, "c": conversation_id}
    )
    if leaf is None:
        return
    pairs = (await session.execute(
        text(_UP + "SELECT m.id, m.parent_id FROM up JOIN messages m ON m.id = up.id WHERE m.parent_id IS NOT NULL"),
        {"start": leaf},
    )).all()  # fmt: skip
    if pairs:
        await session.execute(
            text("UPDATE messages SET current_child = :child WHERE id = :parent "
                 "AND (current_child IS NULL OR current_child <> :child)"),
            [{"child": child, "parent": parent} for child, parent in pairs],
        )  # fmt: skip


async def attach(session: AsyncSession, *, conversation_id: int, message_id: int, parent_id: Any = ...) -> None:
    """A message just inserted follows `parent_id` (by default the current leaf) and ends
    the current path."""
    leaf = await leaf_of(session, conversation_id)
    if parent_id is ...:
        parent_id = leaf
    await session.execute(
        text("UPDATE messages SET parent_id = :parent WHERE id = :id"), {"parent": parent_id, "id": message_id}
    )
    if parent_id is None or parent_id != leaf:  # on another branch: the whole path remembers it
        await set_leaf(session, conversation_id, message_id)
        return
    # After the leaf (a turn, as it almost always is): the path above already remembers its way.
    await session.execute(
        text("UPDATE conversations SET current_leaf = :id WHERE id = :c"), {"id": message_id, "c": conversation_id}
    )
    await session.execute(
        text("UPDATE messages SET current_child = :id WHERE id = :parent"), {"id": message_id, "parent": parent_id}
    )


async def appended(db: Db, rows: Sequence[tuple[int, int, int | None]], *, now: datetime, if_at_parent: bool) -> None:
    """Messages just inserted after the current leaf, each (conversation id, message id,
    parent id), become the leaves (their conversations' `updated_at` is `now`): a turn's
    prompt or reply, the cheap way, two statements for any number (the path above already
    remembers its way). `if_at_parent`: only where the leaf is still that parent (a reply
    whose conversation was switched to another branch while it streamed leaves it there)."""
    await db.execute(
        _MOVE_LEAF_IF_AT_PARENT if if_at_parent else _MOVE_LEAF,
        [{"t_conversation": c, "t_leaf": m, "t_parent": p, "t_now": now} for c, m, p in rows],
    )
    followed = [{"t_leaf": m, "t_parent": p} for _, m, p in rows if p is not None]
    if followed:
        await db.execute(_CHOOSE_CHILD, followed)


async def prompt_parent(db: Db, conversation_id: int, leaf: int | None) -> int | None:
    """What a new prompt follows: the current leaf; in a conversation without one whose
    messages something else wrote, the newest of them."""
    if leaf is not None:
        return leaf
    return cast(int | None, await db.scalar(_NEWEST, {"c": conversation_id}))


async def continuation(session: AsyncSession, message_id: int) -> int:
    """The leaf a path through `message_id` goes on to: after each message the version it
    remembers being on, else the newest."""
    return int(await session.scalar(text(_DOWN), {"start": message_id}))


async def switch(session: AsyncSession, *, conversation_id: int, message_id: int) -> None:
    """Make the path through `message_id` current (nothing changes if it already is)."""
    leaf = await leaf_of(session, conversation_id)
    if leaf is not None and message_id in await up_from(session, leaf):
        return
    await set_leaf(session, conversation_id, await continuation(session, message_id))


async def delete_subtree(session: AsyncSession, *, conversation_id: int, message: Message) -> int:
    """Delete a message and everything after it; if the current path went through it,
    the newest continuation left under its parent becomes current. How many went."""
    ids = [int(row[0]) for row in await session.execute(text(_SUBTREE), {"start": message.id})]
    parent_id, leaf = message.parent_id, await leaf_of(session, conversation_id)
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        await session.execute(text("DELETE FROM messages WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)), {"ids": part})  # fmt: skip
    if leaf is None or leaf in ids:
        if parent_id is not None:
            await set_leaf(session, conversation_id, await continuation(session, parent_id))
        else:
            newest = await session.scalar(
                select(Message.id).where(Message.conversation_id == conversation_id).order_by(Message.id.desc())
            )
            await set_leaf(session, conversation_id, newest)
    return len(ids)


def siblings(rows: Sequence[Message]) -> dict[int, tuple[int, ...]]:
    """For each message of a whole tree that has alternatives: it and them, in id order."""
    children: dict[int | None, list[int]] = {}
    for row in sorted(rows, key=lambda m: m.id):
        children.setdefault(row.parent_id, []).append(row.id)
    return {i: tuple(kids) for kids in children.values() if len(kids) > 1 for i in kids}
