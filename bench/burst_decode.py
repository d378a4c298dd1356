"""A 4,000-token burst read by the local model client two ways, alternating in one run.

* model_chunks: the SDK sends the request, codhechat/model_chunks.py reads the body
  (httpx-sse + orjson), as the client does now;
* SDK decoding (before): the SDK's own SSE decoder and AsyncStream read it
  (tests/support/sdk_reference.py, the client before model_chunks.py).

Figures, per way: the model client alone with no UI (`streaming.py`'s client_only: tokens/s
from the server's first token to the last piece, the last piece's delay after the last byte,
the pieces, and the client's CPU per reply, which the machine's other work disturbs less
than wall times), then the final text on screen after the last byte in the pilot, for the
prose, list and code replies (`streaming.py --ab`'s measure). The loopback server
(tests.fake_openai) runs in its own process, so the CPU is the client's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import streaming
from _common import FakeServer, in_process_env, machine_note, now, summary, temp_home, watchdog

WAYS = ("model_chunks", "sdk_decoding")


def use(way: str) -> None:
    """Read streams `way` in this process, by giving ModelClient the reference's `_stream`."""
    from codhechat.llm import ModelClient
    from tests.support.sdk_reference import SdkDecodingClient

    ModelClient._stream = SdkDecodingClient._stream if way == "sdk_decoding" else CURRENT  # type: ignore[method-assign]


async def client_only(server: FakeServer, text: str) -> tuple[float, float, int, float]:
    """(tokens/s, seconds from the last byte to the last piece, pieces, CPU seconds) for one reply."""
    from codhechat.llm import ModelClient

    server.enqueue(text)
    client = ModelClient(api_key="x", base_url=server.base_url, max_retries=0)
    pieces, cpu = 0, time.process_time()
    async for _ in client.stream_chat([{"role": "user", "content": "go"}], model="gpt-4o-mini"):
        pieces += 1
    done, cpu = now(), time.process_time() - cpu
    await client.aclose()
    sent = server.wait_stream()
    return sent["chunks"] / (done - sent["first_token"]), done - sent["last_byte"], pieces, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4000, help="tokens per reply (default 4000)")
    parser.add_argument("--runs", type=int, default=5, help="client-only runs per way (default 5)")
    parser.add_argument("--pilot-runs", type=int, default=2, help="pilot runs per shape and way (default 2; 0: none)")
    args = parser.parse_args()
    watchdog(120 + 10 * args.runs + 20 * args.pilot_runs * len(streaming.KINDS))
    print(machine_note())
    with temp_home() as home, FakeServer() as server:
        text = streaming.reply_text("list", args.tokens)
        asyncio.run(client_only(server, text))  # imports and first connection, for neither way
        got: dict[str, list[tuple[float, float, int, float]]] = {way: [] for way in WAYS}
        for _ in range(args.runs):
            for way in WAYS:
                use(way)
                got[way].append(asyncio.run(client_only(server, text)))
        for way in WAYS:
            rates, after, pieces, cpu = zip(*got[way], strict=True)
            print(f"  client_only {way}: {summary(list(rates), 'tokens/s', 1, 0)}; last piece "
                  f"{summary(list(after), 'ms', 1000, 1)} after the last byte; {min(pieces)}-{max(pieces)} "
                  f"pieces; CPU {summary(list(cpu), 'ms', 1000, 1)} a reply")  # fmt: skip
        for kind in streaming.KINDS if args.pilot_runs else ():
            text = streaming.reply_text(kind, args.tokens)
            latencies: dict[str, list[float]] = {way: [] for way in WAYS}
            for _ in range(args.pilot_runs):
                for way in WAYS:
                    use(way)
                    with in_process_env(home, base_url=server.base_url):
                        latencies[way].append(asyncio.run(streaming.pilot_run(home, server, text))[1])
            print(f"  pilot_{kind}_burst_final_latency: " + "; ".join(
                f"{way} {summary(latencies[way], 'ms', 1000, 1)}" for way in WAYS))  # fmt: skip
    use("model_chunks")


if __name__ == "__main__":
    from codhechat.llm import ModelClient

    CURRENT = ModelClient._stream
    main()
