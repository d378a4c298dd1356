"""Whether this terminal can draw images (Kitty's graphics protocol or Sixel), decided
once at start from the `thumbnails` setting and the environment: no escape sequence is
sent to ask, so detecting costs nothing and a terminal that cannot draw never sees one.

`auto` says yes only where the terminal names itself as one that draws (kitty; WezTerm,
iTerm2, foot, mlterm, contour for Sixel), and no inside tmux or screen, which pass neither
through. `kitty` or `sixel` forces a protocol, `off` shows labelled chips everywhere.

textual-image draws the thumbnails. It asks the terminal about itself when imported, and
that only works before Textual reads the keyboard: `prepare()` imports it before the app
starts, and only when images can be drawn; elsewhere it is never imported.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Literal

Protocol = Literal["kitty", "sixel"]
SIXEL_TERMINALS = {"foot", "foot-extra", "mlterm", "contour", "yaft-256color"}
SIXEL_PROGRAMS = {"WezTerm", "iTerm.app", "mlterm"}

current: Protocol | None = None  # what the running app draws with (set by the app at start)


def detect(setting: str, environ: Mapping[str, str], *, tty: bool | None = None) -> Protocol | None:
    """The protocol to draw thumbnails with, or None for labelled chips only."""
    if setting in ("kitty", "sixel"):
        return setting  # type: ignore[return-value]
    if setting != "auto":
        return None
    if tty is None:
        tty = sys.__stdout__ is not None and sys.__stdout__.isatty()
    if not tty:
        return None
    term = environ.get("TERM", "")
    if environ.get("TMUX") or environ.get("STY") or term.startswith(("screen", "tmux")):
        return None
    if term == "xterm-kitty" or environ.get("KITTY_WINDOW_ID"):
        return "kitty"
    if term in SIXEL_TERMINALS or environ.get("TERM_PROGRAM") in SIXEL_PROGRAMS:
        return "sixel"
    return None


def prepare(protocol: Protocol | None) -> None:
    """Load textual-image while its questions to the terminal can still be answered."""
    if protocol is not None:
        try:
            import textual_image.widget  # noqa: F401  (asks the terminal its cell size and abilities)
        except ImportError:  # not installed: labelled chips
            pass
