"""Widgets whose new size asks for no second layout.

After each layout Textual gives every widget its new size, and a widget whose virtual
size changed treats that as a change of its own (`virtual_size` is a reactive with
`layout=True`): it asks for another layout, which runs a frame later and finds nothing
to move. While a reply streams, every jump of the pane and every cut of the reply
changes the size of the reply's widgets and of the pane, so half the layouts of a
stream were these echoes (at 1,000 tokens/s, 9.2 layouts a second, 10-15 ms each;
4.2 without them).

A widget that only shows what it is given takes its size from the layout that gave it:
`SizedByLayout` records it and asks for nothing more (it is still repainted: Textual
marks a widget dirty when its size changes, and the compositor repaints what moved).
The message pane scrolls, and there a new size can mean a scrollbar shown or hidden, or
a bottom to follow that moved: it asks for the second layout unless only its content
grew or shrank (`content_only`), the case of a growing reply, whose anchor the layout
already followed (Textual places an anchored pane at its new bottom while it arranges
it) and whose scrollbars were updated (a scrollbar shown or hidden asks for its own).

Nor does a layout such a widget asks for wait for it to idle (`SizedByLayout.refresh`).
"""

from __future__ import annotations

from typing import Self

from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.widget import Widget


class SizedByLayout(Widget):
    """A widget whose size, set by a layout, asks for no layout again; grown taller, it
    repaints only its new lines."""

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False) -> Self:
        """As Textual's, but a layout asked for is the next layout's at once.

        Why: Textual keeps each widget's last size and each container's last arrangement.
        It forgets a widget's size when the widget first asks for a layout, and its
        containers' arrangements only when it next idles (`Widget._check_refresh`). A layout
        can come between: at a burst's end, the frozen pieces grew by fourteen pieces, but
        they had asked for a layout at the frame before and not idled since. The next layout
        took their old height, 27 lines for 363. For a frame, the pane stayed where it was and
        showed the reply's top, and each piece shown there was measured (~25 ms, one list
        burst in four) only to be scrolled away. So each layout asked for forgets the size,
        and the containers' arrangements up to the first whose size does not follow its
        content, as `_check_refresh` will."""
        if layout:
            for node in (self, *self.ancestors):
                if not isinstance(node, Widget):
                    break
                node._layout_updates += 1  # a key of the size kept (Widget._get_box_model)
                node._clear_arrangement_cache()
                if node is not self and not node.styles.auto_dimensions:
                    break
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        old = self._size
        if size.width == old.width and size.height > old.height > 0 and self._bottom_is_plain():
            # Textual would draw it whole again (at each jump: the live piece, the reply and
            # its column, 2-3 ms of a layout's 10). Nothing is drawn at its bottom edge, so its
            # lines above the new ones are as they were: only the new ones are drawn. (What
            # changed inside it was marked by whoever changed it, as set_piece does.)
            self._size = size
            new_lines = Region(0, old.height, size.width, size.height - old.height)
            self._styles_cache.set_dirty(new_lines)
            self._dirty_regions.add(new_lines)
        resized = super()._size_updated(size, virtual_size, container_size, layout=False)
        if size != old:
            # The layout that gave it its size paints all of it that is in view, in its own
            # paint (the compositor marks what moved or changed size). A repaint asked for here
            # (Textual asks for one of the whole widget) waited for the next frame, which then
            # sent the same lines again: the reply's new room after each jump, all the pane's
            # lines after each cut (2-5 KB each at 120x40).
            self._repaint_regions.clear()
        return resized

    def _bottom_is_plain(self) -> bool:
        """Whether nothing is drawn along its bottom edge (a border, an outline, padding)."""
        styles = self.styles
        return (
            styles.border_bottom[0] in ("", "none", "hidden")
            and styles.outline_bottom[0] in ("", "none", "hidden")
            and styles.padding.bottom == 0
            and self._border_subtitle is None
        )


class PiecesColumn(Vertical, SizedByLayout):
    """The column of a reply's pieces (frozen ones, then the live tail).

    `Vertical` comes first: Textual takes a widget's default styles from its first base
    only, and an empty column without them would show its own name."""


def content_only(widget: Widget, size: Size, virtual_size: Size, container_size: Size) -> bool:
    """Whether a new size for `widget` (as `Widget._size_updated` is given it) changes only
    how tall its content is."""
    return (
        size == widget._size
        and container_size == widget._container_size
        and virtual_size.width == widget.virtual_size.width
    )
