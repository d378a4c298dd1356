"""A reasoning model's thinking as it streams: dim plain text, whose frames cost what they add.

Why: the thinking was one Static, given all of it again at every frame, so each frame
wrapped the whole thought anew (1.5 ms at 1,000 tokens, 15 ms at 10,000: a thought of
that length is common for a reasoning model, and it streams for minutes) and laid out the
screen. Wrapping is greedy, so as text is appended only a paragraph's last line can
change: every line above it is kept as rendered, and each frame wraps only that last line
and what came after it (rich's own `divide_line` tells where it begins). A frame that
adds no line repaints only the lines it changed, with no layout; and, as a reply's live
piece does, it keeps blank room below its text, StreamPace.jump_lines at a time, so the
pane following it scrolls (and repaints) once per jump, not once per line.
tests/ui/test_thinking_text.py appends random text in random steps and compares every
step with the whole text rendered at once.
"""

from __future__ import annotations

from rich._wrap import divide_line
from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip

from codhechat.textsafe import visible
from codhechat.ui.widgets.line_painting import LinePainted, line_strip
from codhechat.ui.widgets.piece_view import changed_rows, stream_pace

STYLE = "dim italic"
TAB_SIZE = 8  # tabs are expanded to these stops first, as rich would at the start of a line


def shown_text(text: str) -> str:
    """What is wrapped of `text`: its controls spelled out, its tabs expanded."""
    return visible(text).expandtabs(TAB_SIZE)


class ThinkingText(LinePainted):
    DEFAULT_CSS = "ThinkingText { height: auto; }"

    def __init__(self, *, classes: str | None = None, live: bool = True) -> None:
        super().__init__(classes=classes)
        self._text = ""  # shown_text of the thinking so far
        self._settled: list[list[Segment]] = []  # lines that more text cannot change
        self._live_from = 0  # where in _text the lines not settled begin
        self._live: list[list[Segment]] = []  # those lines
        self._wrapped = (0, 0)  # (len(_text), width) the lines are for; width 0: none are
        self.live = live  # still streaming: blank room is kept below the text
        self._room = 0  # lines its height holds while live

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        """Show `text` (the whole thinking so far; usually what was shown, grown)."""
        text = shown_text(text)
        if text == self._text:
            return
        width = self.content_size.width
        if not (self.live and width):  # Textual paints it (render): laid out again, as a Static is
            self._text, self._wrapped = text, (0, 0)
            self.refresh(layout=True)
            return
        before = self.lines(width)
        if not text.startswith(self._text):
            self._wrapped = (0, 0)  # not grown: wrapped again from its start
        self._text = text
        after = self.lines(width)
        if len(after) > self._room:
            self.refresh(layout=True)
        elif changed := changed_rows(before, after, width):
            self.refresh(changed)

    def end(self) -> None:
        """The thought is over: no more room below it."""
        if self.live:
            self.live = False
            self.refresh(layout=True)

    def lines(self, width: int) -> list[list[Segment]]:
        """Its lines at `width`, wrapping only what is not settled."""
        if width != self._wrapped[1]:
            self._settled, self._live_from = [], 0
        elif self._wrapped[0] == len(self._text):
            return [*self._settled, *self._live]
        self._wrapped = (len(self._text), width)
        rest = self._text[self._live_from :]
        *whole, last = rest.split("\n")
        for paragraph in whole:  # ended by a newline: settled for good
            self._settled += self._paragraph_lines(paragraph, width)
            self._live_from += len(paragraph) + 1
        lines = self._paragraph_lines(last, width)
        starts = divide_line(last, width, fold=True)  # where its lines begin (after the first)
        if starts and len(lines) == len(starts) + 1:  # (whitespace alone can wrap otherwise: then kept live)
            self._settled += lines[:-1]
            self._live_from += starts[-1]
            lines = lines[-1:]
        self._live = lines
        return [*self._settled, *self._live]

    def _paragraph_lines(self, paragraph: str, width: int) -> list[list[Segment]]:
        options = self.app.console_options.update_width(width).update(height=None)
        return self.app.console.render_lines(Text(paragraph, style=STYLE), options, pad=False) or [[]]

    def render(self) -> Text:
        """The whole thought, as Textual renders a Static's text: once it has ended (or while
        text is selected in it) it is painted so, and can be selected and copied."""
        return Text(self._text, style=STYLE)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self.live:
            return super().get_content_height(container, viewport, width)
        shown = len(self.lines(width)) if self._text and width else 0
        if shown > self._room:
            self._room = shown + stream_pace(self).jump_lines - 1
        return self._room

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if not self.live or not width or self.text_selection is not None:
            return super().render_line(y)
        self._dirty_regions.clear()  # Widget.render_line's cue to render all of it again
        lines = self.lines(width)
        return line_strip(self, lines[y] if y < len(lines) else None, width)
