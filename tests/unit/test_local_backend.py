"""Local mode's backend: what is stored when, and what the model is sent."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from pathlib import Path

import pytest

from codhechat.backends.local import LocalBackend
from codhechat.config import load_settings
from codhechat.errors import ReplyCut
from codhechat.models import MessageStatus, ReplyDelta, ReplyDone, ReplyFailed, ReplyStarted
from codhechat.store import Store
from tests.fake_openai import Disconnect, Fail, FakeOpenAI, Gate, Reply


@pytest.fixture
def backend(fake_openai: FakeOpenAI, tmp_path: Path) -> LocalBackend:
    settings = load_settings(
        {"base_url": fake_openai.base_url, "max_retries": 0, "history_window": 4, "system_prompt": "You are terse."}
    )
    return LocalBackend(settings, Store.open(tmp_path / "chat.db"))


async def run(events) -> list:  # type: ignore[no-untyped-def]
    return [event async for event in events]


async def test_a_turn_is_stored_and_titled(backend: LocalBackend, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("Fine, thanks."))
    prompt = "How are you today? " * 5
    events = await run(backend.stream_reply(None, prompt))
    started, *deltas, done = events
    assert isinstance(started, ReplyStarted) and isinstance(done, ReplyDone)
    assert "".join(d.text for d in deltas if isinstance(d, ReplyDelta)) == "Fine, thanks."
    assert started.conversation.title == ("How are you today? " * 5).strip()[:57] + "..."
    user, reply = await backend.get_messages(started.conversation.id)
    assert (user.role, user.content) == ("user", prompt.strip())
    assert (reply.content, reply.status, reply.model) == ("Fine, thanks.", MessageStatus.COMPLETE, "gpt-4o-mini")


async def test_model_sees_system_prompt_and_a_window_of_history(backend: LocalBackend, fake_openai: FakeOpenAI) -> None:
    started = (await run(backend.stream_reply(None, "one")))[0]
    conversation_id = started.conversation.id
    for prompt in ("two", "three"):
        await run(backend.stream_reply(conversation_id, prompt))
    sent = fake_openai.last_messages
    assert sent[0] == {"role": "system", "content": "You are terse."}
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("assistant", "Echo: one"),
        ("user", "two"),
        ("assistant", "Echo: two"),
        ("user", "three"),
    ]


async def test_a_failure_keeps_the_prompt_and_what_arrived(backend: LocalBackend, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Disconnect("alpha beta gamma", after_chunks=2))
    events = await run(backend.stream_reply(None, "go"))
    failed = events[-1]
    assert isinstance(failed, ReplyFailed) and failed.message is not None
    assert failed.message.status == MessageStatus.ERROR
    assert failed.message.content == "alpha beta "
    user, reply = await backend.get_messages(events[0].conversation.id)
    assert user.content == "go" and reply.error and "cut off" in reply.error


async def test_retry_replaces_the_failed_reply(backend: LocalBackend, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Fail(500), Reply("Second time lucky."))
    events = await run(backend.stream_reply(None, "try"))
    conversation_id = events[0].conversation.id
    assert isinstance(events[-1], ReplyFailed)
    retried = await run(backend.retry_reply(conversation_id))
    assert isinstance(retried[0], ReplyStarted) and retried[0].user_message is None
    messages = await backend.get_messages(conversation_id)
    assert [(m.role, m.content, m.status) for m in messages] == [
        ("user", "try", MessageStatus.COMPLETE),
        ("assistant", "Second time lucky.", MessageStatus.COMPLETE),
    ]
    assert fake_openai.last_messages[-1] == {"role": "user", "content": "try"}


async def test_cancelling_keeps_the_partial_reply(backend: LocalBackend, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("word " * 200, hold=Gate(), hold_after=5))  # the rest never comes
    seen: list[str] = []

    async def consume() -> None:
        async for event in backend.stream_reply(None, "long one"):
            if isinstance(event, ReplyDelta):
                seen.append(event.text)

    task = asyncio.create_task(consume())
    while "".join(seen) != "word " * 5:  # the five tokens before the hold (maybe in one piece)
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [conversation] = await backend.list_conversations()
    _, reply = await backend.get_messages(conversation.id)
    assert reply.status == MessageStatus.PARTIAL
    assert reply.content.startswith("".join(seen)) and reply.content


async def test_a_long_reply_is_saved_while_it_streams(
    backend: LocalBackend, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("codhechat.backends.local.SAVE_INTERVAL_S", 0.4)
    pauses = [Gate(), Gate(), Gate()]  # three bursts of ten tokens after pauses longer than the interval
    fake_openai.enqueue(Reply("tick " * 40, holds=tuple(zip((10, 20, 30), pauses, strict=True))))
    progress: list[str] = []
    original = backend.store.save_progress

    def spy(message_id: int, content: str) -> None:
        progress.append(content)
        original(message_id, content)

    async def pace() -> None:
        for gate in pauses:
            await gate.reached_async()
            await asyncio.sleep(0.5)  # longer than the save interval: a lower bound, not a race
            gate.open()

    monkeypatch.setattr(backend.store, "save_progress", spy)
    pacing = asyncio.create_task(pace())
    events = await run(backend.stream_reply(None, "count"))
    await pacing
    assert 3 <= len(progress) <= 6  # after each pause, and never once per token
    assert all(b.startswith(a) for a, b in pairwise(progress))  # growing prefixes
    assert isinstance(events[-1], ReplyDone) and events[-1].message.content == "tick " * 40


async def test_a_late_progress_save_never_undoes_a_later_one(backend: LocalBackend) -> None:
    store = backend.store
    conversation = store.create_conversation("c")
    reply = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL)
    store.save_progress(reply.id, "one two three")
    store.save_progress(reply.id, "one")  # an older save landing late
    assert store.get_messages(conversation.id)[0].content == "one two three"
    store.update_message(reply.id, content="one two three four", status=MessageStatus.COMPLETE)
    store.save_progress(reply.id, "one two three four five")  # after completion: ignored
    assert store.get_messages(conversation.id)[0].status == MessageStatus.COMPLETE
    assert store.get_messages(conversation.id)[0].content == "one two three four"


async def test_a_conversation_uses_its_own_model_and_system_prompt(
    backend: LocalBackend, fake_openai: FakeOpenAI
) -> None:
    assert {"conversation_options", "edit", "tokens"} <= backend.capabilities
    started, *_ = await run(backend.stream_reply(None, "first"))
    conversation_id = started.conversation.id
    assert fake_openai.requests[-1]["body"]["model"] == "gpt-4o-mini"
    updated = await backend.set_conversation_options(conversation_id, model="gpt-4o", system_prompt="Be a pirate.")
    assert (updated.model, updated.system_prompt) == ("gpt-4o", "Be a pirate.")
    *_, done = await run(backend.stream_reply(conversation_id, "second"))
    body = fake_openai.requests[-1]["body"]
    assert body["model"] == "gpt-4o" and body["messages"][0] == {"role": "system", "content": "Be a pirate."}
    assert done.message.model == "gpt-4o"
    # Back to the defaults.
    await backend.set_conversation_options(conversation_id, model="", system_prompt=None)
    await run(backend.stream_reply(conversation_id, "third"))
    body = fake_openai.requests[-1]["body"]
    assert body["model"] == "gpt-4o-mini" and body["messages"][0]["content"] == "You are terse."
    last = (await backend.get_messages(conversation_id))[-1]
    use = await backend.context_use(conversation_id)
    assert use is not None and use.tokens == last.prompt_tokens + last.completion_tokens > 0
    assert use.window == 128_000  # gpt-4o-mini, from the table of well-known models


async def test_edit_and_resend_continues_from_the_edited_message(
    backend: LocalBackend, fake_openai: FakeOpenAI
) -> None:
    started, *_ = await run(backend.stream_reply(None, "one"))
    conversation_id = started.conversation.id
    await run(backend.stream_reply(conversation_id, "two"))
    first = (await backend.get_messages(conversation_id))[0]
    fake_openai.enqueue(Reply("Answer to the edit"))
    events = await run(backend.edit_and_resend(conversation_id, first.id, "one, edited "))
    assert isinstance(events[0], ReplyStarted) and events[0].user_message.content == "one, edited"
    assert events[0].user_message.branch == (2, 2)
    assert isinstance(events[-1], ReplyDone)
    assert [(m.role, m.content) for m in await backend.get_messages(conversation_id)] == [
        ("user", "one, edited"),
        ("assistant", "Answer to the edit"),
    ]
    assert [m["content"] for m in fake_openai.last_messages[1:]] == ["one, edited"]
    assert len(await backend.message_tree(conversation_id)) == 6  # the old branch is kept whole


def path(messages) -> list[tuple[str, tuple[int, int] | None]]:  # type: ignore[no-untyped-def]
    return [(m.content, m.branch) for m in messages]


async def test_edits_and_regenerations_are_branches_to_flip_through_and_survive_a_restart(
    backend: LocalBackend, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    started, *_ = await run(backend.stream_reply(None, "q"))
    conversation_id = started.conversation.id
    for answer in ("answer 2", "answer 3"):  # regenerate twice
        fake_openai.enqueue(Reply(answer))
        assert isinstance((await run(backend.regenerate_reply(conversation_id)))[-1], ReplyDone)
        assert [m["content"] for m in fake_openai.last_messages[1:]] == ["q"]  # the model never sees the others
    assert path(await backend.get_messages(conversation_id)) == [("q", None), ("answer 3", (3, 3))]
    question = (await backend.get_messages(conversation_id))[0]
    for edit in ("q, edited", "q, again"):  # edit twice
        fake_openai.enqueue(Reply(f"to {edit}"))
        await run(backend.edit_and_resend(conversation_id, question.id, edit))
    assert path(await backend.get_messages(conversation_id)) == [("q, again", (3, 3)), ("to q, again", None)]

    # Flip back to the first question: its latest answer comes with it.
    await backend.switch_branch(conversation_id, question.id)
    shown = await backend.get_messages(conversation_id)
    assert path(shown) == [("q", (1, 3)), ("answer 3", (3, 3))]
    await backend.switch_branch(conversation_id, shown[1].siblings[0])
    assert path(await backend.get_messages(conversation_id)) == [("q", (1, 3)), ("Echo: q", (1, 3))]
    await run(backend.stream_reply(conversation_id, "more"))  # continues the branch shown
    assert [m["content"] for m in fake_openai.last_messages[1:]] == ["q", "Echo: q", "more"]

    # A regeneration that gets no text at all is dropped: the reply it would sit beside stays current.
    fake_openai.enqueue(Fail(500))
    assert isinstance((await run(backend.regenerate_reply(conversation_id)))[-1], ReplyFailed)
    before_restart = path(await backend.get_messages(conversation_id))
    assert before_restart == [("q", (1, 3)), ("Echo: q", (1, 3)), ("more", None), ("Echo: more", None)]
    tree = [(m.content, m.parent_id) for m in await backend.message_tree(conversation_id)]
    assert len(tree) == 10

    await backend.aclose()
    again = LocalBackend(backend.settings, Store.open(tmp_path / "chat.db"))
    assert path(await again.get_messages(conversation_id)) == before_restart
    assert [(m.content, m.parent_id) for m in await again.message_tree(conversation_id)] == tree
    await again.aclose()


async def test_a_stream_cut_short_is_stored_as_failed_not_complete(
    backend: LocalBackend, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Reply("half of it", finish_reason=None, done=False))
    events = await run(backend.stream_reply(None, "tell me"))
    failed = events[-1]
    assert isinstance(failed, ReplyFailed) and isinstance(failed.error, ReplyCut)
    assert "".join(e.text for e in events if isinstance(e, ReplyDelta)) == "half of it"
    _, reply = await backend.get_messages(events[0].conversation.id)
    assert (reply.content, reply.status) == ("half of it", MessageStatus.ERROR)
    assert reply.error is not None and "cut short" in reply.error


async def fill_the_disk(store: Store) -> None:
    """No more pages: every write that needs room now fails as on a full disk."""
    store.db.execute(f"PRAGMA max_page_count = {store.db.execute('PRAGMA page_count').fetchone()[0]}")


def free_the_disk(store: Store) -> None:
    store.db.execute("PRAGMA max_page_count = 1073741823")


@pytest.mark.parametrize("when", ["next write", "exit"])
async def test_a_full_disk_mid_reply_keeps_the_whole_reply_and_saves_it_when_there_is_room(
    backend: LocalBackend, fake_openai: FakeOpenAI, when: str
) -> None:
    text = "".join(f"line {i} of a long answer\n" for i in range(2000))  # needs new pages
    gate = Gate()
    fake_openai.enqueue(Reply(text, tokens_per_chunk=50, hold=gate, hold_after=1))
    events = []
    async for event in backend.stream_reply(None, "a long one"):
        events.append(event)
        if isinstance(event, ReplyDelta) and not gate.is_open:
            await fill_the_disk(backend.store)  # the reply's row exists; its text will not fit
            gate.open()
    failed = events[-1]
    assert isinstance(failed, ReplyFailed) and "disk is full" in str(failed.error)
    conversation_id = events[0].conversation.id
    reply_id = (await backend.get_messages(conversation_id))[-1].id
    assert len(backend.store.get_messages(conversation_id)[-1].content) < len(text)

    free_the_disk(backend.store)
    if when == "next write":
        await backend.rename_conversation(conversation_id, "renamed")
        store = backend.store
    else:
        await backend.aclose()
        store = Store.open(backend.store.path)
    [reply] = [m for m in store.get_messages(conversation_id) if m.id == reply_id]
    assert (reply.content, reply.status) == (text, MessageStatus.COMPLETE)  # all of it, not what fitted
