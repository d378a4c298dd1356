"""Full-text search over every message (SQLite FTS5, kept current by triggers)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from codhechat.errors import UsageError
from codhechat.models import SNIPPET_END, SNIPPET_START, SearchHit
from codhechat.store.rows import _parse_time

if TYPE_CHECKING:
    import sqlite_utils  # imported by Store when it first needs it (not before the first frame)

SNIPPET_TOKENS = 16
RANK_WINDOW = 5_000  # see Store.search


def search(
    db: sqlite_utils.Database, query: str, *, limit: int = 20, newest_first: bool = False, syntax: bool = False
) -> list[SearchHit]:
    """Messages matching `query`, best match first (or newest first), each
    with a snippet whose matches are wrapped in SNIPPET_START / SNIPPET_END.

    By default every word must occur (stemmed, any case), and characters
    FTS5 would read as syntax are taken literally; `syntax=True` passes
    FTS5 query syntax through (OR, NOT, "phrases", prefix*).

    "Newest" is the order messages were stored in (the FTS index's rowid
    order, which SQLite walks backwards and stops after `limit`). "Best" is
    bm25, ranked among the RANK_WINDOW most recently stored matches: bm25
    costs ~1 µs per matching message, so a word found in all of 100,000
    messages would take ~90 ms to rank fully, and the best of the latest
    5,000 matches is what a person searching their chats wants anyway."""
    match = query.strip() if syntax else db.quote_fts(query)
    if not match:
        return []
    select = (
        "select m.id, m.conversation_id, m.role, m.created_at, c.title, "
        f"snippet(messages_fts, 0, '{SNIPPET_START}', '{SNIPPET_END}', '…', {SNIPPET_TOKENS}) "
        "from messages_fts "
        "join messages m on m.id = messages_fts.rowid "
        "join conversations c on c.id = m.conversation_id "
        "where messages_fts match :match "
    )
    if newest_first:
        sql = select + "order by messages_fts.rowid desc limit :limit"
    else:
        sql = select + (
            "and messages_fts.rowid >= coalesce((select rowid from messages_fts "
            "where messages_fts match :match order by rowid desc limit 1 offset :window), 0) "
            "order by messages_fts.rank limit :limit"
        )
    params = {"match": match, "limit": limit, "window": RANK_WINDOW - 1}
    try:
        rows = db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if syntax and ("fts5" in str(exc) or "syntax" in str(exc)):
            raise UsageError(
                f"Not a valid search query: {exc}.",
                "See https://www.sqlite.org/fts5.html#full_text_query_syntax, "
                "or search without --syntax to match the words as typed.",
            ) from None
        raise
    return [
        SearchHit(
            message_id=row[0],
            conversation_id=row[1],
            role=row[2],
            created_at=_parse_time(row[3]),
            title=row[4],
            snippet=row[5],
        )
        for row in rows
    ]
