"""Queries, keyword-only. Every read of a conversation is scoped to its owner."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Row,
    String,
    Table,
    Update,
    bindparam,
    column,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from codhechat.server import tree
from codhechat.server.models import AuthSession, Base, Conversation, Message, User, UTCDateTime, utcnow


# -- users ------------------------------------------------------------------
async def get_user_by_username(session: AsyncSession, *, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


def _table(model: type[Base]) -> Table:
    """A model's Core table, for the bulk statements: the declarative base types `__table__`
    as any FromClause, though every model here maps one Table."""
    return cast(Table, model.__table__)


async def get_user(session: AsyncSession, *, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def delete_user(session: AsyncSession, *, user_id: int) -> None:
    """The user with their conversations, messages and login sessions."""
    conversation_ids = select(Conversation.id).where(Conversation.user_id == user_id)
    await session.execute(delete(Message).where(Message.conversation_id.in_(conversation_ids)))
    await session.execute(delete(Conversation).where(Conversation.user_id == user_id))
    await session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))
    await session.execute(delete(User).where(User.id == user_id))
    await session.commit()


async def log_out_everywhere(session: AsyncSession, *, user_id: int) -> None:
    """Every token issued so far stops working: the version they carry is passed."""
    await session.execute(update(User).where(User.id == user_id).values(token_version=User.token_version + 1))
    await session.execute(update(AuthSession).where(AuthSession.user_id == user_id).values(revoked=True))
    await session.commit()


# -- login sessions (refresh-token families) -------------------------------------
async def create_auth_session(session: AsyncSession, *, user_id: int, expires_at: datetime) -> AuthSession:
    row = AuthSession(
        id=secrets.token_hex(16), user_id=user_id, refresh_jti=None, revoked=False,
        created_at=utcnow(), expires_at=expires_at,
    )  # fmt: skip
    session.add(row)
    await session.commit()
    return row


async def get_auth_session(session: AsyncSession, *, session_id: str) -> AuthSession | None:
    return await session.get(AuthSession, session_id)


async def rotate_refresh(session: AsyncSession, *, session_id: str, expected_jti: str | None, new_jti: str) -> bool:
    """Make `new_jti` the family's current refresh token if `expected_jti` still is.

    One conditional UPDATE, so two replicas racing on one token cannot both win. With
    `expected_jti=None` (renewed by an access token) any current token is replaced."""
    query = update(AuthSession).where(AuthSession.id == session_id, AuthSession.revoked.is_(False))
    if expected_jti is not None:
        query = query.where(AuthSession.refresh_jti == expected_jti)
    result = await session.execute(query.values(refresh_jti=new_jti))
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_auth_session(session: AsyncSession, *, session_id: str) -> None:
    await session.execute(update(AuthSession).where(AuthSession.id == session_id).values(revoked=True))
    await session.commit()


async def create_user(
    session: AsyncSession, *, username: str, hashed_password: str | None, is_guest: bool = False
) -> User | None:
    """The new user, or None when the name is taken (checked by the unique index).

    The token version starts at a random value: SQLite hands a deleted user's id to the
    next account, and the old account's tokens must not fit the new one."""
    user = User(
        username=username, hashed_password=hashed_password, is_guest=is_guest,
        token_version=secrets.randbelow(2**30),  # below 2^30: room for 2^30 "log out everywhere"s in an int4
    )  # fmt: skip
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return user


async def create_guest(session: AsyncSession) -> User:
    while True:
        user = await create_user(session, username=f"guest_{secrets.token_hex(8)}", hashed_password=None, is_guest=True)
        if user is not None:
            return user


# -- conversations -------------------------------------------------------------
async def count_conversations(session: AsyncSession, *, user_id: int) -> int:
    query = select(func.count()).select_from(Conversation).where(Conversation.user_id == user_id)
    return int(await session.scalar(query) or 0)


async def list_conversations(
    session: AsyncSession, *, user_id: int, skip: int, limit: int, with_messages: bool
) -> Sequence[Conversation]:
    """Newest first, so the first page is the one a sidebar shows."""
    query = (
        select(Conversation)
        .where(Conversation.user_id == user_id)
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .offset(skip)
        .limit(limit)
    )
    if with_messages:
        query = query.options(selectinload(Conversation.messages))
    return (await session.scalars(query)).all()


async def get_conversation(session: AsyncSession, *, user_id: int, conversation_id: int) -> Conversation | None:
    """The caller's conversation, or None: someone else's is indistinguishable from none."""
    return await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    )


async def create_conversation(session: AsyncSession, *, user_id: int, name: str) -> Conversation:
    now = utcnow()
    conversation = Conversation(user_id=user_id, name=name, created_at=now, updated_at=now)
    session.add(conversation)
    await session.commit()
    return conversation


