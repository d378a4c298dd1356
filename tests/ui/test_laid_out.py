"""A layout that a reply's widgets ask for is the next layout's, even when one comes before
they idle (ui/widgets/laid_out.py: SizedByLayout.refresh)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size

from codhechat.ui.widgets.laid_out import PiecesColumn, SizedByLayout


class Lines(SizedByLayout):
    """As tall as it is told (as the frozen pieces are as tall as the pieces they hold)."""

    DEFAULT_CSS = "Lines { height: auto; }"

    def __init__(self) -> None:
        super().__init__()
        self.lines = 3

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self.lines

    def grow(self, lines: int) -> None:
        self.lines = lines
        self.refresh(layout=True)


class Column(App[None]):
    CSS = "#reply, PiecesColumn { height: auto; }"  # as a reply and its column are

    def compose(self) -> ComposeResult:
        with VerticalScroll(), Vertical(id="reply"), PiecesColumn():
            yield Lines()


async def test_a_layout_between_two_asked_for_takes_the_newest_size() -> None:
    """At a burst's end the frozen pieces grew twice, asking for a layout each time, and a
    layout came between (a frame) before they idled: Textual then forgets their size at
    the first ask only, and their containers' arrangements only when they idle, so the
    second layout took the old height (the pane stayed at the reply's top for a frame)."""
    app = Column()
    async with app.run_test(size=(40, 20)) as pilot:
        lines, reply = app.query_one(Lines), app.query_one("#reply")
        lines.grow(5)
        await pilot.pause()
        assert lines.region.height == 5
        # The screen lays out between the asks, as its update timer may: called here, in
        # one go, so that nothing idles in between (Textual has no public way to say "now").
        lines.grow(8)
        app.screen._refresh_layout()
        assert lines.region.height == 8
        lines.grow(12)
        app.screen._refresh_layout()
        assert (lines.region.height, reply.region.height) == (12, 12)
        await pilot.pause()
        assert (lines.region.height, reply.region.height) == (12, 12)
