"""A reply's pieces are spaced as its Markdown blocks would be: a blank line between two
pieces, none above the first (for a stored reply's pieces set as a class where the piece
is made, not by the `:first-child` pseudo-class, which Textual re-checks on every sibling
as each mounts; a streamed reply's frozen pieces space themselves, FrozenPieces)."""

from __future__ import annotations

from codhechat.models import MessageStatus
from codhechat.ui.markdown_pieces import Piece
from codhechat.ui.widgets.frozen_pieces import FrozenPieces
from codhechat.ui.widgets.long_message import LazyPiece
from codhechat.ui.widgets.messages import ReplyView
from codhechat.ui.widgets.piece_view import MarkdownPiece, piece_markdown
from tests.fake_openai import FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until
from tests.ui.test_chat import screen_of
from tests.ui.test_long_message import HUGE_PROSE

LONG_REPLY = "".join(f"Paragraph {i} of a reply long enough to be cut into pieces.\n\n" for i in range(150))


def top_margins(pieces: list[MarkdownPiece]) -> list[int]:
    return [piece.styles.margin.top for piece in pieces]


def expected(pieces: list[MarkdownPiece]) -> list[int]:
    return [0] + [0 if piece.piece.joined else 1 for piece in pieces[1:]]


async def test_a_streamed_reply_has_no_blank_line_above_its_first_piece(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    """Its frozen pieces are one widget (FrozenPieces) that spaces them itself, the live tail
    a piece after it: together they show the reply's lines as the whole reply renders them."""
    fake_openai.enqueue(Reply(LONG_REPLY))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_text(pilot, "long")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().status is not None)
        reply = app.query(ReplyView).last()
        assert reply.status == MessageStatus.COMPLETE
        frozen = reply.query_one(FrozenPieces)
        await wait_until(pilot, lambda: frozen.settled)  # its older pieces measured in the background
        await pilot.pause()
        tail = reply.query_one(MarkdownPiece)
        assert len(frozen.pieces) > 2 and any(not piece.joined for piece in frozen.pieces[1:])
        assert frozen.styles.margin.top == 0 and tail.styles.margin.top == (0 if tail.piece.joined else 1)
        width = frozen.content_size.width
        shown = [frozen.render_line(y).text.rstrip() for y in range(frozen.content_size.height)]
        shown += [""] * tail.styles.margin.top
        shown += [tail.render_line(y).text.rstrip() for y in range(tail.content_size.height)]
        whole = app.console.render_lines(
            piece_markdown(Piece(LONG_REPLY), code_theme="monokai"), app.console_options.update_width(width), pad=False
        )
        assert shown[0] and shown == ["".join(s.text for s in line).rstrip() for line in whole]


async def test_a_long_stored_reply_has_no_blank_line_above_its_first_piece(make_app: AppFactory) -> None:
    app = make_app()
    store = app.backend.store
    conversation = store.create_conversation("huge")
    store.add_message(conversation.id, "user", "show me")
    store.add_message(conversation.id, "assistant", HUGE_PROSE, model="m")
    async with app.run_test(size=(100, 30)) as pilot:
        await screen_of(app).open_conversation(conversation.id)
        await wait_until(pilot, lambda: len(app.query(LazyPiece)) > 2)
        pieces: list[MarkdownPiece] = list(app.query(LazyPiece))
        assert top_margins(pieces) == expected(pieces)
