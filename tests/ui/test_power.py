"""Working with conversations in the app: rename, delete (with undo), pin, search, copy,
prompt history, regenerate and token usage, driven with Pilot against the loopback model."""

from __future__ import annotations

import pytest
from rich.console import Console

from codhechat.models import MessageStatus
from codhechat.ui.command_table import CommandTable
from codhechat.ui.flows import manage
from codhechat.ui.screens.dialogs import AskText, Confirm, PickOne
from codhechat.ui.screens.search import SearchScreen
from codhechat.ui.widgets.messages import MessageView
from codhechat.ui.widgets.pane import MessagePane
from codhechat.ui.widgets.prompt import PromptInput
from codhechat.ui.widgets.sidebar import PINNED, ConversationTree
from tests.fake_openai import FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, palette_titles, type_text, wait_until
from tests.ui.test_chat import SIZE, last_reply, reply_views, screen_of, send, stored


async def converse(pilot, app, text: str) -> int:  # type: ignore[no-untyped-def]
    """Send `text` in a new conversation and wait for the reply; returns the conversation's id."""
    await pilot.press("ctrl+n")
    await send(pilot, text)
    await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
    return screen_of(app).conversation_id  # type: ignore[no-any-return]


def titles(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.title for c in app.query_one(ConversationTree).conversations]


def notices(app) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(n.message) for n in app._notifications)


async def test_f3_renames_the_open_conversation(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        conversation_id = await converse(pilot, app, "old name")
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, AskText))
        await pilot.press("ctrl+u")  # the field starts with the current title
        await type_text(pilot, "Better name")
        await pilot.press("enter")
        await wait_until(pilot, lambda: titles(app) == ["Better name"])
        assert app.backend.store.get_conversation(conversation_id).title == "Better name"
        assert screen_of(app).sub_title == "Better name"
        # Esc cancels: nothing changes.
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, AskText))
        await type_text(pilot, " more")
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.backend.store.get_conversation(conversation_id).title == "Better name"


async def test_delete_asks_first_can_be_undone_and_then_deletes(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manage, "UNDO_S", 60)  # the undo window stays open however slow the machine
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        keep = await converse(pilot, app, "keep me")
        doomed = await converse(pilot, app, "delete me")
        store = app.backend.store
        # Cancelled at the confirmation: nothing happens.
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert titles(app) == ["delete me", "keep me"]
        # Confirmed: gone from the list at once, but undoable.
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: titles(app) == ["keep me"])
        assert screen_of(app).conversation_id is None  # it was open: a new chat instead
        assert "Ctrl+Z to undo" in notices(app)
        assert store.get_conversation(doomed) is not None  # not yet: the undo window is open
        await pilot.press("ctrl+z")
        await wait_until(pilot, lambda: titles(app) == ["delete me", "keep me"])
        await pilot.pause(0.7)
        assert store.get_conversation(doomed) is not None  # undone: never deleted
        # Again, and let the window close.
        monkeypatch.setattr(manage, "UNDO_S", 0.5)
        app.query_one(ConversationTree).post_message(ConversationTree.Chosen(doomed))
        await wait_until(pilot, lambda: screen_of(app).conversation_id == doomed)
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: store.get_conversation(doomed) is None, timeout=3)
        assert stored(app, doomed) == [] and store.get_conversation(keep) is not None
        # With no delete to undo, Ctrl+Z is the prompt's own undo again.
        await type_text(pilot, "abc")
        await pilot.press("ctrl+z")
        assert app.query_one(PromptInput).text == ""


async def test_quitting_inside_the_undo_window_still_deletes(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        doomed = await converse(pilot, app, "delete me")
        store = app.backend.store
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: titles(app) == [])
        assert store.get_conversation(doomed) is not None
        await app.action_quit()
        assert store.get_conversation(doomed) is None


