"""Widgets that paint their lines themselves (the live piece, the frozen pieces, a thought).

Why: such a widget makes each line it is asked for from its own rendered lines, styled as
Textual's RichVisual would style them: the widget's style under the text's, and its links
styled for hover. Textual works those styles out from the widget's CSS each time they are
asked for (`Widget.link_style` alone took ~55 µs), and they were asked for once a line: a
third of a streaming frame's paint, and 1.5 ms of each jump's, whose paint asks for every
line in view. They cannot change while one paint asks for its lines, so `LinePainted`
works them out once a paint (`render_lines`), and `line_strip` uses them for each line.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

__all__ = ["LinePainted", "line_strip"]


class LinePainted(Widget):
    """A widget whose `render_line` makes its lines with `line_strip`."""

    _paint_styles: tuple[Style, Style | None] | None = None  # set only while a paint asks for lines
    _painting = False

    def render_lines(self, crop: Region) -> list[Strip]:
        self._painting, self._paint_styles = True, None
        try:
            return super().render_lines(crop)
        finally:
            self._painting, self._paint_styles = False, None


def _styles(widget: Widget) -> tuple[Style, Style | None]:
    """The widget's style under its text, and its links' (None: links are not styled)."""
    links = widget.link_style if widget.auto_links and not widget.screen._selecting else None
    return widget.visual_style.rich_style, links


def line_strip(widget: Widget, line: list[Segment] | None, width: int) -> Strip:
    """One rendered line as the widget paints it, styled as Textual's RichVisual would (the
    widget's style under the text's, links styled for hover: tests/ui/test_stream_frames.py
    compares the two); None: a blank line."""
    if isinstance(widget, LinePainted) and widget._painting:
        styles = widget._paint_styles or _styles(widget)
        widget._paint_styles = styles
    else:
        styles = _styles(widget)
    base, links = styles
    if line is None:
        return Strip.blank(width, base)
    strip = Strip(line).crop(0, width).apply_style(base)
    return strip if links is None else strip._apply_link_style(links)
