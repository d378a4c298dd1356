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

This overrides a private method, so `tests/ui/test_stream_frames.py` pins the source of
the one it replaces: on a Textual upgrade that changes it, that test fails and this must
be checked again (or dropped, if Textual crops by itself by then).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip


class DirtyRowsCompositor(Compositor):
    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if not crop:
            yield from super()._get_renders(crop)
            return
        overlaps, top, bottom = crop.overlaps, crop.y, crop.bottom
        for widget, (region, clip) in self.visible_widgets.items():
            visible = region.intersection(clip)
            if not overlaps(visible):
                continue
            x, y, width, height = visible
            first, last = max(y, top), min(y + height, bottom)
            rows = Region(x, first, width, last - first)
            yield region, rows, widget.render_lines(Region(x - region.x, first - region.y, width, last - first))
