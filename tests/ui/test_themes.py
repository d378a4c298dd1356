"""Themes: Textual's built-in ones in the command palette, remembered; code blocks in a
style that goes with the theme; NO_COLOR honoured; an unknown name said, not a crash."""

from __future__ import annotations

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


def test_the_highlighting_warm_up_highlights_without_the_screen(make_app: AppFactory) -> None:
    from codhechat.ui.themes import warm_up_highlighting

    app = make_app()
    warm_up_highlighting(app)  # no screen, no terminal: it only loads what highlighting needs
    import sys

    assert "pygments.lexers.python" in sys.modules
