"""Square brackets, backslashes and control characters are text, wherever they show.

Titles come from first messages, messages from the model, model names from a server,
presets from a file: none of it may be read as Textual markup (a stray `[/INST]` raised
MarkupError on every start) or reach the terminal as an escape. Each surface is checked
for what it holds (Text/Content, not markup) and by painting the screen.
"""

from __future__ import annotations

import io
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text
from textual.content import Content
from textual.widgets import OptionList, Static

from codhechat.models import MessageStatus
from codhechat.textsafe import visible
from codhechat.ui.screens.conversation_settings import ChooseOrType
from codhechat.ui.screens.dialogs import AskText, Confirm
from codhechat.ui.screens.search import SearchScreen
from codhechat.ui.widgets.messages import MessageView
from codhechat.ui.widgets.sidebar import ConversationTree
from codhechat.ui.widgets.status import StatusBar
from tests.fake_openai import Fail, FakeOpenAI
from tests.ui.conftest import AppFactory, type_text, wait_until
from tests.ui.test_chat import SIZE, last_reply, reply_views, screen_of, send


def shown(thing: Any) -> str:
    """The plain text a widget or renderable holds."""
    if isinstance(thing, Static):
        thing = thing.visual
    if isinstance(thing, Text | Content):
        return thing.plain
    raise TypeError(f"cannot read {thing!r}")


def labels(app: Any) -> list[Text]:
    """The sidebar's conversation labels, top to bottom."""

    def walk(node: Any) -> list[Any]:
        return [node, *(n for child in node.children for n in walk(child))]

    tree = app.query_one(ConversationTree)
    return [node.label for node in walk(tree.root) if isinstance(node.data, int)]


def dialog_texts(app: Any) -> str:
    return "\n".join(shown(static) for static in app.screen.query(Static) if not static.has_class("-textual-system"))


def toasts(app: Any) -> list[tuple[str, str]]:
    """(title, message) of each notification; only ones never to be read as markup."""
    notes = list(app._notifications)
    assert not any(note.markup for note in notes)
    return [(note.title, note.message) for note in notes]


def paint(app: Any) -> None:
    """Render the whole screen as the terminal would get it (what export_screenshot does,
    without the SVG)."""
    console = Console(file=io.StringIO(), width=app.size.width, force_terminal=True, color_system="truecolor")
    console.print(app.screen._compositor.render_update(full=True))


async def test_a_title_with_a_closing_tag_does_not_stop_the_app(make_app: AppFactory) -> None:
    title = "Why does Llama wrap prompts in [INST] ... [/INST]?"
    app = make_app()
    app.backend.store.create_conversation(title)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: labels(app))
        assert [label.plain for label in labels(app)] == [title]
        paint(app)


async def test_brackets_are_shown_as_typed_in_the_sidebar_and_the_delete_dialog(make_app: AppFactory) -> None:
    title = "Fix [bug] in [bold]parser[/bold] and [red]x"
    app = make_app()
    app.backend.store.create_conversation(title)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: labels(app))
        [label] = labels(app)
        assert label.plain == title and not label.spans  # not bold, not red
        app.query_one(ConversationTree).focus()
        await pilot.pause()
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        assert f"Delete “{title}”" in dialog_texts(app)
        paint(app)


async def test_renaming_to_a_closing_tag_and_sending_one(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "what does [/bold] mean")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        assert last_reply(app).status == MessageStatus.COMPLETE
        assert fake_openai.last_messages[-1]["content"] == "what does [/bold] mean"
        assert [label.plain for label in labels(app)] == ["● what does [/bold] mean"]
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, AskText))
        await pilot.press("ctrl+u")
        await type_text(pilot, "a [/x] b")
        await pilot.press("enter")
        await wait_until(pilot, lambda: [label.plain for label in labels(app)] == ["● a [/x] b"])
        assert screen_of(app).sub_title == "a [/x] b"
        paint(app)


async def test_accepting_a_title_unchanged_keeps_its_control_characters(make_app: AppFactory) -> None:
    title = "\r\x1b[31mred\x07 "
    app = make_app()
    conversation = app.backend.store.create_conversation(title)
    async with app.run_test(size=SIZE) as pilot:
        await screen_of(app).open_conversation(conversation.id)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, AskText))
        assert app.screen.query_one("#dialog-input").value == "^[[31mred^G "  # spelled out
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, AskText))
        assert app.backend.store.get_conversation(conversation.id).title == title


