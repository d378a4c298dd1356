"""A reply that arrives in one burst (issue 14): its end shows as soon as it is read."""

from __future__ import annotations

from codhechat.ui.markdown_pieces import Piece, PieceStream


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
