"""Conversations as trees, the same scenario in both modes: local (SQLite + the loopback
model) and remote (a real `codhechat serve` on loopback whose model is that loopback
model). Edit twice and regenerate twice, flip through the branches, restart (a new
backend, and for remote a new server process on the same database), find the same
tree; the model is sent only the current path; a search hit in a side branch opens
that branch. Driven through the backend seam, and with Pilot for the keys.

Remote mode also keeps the classic protocol: the classic history routes show the
current path as a flat history, and a classic server greys the commands out.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import TextArea

from codhechat.backends import BRANCHES, EDIT, REGENERATE, supports
from codhechat.models import Message, MessageStatus, ReplyDone, ReplyFailed, ReplyStarted
from codhechat.ui.app import CodheChatApp
from codhechat.ui.command_table import CommandTable
from codhechat.ui.flows import manage
from codhechat.ui.screens.conversation_settings import EditText
from codhechat.ui.screens.dialogs import Confirm, PickOne
from codhechat.ui.screens.search import SearchScreen
from codhechat.ui.widgets.messages import MessageView
from tests.fake_openai import Fail, FakeOpenAI, Reply
from tests.remote.conftest import PortServer, remote_backend
from tests.remote.worlds import World
from tests.ui.conftest import palette_titles, type_text, wait_until
from tests.ui.test_chat import SIZE, last_reply, reply_views, screen_of
from tests.ui.test_power import converse, notices


async def run(events: Any) -> list[Any]:
    return [event async for event in events]


def path(messages: list[Message]) -> list[tuple[str, tuple[int, int] | None]]:
    return [(m.content, m.branch) for m in messages]


def sent(fake_openai: FakeOpenAI) -> list[str]:
    """What the model was last sent, after the system prompt."""
    return [m["content"] for m in fake_openai.last_messages if m["role"] != "system"]


async def test_edits_and_regenerations_are_branches_in_both_modes_and_survive_a_restart(
    world: World, fake_openai: FakeOpenAI
) -> None:
    backend = await world.backend()
    assert {BRANCHES, REGENERATE, EDIT} <= backend.capabilities
    started, *_ = await run(backend.stream_reply(None, "q"))
    assert isinstance(started, ReplyStarted)
    conversation_id = started.conversation.id
    for answer in ("answer 2", "answer 3"):  # regenerate twice
        fake_openai.enqueue(Reply(answer))
        done = (await run(backend.regenerate_reply(conversation_id)))[-1]
        assert isinstance(done, ReplyDone) and done.message.content == answer
        assert sent(fake_openai) == ["q"]  # the model never sees the other versions
    assert done.message.branch == (3, 3)
    assert path(await backend.get_messages(conversation_id)) == [("q", None), ("answer 3", (3, 3))]
    question = (await backend.get_messages(conversation_id))[0]
    for edit in ("q, edited", "q, again"):  # edit twice
        fake_openai.enqueue(Reply(f"to {edit}"))
        events = await run(backend.edit_and_resend(conversation_id, question.id, edit))
        assert events[0].user_message.content == edit and isinstance(events[-1], ReplyDone)
        assert sent(fake_openai) == [edit]
    assert events[0].user_message.branch == (3, 3)
    assert path(await backend.get_messages(conversation_id)) == [("q, again", (3, 3)), ("to q, again", None)]

    # Flip back to the first question: its latest answer comes with it; then to its first answer.
    await backend.switch_branch(conversation_id, question.id)
    shown = await backend.get_messages(conversation_id)
    assert path(shown) == [("q", (1, 3)), ("answer 3", (3, 3))]
    await backend.switch_branch(conversation_id, shown[1].siblings[0])
    assert path(await backend.get_messages(conversation_id)) == [("q", (1, 3)), ("Echo: q", (1, 3))]
    await run(backend.stream_reply(conversation_id, "more"))  # continues the branch shown
    assert sent(fake_openai) == ["q", "Echo: q", "more"]

    # A regeneration that gets no text at all is dropped: the reply it would sit beside stays current.
    fake_openai.enqueue(Fail(500))
    assert isinstance((await run(backend.regenerate_reply(conversation_id)))[-1], ReplyFailed)
    before_restart = path(await backend.get_messages(conversation_id))
    assert before_restart == [("q", (1, 3)), ("Echo: q", (1, 3)), ("more", None), ("Echo: more", None)]
    tree = [(m.id, m.content, m.parent_id) for m in await backend.message_tree(conversation_id)]
    assert len(tree) == 10

    await world.restart()
    again = await world.backend()
    assert path(await again.get_messages(conversation_id)) == before_restart
    assert [(m.id, m.content, m.parent_id) for m in await again.message_tree(conversation_id)] == tree
    fake_openai.enqueue(Reply("fine"))
    await run(again.stream_reply(conversation_id, "then"))  # the path chosen before the restart
    assert sent(fake_openai)[-3:] == ["more", "Echo: more", "then"]


async def test_a_search_hit_in_a_side_branch_opens_that_branch(world: World, fake_openai: FakeOpenAI) -> None:
    backend = await world.backend()
    started, *_ = await run(backend.stream_reply(None, "about giraffes"))
    conversation_id = started.conversation.id
    fake_openai.enqueue(Reply("nothing to see"))
    await run(backend.regenerate_reply(conversation_id))
    assert path(await backend.get_messages(conversation_id)) == [("about giraffes", None), ("nothing to see", (2, 2))]

    hits = [h for h in await backend.search("Echo giraffes") if h.conversation_id == conversation_id]
    assert len(hits) == 1  # the first answer, now a side branch
    await backend.switch_branch(hits[0].conversation_id, hits[0].message_id)  # as the search screen does
    shown = await backend.get_messages(conversation_id)
    assert path(shown) == [("about giraffes", None), ("Echo: about giraffes", (1, 2))]
    assert shown[1].id == hits[0].message_id


async def test_deleting_a_version_takes_what_follows_it(world: World, fake_openai: FakeOpenAI) -> None:
    backend = await world.backend()
    started, *_ = await run(backend.stream_reply(None, "q"))
    conversation_id = started.conversation.id
    question = (await backend.get_messages(conversation_id))[0]
    fake_openai.enqueue(Reply("to q2"))
    await run(backend.edit_and_resend(conversation_id, question.id, "q2"))
    assert await backend.delete_branch(conversation_id, question.id) == 2  # the question and its answer
    assert path(await backend.get_messages(conversation_id)) == [("q2", None), ("to q2", None)]
    assert len(await backend.message_tree(conversation_id)) == 2


async def test_the_classic_routes_show_the_current_path_as_a_flat_history(
    make_server: Callable[..., PortServer], fake_openai: FakeOpenAI
) -> None:
    """What the original web client reads (the history REST routes) is the current path only."""
    server = make_server()
    backend = remote_backend(server.url)
    try:
        await backend.warm_up()
        started, *_ = await run(backend.stream_reply(None, "q"))
        conversation_id = started.conversation.id
        fake_openai.enqueue(Reply("second"))
        await run(backend.regenerate_reply(conversation_id))
        fake_openai.enqueue(Reply("fine"))
        await run(backend.stream_reply(conversation_id, "next"))
        flat = ["q", "second", "next", "fine"]
        history = await backend.api.authorised("GET", f"/conversations/{conversation_id}/messages/")
        assert [m["content"] for m in history.json()] == flat
        assert history.headers["X-Total-Count"] == "4"
        embedded = await backend.api.authorised("GET", "/conversations/")
        assert [m["content"] for m in embedded.json()[0]["messages"]] == flat
        paged = await backend.api.authorised("GET", f"/conversations/{conversation_id}/messages/",
                                             params={"limit": 2, "before": history.json()[3]["id"]})  # fmt: skip
        assert [m["content"] for m in paged.json()] == ["second", "next"]
    finally:
        await backend.aclose()


async def test_a_classic_server_greys_the_branch_commands_with_the_reason(classic_server: Any) -> None:
    backend = remote_backend(classic_server.url)
    app = CodheChatApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: backend.link.connection.status == "connected")
        assert not supports(backend, BRANCHES) and not supports(backend, REGENERATE)
        offered = {str(h.text): h.help async for h in CommandTable(app.screen).discover()}
        for title in ("Regenerate reply", "Edit a message…", "Previous version", "Next version"):
            assert offered[title].startswith(f"Not available: {backend.mode} cannot"), title
        await pilot.press("ctrl+g", "alt+left")
        await wait_until(pilot, lambda: "cannot regenerate replies" in notices(app)
                         and "cannot keep versions of messages" in notices(app))  # fmt: skip


# -- the keys, with Pilot -----------------------------------------------------------------------


def shown(app: Any) -> list[tuple[str, str | None]]:
    views = list(app.query(MessageView))
    return [(v.message.content, f"< {v.message.branch[0]}/{v.message.branch[1]} >" if v.message.branch else None)
            for v in views]  # fmt: skip


async def regenerate(pilot: Any, app: Any, text: str, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply(text))
    await pilot.press("ctrl+g")
    await settled(pilot, app, text)


async def edit_first(pilot: Any, app: Any, text: str, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply(f"to {text}"))
    await pilot.press("f12")
    await wait_until(pilot, lambda: isinstance(app.screen, PickOne))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, EditText))
    app.screen.query_one(TextArea).text = text
    await pilot.press("ctrl+s")
    await settled(pilot, app, f"to {text}")


async def settled(pilot: Any, app: Any, text: str) -> None:
    """The reply says `text`, is complete, and its stream has ended (the session no longer
    counts it as live: the version commands wait for that)."""
    session = screen_of(app).session
    await wait_until(pilot, lambda: reply_views(app) and last_reply(app).text == text
                     and last_reply(app).status == MessageStatus.COMPLETE
                     and session.live_for(session.conversation_id) is None)  # fmt: skip


async def test_the_keys_make_and_flip_versions_and_a_restarted_app_finds_them(
    world: World, fake_openai: FakeOpenAI
) -> None:
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: supports(app.backend, BRANCHES))
        conversation_id = await converse(pilot, app, "question")
        await regenerate(pilot, app, "second answer", fake_openai)
        await regenerate(pilot, app, "third answer", fake_openai)
        assert "< 3/3 >" in str(last_reply(app).query_one(".header").render())
        await edit_first(pilot, app, "question, edited", fake_openai)
        await edit_first(pilot, app, "question, again", fake_openai)
        assert not isinstance(app.screen, Confirm)  # nothing was asked: nothing is lost
        assert {"Previous version", "Next version", "Delete this version…"} <= set(await palette_titles(app))
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: shown(app) == [("question, edited", "< 2/3 >"), ("to question, edited", None)])
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: shown(app) == [("question", "< 1/3 >"), ("third answer", "< 3/3 >")])
        await pilot.press("alt+down", "alt+left")
        await wait_until(pilot, lambda: shown(app) == [("question", "< 1/3 >"), ("second answer", "< 2/3 >")])
        assert sent(fake_openai) == ["question, again"]
        fake_openai.enqueue(Reply("more"))
        await type_text(pilot, "and then")
        await pilot.press("enter")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).text == "more"
                         and last_reply(app).status == MessageStatus.COMPLETE)  # fmt: skip
        assert sent(fake_openai) == ["question", "second answer", "and then"]
        before = shown(app)

    await world.restart()
    again = world.app()
    async with again.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: screen_of(again).session.conversation(conversation_id) is not None)
        await screen_of(again).open_conversation(conversation_id)
        await wait_until(pilot, lambda: len(shown(again)) == 4)
        assert shown(again)[:2] == [("question", "< 1/3 >"), ("second answer", "< 2/3 >")]
        assert shown(again) == [*before[:2], ("and then", None), ("more", None)]
        await pilot.press("alt+up", "alt+right")
        await wait_until(
            pilot, lambda: shown(again) == [("question, edited", "< 2/3 >"), ("to question, edited", None)]
        )


async def test_a_search_hit_in_a_side_branch_opens_it_in_the_app(world: World, fake_openai: FakeOpenAI) -> None:
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: supports(app.backend, BRANCHES))
        conversation_id = await converse(pilot, app, "about giraffes")
        await regenerate(pilot, app, "nothing to see", fake_openai)
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        search = app.screen
        await type_text(pilot, "Echo giraffes")  # the first answer, now a side branch
        await wait_until(pilot, lambda: len(search.hits) == 1)
        hit = search.hits[0]
        await pilot.press("enter")
        await wait_until(pilot, lambda: shown(app) == [("about giraffes", None), ("Echo: about giraffes", "< 1/2 >")])
        assert screen_of(app).conversation_id == conversation_id
        assert [v.message.id for v in app.query(MessageView) if v.has_class("found")] == [hit.message_id]


async def test_deleting_a_version_in_the_app_can_be_undone_then_deletes_it(
    world: World, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manage, "UNDO_S", 60)  # the undo window stays open however slow the machine
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: supports(app.backend, BRANCHES))
        conversation_id = await converse(pilot, app, "question")
        await regenerate(pilot, app, "second answer", fake_openai)
        await app.run_action("delete_branch", screen_of(app))
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: shown(app) == [("question", None), ("Echo: question", "< 1/2 >")])
        await pilot.press("ctrl+z")
        await wait_until(pilot, lambda: shown(app) == [("question", None), ("second answer", "< 2/2 >")])
        await pilot.pause(0.7)
        assert len(await app.backend.message_tree(conversation_id)) == 3  # undone: never deleted
        monkeypatch.setattr(manage, "UNDO_S", 0.5)  # now let the window close
        await app.run_action("delete_branch", screen_of(app))
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: shown(app) == [("question", None), ("Echo: question", None)])
        left = ["question", "Echo: question"]
        deadline = time.monotonic() + 20
        while [m.content for m in await app.backend.message_tree(conversation_id)] != left:  # once the undo ran out
            assert time.monotonic() < deadline, "the version was never deleted"
            await pilot.pause(0.05)


async def test_the_shell_shows_the_path_and_exports_the_whole_tree_from_the_server(
    make_server: Callable[..., PortServer], fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    server = make_server()
    backend = remote_backend(server.url)  # the same guest as the commands below (the same token folder)
    try:
        await backend.warm_up()
        started, *_ = await run(backend.stream_reply(None, "kestrels"))
        conversation_id = started.conversation.id
        fake_openai.enqueue(Reply("falcons"))
        await run(backend.regenerate_reply(conversation_id))
    finally:
        await backend.aclose()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "codhechat", "--server", server.url, *args], input="", capture_output=True,
            text=True, env=dict(os.environ), cwd=tmp_path, timeout=60,
        )  # fmt: skip

    shown = await asyncio.to_thread(cli, "show", str(conversation_id))
    assert shown.returncode == 0, shown.stderr
    assert "falcons" in shown.stdout and "Echo: kestrels" not in shown.stdout  # the path shown only
    exported = await asyncio.to_thread(cli, "export", str(conversation_id), "--format", "json")
    assert exported.returncode == 0, exported.stderr
    messages = json.loads(exported.stdout)["conversations"][0]["messages"]
    assert [m["content"] for m in messages] == ["kestrels", "Echo: kestrels", "falcons"]  # every branch
    assert [m["parent"] for m in messages] == [None, 0, 0]  # both answers follow the question
