"""Key-to-screen latency in the prompt, idle and while a reply streams.

How: the installed `codhechat` runs in a real 120x40 pty against the loopback
server (tests.fake_openai, in its own process). A printable character is
written to the pty and the clock stops when the terminal output shows the
prompt's text ending in that character (the last few typed characters, so a
match cannot come from anywhere else: typed characters are capitals and digits
after a "@@" prefix, the reply is lower-case words). Samples are taken with
random gaps of 30-150 ms, during which output keeps being read.

Phases: `idle` (nothing streaming, 2 s after start-up), then `streaming`: a
reply at ~100 tokens/s (one token per chunk, delay 0.01 s), long enough to
outlast the samples, which start once it is on screen.

Target: p95 <= 50 ms while streaming.
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FakeServer, PtyApp, machine_note, percentile, spawn_codhechat, temp_home, watchdog, words

TARGET_P95_S = 0.050
ALPHABET = string.ascii_uppercase + string.digits
MAX_LINE = 60  # clear the prompt before it would wrap


class Typist:
    """Types into the prompt and times each character's echo."""

    def __init__(self, app: PtyApp, rng: random.Random) -> None:
        self.app, self.rng, self.typed = app, rng, ""

    def _type(self, chars: str, timeout: float = 5.0) -> float:
        self.app.mark()
        sent = self.app.send(chars)
        self.typed += chars
        shown = self.app.expect(self.typed[-8:], timeout=timeout)
        return shown - sent

    def reset(self) -> None:
        """Empty the prompt (Ctrl+U) and type the '@@' prefix again."""
        if self.typed:
            self.app.send("\x15")
            self.app.drain(0.1)
        self.typed = ""
        self._type("@@")

    def sample(self, n: int) -> list[float]:
        latencies = []
        for _ in range(n):
            if len(self.typed) >= MAX_LINE:
                self.reset()
            self.app.drain(self.rng.uniform(0.03, 0.15))
            latencies.append(self._type(self.rng.choice(ALPHABET)))
        return latencies


def report(name: str, latencies: list[float]) -> None:
    ms = [x * 1000 for x in latencies]
    print(
        f"typing_latency_{name}: p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
        f"max {max(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms ({len(ms)} keys)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50, help="keys timed while streaming (default 50)")
    parser.add_argument("--idle-samples", type=int, default=20, help="keys timed with nothing streaming (default 20)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    watchdog(60 + 0.5 * (args.samples + args.idle_samples))
    print(machine_note())
    rng = random.Random(args.seed)
    # Enough reply for the samples (<= ~0.25 s each) plus slack, at ~100 tokens/s.
    tokens = int(100 * (10 + 0.25 * args.samples))
    paragraphs = "\n\n".join(words(rng, 60) + "." for _ in range(tokens // 60 + 1))

    with temp_home() as home, FakeServer() as server, spawn_codhechat(home, base_url=server.base_url) as app:
        app.expect("Send", "ready", timeout=30)
        app.drain(2.0)  # let start-up work (sidebar, the SDK warm-up import) finish
        typist = Typist(app, rng)
        typist.reset()
        report("idle", typist.sample(args.idle_samples))

        app.send("\x15")
        app.drain(0.1)
        server.enqueue(paragraphs, tokens_per_chunk=1, delay=0.01)
        app.send("stream please")
        app.expect("stream please", timeout=5)
        app.mark()
        app.send("\r")
        app.expect("generating", "Assistant", timeout=10)
        app.drain(1.0)  # the reply is now on screen and growing
        typist.reset()
        streaming = typist.sample(args.samples)
        status = server.status()
        report("streaming", streaming)
        reply = status["latest"]
        rate = (reply["chunks"] - 1) / (status["now"] - reply["first_token"])
        still = "still streaming" if status["finished"] == 0 else "FINISHED during sampling: make the reply longer"
        print(f"reply_during_sampling: {rate:.0f} tokens/s sent by the server, {still}")
        app.send("\x1b")  # Esc stops the reply
        app.drain(0.3)
        app.quit()

    p95 = percentile(streaming, 95)
    print(
        f"target p95 <= {TARGET_P95_S * 1000:.0f} ms while streaming: {'met' if p95 <= TARGET_P95_S else 'MISSED'} (p95 {p95 * 1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
