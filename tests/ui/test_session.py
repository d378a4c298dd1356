"""The chat session (codhechat.ui.session) on its own: no app, no widget, no Textual.

It runs over the real local backend and the loopback model server; the screen is
replaced by a recorder of what the session tells it, which runs replies as asyncio
tasks. What to retry, which reply belongs where and how much of a long conversation
is kept are decided from the session's state, so they can be checked here directly.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest

from codhechat.backends.local import LocalBackend
from codhechat.config import load_settings
from codhechat.errors import CodheError
from codhechat.models import Message, MessageStatus
from codhechat.store import Store
from codhechat.ui.session import ChatSession
from codhechat.ui.transcript import MAX_WINDOW, PAGE, Entry, LiveReply, SentPrompt
from tests.fake_openai import Fail, FakeOpenAI, Gate, Reply


class Task:
    def __init__(self, work: Coroutine[Any, Any, None]) -> None:
        self.task = asyncio.create_task(work)

    def cancel(self) -> None:
        self.task.cancel()

    async def wait(self) -> None:
        await asyncio.gather(self.task, return_exceptions=True)


class Recorder:
    """A SessionView that keeps what it is told."""

    def __init__(self) -> None:
        self.removed: list[Entry] = []
        self.grew: dict[int, str] = {}  # id(reply) -> text received
        self.ended: asyncio.Queue[LiveReply] = asyncio.Queue()
        self.windows = 0
        self.lists = 0
        self.thought: dict[int, str] = {}
        self.prompted = 0
        self.stored: list[Entry] = []

    def run_reply(self, work: Coroutine[Any, Any, None]) -> Task:
        return Task(work)

    async def show_window(self) -> None:
        self.windows += 1

    async def entries_added(self, entries: list[Entry]) -> None:
        pass

    async def entry_removed(self, entry: Entry) -> None:
        self.removed.append(entry)

    def conversations_changed(self) -> None:
        self.lists += 1

    def live_changed(self) -> None:
        pass

    def read_wait(self, reply: LiveReply) -> float:
        return 0.0  # no screen: the model is read as it streams

    def reply_grew(self, reply: LiveReply, text: str) -> None:
        self.grew[id(reply)] = self.grew.get(id(reply), "") + text

    def reply_thought(self, reply: LiveReply, text: str) -> None:
        self.thought[id(reply)] = self.thought.get(id(reply), "") + text

    def reply_prompted(self, reply: LiveReply) -> None:
        self.prompted += 1

    def reply_ended(self, reply: LiveReply) -> None:
        self.ended.put_nowait(reply)

    def reply_not_sent(self, reply: LiveReply, error: CodheError, prompt: str | None) -> None:
        self.ended.put_nowait(reply)

    def entry_stored(self, entry: Entry) -> None:
        self.stored.append(entry)


@pytest.fixture
async def session(fake_openai: FakeOpenAI) -> AsyncIterator[ChatSession]:
    settings = load_settings({"base_url": fake_openai.base_url, "max_retries": 0})
    backend = LocalBackend(settings, Store.open(settings.database_path))
    chat = ChatSession(backend, Recorder())
    yield chat
    await chat.stop_all()
    await backend.aclose()


def recorder(session: ChatSession) -> Recorder:
    assert isinstance(session.view, Recorder)
    return session.view


async def ended(session: ChatSession) -> LiveReply:
    return await asyncio.wait_for(recorder(session).ended.get(), 10)


def last(session: ChatSession) -> Entry:
    return session.window.entries[-1]


async def test_what_retry_does_is_decided_from_the_window(session: ChatSession, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Fail(500), Reply("Recovered."))
    assert await session.retry() == "There is nothing here to retry."  # a new conversation, nothing sent
    await session.send("please")
    failed = await ended(session)
    assert failed.status == MessageStatus.ERROR and "server error (500)" in failed.error
    assert session.conversation_id is not None  # named by the backend when the prompt was stored
    assert [type(e) for e in session.window.entries] == [SentPrompt, LiveReply]

    assert await session.retry() is None
    retried = last(session)
    assert isinstance(retried, LiveReply) and retried is not failed
    assert recorder(session).removed == []  # the failed reply stays until the new one has text
    assert (await ended(session)).status == MessageStatus.COMPLETE
    assert recorder(session).removed == [failed]  # then it gave way to the new one
    assert session.texts() == [("user", "please"), ("assistant", "Recovered.")]
    assert recorder(session).grew[id(retried)] == "Recovered."
    assert await session.retry() == "The last reply is complete: nothing to retry."

    # Opened from the store, the same decision is made from the stored messages.
    await session.open(session.conversation_id)
    assert [type(e) for e in session.window.entries] == [Message, Message]
    assert await session.retry() == "The last reply is complete: nothing to retry."
    finished = session.finished_reply()
    assert finished is not None and finished[1:] == (True, "Recovered.")


async def test_a_reply_stays_with_its_conversation_while_another_is_open(
    session: ChatSession, fake_openai: FakeOpenAI
) -> None:
    gate = Gate()
    fake_openai.enqueue(Reply("alpha " * 20, hold=gate, hold_after=3))
    await session.send("slow one")
    await gate.reached_async()
    reply = session.live[0]
    slow = reply.conversation_id
    assert slow == session.conversation_id is not None

    await session.new_conversation()
    assert session.window.entries == [] and session.live_for(None) is None
    await session.open(slow)  # the live reply is shown in place of its partial stored copy
    assert [type(e) for e in session.window.entries] == [Message, LiveReply] and last(session) is reply

    await session.new_conversation()
    gate.open()
    assert await ended(session) is reply and reply.status == MessageStatus.COMPLETE
    assert session.conversation_id is None and session.window.entries == []  # not pulled back in
    assert reply.text == "alpha " * 20 and session.live == []
    assert session.conversations[0].id == slow  # touched: it heads the list
    await session.open(slow)
    assert session.texts() == [("user", "slow one"), ("assistant", "alpha " * 20)]


async def test_the_window_stays_bounded_while_paging_through_a_long_conversation(session: ChatSession) -> None:
    store = session.backend.store  # type: ignore[attr-defined]
    conversation = store.create_conversation("long")
    for i in range(400):
        store.add_message(conversation.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
    await session.open(conversation.id)
    window = session.window
    assert len(window.entries) == PAGE and window.has_older and not window.has_newer
    while window.has_older:
        page = await session.older_page()
        assert page is not None
        added, dropped = page
        assert len(added) <= PAGE and len(window.entries) <= MAX_WINDOW
        assert not dropped or window.has_newer  # dropped at the bottom: there is newer to load back
    assert window.stored()[0].content == "message 0" and window.has_newer
    while (page := await session.newer_page()) is not None:
        assert len(session.window.entries) <= MAX_WINDOW
    # Reaching the end opened the newest page again.
    assert [e.content for e in session.window.stored()][-1] == "message 399"
    assert not session.window.has_newer and len(session.window.entries) == PAGE


def branches(session: ChatSession) -> list[tuple[str, tuple[int, int] | None]]:
    """The window as (text, branch position) of each message's stored copy."""
    shown = []
    for entry in session.window.entries:
        stored = entry if isinstance(entry, Message) else entry.stored
        shown.append((stored.content if stored else "", stored.branch if stored else None))
    return shown


