"""The chat screen, driven with Pilot as a user would, against the loopback model server.

Scenarios every backend must pass (stream and store, stop, new and switch, each error
and its retry, two replies at once) live in tests/remote/test_ui_backends.py, run there for local mode too."""

from __future__ import annotations

import stat

from codhechat import paths
from codhechat.models import MessageStatus
from codhechat.ui.screens.chat import ChatScreen
from codhechat.ui.widgets.messages import MessageView, ReplyView
from codhechat.ui.widgets.pane import MessagePane
from codhechat.ui.widgets.prompt import PromptInput
from codhechat.ui.widgets.sidebar import ConversationTree
from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.ui.conftest import AppFactory, palette_titles, type_text, wait_until

SIZE = (110, 36)


def screen_of(app) -> ChatScreen:  # type: ignore[no-untyped-def]
    return app.screen_stack[0]


def reply_views(app) -> list[ReplyView]:  # type: ignore[no-untyped-def]
    return list(app.query(ReplyView))


def last_reply(app) -> ReplyView:  # type: ignore[no-untyped-def]
    return reply_views(app)[-1]


def stored(app, conversation_id: int):  # type: ignore[no-untyped-def]
    return app.backend.store.get_messages(conversation_id)


async def send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await type_text(pilot, text)
    await pilot.press("enter")


async def test_enter_on_empty_input_sends_nothing(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "space", "enter")
        await pilot.pause(0.1)
        assert fake_openai.requests == []
        assert not reply_views(app)


async def test_ctrl_j_inserts_a_newline_and_enter_sends(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "line one\nline two")
        assert app.query_one(PromptInput).text == "line one\nline two"
        await pilot.press("enter")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        assert fake_openai.last_messages[-1]["content"] == "line one\nline two"
        assert app.query_one(PromptInput).text == ""


