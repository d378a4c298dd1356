"""A huge stored reply: cut into pieces by a line scan that renders exactly as the whole
does, and shown rendering only the pieces on screen plus a margin."""

from __future__ import annotations

import re

import pytest

from codhechat.ui.piece_markdown import PieceMarkdown
from codhechat.ui.widgets.long_message import LONG_CHARS, MARGIN, LazyPiece, LongMessageView, pieces_of
from codhechat.ui.widgets.messages import MessageView
from tests.ui.conftest import AppFactory, wait_until
from tests.ui.test_chat import screen_of
from tests.unit.test_markdown_pieces import BULLETS, FENCE, MIXED, NUMBERED, PROSE, plain

NUMBER = re.compile(r"[Ll]ine (\d+)")
HUGE_FENCE = (
    "Here it is:\n\n```python\n"
    + "".join(f"def f_{i}(x):  return x * {i}  # line {i}\n" for i in range(2000))
    + "```\n\nZZLAST\n"
)
HUGE_PROSE = (
    "".join(f"Line {i}: a paragraph with *some* `code` and words enough to wrap.\n\n" for i in range(5000)) + "ZZLAST\n"
)


def rendered(pieces, width: int = 80) -> list[str]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    for piece in pieces:
        if lines and not piece.joined:
            lines.append("")  # the stylesheet's margin between unjoined pieces
        lines += plain([PieceMarkdown(piece, code_theme="monokai")], width)
    return lines


NESTED = "````markdown\n" + "```\ninner\n```\n" * 200 + "````\n\nafter\n"
IN_A_LIST = "- item\n\n   ```\n" + "   code line\n" * 300 + "   ```\n\n" + PROSE


@pytest.mark.parametrize("text", [PROSE * 3, BULLETS * 2, NUMBERED, FENCE * 3, MIXED * 3, "~~~\n" + FENCE[10:] * 2 + "~~~\n",
                                  NESTED, IN_A_LIST],
                         ids=["prose", "bullets", "numbered", "fence", "mixed", "tildes", "nested", "in-a-list"])  # fmt: skip
def test_pieces_render_exactly_like_the_whole(text: str) -> None:
    pieces = pieces_of(text, size=500)
    if text in (PROSE * 3, FENCE * 3, MIXED * 3, IN_A_LIST):
        assert len(pieces) > 3  # (a tight list is one block, never cut; nor is a fence holding fences)
    assert rendered(pieces) == plain([PieceMarkdown(pieces_of(text, size=10**9)[0], code_theme="monokai")])


def test_a_huge_reply_is_cut_into_bounded_pieces() -> None:
    pieces = pieces_of(HUGE_FENCE)
    assert len(pieces) > 10 and max(len(p.source) for p in pieces) < 2 * LONG_CHARS
    assert pieces[1].fence_above and pieces[1].source.startswith("```python\n")


def views(app):  # type: ignore[no-untyped-def]
    return list(app.query(LongMessageView))


@pytest.mark.parametrize("body", [HUGE_FENCE, HUGE_PROSE], ids=["fence", "prose"])
async def test_opening_a_huge_reply_renders_only_the_screen_and_a_margin(make_app: AppFactory, body: str) -> None:
    app = make_app()
    store = app.backend.store
    conversation = store.create_conversation("huge")
    store.add_message(conversation.id, "user", "show me")
    store.add_message(conversation.id, "assistant", body, model="m")
    async with app.run_test(size=(120, 40)) as pilot:
        chat = screen_of(app)
        await chat.open_conversation(conversation.id)
        await wait_until(pilot, lambda: views(app))
        [view] = views(app)
        assert isinstance(view, MessageView) and view.message.content == body  # copying and search see it whole
        pieces = list(view.query(LazyPiece))
        await wait_until(pilot, lambda: chat.pane.region.y < pieces[-1].region.bottom <= chat.pane.region.bottom)
        measured = [piece.index for piece in pieces if piece.measured]
        assert measured and len(measured) <= 2 * MARGIN + 2, measured  # the bottom, not all
        assert measured[-1] == len(pieces) - 1
        shown = [strip.text for strip in app.screen._compositor.render_strips()]
        assert any("ZZLAST" in line for line in shown)
        # Scrolling up measures pieces ahead of the screen, and keeps the reader's place:
        # each PageUp shows the page just above, whatever was measured meanwhile.
        pane = chat.pane

        def numbered_lines() -> list[int]:
            strips = app.screen._compositor.render_strips()
            texts = [
                strips[y].text[pane.region.x : pane.region.right] for y in range(pane.region.y, pane.region.bottom)
            ]
            return [int(found.group(1)) for text in texts if (found := NUMBER.search(text))]

        for _ in range(12):
            top = numbered_lines()[0]
            pane.scroll_page_up(animate=False)
            await pilot.pause()
            await pilot.pause()
            assert numbered_lines()[-1] == top - 1
        on_screen = [p for p in pieces if p.region.bottom > chat.pane.region.y and p.region.y < chat.pane.region.bottom]
        assert on_screen and all(piece.measured for piece in on_screen)
        assert not all(piece.measured for piece in pieces)
        # At the top, the first piece starts the message.
        chat.pane.scroll_home(animate=False)
        await pilot.pause()
        await pilot.pause()
        shown = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert ("Here it is" if body is HUGE_FENCE else "Line 0:") in shown


async def test_a_short_reply_stays_one_widget(make_app: AppFactory) -> None:
    app = make_app()
    conversation = app.backend.store.create_conversation("short")
    app.backend.store.add_message(conversation.id, "assistant", "x" * (LONG_CHARS - 1), model="m")
    async with app.run_test(size=(120, 40)) as pilot:
        await screen_of(app).open_conversation(conversation.id)
        await pilot.pause()
        assert app.query(MessageView) and not views(app)
