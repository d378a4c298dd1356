"""A streaming reply's frozen pieces are one widget (ui/widgets/frozen_pieces.py): the
widgets Textual lays out at each jump stay two however long the reply grows, and what
they show is the reply, wherever the pane is scrolled to."""

from __future__ import annotations

from textual.containers import Vertical

from codhechat.models import MessageStatus
from codhechat.ui.widgets.frozen_pieces import FrozenPieces
from codhechat.ui.widgets.messages import ReplyView
from codhechat.ui.widgets.pane import MessagePane
from tests.fake_openai import FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until

LONG_REPLY = "".join(f"Paragraph {i} of a reply long enough to be cut into many pieces.\n\n" for i in range(600))


async def test_a_long_reply_is_two_widgets_and_shows_all_its_text(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Reply(LONG_REPLY, tokens_per_chunk=8))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_text(pilot, "long")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().status is not None)
        reply = app.query(ReplyView).last()
        assert reply.status == MessageStatus.COMPLETE and reply.text == LONG_REPLY
        frozen = reply.query_one(FrozenPieces)
        await wait_until(pilot, lambda: frozen.settled)  # its older pieces measured in the background
        await pilot.pause()
        assert len(frozen.pieces) > 20  # ~40,000 characters, cut every ~1,500
        assert len(reply.query_one(".pieces", Vertical).children) == 2  # not one widget a piece

        width = frozen.content_size.width
        by_line = [frozen.render_line(y).text.rstrip() for y in range(frozen.content_size.height)]
        whole = app.console.render_lines(frozen.render(), app.console_options.update_width(width), pad=False)
        assert by_line == ["".join(s.text for s in line).rstrip() for line in whole]  # what a selection is made in
        paragraphs = [line for line in by_line if line.startswith("Paragraph")]
        assert paragraphs[0].startswith("Paragraph 0 ") and len(paragraphs) > 500

        pane = app.screen.query_one(MessagePane)
        pane.scroll_to(y=frozen.region.y - pane.region.y + pane.scroll_y + 200, animate=False, immediate=True)
        await pilot.pause()
        screen_text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        shown = [int(line.split()[1]) for line in paragraphs if line in screen_text]
        assert len(shown) >= 5 and shown == list(range(shown[0], shown[0] + len(shown)))  # in order, none missing
        assert 50 < shown[0] < 150  # ~200 lines down: the lines scrolled to are painted, not the tail's
