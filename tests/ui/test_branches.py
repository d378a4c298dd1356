"""Conversations as trees in the app: regenerate and edit keep the old version, `< n/m >`
says where a message has others, Alt+←/→ and a click on `<`/`>` switch versions (with
what follows), a restart finds the same tree, search opens the branch of its hit, and a
version can be deleted with the same undo as a conversation. Driven with Pilot against
the loopback model."""

from __future__ import annotations

import pytest
from textual.widgets import TextArea

from codhechat.models import MessageStatus
from codhechat.ui.flows import manage
from codhechat.ui.screens.conversation_settings import EditText
from codhechat.ui.screens.dialogs import Confirm, PickOne
from codhechat.ui.widgets.messages import MessageView
from codhechat.ui.widgets.pane import MessagePane
from tests.fake_openai import FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, palette_titles, type_text, wait_until
from tests.ui.test_chat import SIZE, last_reply, reply_views, screen_of, stored
from tests.ui.test_power import converse, notices


def shown(app) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """The pane's messages from the store, as (text, branch marker)."""
    views = list(app.query(MessageView))
    return [(v.message.content, f"< {v.message.branch[0]}/{v.message.branch[1]} >" if v.message.branch else None)
            for v in views]  # fmt: skip


async def regenerate(pilot, app, text: str, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    fake_openai.enqueue(Reply(text))
    await pilot.press("ctrl+g")
    await wait_until(pilot, lambda: reply_views(app) and last_reply(app).text == text
                     and last_reply(app).status == MessageStatus.COMPLETE)  # fmt: skip


async def edit_first(pilot, app, text: str, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    fake_openai.enqueue(Reply(f"to {text}"))
    await pilot.press("f12")
    await wait_until(pilot, lambda: isinstance(app.screen, PickOne))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, EditText))
    app.screen.query_one(TextArea).text = text
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: reply_views(app) and last_reply(app).text == f"to {text}"
                     and last_reply(app).status == MessageStatus.COMPLETE)  # fmt: skip


async def test_versions_are_kept_flipped_through_by_key_and_mouse_and_found_again_after_a_restart(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        conversation_id = await converse(pilot, app, "question")
        assert "Previous version" not in await palette_titles(app)  # nothing has versions yet
        await regenerate(pilot, app, "second answer", fake_openai)
        await regenerate(pilot, app, "third answer", fake_openai)
        assert "< 3/3 >" in str(last_reply(app).query_one(".header").render())
        await edit_first(pilot, app, "question, edited", fake_openai)
        await edit_first(pilot, app, "question, again", fake_openai)
        assert not isinstance(app.screen, Confirm)  # nothing was asked: nothing is lost
        assert len(app.backend.store.all_messages(conversation_id)) == 8
        assert {"Previous version", "Next version", "Delete this version…"} <= set(await palette_titles(app))

        # Alt+Left switches the newest message with versions: here the question.
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: shown(app) == [("question, edited", "< 2/3 >"), ("to question, edited", None)])
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: shown(app) == [("question", "< 1/3 >"), ("third answer", "< 3/3 >")])
        # The keys stay on the message switched; Alt+Down moves them on to the answer.
        await pilot.press("alt+left")
        await pilot.pause(0.2)
        assert shown(app)[1] == ("third answer", "< 3/3 >") and "This is the first version." in notices(app)
        await pilot.press("alt+down", "alt+left")
        await wait_until(pilot, lambda: shown(app) == [("question", "< 1/3 >"), ("second answer", "< 2/3 >")])
        assert [m["content"] for m in fake_openai.last_messages[1:]] == ["question, again"]
        # A click on the question's `>` goes to its next version, with that version's answer.
        question = app.query(MessageView).first()
        pane = app.query_one(MessagePane)
        await wait_until(
            pilot, lambda: question.region.y >= pane.region.y and question.region.bottom <= pane.region.bottom
        )
        header, _ = question.header_line()
        assert await pilot.click(question, offset=(question.gutter.left + len(header.plain) - 1, question.gutter.top))
        await wait_until(pilot, lambda: shown(app) == [("question, edited", "< 2/3 >"), ("to question, edited", None)])
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: shown(app)[0] == ("question", "< 1/3 >"))
        before = shown(app)
        # The model sees the branch shown, and only it.
        fake_openai.enqueue(Reply("more"))
        await pilot.press("ctrl+l")  # the click focused the pane
        await type_text(pilot, "and then")
        await pilot.press("enter")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status == MessageStatus.COMPLETE
                         and last_reply(app).text == "more")  # fmt: skip
        assert [m["content"] for m in fake_openai.last_messages[1:]] == ["question", "second answer", "and then"]
        before = [(m.content, m.branch) for m in stored(app, conversation_id)]

    again = make_app()  # the same database: the same tree, on the same branch
    async with again.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: screen_of(again).session.conversation(conversation_id) is not None)
        await screen_of(again).open_conversation(conversation_id)
        await wait_until(pilot, lambda: len(shown(again)) == 4)
        assert [(m.content, m.branch) for m in stored(again, conversation_id)] == before
        assert shown(again)[:2] == [("question", "< 1/3 >"), ("second answer", "< 2/3 >")]
        # Alt+Up chooses the question (the keys switch the newest by default), Alt+Right switches it.
        await pilot.press("alt+up")
        await wait_until(pilot, lambda: [v.message.content for v in again.query(".branch-focus")] == ["question"])
        await pilot.press("alt+right")
        await wait_until(
            pilot, lambda: shown(again) == [("question, edited", "< 2/3 >"), ("to question, edited", None)]
        )
        assert [v.message.content for v in again.query(".branch-focus")] == ["question, edited"]
        await pilot.press("alt+right", "alt+right")  # still the question: on to its last version
        await wait_until(pilot, lambda: shown(again) == [("question, again", "< 3/3 >"), ("to question, again", None)])


async def test_deleting_a_version_can_be_undone_and_then_deletes_it_and_what_follows(
    make_app: AppFactory, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manage, "UNDO_S", 60)  # the undo window stays open however slow the machine
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        conversation_id = await converse(pilot, app, "question")
        await regenerate(pilot, app, "second answer", fake_openai)
        store = app.backend.store
        # Confirmed: the version beside it is shown at once; Ctrl+Z brings it back.
        await app.run_action("delete_branch", screen_of(app))
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: shown(app) == [("question", None), ("Echo: question", "< 1/2 >")])
        assert "Ctrl+Z to undo" in notices(app)
        await pilot.press("ctrl+z")
        await wait_until(pilot, lambda: shown(app) == [("question", None), ("second answer", "< 2/2 >")])
        await pilot.pause(0.7)
        assert len(store.all_messages(conversation_id)) == 3  # undone: never deleted
        # Again, and let the undo window close: gone, and the markers say so.
        monkeypatch.setattr(manage, "UNDO_S", 0.5)
        await app.run_action("delete_branch", screen_of(app))
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: len(store.all_messages(conversation_id)) == 2, timeout=3)
        await wait_until(pilot, lambda: shown(app) == [("question", None), ("Echo: question", None)])
        assert store.search("second") == []
