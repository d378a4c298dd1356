"""The last piece of a reply that just ended shows its code as it streamed, plain, and is
highlighted a moment later (ui/widgets/piece_view.py: HIGHLIGHT_AFTER_S): highlighting a
long fence first held up the reply's end on screen by up to 40 ms."""

from __future__ import annotations

import pytest

from codhechat.models import MessageStatus
from codhechat.ui.widgets import piece_view
from codhechat.ui.widgets.messages import ReplyView
from codhechat.ui.widgets.pane import MessagePane
from codhechat.ui.widgets.piece_view import MarkdownPiece, piece_markdown
from tests.ui.conftest import AppFactory, wait_until
from tests.ui.test_burst import SIZE, burst

SHORT_CODE = "Here:\n\n```python\n" + "".join(f"total += price({i}) * 2\n" for i in range(30)) + "```\n"


async def ended_tail(app, pilot, *, streamed: bool) -> MarkdownPiece:  # type: ignore[no-untyped-def]
    """The last piece of a reply with code that just ended: shown live first (`streamed`),
    or given all at once at its end (a burst)."""
    if not streamed:
        view = await burst(app, pilot, SHORT_CODE)
    else:
        view = ReplyView("model")
        await app.screen.query_one(MessagePane).add(view)
        view.append(SHORT_CODE[:200])
        await wait_until(pilot, lambda: bool(view.query(MarkdownPiece)) and view.query_one(MarkdownPiece).live)
        view.append(SHORT_CODE[200:])
        view.finish(MessageStatus.COMPLETE)
        await pilot.pause()
    tail = view.query_one(MarkdownPiece)
    assert not tail.live and tail.piece.source == SHORT_CODE
    return tail


def shown_and_expected(app, tail: MarkdownPiece):  # type: ignore[no-untyped-def]
    """(the lines the piece paints, its plain lines, its highlighted lines)."""
    theme, width = piece_view.code_theme(tail), tail.content_size.width
    options = app.console_options.update_width(width)
    shown = tail._rendered.get(theme).lines(app.console, options)
    plain, has_code = piece_view.plain_lines(app, tail.piece, width, theme)
    assert has_code
    highlighted = app.console.render_lines(piece_markdown(tail.piece, code_theme=theme), options, pad=False)
    return shown, plain, highlighted


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "burst"])
async def test_a_replys_last_piece_shows_its_code_as_it_streamed_at_its_end(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, streamed: bool
) -> None:
    """Highlighting it (10-40 ms for a long fence) waits: the end shows with no delay."""
    monkeypatch.setattr(piece_view, "HIGHLIGHT_AFTER_S", 3600)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tail = await ended_tail(app, pilot, streamed=streamed)
        shown, plain, highlighted = shown_and_expected(app, tail)
        assert shown == plain and shown != highlighted


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "burst"])
async def test_a_replys_last_piece_is_highlighted_a_moment_after_its_end(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, streamed: bool
) -> None:
    monkeypatch.setattr(piece_view, "HIGHLIGHT_AFTER_S", 0.01)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tail = await ended_tail(app, pilot, streamed=streamed)
        height = tail.region.height

        def highlighted() -> bool:
            shown, _plain, highlighted = shown_and_expected(app, tail)
            return shown == highlighted

        await wait_until(pilot, highlighted)
        assert tail.region.height == height  # highlighting moved no line
