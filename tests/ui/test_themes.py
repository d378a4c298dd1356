"""Themes: Textual's built-in ones in the command palette, remembered; code blocks in a
style that goes with the theme; NO_COLOR honoured; an unknown name said, not a crash."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codhechat.state import UiState
from codhechat.ui.themes import ThemeCommands, code_style
from codhechat.ui.widgets.messages import MessageView, code_theme
from tests.ui.conftest import AppFactory, type_text, wait_until
from tests.ui.test_chat import SIZE, screen_of

FENCE = "```python\nprint('hi')\n```"


async def theme_hits(app, query: str) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    return {str(hit.text): hit.help async for hit in ThemeCommands(app.screen).search(query)}


async def test_the_palette_offers_textuals_themes_and_the_choice_is_remembered(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        hits = await theme_hits(app, "theme")
        assert {"Theme: nord", "Theme: gruvbox", "Theme: dracula", "Theme: textual-light"} <= set(hits)
        assert len(hits) >= 9 and hits["Theme: textual-dark"] == "A dark theme  (the current one)"
        await pilot.press("ctrl+p")
        await type_text(pilot, "theme nord")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.theme == "nord")
    assert UiState().get("theme") == "nord"
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.theme == "nord"
    flagged = make_app(theme="gruvbox")  # --theme takes any theme's name, for that run
    async with flagged.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert flagged.theme == "gruvbox"


async def test_code_blocks_follow_the_theme(make_app: AppFactory) -> None:
    app = make_app()
    conversation = app.backend.store.create_conversation("code")
    app.backend.store.add_message(conversation.id, "assistant", FENCE)
    async with app.run_test(size=SIZE) as pilot:
        await screen_of(app).open_conversation(conversation.id)
        await pilot.pause()
        view = app.query_one(MessageView)
        assert code_theme(view) == "monokai"
        for theme, style in (("nord", "nord"), ("gruvbox", "gruvbox-dark"), ("textual-light", "friendly"),
                             ("solarized-light", "solarized-light"), ("rose-pine-dawn", "friendly"),
                             ("catppuccin-mocha", "monokai")):  # fmt: skip
            app.theme = theme
            await pilot.pause()
            assert code_theme(view) == style, theme


async def test_no_color_is_honoured(make_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.no_color  # Textual turns the screen monochrome
        assert code_style(app) == "bw"  # and code keeps its bold and italics, without colour


async def test_an_unknown_theme_is_said_and_the_default_used(make_app: AppFactory) -> None:
    app = make_app(theme="no-such-theme")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app._notifications)
        assert app.theme == "textual-dark"
        assert "There is no theme 'no-such-theme'" in next(iter(app._notifications)).message


WARM_UP_THEN_RENDER = """
import sys
from rich.console import Console
from codhechat.ui.markdown_pieces import Piece, find_cut
from codhechat.ui.widgets.piece_view import piece_markdown, warm_up_rendering
assert "markdown_it" not in sys.modules and "pygments.lexers.python" not in sys.modules
warm_up_rendering("monokai")
before = set(sys.modules)
reply = Piece("A *reply*:\\n\\n- one\\n- two\\n\\n```python\\nprint(1)\\n```\\n")
find_cut(reply)
for highlight in (False, True):
    Console(width=60, file=open("/dev/null", "w")).print(piece_markdown(reply, code_theme="monokai", highlight=highlight))
print(sorted(set(sys.modules) - before))
"""


def test_the_rendering_warm_up_leaves_a_first_reply_nothing_to_import() -> None:
    """The first reply's frames import nothing (markdown-it, rich's Markdown, Pygments'
    lexer: ~0.1 s, which held up its stream's first frame): the idle warm-up did it."""
    done = subprocess.run([sys.executable, "-c", WARM_UP_THEN_RENDER], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
