"""A streaming reply's live tail is cut into pieces only when it outgrows the room it
keeps below its text (ReplyView._flush): a cut changes the reply's layout, which
repaints the whole pane, so it waits for the jump that repaints the pane anyway."""

from __future__ import annotations

import pytest

from codhechat.ui.widgets.messages import HOLD_BELOW_CHARS, HOLD_MAX_CHARS, ReplyView
from codhechat.ui.widgets.piece_view import MarkdownPiece
from tests.fake_openai import FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until

TEXT = "".join(f"word{i}" + ("\n\n" if i % 12 == 11 else " ") for i in range(1500))


async def test_a_live_tail_is_cut_only_when_it_outgrows_its_room(
    make_app: AppFactory, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushes: list[dict[str, object]] = []  # per flush of a live reply: the new text, what the tail did
    set_piece, restart, flush = MarkdownPiece.set_piece, MarkdownPiece.restart, ReplyView._flush

    def recorded_set_piece(self: MarkdownPiece, piece, *, live: bool) -> bool:  # type: ignore[no-untyped-def]
        was_live = self.live
        outgrew = set_piece(self, piece, live=live)
        if flushes and was_live:
            flushes[-1]["outgrew"] = bool(flushes[-1].get("outgrew")) or (live and outgrew)
        return outgrew

    def recorded_restart(self: MarkdownPiece, piece, *, live: bool, carry: int | None) -> None:  # type: ignore[no-untyped-def]
        restart(self, piece, live=live, carry=carry)  # its head was frozen: a cut
        if flushes:
            flushes[-1]["froze"] = True

    def recorded_flush(self: ReplyView) -> None:
        flushes.append({"new": sum(map(len, self._pending)), "live": self.status is None})
        flush(self)
        flushes[-1]["tail"] = len(self._pieces.tail.source)

    monkeypatch.setattr(MarkdownPiece, "set_piece", recorded_set_piece)
    monkeypatch.setattr(MarkdownPiece, "restart", recorded_restart)
    monkeypatch.setattr(ReplyView, "_flush", recorded_flush)
    fake_openai.enqueue(Reply(TEXT, tokens_per_chunk=4, delay=0.004))
    app = make_app(stream_refresh_hz=30, stream_jump_lines=8)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().status is not None)
        reply = app.query(ReplyView).last()
        assert reply.text == TEXT
    held = [f for f in flushes if f["live"] and 0 < int(f["new"]) < HOLD_BELOW_CHARS]  # type: ignore[call-overload]
    cuts = [f for f in held if f.get("froze")]
    assert len(cuts) >= 3, flushes  # ~12,000 characters: cut several times on the way
    assert all(f.get("outgrew") for f in cuts), [f for f in cuts if not f.get("outgrew")]
    assert max(int(f["tail"]) for f in held) < HOLD_MAX_CHARS + HOLD_BELOW_CHARS  # type: ignore[call-overload]