async def rename_conversation(session: AsyncSession, *, conversation: Conversation, name: str) -> Conversation:
    conversation.name = name
    conversation.updated_at = utcnow()
    await session.commit()
    return conversation


async def delete_conversation(session: AsyncSession, *, conversation: Conversation) -> None:
    await session.execute(delete(Message).where(Message.conversation_id == conversation.id))
    await session.delete(conversation)
    await session.commit()


# -- messages (the current path, as pages and history: server/tree.py) ----------
# The reply path's statements (a prompt, a reply's saves), built once with bound
# parameters: built per call with their values inline, SQLAlchemy keyed its compiled cache
# by walking every value and made a fresh bound type for each (10 % of the server's CPU).
# They run on a bare connection in the caller's transaction (ChatService.transaction),
# which commits: no ORM session around them.
_conversations, _messages = _table(Conversation), _table(Message)
_NOW = bindparam("now", type_=UTCDateTime)
_NEW_CONVERSATION = (
    insert(_conversations)
    .values(user_id=bindparam("uid"), name=bindparam("name"), created_at=_NOW, updated_at=_NOW)
    .returning(_conversations.c.id)
)
_OWNED = select(_conversations.c.model, _conversations.c.system_prompt, _conversations.c.current_leaf).where(
    _conversations.c.id == bindparam("cid"), _conversations.c.user_id == bindparam("uid")
)
_MESSAGE_ROW = insert(_messages).values(
    conversation_id=bindparam("cid"), role=bindparam("role"), content=bindparam("text"), status=bindparam("st"),
    timestamp=_NOW, parent_id=bindparam("parent", type_=Integer),
)  # fmt: skip
_NEW_MESSAGE = _MESSAGE_ROW.returning(_messages.c.id)
_NEW_MESSAGES = _MESSAGE_ROW.returning(_messages.c.id, sort_by_parameter_order=True)  # executemany, ids in order
_REWRITES: dict[tuple[str, ...], Update] = {}  # by the extra columns it also sets


def _rewrite(extra: tuple[str, ...] = ()) -> Update:
    """A reply's rewrite (:mid, :text, :st, and :x_<column> for each of `extra`), one per set of columns."""
    if (statement := _REWRITES.get(extra)) is None:
        statement = _REWRITES[extra] = (
            update(_messages)
            .where(_messages.c.id == bindparam("mid"))
            .values(content=bindparam("text"), status=bindparam("st"), **{k: bindparam(f"x_{k}") for k in extra})
        )
    return statement


async def update_message(
    conn: AsyncConnection, *, message_id: int, content: str, status: str, extra: dict[str, object] | None = None
) -> bool:
    """Rewrite a reply as it grows; False when its row is gone (the conversation was deleted).
    `extra`: more columns to set (a finished reply's model and usage)."""
    keys = tuple(sorted(extra or ()))
    values = {"mid": message_id, "text": content, "st": status, **{f"x_{k}": (extra or {})[k] for k in keys}}
    result = await conn.execute(_rewrite(keys), values)
    return bool(result.rowcount)


async def finish_replies(conn: AsyncConnection, rows: Sequence[tuple[int, str, str, dict[str, object]]]) -> bool:
    """Finished replies (message id, content, status, extra columns) rewritten, many in the
    caller's transaction, an executemany per set of columns where the driver counts rows per
    executemany (SQLite), else one by one; False when a row is gone (nothing is undone here:
    the caller rolls back)."""
    groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for message_id, content, status, extra in rows:
        keys = tuple(sorted(extra))
        groups.setdefault(keys, []).append({"mid": message_id, "text": content, "st": status,
                                            **{f"x_{k}": extra[k] for k in keys}})  # fmt: skip
    for keys, values in groups.items():
        if len(values) > 1 and conn.dialect.supports_sane_multi_rowcount:
            if (await conn.execute(_rewrite(keys), values)).rowcount != len(values):
                return False
            continue
        for one in values:
            if not (await conn.execute(_rewrite(keys), one)).rowcount:
                return False
    return True


async def add_message(
    session: AsyncSession, *, conversation_id: int, role: str, content: str, status: str = "complete"
) -> Message:
    now = utcnow()
    message = Message(conversation_id=conversation_id, role=role, content=content, status=status, timestamp=now)
    session.add(message)
    await session.flush()
    await tree.attach(session, conversation_id=conversation_id, message_id=message.id)
    await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(updated_at=now))
    await session.commit()
    return message


