"""The compositor (ui/dirty_compositor.py) skips widgets hidden behind the widgets in
front of them: what reaches the terminal paints what Textual's own compositor paints,
for the whole screen and for a frame's dirty rows, while the containers a
streaming frame crosses are no longer rendered once a frame."""

from __future__ import annotations

import copy

from textual._compositor import Compositor
from textual.geometry import Region

from codhechat.ui.dirty_compositor import Coverage, DirtyRowsCompositor
from codhechat.ui.widgets.piece_view import MarkdownPiece
from tests.fake_openai import FakeOpenAI, Gate
from tests.support.terminal_screen import forget_rendered_styles, screen_after
from tests.ui.conftest import AppFactory
from tests.ui.test_stream_frames import renders_while_streaming, stream_while, wait_until


def as_textuals(compositor: Compositor) -> Compositor:
    plain = copy.copy(compositor)
    plain.__class__ = Compositor
    plain._dirty_regions = set(compositor._dirty_regions)
    return plain


def both_updates(app, regions: list[Region]) -> tuple[object, object]:  # type: ignore[no-untyped-def]
    """What one partial update of `regions` paints on a blank terminal, ours and Textual's
    (compared cell by cell: ours also writes them as style changes, ui/terminal_output.py)."""
    ours = app.screen._compositor
    assert isinstance(ours, DirtyRowsCompositor)
    ours._dirty_regions.clear()
    ours._dirty_regions.update(regions)
    theirs = as_textuals(ours)
    console = app.console
    ours_update, theirs_update = ours.render_partial_update(), theirs.render_partial_update()
    assert ours_update is not None and theirs_update is not None
    width, height = ours.size
    forget_rendered_styles(strip for line in theirs_update.chops for strip in line.values())
    ours_sent, theirs_sent = ours_update.render_segments(console), theirs_update.render_segments(console)
    return screen_after(ours_sent, width, height), screen_after(theirs_sent, width, height)


def test_coverage_merges_spans_and_covers_only_what_they_cover() -> None:
    painted = Coverage()
    painted.add(0, 10, 20)
    painted.add(0, 20, 30)  # touching: one span
    painted.add(0, 40, 50)
    assert painted.covers(0, 12, 30) and painted.covers(0, 40, 50)
    assert not painted.covers(0, 25, 45) and not painted.covers(1, 12, 13)
    painted.add(0, 28, 42)
    assert painted.covers(0, 10, 50)


async def test_what_is_sent_is_textuals_own_for_the_screen_and_for_dirty_rows(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    async def measure(pilot, reply):  # type: ignore[no-untyped-def]
        await wait_until(pilot, lambda: "word90" in reply.text)
        app = pilot.app
        ours = app.screen._compositor
        size = ours.size
        ours_full = [strip.text for strip in ours.render_strips()]
        theirs_full = [strip.text for strip in as_textuals(ours).render_strips()]
        assert ours_full == theirs_full
        ours_styled = [list(strip) for strip in ours.render_strips()]
        assert ours_styled == [list(strip) for strip in as_textuals(ours).render_strips()]
        piece = reply.query(MarkdownPiece).last()
        cases = [
            [size.region],  # the whole screen
            [piece.region],  # a live piece's frame
            [Region(piece.region.x, piece.region.y, 3, 2)],  # a corner of it
            [Region(0, size.height // 2, size.width, 3)],  # rows across the sidebar and the pane
            [Region(size.width - 4, 0, 4, size.height)],  # the pane's scrollbar column
            [piece.region, Region(0, 0, 10, 1)],  # two apart: the crop is their union
        ]
        for regions in cases:
            ours_sent, theirs_sent = both_updates(app, regions)
            assert ours_sent == theirs_sent, regions

    await stream_while(make_app, fake_openai, measure, held=Gate())


async def test_a_streaming_frame_does_not_render_the_containers_it_crosses(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    seen = await renders_while_streaming(make_app, fake_openai)
    frames = seen.get("MarkdownPiece", 0)
    assert frames >= 5, seen  # the stream was painted, frame after frame
    for container in ("ChatScreen", "Horizontal", "Vertical", "MessagePane", "ReplyView"):
        assert seen.get(container, 0) <= frames / 3, (container, seen)  # only when a jump repaints them
