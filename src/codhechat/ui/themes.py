"""Themes: Textual's built-in ones by name (besides `dark` and `light`), offered in the
command palette and remembered (app.py keeps the choice in UiState); the code blocks of
replies in a Pygments style that goes with the theme; NO_COLOR honoured.

Textual itself honours NO_COLOR (it turns the screen monochrome); code blocks then use
the black-and-white Pygments style, which keeps their bold and italics.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.app import App
from textual.command import Hit, Hits, Provider
from textual.theme import Theme

ALIASES = {"dark": "textual-dark", "light": "textual-light"}
DEFAULT = "textual-dark"
# A theme's own Pygments style where Pygments has one; otherwise by dark or light.
CODE_STYLES = {
    "nord": "nord",
    "dracula": "dracula",
    "gruvbox": "gruvbox-dark",
    "monokai": "monokai",
    "solarized-dark": "solarized-dark",
    "solarized-light": "solarized-light",
    "atom-one-dark": "one-dark",
    "tokyo-night": "night-owl",
    "textual-light": "friendly",
}
DARK_CODE, LIGHT_CODE, NO_COLOR_CODE = "monokai", "friendly", "bw"


def theme_name(wanted: str) -> str:
    """A --theme flag's or the config's name as Textual knows it (`dark` is textual-dark)."""
    return ALIASES.get(wanted, wanted)


def code_style(app: App[Any]) -> str:
    """The Pygments style for code blocks under the app's theme."""
    if app.no_color:
        return NO_COLOR_CODE
    theme: Theme = app.current_theme
    return CODE_STYLES.get(theme.name) or (DARK_CODE if theme.dark else LIGHT_CODE)


class ThemeCommands(Provider):
    """ "Theme: nord" and the like in the command palette, as the user types (not in the
    list shown before typing, which keeps the app's own commands in view)."""

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        current = self.app.theme
        for name in sorted(self.app.available_themes):
            title = f"Theme: {name}"
            if (score := matcher.match(title)) > 0:
                kind = "dark" if self.app.available_themes[name].dark else "light"
                help = f"A {kind} theme" + ("  (the current one)" if name == current else "")
                yield Hit(
                    score, matcher.highlight(title), partial(setattr, self.app, "theme", name), text=title, help=help
                )