async def start_turn(
    conn: AsyncConnection, *, user_id: int, conversation_id: int | None, name: str, content: str, history: int
) -> tuple[int, int, list[Row[Any]], tuple[str | None, str | None]] | None:
    """A turn's prompt, in the caller's transaction: the conversation (new when
    `conversation_id` is None, named `name`), the user's message after the current leaf,
    and the `history - 1` messages before it that the model sees too, oldest first, as
    rows (server/tree.py; no SELECT for a new conversation: it has none). (conversation id,
    message id, earlier messages, its own (model, system prompt)), or None when the
    conversation is not the user's."""
    now = utcnow()
    earlier: list[Row[Any]] = []
    options: tuple[str | None, str | None] = (None, None)
    parent: int | None = None  # the current path's leaf (server/tree.py), which the prompt follows
    if conversation_id is None:
        conversation_id = int(await conn.scalar(_NEW_CONVERSATION, {"uid": user_id, "name": name, "now": now}))
    else:
        # Its own model and system prompt come with the ownership check: no statement more
        # while SQLite's write lock is held (extension "conversation_options").
        row = (await conn.execute(_OWNED, {"cid": conversation_id, "uid": user_id})).first()
        if row is None:
            return None
        options = (row[0], row[1])
        parent = await tree.prompt_parent(conn, conversation_id, row[2])
        if history > 1:
            earlier = await tree.recent_path(conn, start=parent, limit=history - 1)
    added = {"cid": conversation_id, "role": "user", "text": content, "st": "complete", "now": now, "parent": parent}
    message_id = int(await conn.scalar(_NEW_MESSAGE, added))
    await tree.appended(conn, [(conversation_id, message_id, parent)], now=now, if_at_parent=False)
    return conversation_id, message_id, earlier, options


async def save_replies(
    conn: AsyncConnection,
    *,
    new: Sequence[tuple[int, str, str]],
    changed: Sequence[tuple[int, str, str]],
    parents: Sequence[int] = (),
) -> list[int]:
    """Replies as they grow, many in the caller's transaction: `new` (conversation id,
    content, status) are inserted (their ids are returned, in order), each after its prompt
    in `parents` (one each) and ending the current path where it still ends at that prompt;
    `changed` (message id, content, status) rewritten; a row that is gone meanwhile is skipped."""
    now = utcnow()
    ids: list[int] = []
    if changed:
        await conn.execute(_rewrite(), [{"mid": m, "text": t, "st": s} for m, t, s in changed])
    if new:
        rows = [{"cid": c, "role": "assistant", "text": t, "st": s, "now": now, "parent": p}
                for (c, t, s), p in zip(new, parents, strict=True)]  # fmt: skip
        if len(rows) == 1:
            ids = [int(await conn.scalar(_NEW_MESSAGE, rows[0]))]
        else:
            ids = [int(i) for i in (await conn.execute(_NEW_MESSAGES, rows)).scalars()]
        leaves = [(c, m, p) for (c, _, _), m, p in zip(new, ids, parents, strict=True)]
        await tree.appended(conn, leaves, now=now, if_at_parent=True)
    return ids


# -- search (extension) ----------------------------------------------------------
SNIPPET_START, SNIPPET_END = "\x02", "\x03"  # as codhechat.models marks matches


async def search_messages(
    session: AsyncSession, *, user_id: int, query: str, limit: int
) -> list[tuple[int, int, str, str, datetime, str]]:
    """The caller's messages matching every word of `query`, best first:
    (message id, conversation id, title, role, time, snippet with matches marked)."""
    words = [w for w in query.split() if w]
    if not words:
        return []
    if session.get_bind().dialect.name == "postgresql":
        sql = text(
            "SELECT m.id, m.conversation_id, c.name, m.role, m.timestamp, "
            "ts_headline('english', m.content, q, :options) "
            "FROM messages m JOIN conversations c ON c.id = m.conversation_id, "
            "plainto_tsquery('english', :query) q "
            "WHERE c.user_id = :user_id AND to_tsvector('english', m.content) @@ q "
            "ORDER BY ts_rank(to_tsvector('english', m.content), q) DESC, m.id DESC LIMIT :limit"
        )
        options = f"StartSel={SNIPPET_START}, StopSel={SNIPPET_END}, MaxWords=16, MinWords=4"
        params: dict[str, object] = {"query": query, "user_id": user_id, "limit": limit, "options": options}
    else:
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)  # every word, taken literally
        sql = text(
            "SELECT m.id, m.conversation_id, c.name, m.role, m.timestamp, "
            f"snippet(messages_fts, 0, '{SNIPPET_START}', '{SNIPPET_END}', '…', 16) "
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH :match AND c.user_id = :user_id "
            "ORDER BY messages_fts.rank LIMIT :limit"
        )
        params = {"match": match, "user_id": user_id, "limit": limit}
    typed = sql.columns(
        column("id", Integer), column("conversation_id", Integer), column("name", String),
        column("role", String), column("timestamp", UTCDateTime), column("snippet", String),
    )  # fmt: skip
    return [tuple(row) for row in (await session.execute(typed, params)).all()]
