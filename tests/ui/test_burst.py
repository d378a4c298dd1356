"""A reply that arrives in one burst (issue 14): its end shows as soon as it is read.

The frames drawn while it arrives are put off (each would lay out and paint what it brings,
holding up the reading); the last frame measures only the pieces that can be in view,
estimating the older ones' heights until they are measured in the background; and a piece
without code is rendered once, for measuring and painting both. Counted, never timed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from rich.segment import Segment

from codhechat.models import MessageStatus
from codhechat.ui.markdown_pieces import PIECE_CHARS, Piece, PieceStream
from codhechat.ui.widgets import frozen_pieces, piece_view
from codhechat.ui.widgets.frozen_pieces import FrozenPieces
from codhechat.ui.widgets.messages import BURST_CHARS, BURST_WAIT_S, ReplyView
from codhechat.ui.widgets.pane import MessagePane
from codhechat.ui.widgets.piece_view import MarkdownPiece, piece_markdown
from tests.ui.conftest import AppFactory, wait_until
from tests.ui.test_stream_frames import spying

SIZE = (120, 40)
PROSE = "".join(f"Paragraph {i}: " + "some words of a reply " * 6 + "\n\n" for i in range(400))
CODE = "```python\n" + "".join(f"value_{i} = compute(item, {i})  # note {i}\n" for i in range(1200)) + "```\n"


def texts(lines: list[list[Segment]]) -> list[str]:
    return ["".join(segment.text for segment in line).rstrip() for line in lines]


def expected_lines(app, frozen: FrozenPieces) -> list[list[Segment]]:  # type: ignore[no-untyped-def]
    """The frozen pieces as FrozenPieces must show them: each rendered alone, highlighted, a
    blank line between two that do not join."""
    width = frozen.content_size.width
    lines: list[list[Segment]] = []
    for index, piece in enumerate(frozen.pieces):
        if index and not piece.joined:
            lines.append([])
        options = app.console_options.update_width(width)
        lines += app.console.render_lines(
            piece_markdown(piece, code_theme=piece_view.code_theme(frozen)), options, pad=False
        )
    return lines


async def burst(app, pilot, text: str) -> ReplyView:  # type: ignore[no-untyped-def]
    """A reply view given all of `text` at once and then its end: one frame, the last."""
    view = ReplyView("model")
    await app.screen.query_one(MessagePane).add(view)
    await pilot.pause()
    view.append(text)
    view.finish(MessageStatus.COMPLETE)
    await pilot.pause()
    return view


async def test_a_burst_measures_only_the_pieces_in_view_and_shows_its_end_exactly(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    measured: Counter[str] = Counter()
    # The background measuring waits until it is let go: a first frame slower than SETTLE_S
    # (a busy machine, a process's first render) would otherwise count its pieces too.
    monkeypatch.setattr(frozen_pieces, "SETTLE_S", 3600)
    async with app.run_test(size=SIZE) as pilot:
        with spying(frozen_pieces, "plain_lines", lambda *args: measured.update(["frozen"])):
            view = await burst(app, pilot, PROSE)
            frozen = view.query_one(FrozenPieces)
            assert len(frozen.pieces) > 15 and not frozen.settled  # ~36,000 characters at once
            assert measured["frozen"] <= 4  # those that can be in view (40 rows), not all
            shown = [frozen.render_line(y) for y in range(frozen._height - 30, frozen._height)]
            assert measured["frozen"] <= 4  # painting them took no other
            assert [strip.text.rstrip() for strip in shown] == texts(expected_lines(app, frozen))[-30:]

            monkeypatch.setattr(frozen_pieces, "SETTLE_S", 0.01)
            frozen._settle()
            await wait_until(pilot, lambda: frozen.settled)  # the others, measured in the background
            assert measured["frozen"] == len(frozen.pieces)
        assert frozen._height == len(expected_lines(app, frozen))
        pane = app.screen.query_one(MessagePane)
        assert pane.scroll_y == pane.max_scroll_y  # still at its bottom


async def test_a_pane_scrolled_up_measures_every_piece_of_a_burst(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one(MessagePane).anchor(False)  # as when the user scrolled up
        view = await burst(app, pilot, PROSE)
        frozen = view.query_one(FrozenPieces)
        assert frozen.settled and frozen._height == len(expected_lines(app, frozen))


async def test_a_bursts_code_shows_plain_then_highlighted(make_app: AppFactory) -> None:
    """Its last pieces' plain lines, from measuring them, are painted at once; each is
    highlighted in the background (its lines are then the highlighted ones)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await burst(app, pilot, CODE)
        frozen = view.query_one(FrozenPieces)
        expected = expected_lines(app, frozen)
        width = frozen.content_size.width
        last = [frozen._line(y, width) or [] for y in range(frozen._height - 20, frozen._height)]
        assert texts(last) == texts(expected)[-20:]  # the text, exactly
        assert last != expected[-20:]  # not highlighted yet
        await wait_until(pilot, lambda: frozen.settled and not frozen._unhighlighted)
        last = [frozen._line(y, width) or [] for y in range(frozen._height - 20, frozen._height)]
        assert last == expected[-20:]


