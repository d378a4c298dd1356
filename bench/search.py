"""Full-text search over 100,000 messages (Store.search, the FTS5 index).

How: a temporary database gets 5,000 conversations of 20 messages each
(100,000 messages), inserted through the schema's triggers as the app would
write them. Text is drawn from a 5,000-word vocabulary with a Zipf-like
frequency, so the common words occur in most messages and the rare ones in a
few, like real chat text; user messages are ~20 words, replies ~80. Every
query below is run RUNS times through Store.search (limit 20, with snippets),
best match first and newest first, after one warm-up run.

Queries: a word in nearly every message (the worst case for ranking), a
mid-frequency word, a rare word, two words, a phrase-free miss, and a prefix
query in FTS5 syntax.

Target: median and max <= 50 ms for each query (issue #5).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_note

from codhechat.store import Store

TARGET_MS = 50.0
VOCABULARY = 5_000


def vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def seed(store: Store, conversations: int, per: int, rng: random.Random) -> list[str]:
    vocab = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]  # Zipf: word k is k times rarer
    base = datetime(2024, 1, 1, tzinfo=UTC)
    step = timedelta(minutes=1)

    def text(n: int) -> str:
        return " ".join(rng.choices(vocab, weights, k=n)).capitalize() + "."

    store.db.conn.execute("BEGIN")
    for c in range(conversations):
        stamp = (base + step * c * per).isoformat()
        conversation_id = (
            store.db["conversations"]
            .insert({"title": text(5), "created_at": stamp, "updated_at": stamp, "model": "gpt-4o-mini"})
            .last_pk
        )
        store.db["messages"].insert_all(
            {
                "conversation_id": conversation_id,
                "role": "user" if i % 2 == 0 else "assistant",
                "content": text(20 if i % 2 == 0 else 80),
                "status": "complete",
                "model": None if i % 2 == 0 else "gpt-4o-mini",
                "created_at": (base + step * (c * per + i)).isoformat(),
                "error": None,
            }
            for i in range(per)
        )
    store.db.conn.execute("COMMIT")
    return vocab


def timed(store: Store, query: str, runs: int, **options: bool) -> tuple[list[float], int]:
    hits = len(store.search(query, **options))  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        store.search(query, **options)
        times.append((time.perf_counter() - start) * 1000)
    return times, hits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=5_000)
    parser.add_argument("--per", type=int, default=20, help="messages per conversation")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(machine_note())
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "search.db")
        start = time.perf_counter()
        vocab = seed(store, args.conversations, args.per, rng)
        total = store.db["messages"].count
        print(f"seeded {total:,} messages in {time.perf_counter() - start:.1f} s")
        queries = [
            ("very common word", vocab[0], False),
            ("mid-frequency word", vocab[200], False),
            ("rare word", vocab[4_000], False),
            ("two words", f"{vocab[3]} {vocab[50]}", False),
            ("no match", "zzzzqqq", False),
            ("prefix (FTS5 syntax)", f"{vocab[10][:3]}*", True),
        ]
        worst = 0.0
        for label, query, syntax in queries:
            for newest in (False, True):
                times, hits = timed(store, query, args.runs, newest_first=newest, syntax=syntax)
                worst = max(worst, max(times))
                order = "newest" if newest else "best  "
                print(
                    f"{label:<22} {order} {query!r:<16} hits {hits:>2}  "
                    f"median {statistics.median(times):6.2f} ms, max {max(times):6.2f} ms"
                )
        store.close()
    verdict = "OK" if worst <= TARGET_MS else "OVER TARGET"
    print(f"worst query: {worst:.2f} ms (target <= {TARGET_MS:g} ms): {verdict}")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