async def test_the_system_prompt_hint_names_the_presets_table(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        assert "([presets] in config.toml)" in dialog_texts(app)


async def test_error_texts_keep_their_brackets(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Fail(500, message="broke at [/oops] and [bold]here"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        assert "broke at [/oops] and [bold]here" in shown(last_reply(app).query_one(".notice", Static))
        app.notify("a [/toast] [b]x", title="[title]")
        await wait_until(pilot, lambda: toasts(app))
        assert toasts(app)[-1] == ("[title]", "a [/toast] [b]x")
        paint(app)


# Brackets, backslashes, controls (C0, DEL, C1), combining and wide characters, and anything else.
HOSTILE = st.text(alphabet="[]/\\ab=#*`<>\x1b\x07\x00\x7f\x9b\r\t\u0301\u4e00\U0001f600 ", min_size=1, max_size=30)
ANY = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
UNTRUSTED = st.one_of(HOSTILE, ANY).filter(lambda s: s.strip() and "\n" not in s)


# Each example runs a whole app: a few examples of many strings each, and no shrinking
# (the failing draws are printed), so that the suite stays fast even when this fails.
@settings(
    max_examples=2, deadline=None, phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(data=st.data())
async def test_any_text_through_every_surface(make_app: AppFactory, data: st.DataObject) -> None:
    """One app, many strings: each is a title, a model name, a preset name, a message, an
    error and a notification, and goes through rename and the delete dialog."""
    await through_every_surface(make_app, [data.draw(UNTRUSTED, label=f"text {i}") for i in range(5)])


async def test_strings_hypothesis_once_found_through_every_surface(make_app: AppFactory) -> None:
    await through_every_surface(
        make_app, ["xä\xa0@~\U00065a65", "å\x0e±E", "\x9b\\", "*\x00`\x9b>\x1ba\\] [ 😀", "\x9b<# "]
    )


async def through_every_surface(make_app: AppFactory, texts: list[str]) -> None:
    app = make_app(presets={text: f"prompt {text}" for text in texts})
    store = app.backend.store
    async with app.run_test(size=SIZE) as pilot:
        chat = screen_of(app)
        for text in texts:
            conversation = store.create_conversation(text, model=text)
            store.add_message(conversation.id, "user", text)
            reply = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL, model=text)
            store.update_message(reply.id, content=f"reply {text} zebrafind", status=MessageStatus.ERROR,
                                 error=f"failed: {text}")  # fmt: skip
            await chat.load_conversations(0).wait()
            await chat.open_conversation(conversation.id)
            await wait_until(pilot, lambda: [v.message.id for v in app.query(MessageView)] == [reply.id - 1, reply.id])
            # Sidebar, header, status line, messages: the text, controls spelled out, never markup.
            current = next(label for label in labels(app) if label.plain.startswith("● "))
            assert current.plain.removeprefix("● ") == visible(text)  # as written, trailing blanks too
            assert visible(text) in shown(app.format_title("codhechat", chat.sub_title))
            assert visible(text) in app.query_one(StatusBar).render().plain
            user_view, reply_view = app.query(MessageView)
            assert user_view._build().renderables[1].plain == visible(text)
            assert reply_view.notice is not None and visible(f"failed: {text}") in reply_view.notice.plain
            paint(app)
            # A notification and the delete dialog.
            app.notify(f"note {text}")
            await wait_until(pilot, lambda: toasts(app) and toasts(app)[-1][1] == visible(f"note {text}"))
            await pilot.press("f8")
            await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
            assert visible(text) in dialog_texts(app)
            paint(app)
            await pilot.press("escape")
            # Search: each result names its conversation as titled and shows its snippet as text.
            await pilot.press("ctrl+f")
            await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
            await type_text(pilot, "zebrafind")
            results = app.screen.query_one(OptionList)
            await wait_until(pilot, lambda: results.option_count >= 1)
            found = [results.get_option_at_index(i).prompt for i in range(results.option_count)]
            assert all(isinstance(p, Text) for p in found)
            assert any(p.plain.startswith(f"{visible(text)}  ") and "zebrafind" in p.plain for p in found)
            paint(app)
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, SearchScreen))
            # The system prompt presets list the preset by its name.
            await pilot.press("f9")
            await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
            options = app.screen.query_one("#choose-list")
            prompts = [options.get_option_at_index(i).prompt for i in range(options.option_count)]
            assert any(isinstance(p, Text) and p.plain.startswith(f"{visible(text)}: ") for p in prompts)
            paint(app)
            await pilot.press("escape")
            # Rename: a new title is stored exactly as it was typed into the field.
            await pilot.press("f3")
            await wait_until(pilot, lambda: isinstance(app.screen, AskText))
            app.screen.query_one("#dialog-input").value = f"renamed {text}"
            await pilot.press("enter")
            await wait_until(pilot, lambda: store.get_conversation(conversation.id).title == f"renamed {text}".strip())
            paint(app)


async def test_pasted_escapes_are_spelled_out_in_the_prompt_and_in_dialogs(make_app: AppFactory) -> None:
    from textual import events

    from codhechat.ui.widgets.prompt import PromptInput

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        prompt.post_message(events.Paste("look \x1b]0;PWNED\x07 here"))
        await wait_until(pilot, lambda: prompt.text)
        assert prompt.text == "look ^[]0;PWNED^G here"
        prompt.post_message(events.Paste("plain paste"))
        await wait_until(pilot, lambda: prompt.text.endswith("plain paste"))
        await send(pilot, "")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, AskText))
        field = app.screen.query_one("#dialog-input")
        field.value = ""
        field.post_message(events.Paste("new \x9b2J title"))
        await wait_until(pilot, lambda: field.value)
        assert field.value == "new M-^[2J title"