async def test_the_pane_follows_the_stream_until_the_user_scrolls_up(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    reading, back = Gate(), Gate()  # 2 tokens a paragraph: held after 40 and after 100 paragraphs
    fake_openai.enqueue(Reply("".join(f"Paragraph {i}.\n\n" for i in range(150)), holds=((80, reading), (200, back))))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(MessagePane)
        await send(pilot, "long")
        await wait_until(pilot, lambda: "Paragraph 39." in last_reply(app).text and pane.max_scroll_y > 20)
        await pilot.pause(0.1)
        assert pane.scroll_y == pane.max_scroll_y  # following
        await pilot.press("pageup")
        await pilot.pause(0.1)
        reading_at = pane.scroll_y
        assert reading_at < pane.max_scroll_y
        reading.open()
        await wait_until(pilot, lambda: "Paragraph 99." in last_reply(app).text and pane.max_scroll_y > reading_at + 20)
        assert pane.scroll_y == reading_at  # not yanked away while reading
        pane.scroll_end(animate=False, immediate=True)  # back to the bottom: following again
        back.open()
        await wait_until(pilot, lambda: last_reply(app).status == MessageStatus.COMPLETE, timeout=10)
        await pilot.pause(0.1)
        assert pane.scroll_y == pane.max_scroll_y


async def test_choosing_a_conversation_in_the_tree_with_keys(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "remember me")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        await pilot.press("ctrl+n")
        tree = app.query_one(ConversationTree)
        tree.focus()
        await pilot.press("home", "down", "down", "enter")  # New, Today, the conversation
        await wait_until(pilot, lambda: len(app.query(MessageView)) == 2)
        assert app.query(MessageView)[1].message.content == "Echo: remember me"


async def test_theme_toggle_is_remembered(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.current_theme.dark
        await pilot.press("ctrl+t")
        assert not app.current_theme.dark
    again = make_app()
    async with again.run_test(size=SIZE):
        assert not again.current_theme.dark
    flagged = make_app(theme="dark")
    async with flagged.run_test(size=SIZE):
        assert flagged.current_theme.dark  # a --theme flag wins for that run


async def test_sidebar_can_be_hidden(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tree = app.query_one(ConversationTree)
        await pilot.press("ctrl+b")
        assert not tree.display
        await pilot.press("ctrl+b")
        assert tree.display


async def test_connection_refused(make_app: AppFactory) -> None:
    app = make_app(base_url="http://127.0.0.1:9/v1")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "anyone?")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        assert "Cannot connect to http://127.0.0.1:9/v1" in str(last_reply(app).query_one(".notice").render())


async def test_without_an_api_key_the_app_opens_and_explains(make_app: AppFactory) -> None:
    app = make_app(base_url=None)
    async with app.run_test(size=SIZE) as pilot:
        welcome = str(app.query_one("#welcome").render())
        assert "No API key is set" in welcome and "OPENAI_API_KEY" in welcome
        assert "no API key" in screen_of(app).status.warning
        await send(pilot, "hello?")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        assert "No API key" in str(last_reply(app).query_one(".notice").render())
        [user, _] = stored(app, screen_of(app).conversation_id)
        assert user.content == "hello?"  # kept for a retry once a key is set

        await pilot.press("f2")
        await type_text(pilot, "sk-typed-in-the-app")
        await pilot.press("enter")
        await pilot.pause()
        config = paths.config_file()
        assert 'api_key = "sk-typed-in-the-app"' in config.read_text()
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert screen_of(app).status.warning == ""


async def test_a_stopped_reply_is_there_after_a_restart(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    gate = Gate()  # the rest of the reply waits until the test has pressed Escape
    fake_openai.enqueue(Reply("partial " * 200, hold=gate, hold_after=10))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tell me")
        await wait_until(pilot, lambda: reply_views(app) and len(last_reply(app).text) >= len("partial ") * 10)
        await pilot.press("escape")
        await wait_until(pilot, lambda: last_reply(app).status is not None)
        kept = last_reply(app).text
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        tree = again.query_one(ConversationTree)
        await wait_until(pilot, lambda: tree.conversations)
        tree.post_message(ConversationTree.Chosen(tree.conversations[0].id))
        await wait_until(pilot, lambda: len(again.query(MessageView)) == 2)
        reply = again.query(MessageView)[1]
        assert reply.message.content == kept and reply.message.status == MessageStatus.PARTIAL
        assert "Stopped" in str(reply.notice)


async def test_long_conversations_open_a_window_and_load_more_on_scroll(make_app: AppFactory) -> None:
    app = make_app()
    store = app.backend.store
    conversation = store.create_conversation("long")
    for i in range(400):
        store.add_message(conversation.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
    async with app.run_test(size=SIZE) as pilot:
        await screen_of(app).open_conversation(conversation.id)
        await pilot.pause()
        pane = app.query_one(MessagePane)
        views = lambda: list(app.query(MessageView))  # noqa: E731
        from codhechat.ui.transcript import PAGE
        from codhechat.ui.widgets.messages import MAX_MOUNTED

        assert len(views()) == PAGE and views()[-1].message.content == "message 399"
        assert pane.scroll_y == pane.max_scroll_y
        for _ in range(12):
            pane.scroll_home(animate=False, immediate=True)
            await pilot.pause(0.05)
            await pilot.pause()
        assert views()[0].message.content == "message 0"
        assert len(views()) <= MAX_MOUNTED  # memory stays bounded
        for _ in range(12):
            pane.scroll_end(animate=False, immediate=True)
            await pilot.pause(0.05)
            await pilot.pause()
        assert views()[-1].message.content == "message 399"
        assert len(views()) <= MAX_MOUNTED


async def test_every_action_is_in_the_command_palette(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        titles = await palette_titles(app)
        for title in (
            "New conversation",
            "Stop generating",
            "Retry reply",
            "Toggle sidebar",
            "Set API key",
            "Toggle dark/light theme",
        ):
            assert title in titles
        await pilot.press("ctrl+p")
        await type_text(pilot, "toggle sidebar")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.query_one(ConversationTree).display)


async def test_a_full_disk_gives_the_prompt_back(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    app = make_app()
    prompt = "do not lose me " * 2000  # needs new pages in the database file
    async with app.run_test(size=SIZE) as pilot:
        db = app.backend.store.db
        db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
        app.query_one(PromptInput).text = prompt
        await pilot.press("enter")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        assert last_reply(app).status == MessageStatus.ERROR
        assert "disk is full" in str(last_reply(app).query_one(".notice").render())
        assert app.query_one(PromptInput).text == prompt.strip()
        assert fake_openai.requests == []


async def test_configuration_warnings_are_shown_in_the_app(fake_openai: FakeOpenAI) -> None:
    from codhechat.cli import build_app
    from codhechat.config import load_settings

    config = paths.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('modle = "x"\n')
    app = build_app(load_settings({"base_url": fake_openai.base_url}))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app._notifications)
        [note] = list(app._notifications)
        assert note.title == "Configuration" and "did you mean `model`?" in note.message


async def test_a_page_that_cannot_be_loaded_is_said_not_a_crash(make_app: AppFactory) -> None:
    from codhechat.errors import StorageError

    app = make_app()
    store = app.backend.store
    conversation = store.create_conversation("long")
    for i in range(100):
        store.add_message(conversation.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
    fetch = app.backend.get_messages

    async def failing_before(conversation_id: int, **page: object) -> object:
        if page.get("before") is not None:
            raise StorageError("The database is locked.", "Try again in a moment.")
        return await fetch(conversation_id, **page)  # type: ignore[arg-type]

    async with app.run_test(size=SIZE) as pilot:
        await screen_of(app).open_conversation(conversation.id)
        await pilot.pause()
        app.backend.get_messages = failing_before
        pane = app.query_one(MessagePane)
        pane.scroll_home(animate=False, immediate=True)
        await wait_until(pilot, lambda: any("database is locked" in n.message for n in app._notifications))
        assert app.is_running and len(app.query(MessageView)) == 40