async def test_a_finished_piece_without_code_is_rendered_once(make_app: AppFactory) -> None:
    """Measured without highlighting, its lines are those painted: not rendered again."""
    app = make_app()
    built: Counter[str] = Counter()
    async with app.run_test(size=SIZE) as pilot:
        with spying(piece_view, "piece_markdown", lambda piece, **kw: built.update([piece.source])):
            view = await burst(app, pilot, PROSE[: PIECE_CHARS // 2])  # one piece: the tail
            await pilot.pause()
        tail = view.query_one(MarkdownPiece)
        assert not tail.live and tail.region.height > 5
        assert built[tail.piece.source] == 1


async def test_a_frame_bringing_a_burst_is_put_off_while_one_was_drawn_lately(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = ReplyView("model")
        await app.screen.query_one(MessagePane).add(view)
        await pilot.pause()
        view._drawn_at = time.monotonic()  # a frame just drawn
        view.append("word " * (BURST_CHARS // 5 + 100))
        view._frame()
        assert view._pending and not view.query(MarkdownPiece)  # put off: nothing shown yet
        view._drawn_at = time.monotonic() - BURST_WAIT_S  # none drawn for that long: drawn now
        view._frame()
        assert not view._pending and view.query(MarkdownPiece)

        view._drawn_at = time.monotonic()
        view.append("a few words")  # a frame's worth, not a burst: drawn at once
        view._frame()
        assert not view._pending


async def test_a_bursts_first_frame_is_put_off_too(make_app: AppFactory) -> None:
    """The first text starts the wait: a reply arriving all at once is not drawn from its
    first few thousand characters, then laid out again at its end (ui/widgets/messages.py)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        burst_view, steady_view = ReplyView("model"), ReplyView("model")
        for view in (burst_view, steady_view):
            await app.screen.query_one(MessagePane).add(view)
        await pilot.pause()
        burst_view.append("word " * (BURST_CHARS // 5 + 100))
        burst_view._frame()
        assert burst_view._pending and not burst_view.query(MarkdownPiece)
        steady_view.append("the first words of a steady reply")
        steady_view._frame()
        assert not steady_view._pending and steady_view.query(MarkdownPiece)


def test_a_backlog_is_cut_in_time_linear_in_its_length(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each cut parses a bounded window (a whole backlog's tail parsed at every cut was
    quadratic: 94 ms for a 4,000-token list at the end of a burst)."""
    from codhechat import markdown

    parsed = [0]
    parser = markdown.markdown_parser()
    parse = parser.parse
    monkeypatch.setattr(
        parser, "parse", lambda text, *a: parsed.__setitem__(0, parsed[0] + len(text)) or parse(text, *a)
    )
    backlog = "".join(f"- item {i} of a long list of things to do\n" for i in range(2000))  # ~90,000 characters
    stream = PieceStream()
    pieces = stream.feed(backlog)
    assert len(pieces) > 40
    assert parsed[0] < 4 * len(backlog)
    assert "".join(piece.source for piece in [*pieces, stream.tail]) == backlog
    assert all(isinstance(piece, Piece) for piece in pieces)


def held_frozen_pieces_mount(monkeypatch) -> asyncio.Event:  # type: ignore[no-untyped-def]
    """Hold every FrozenPieces' mount until the event returned is set."""
    mounted = asyncio.Event()

    async def held_mount(self: FrozenPieces) -> None:
        await mounted.wait()

    monkeypatch.setattr(FrozenPieces, "on_mount", held_mount, raising=False)
    return mounted


async def test_a_bursts_end_is_painted_in_the_frame_that_paints_its_outcome(make_app: AppFactory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """All of a burst is mounted at its end, and mounting is asynchronous: the outcome shown
    at once (the notice hidden, the usage) was laid out and painted first, and the reply's
    text a layout later, at the screen's next-but-one tick (20-35 ms in a pty). The screen
    waits for the mounts instead, so its first paint after the end holds the reply. (The
    test holds the pieces' mount until the screen has had its chance to paint.)"""
    from textual.screen import Screen

    app = make_app()
    mounted = held_frozen_pieces_mount(monkeypatch)
    painted: list[bool] = []
    async with app.run_test(size=SIZE) as pilot:
        view = ReplyView("model")
        await app.screen.query_one(MessagePane).add(view)
        await pilot.pause()

        def note(screen: Screen) -> None:  # type: ignore[type-arg]
            if view.status is not None:
                painted.append(any(isinstance(w, FrozenPieces) for w in screen._compositor.visible_widgets))

        with spying(Screen, "_compositor_refresh", note):
            view.append(PROSE)
            view.finish(MessageStatus.COMPLETE)
            await asyncio.sleep(0.1)  # the screen's ticks come while the pieces mount
            app.screen._on_timer_update()  # and one more, as a pilot's pause gives
            mounted.set()
            await wait_until(pilot, lambda: painted and painted[-1])
        assert painted[0], painted  # the first paint after the end showed the reply


async def test_updates_held_for_a_mount_resume_if_it_never_ends(make_app: AppFactory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A mount that never completes holds the screen HOLD_MAX_S at most, not for good."""
    from codhechat.ui import held_updates

    app = make_app()
    mounted = held_frozen_pieces_mount(monkeypatch)
    monkeypatch.setattr(held_updates, "HOLD_MAX_S", 0.05)
    async with app.run_test(size=SIZE) as pilot:
        view = ReplyView("model")
        await app.screen.query_one(MessagePane).add(view)
        await pilot.pause()
        view.append(PROSE)
        view.finish(MessageStatus.COMPLETE)
        assert app._batch_count == 1  # held while the pieces mount
        for _ in range(500):  # a pilot's pause would wait for the held mount itself
            if not app._batch_count and not held_updates._releasing:
                break
            await asyncio.sleep(0.01)
        assert app._batch_count == 0 and not held_updates._releasing
        mounted.set()
        await wait_until(pilot, lambda: view.query_one(FrozenPieces).region)