async def test_edits_and_regenerations_are_versions_to_flip_through_and_survive_a_restart(
    session: ChatSession, fake_openai: FakeOpenAI
) -> None:
    await session.send("question")
    await ended(session)
    for answer in ("second answer", "third answer"):
        fake_openai.enqueue(Reply(answer))
        old = session.finished_reply()[0]
        await session.regenerate(old)
        assert (await ended(session)).stored.branch is not None
    assert branches(session) == [("question", None), ("third answer", (3, 3))]
    await session.open(session.conversation_id)  # from the store, the same
    assert branches(session) == [("question", None), ("third answer", (3, 3))]
    question = session.window.stored()[0]
    for edit in ("question, edited", "question, again"):
        fake_openai.enqueue(Reply(f"to {edit}"))
        await session.resend_edited(question, edit)
        await ended(session)
    prompt = session.window.entries[-2]
    assert isinstance(prompt, SentPrompt) and recorder(session).stored[-1] is prompt
    assert branches(session) == [("question, again", (3, 3)), ("to question, again", None)]

    # Flip back through the questions: each comes with its own answers.
    assert await session.switch_sibling(1) == "This is the last version."
    assert await session.switch_sibling(-1) is None
    assert branches(session) == [("question, edited", (2, 3)), ("to question, edited", None)]
    assert await session.switch_sibling(-1) is None
    assert branches(session) == [("question", (1, 3)), ("third answer", (3, 3))]
    assert session.branch_point().content == "question"  # the keys stay on the message they switched
    assert session.move_branch_focus(1).content == "third answer"  # Alt+Down: on to the answer
    assert session.move_branch_focus(1).content == "third answer"  # the last one with versions
    assert await session.switch_sibling(-1) is None
    assert branches(session) == [("question", (1, 3)), ("second answer", (2, 3))]
    before = branches(session)

    # A restart finds the same tree, on the same branch.
    backend = session.backend
    conversation_id = session.conversation_id
    await backend.aclose()
    again = LocalBackend(backend.settings, Store.open(backend.store.path))  # type: ignore[attr-defined]
    reopened = ChatSession(again, Recorder())
    await reopened.open(conversation_id)
    assert branches(reopened) == before
    assert await reopened.switch_sibling(1, reopened.window.stored()[0]) is None
    assert branches(reopened) == [("question, edited", (2, 3)), ("to question, edited", None)]
    await again.aclose()
    session.backend = LocalBackend(backend.settings, Store.open(backend.store.path))  # type: ignore[attr-defined]


def test_the_session_imports_no_textual() -> None:
    code = "import sys, codhechat.ui.session; print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
