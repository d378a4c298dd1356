"""What a turn asks of the database, counted by SQLAlchemy's own events on both databases:
a new conversation's prompt reads nothing (no history, no files: three writes, one commit),
and replies that end together are stored by one transaction (the saver's), not one each;
a reply whose conversation was deleted meanwhile fails alone, the others are kept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, select

from codhechat.models import MessageStatus
from codhechat.reply_store import Ending
from codhechat.server import crud, tree
from codhechat.server.db import make_engine, make_sessionmaker, migrate
from codhechat.server.models import Message
from codhechat.server.replies import ReplyNotSaved, TurnReplies
from codhechat.server.service import ChatService
from tests.server.conftest import BACKENDS, server_settings


class Counted:
    """Statements (their first word) and commits on an engine, as its driver gets them."""

    def __init__(self, engine: Any) -> None:
        self.statements: list[str] = []
        self.commits = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "commit", self._commit)

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement.split(None, 1)[0].upper())

    def _commit(self, conn: Any) -> None:
        self.commits += 1

    def reset(self) -> None:
        self.statements, self.commits = [], 0


def ending(text: str) -> Ending:
    return Ending(0, text, MessageStatus.COMPLETE, usage=(5, 2), model="m")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_new_turn_reads_nothing_and_replies_ending_together_commit_once(
    backend: str, database_factory: Callable[[str], str]
) -> None:
    settings = server_settings(database_factory(backend), None)
    engine = make_engine(settings.async_database_url)
    try:
        await migrate(engine)
        sessions = make_sessionmaker(engine)
        chat = ChatService(settings=settings, sessions=sessions, model=None)  # type: ignore[arg-type]  # no reply streams here
        async with sessions() as session:
            user = await crud.create_user(session, username="u", hashed_password=None)
        assert user is not None
        counted = Counted(engine)

        turns = [await chat.begin(user_id=user.id, text=f"q{i}", conversation_id=None) for i in range(3)]
        assert "SELECT" not in counted.statements  # no history, no files to read in a new conversation
        assert counted.commits == 3 and len(counted.statements) == 9  # the conversation, the prompt, the leaf

        counted.reset()
        stored = await asyncio.gather(*(TurnReplies(chat.progress, t).end_reply(ending(f"a{i}"))
                                        for i, t in enumerate(turns)))  # fmt: skip
        assert counted.commits == 1  # the three replies' rows, leaves and outcomes: one transaction
        assert "SELECT" not in counted.statements

        async with sessions() as session:
            for turn, message in zip(turns, stored, strict=True):
                assert turn.message_id == message.id
                assert await tree.leaf_of(session, turn.conversation_id) == message.id
            rows = (await session.execute(
                select(Message.content, Message.status, Message.model, Message.prompt_tokens,
                       Message.completion_tokens, Message.parent_id)
                .where(Message.id.in_([m.id for m in stored])).order_by(Message.id)
            )).all()  # fmt: skip
        assert [tuple(r) for r in rows] == [
            (f"a{i}", "complete", "m", 5, 2, t.user_message_id) for i, t in enumerate(turns)
        ]

        # A conversation deleted while its reply streamed: that reply is not saved, the others are.
        turns = [await chat.begin(user_id=user.id, text=f"again {i}", conversation_id=None) for i in range(3)]
        async with sessions() as session:
            gone = await crud.get_conversation(session, user_id=user.id, conversation_id=turns[1].conversation_id)
            assert gone is not None
            await crud.delete_conversation(session, conversation=gone)
        results = await asyncio.gather(*(TurnReplies(chat.progress, t).end_reply(ending(f"b{i}"))
                                         for i, t in enumerate(turns)), return_exceptions=True)  # fmt: skip
        assert isinstance(results[1], ReplyNotSaved) and not results[1].unavailable
        assert [r.content for r in (results[0], results[2])] == ["b0", "b2"]  # type: ignore[union-attr]
        await chat.close()
    finally:
        await engine.dispose()