async def test_f4_pins_a_conversation_to_the_top(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        older = await converse(pilot, app, "older one")
        await converse(pilot, app, "newer one")
        tree = app.query_one(ConversationTree)
        tree.post_message(ConversationTree.Chosen(older))
        await wait_until(pilot, lambda: screen_of(app).conversation_id == older)
        await pilot.press("f4")
        await wait_until(pilot, lambda: str(tree.root.children[1].label) == PINNED)
        pinned_group = tree.root.children[1]
        assert [n.data for n in pinned_group.children] == [older]
        assert [c.title for c in app.backend.store.list_conversations()] == ["older one", "newer one"]
        # It stays pinned across runs (stored), and F4 again unpins it.
        await pilot.press("f4")
        await wait_until(pilot, lambda: str(tree.root.children[1].label) != PINNED)
        assert app.backend.store.get_conversation(older).pinned_at is None


async def test_pins_are_shown_on_the_next_start(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        older = await converse(pilot, app, "older one")
        await converse(pilot, app, "newer one")
        app.backend.store.set_pinned(older, True)
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        tree = again.query_one(ConversationTree)
        await wait_until(pilot, lambda: len(tree.root.children) > 2)
        assert str(tree.root.children[1].label) == PINNED
        assert [n.data for n in tree.root.children[1].children] == [older]


async def test_ctrl_f_searches_as_you_type_and_opens_the_result(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        wanted = await converse(pilot, app, "tell me about zebras")
        await converse(pilot, app, "something else")
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        search = app.screen
        await type_text(pilot, "zebra")  # stemmed: finds "zebras"
        await wait_until(pilot, lambda: len(search.hits) == 2)  # the prompt and the echo
        assert {h.conversation_id for h in search.hits} == {wanted}
        assert "\x02zebras\x03" in search.hits[0].snippet
        shown = str(search.query_one("#search-results").get_option_at_index(0).prompt)
        assert "zebras" in shown and "\x02" not in shown
        await type_text(pilot, "x")
        await wait_until(pilot, lambda: search.hits == [])
        await pilot.press("backspace")
        await wait_until(pilot, lambda: len(search.hits) == 2)
        message_id = search.hits[0].message_id
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen_of(app).conversation_id == wanted)
        found = [v for v in app.query(MessageView) if v.has_class("found")]
        assert [v.message.id for v in found] == [message_id]


async def test_a_search_result_outside_the_newest_page_opens_at_that_message(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        store = app.backend.store
        conversation = store.create_conversation("long one")
        ids = [
            store.add_message(conversation.id, "user" if i % 2 == 0 else "assistant",
                              "needle in here" if i == 50 else f"message number {i}").id
            for i in range(200)
        ]  # fmt: skip
        screen_of(app).load_conversations()
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await type_text(pilot, "needle")
        await wait_until(pilot, lambda: len(app.screen.hits) == 1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen_of(app).conversation_id == conversation.id)
        pane = app.query_one(MessagePane)
        found = [v for v in app.query(MessageView) if v.has_class("found")]
        assert [v.message.id for v in found] == [ids[50]]
        assert pane.has_older and pane.has_newer  # a window around it, not the newest page
        await pilot.pause(0.2)
        assert pane.scroll_y <= found[0].virtual_region.y <= pane.scroll_y + pane.size.height


async def test_copy_the_last_reply_a_code_block_and_any_message(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("Here:\n\n```python\nprint('hi')\n```\n\nDone."))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await converse(pilot, app, "code please")
        await pilot.press("ctrl+o")
        assert app.clipboard == "Here:\n\n```python\nprint('hi')\n```\n\nDone."
        assert "OSC 52" in notices(app) and "may not support" in notices(app)
        # From the command palette: the last code block.
        await pilot.press("ctrl+p")
        await type_text(pilot, "copy last code block")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.clipboard == "print('hi')")
        # Any message: pick it from a list.
        screen_of(app).action_copy_message()
        await wait_until(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.press("up", "enter")  # the newest is highlighted; one up is the prompt
        await wait_until(pilot, lambda: app.clipboard == "code please")


async def test_up_and_down_in_an_empty_prompt_recall_earlier_prompts(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await converse(pilot, app, "first prompt")
        await converse(pilot, app, "second prompt")  # recalled in any conversation
        prompt = app.query_one(PromptInput)
        await pilot.press("up")
        assert prompt.text == "second prompt"
        await pilot.press("up")
        assert prompt.text == "first prompt"
        await pilot.press("up")
        assert prompt.text == "first prompt"  # the oldest stays
        await pilot.press("down")
        assert prompt.text == "second prompt"
        await pilot.press("down")
        assert prompt.text == ""
        # Typed text is not replaced: Up moves the cursor as usual.
        await type_text(pilot, "typed")
        await pilot.press("up")
        assert prompt.text == "typed"
    again = make_app()  # kept across runs
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("up")
        assert again.query_one(PromptInput).text == "second prompt"


async def test_ctrl_g_regenerates_the_last_reply_as_a_new_version_keeping_the_old(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        conversation_id = await converse(pilot, app, "hello")
        fake_openai.enqueue(Reply("A fresh answer"))
        await pilot.press("ctrl+g")  # nothing to confirm: nothing is lost
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status == MessageStatus.COMPLETE
                         and last_reply(app).text == "A fresh answer")  # fmt: skip
        assert not isinstance(app.screen, Confirm)
        assert [m.content for m in stored(app, conversation_id)] == ["hello", "A fresh answer"]
        assert len(app.backend.store.all_messages(conversation_id)) == 3  # the old reply is kept
        assert [m["content"] for m in fake_openai.last_messages[1:]] == ["hello"]
        assert [text for _, text in screen_of(app).session.texts()] == ["hello", "A fresh answer"]
        assert "< 2/2 >" in str(last_reply(app).query_one(".header").render())


async def test_token_usage_is_shown_and_stored(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        conversation_id = await converse(pilot, app, "count my tokens")
        _, reply = stored(app, conversation_id)
        assert reply.prompt_tokens and reply.completion_tokens
        header = str(last_reply(app).query_one(".header").render())
        assert f"{reply.prompt_tokens} + {reply.completion_tokens} tokens" in header
        await screen_of(app).open_conversation(conversation_id)  # from the store
        await pilot.pause()
        view = app.query(MessageView).last()
        console = Console(width=100)
        with console.capture() as capture:
            console.print(view._build())
        assert f"{reply.prompt_tokens} + {reply.completion_tokens} tokens" in capture.get()


async def test_remote_only_commands_follow_the_backend(make_app: AppFactory) -> None:
    app = make_app()
    app.backend.capabilities = frozenset()  # a backend that can do none of them
    async with app.run_test(size=SIZE) as pilot:
        await converse(pilot, app, "hi")
        titles_ = await palette_titles(app)
        assert "Copy last reply" in titles_
        offered = {str(h.text): h.help async for h in CommandTable(app.screen).discover()}
        for greyed in (
            "Search conversations",
            "Rename conversation",
            "Delete conversation",
            "Pin or unpin conversation",
            "Regenerate reply",
            "Model…",
            "System prompt…",
            "Edit a message…",
        ):
            assert offered[greyed].startswith("Not available: local cannot "), greyed  # shown, saying why
        await pilot.press("ctrl+f", "f3", "f8", "ctrl+g", "f5", "f9", "f12")
        await pilot.pause(0.1)
        assert app.screen is screen_of(app)  # no dialog opened
        said = notices(app)
        for why in (
            "search conversations",
            "rename conversations",
            "delete conversations",
            "regenerate replies",
            "keep a model and system prompt per conversation",
            "edit sent messages",
        ):
            assert f"cannot {why}" in said, why  # every key said why it did nothing
