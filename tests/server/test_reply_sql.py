"""The reply path's statements (server/crud.py and the tree's and attachments' helpers,
built once with bound parameters) on both databases, on a bare connection in a
transaction as ChatService.transaction gives them: a prompt's transaction (the tree's
leaf moved on, the conversation's options read with the ownership check), replies saved
together in one executemany (ids in the rows' order, each after its prompt), rewrites with
and without the usage columns, a missing row, and someone else's conversation untouched."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

import pytest
from sqlalchemy import select, update

from codhechat.server import attachment_store, crud, tree
from codhechat.server.db import make_engine, make_sessionmaker, migrate
from codhechat.server.models import Conversation, Message
from codhechat.server.settings import async_database_url
from tests.server.conftest import BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_prompt_and_its_replies_are_stored_by_the_cached_statements(
    backend: str, database_factory: Callable[[str], str]
) -> None:
    engine = make_engine(async_database_url(database_factory(backend)))
    try:
        await migrate(engine)
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            owner = await crud.create_user(session, username="owner", hashed_password=None)
            other = await crud.create_user(session, username="other", hashed_password=None)
        assert owner is not None and other is not None

        async with engine.begin() as conn:  # a new conversation: no history read, its options the server's
            started = await crud.start_turn(conn, user_id=owner.id, conversation_id=None, name="first",
                                            content="q1", history=10)  # fmt: skip
        assert started is not None
        cid, first_id, earlier, options = started
        assert earlier == [] and options == (None, None)

        async with engine.begin() as conn:  # three replies saved together, one of them in another conversation
            again = await crud.start_turn(conn, user_id=owner.id, conversation_id=None, name="second",
                                          content="elsewhere", history=10)  # fmt: skip
            assert again is not None
            ids = await crud.save_replies(
                conn, new=[(cid, "a1", "partial"), (again[0], "b1", "partial"), (cid, "a2", "partial")], changed=(),
                parents=[first_id, again[1], first_id],
            )  # fmt: skip
        assert len(ids) == 3 and ids == sorted(ids)
        async with engine.begin() as conn:
            assert await crud.save_replies(conn, new=[], changed=[(ids[0], "a1!", "complete"),
                                                                  (10**6, "gone", "complete")]) == []  # fmt: skip
            assert await crud.update_message(conn, message_id=ids[2], content="a2!", status="error",
                                             extra={"model": "m2", "prompt_tokens": 7, "completion_tokens": 3})  # fmt: skip
            assert await crud.update_message(conn, message_id=ids[0], content="a1!", status="complete",
                                             extra={"model": "m1"})  # fmt: skip
            assert not await crud.update_message(conn, message_id=10**6, content="x", status="complete")

        async with sessions() as session:  # the leaf: the batch's first reply after the prompt (a2 its sibling)
            assert await tree.leaf_of(session, cid) == ids[0]
            assert await tree.leaf_of(session, again[0]) == ids[1]
            await session.execute(update(Conversation).where(Conversation.id == cid)
                                  .values(model="chosen", system_prompt="be brief"))  # fmt: skip
            await tree.set_leaf(session, cid, ids[2])  # the path through a2! instead
            await session.commit()
        async with engine.begin() as conn:  # the history the model sees: the path's last ones, oldest first
            later = await crud.start_turn(conn, user_id=owner.id, conversation_id=cid, name="ignored",
                                          content="q2", history=3)  # fmt: skip
            assert later is not None
            assert await attachment_store.parts_of(conn, [later[1], *(m.id for m in later[2])]) == {}
        assert later[0] == cid and later[3] == ("chosen", "be brief")
        assert [(m.role, m.content) for m in later[2]] == [("user", "q1"), ("assistant", "a2!")]
        assert all(m.conversation_id == cid and m.timestamp.tzinfo is not None
                   and m.timestamp.utcoffset() == UTC.utcoffset(None) for m in later[2])  # fmt: skip

        async with sessions() as session:  # someone else's conversation: nothing stored, nothing touched
            before = await session.scalar(select(Conversation.updated_at).where(Conversation.id == cid))
        async with engine.begin() as conn:
            assert await crud.start_turn(conn, user_id=other.id, conversation_id=cid, name="x",
                                         content="intruder", history=3) is None  # fmt: skip
        async with sessions() as session:
            assert await session.scalar(select(Conversation.updated_at).where(Conversation.id == cid)) == before
            assert await tree.leaf_of(session, cid) == later[1]
            rows = (await session.execute(
                select(Message.id, Message.role, Message.content, Message.status, Message.parent_id, Message.model,
                       Message.prompt_tokens, Message.completion_tokens)
                .where(Message.conversation_id == cid).order_by(Message.id)
            )).all()  # fmt: skip
        assert [tuple(r)[1:] for r in rows] == [
            ("user", "q1", "complete", None, None, None, None),
            ("assistant", "a1!", "complete", first_id, "m1", None, None),
            ("assistant", "a2!", "error", first_id, "m2", 7, 3),
            ("user", "q2", "complete", ids[2], None, None, None),
        ]  # fmt: skip
        assert rows[0][0] == first_id
    finally:
        await engine.dispose()
