"""The layout at 40x15, 60x20 and 120x40: below 80 columns the sidebar hides and Ctrl+B
opens it over the chat; the prompt and the footer stay usable; whether the sidebar is
shown is remembered across runs; long titles end in an ellipsis; dialog texts wrap;
an error's hint is on a line of its own."""

from __future__ import annotations

import pytest

from codhechat.state import UiState
from codhechat.ui.screens.api_key import ApiKeyScreen
from codhechat.ui.transcript import LiveReply
from codhechat.ui.widgets.footer import ChatFooter
from codhechat.ui.widgets.sidebar import ConversationTree
from tests.fake_openai import Fail, FakeOpenAI, Gate, Reply
from tests.ui.conftest import AppFactory, wait_until
from tests.ui.test_chat import last_reply, reply_views, screen_of, send

NARROW = [(40, 15), (60, 20)]
LONG_TITLE = "A conversation whose title goes on and on, far wider than any sidebar could ever be"


def screen_text(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [strip.text for strip in app.screen._compositor.render_strips()]


def footer_line(app) -> str:  # type: ignore[no-untyped-def]
    footer = app.screen.query_one(ChatFooter)
    return screen_text(app)[footer.region.y]


@pytest.mark.parametrize("size", NARROW)
async def test_a_narrow_terminal_hides_the_sidebar_and_ctrl_b_opens_it_over_the_chat(
    make_app: AppFactory, size: tuple[int, int]
) -> None:
    app = make_app()
    app.backend.store.create_conversation(LONG_TITLE)
    async with app.run_test(size=size) as pilot:
        chat = screen_of(app)
        await wait_until(pilot, lambda: chat.sidebar.conversations and "f1 Keys" in footer_line(app))
        assert not chat.sidebar.display and chat.has_class("-narrow")
        assert chat.prompt.region.width >= size[0] - 2  # the whole width is the chat's
        assert chat.prompt.has_focus
        for key in ("⏎ Send", "^n New chat", "^b Sidebar", "f1 Keys"):  # whole, not cut
            assert key in footer_line(app)
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert chat.sidebar.display and chat.sidebar.has_focus
        assert chat.query_one("#chat").region.width == size[0]  # over the chat, not beside it
        assert chat.sidebar.region.width < size[0]
        # Picking a conversation closes it and goes back to typing.
        await pilot.press("down", "down")
        assert chat.sidebar.cursor_node is not None and isinstance(chat.sidebar.cursor_node.data, int)
        await pilot.press("enter")
        await wait_until(pilot, lambda: chat.conversation_id is not None)
        await wait_until(pilot, lambda: not chat.sidebar.display)
        assert chat.prompt.has_focus
        # Ctrl+B twice, or Ctrl+B then Esc: open and closed again; nothing remembered for a wide terminal.
        for close in ("ctrl+b", "escape"):
            await pilot.press("ctrl+b")
            await pilot.pause()
            assert chat.sidebar.display and chat.sidebar.has_focus
            await pilot.press(close)
            await pilot.pause()
            assert not chat.sidebar.display and chat.prompt.has_focus
    assert UiState().get("sidebar") is None


async def test_the_sidebar_shown_or_hidden_is_remembered_on_a_wide_terminal(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        chat = screen_of(app)
        await wait_until(pilot, lambda: "f1 Keys" in footer_line(app))
        assert chat.sidebar.display and chat.has_class("-wide")
        assert chat.prompt.region.x > chat.sidebar.region.right - 1  # beside the chat
        for key in ("^j Newline", "esc Stop", "^r Retry", "^q Quit", "f1 Keys", "^t Theme", "^p palette"):
            assert key in footer_line(app)
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert not chat.sidebar.display and chat.prompt.has_focus
    assert UiState().get("sidebar") == "hidden"
    again = make_app()
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not screen_of(again).sidebar.display
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert screen_of(again).sidebar.display
    assert UiState().get("sidebar") == "shown"


@pytest.mark.parametrize("size", [*NARROW, (120, 40)])
async def test_long_titles_end_in_an_ellipsis_without_a_horizontal_scrollbar(
    make_app: AppFactory, size: tuple[int, int]
) -> None:
    app = make_app()
    app.backend.store.create_conversation(LONG_TITLE)
    async with app.run_test(size=size) as pilot:
        chat = screen_of(app)
        await wait_until(pilot, lambda: chat.sidebar.conversations)
        if not chat.sidebar.display:
            await pilot.press("ctrl+b")
            await pilot.pause()
        tree = app.screen.query_one(ConversationTree)
        await pilot.pause()
        assert not tree.show_horizontal_scrollbar
        assert tree.virtual_size.width <= tree.scrollable_content_region.width
        region = tree.content_region
        lines = [line[region.x : region.right] for line in screen_text(app)[region.y : region.bottom]]
        [title_line] = [line for line in lines if "A conversation" in line]
        assert title_line.rstrip().endswith("…")


@pytest.mark.parametrize("size", [*NARROW, (120, 40)])
async def test_the_api_key_dialog_text_wraps_instead_of_being_cut(make_app: AppFactory, size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, ApiKeyScreen))
        await pilot.pause()
        said = " ".join(" ".join(line.replace("█", " ").split()) for line in screen_text(app))
        assert "Paste your API key. It is stored in your config file, readable by you only." in said


def test_an_errors_hint_is_on_a_line_of_its_own() -> None:
    reply = LiveReply(
        None, "m", error="The endpoint rejected the API key (401): fake error 401", hint="Check OPENAI_API_KEY."
    )
    assert reply.notice.splitlines() == [
        "The endpoint rejected the API key (401): fake error 401",
        "Check OPENAI_API_KEY.",
    ]
    assert LiveReply(None, "m", error="Lost the connection.").notice == "Lost the connection."


async def test_a_failed_reply_says_its_hint_once_on_its_own_line(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Fail(401, message="fake error 401"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "hello")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        notice = str(last_reply(app).query_one(".notice").render())
        first, *rest = notice.splitlines()
        assert first.endswith("fake error 401") and rest[0].startswith("Check OPENAI_API_KEY")
        assert notice.count("Ctrl+R") <= 1


@pytest.mark.parametrize("size", [*NARROW, (120, 40)])
async def test_a_tall_paste_leaves_the_conversation_room(make_app: AppFactory, size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        chat = screen_of(app)
        chat.prompt.text = "\n".join(f"line {i}" for i in range(30))
        await pilot.pause()
        assert chat.prompt.region.bottom <= chat.status.region.y  # its border whole, not under the status
        assert chat.pane.region.height >= min(size[1] // 3, 20)
        assert chat.pane.region.bottom <= chat.prompt.region.y  # nothing overlaps


async def test_esc_in_the_sidebar_beside_the_chat_still_stops_a_reply(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    gate = Gate()
    fake_openai.enqueue(Reply("partial " * 200, hold=gate, hold_after=10))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "tell me")
        await wait_until(pilot, lambda: reply_views(app) and len(last_reply(app).text) >= len("partial ") * 10)
        screen_of(app).sidebar.focus()
        await pilot.pause()
        await pilot.press("escape")
        await wait_until(pilot, lambda: last_reply(app).status is not None)
        gate.open()
