"""A compositor that renders, on a partial update, only the lines that changed.

Why: while a reply streams, a frame usually changes one or two lines of the live piece.
Textual 8's `Compositor._get_renders(crop)` picks the widgets whose *clip* overlaps the
dirty region, and a top-level widget's clip is the whole screen, so the screen, the
sidebar, the header, the footer, the status line, the input and every container each
render all their lines (from cache, but line by line) on every frame, and the ones fully
in view are asked for all of them: about a third of a streaming frame's CPU went there.

Here a widget is rendered only if what is visible of it overlaps the dirty region, and
only the dirty rows of it. The rows are cut across the widget's whole visible width, never
narrower: `_render_chops` splits each strip at the widget's own cuts, counted from the
left edge of its visible region. What is painted is what Textual would paint: the lines
and columns left out are outside the dirty spans, which are all `ChopsUpdate` sends.

Nor is a widget rendered that is hidden behind widgets in front of it: the compositor
takes, for each stretch of a line, the strip of the front-most widget there, so a
container whose children fill it (the screen, the panes, a reply's column) would render
and cut every line only for all of it to be dropped. Widgets come front first, and each
row remembers which columns widgets in front already paint (`Coverage`); a widget is
rendered only for the rows where some of its columns are still open. (In a burst
profiled with cProfile, cutting strips that were then thrown away was about 60 % of a
frame's compositing; a streaming frame now renders the containers it crosses in one
frame of six or fewer, `tests/ui/test_covered_widgets.py`.)

This overrides a private method, so `tests/ui/test_stream_frames.py` pins the source of
the one it replaces: on a Textual upgrade that changes it, that test fails and this must
be checked again (or dropped, if Textual crops by itself by then).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import ChopsUpdate, Compositor, LayoutUpdate
from textual.geometry import Region
from textual.strip import Strip

from codhechat.ui.terminal_output import ChangesChopsUpdate, ChangesLayoutUpdate, StyleChanges


class Coverage:
    """Per screen row, the columns already painted, as merged [start, end) spans."""

    def __init__(self) -> None:
        self._rows: dict[int, list[list[int]]] = {}

    def covers(self, row: int, start: int, end: int) -> bool:
        return any(a <= start and end <= b for a, b in self._rows.get(row, ()))

    def add(self, row: int, start: int, end: int) -> None:
        kept: list[list[int]] = []
        for span in self._rows.get(row, ()):
            if span[1] < start or end < span[0]:
                kept.append(span)
            else:  # touching or overlapping: merged into the new one
                start, end = min(start, span[0]), max(end, span[1])
        kept.append([start, end])
        self._rows[row] = kept


class DirtyRowsCompositor(Compositor):
    """Also writes its updates as style and cursor changes (ui/terminal_output.py)."""

    def __init__(self) -> None:
        super().__init__()
        self._style_changes = StyleChanges()

    def render_full_update(self, simplify: bool = False) -> LayoutUpdate:
        update = super().render_full_update(simplify)
        return update if simplify else ChangesLayoutUpdate(update, self._style_changes)  # simplify: an SVG export

    def render_partial_update(self) -> ChopsUpdate | None:
        update = super().render_partial_update()
        return None if update is None else ChangesChopsUpdate(update, self._style_changes)

    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if not crop:
            yield from super()._get_renders(crop)
            return
        overlaps, top, bottom = crop.overlaps, crop.y, crop.bottom
        painted = Coverage()
        for widget, (region, clip) in self.visible_widgets.items():  # front first
            visible = region.intersection(clip)
            if not overlaps(visible):
                continue
            x, y, width, height = visible
            # Only the columns inside the crop are sent (ChopsUpdate's spans lie within it); a
            # widget in front spans whole stretches between cuts, so covering those fills them.
            left, right = max(x, crop.x), min(x + width, crop.right)
            in_crop = range(max(y, top), min(y + height, bottom))
            rows_open = [row for row in in_crop if not painted.covers(row, left, right)]
            if not rows_open:
                continue  # wholly behind widgets in front: each of its strips would be dropped
            first, last = rows_open[0], rows_open[-1] + 1
            for row in range(first, last):
                painted.add(row, x, x + width)
            rows = Region(x, first, width, last - first)
            yield region, rows, widget.render_lines(Region(x - region.x, first - region.y, width, last - first))
