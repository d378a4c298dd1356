"""Reading a steadily streamed reply, paced as the terminal app's view paces it: the model
client's own CPU (no UI), how often its reads hand text on, and how long after the model's
last byte the reply's end is read.

The local client (llm.ModelClient over model_reads.py and asyncio_net.py) streams from the
loopback model server of bench/_common.py; `read_pace` is the reply view's
(stream_pace.wait_to_read), against a frame clock that draws what was read as
ReplyView._schedule does (a frame at most every 1/refresh_hz s, at once after a pause).
A UI-free figure of the part of `streaming.py --steady` that reading is, steadier than the
app's own (which varies by 20-30 % from run to run on a shared machine).

    python bench/model_reads.py [--runs 3] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from _common import FakeServer, machine_note, now, summary
from streaming import STEADY_RATES, pace_for, reply_text

from codhechat.llm import ModelClient
from codhechat.read_pace import read_pace
from codhechat.ui.stream_pace import StreamPace, wait_to_read

SKIP_S = 0.5  # after the first text: the connection's and the SDK's first costs left out


class FrameClock:
    """The reply view's frames, as far as reading cares: text read is drawn at the next."""

    def __init__(self, frame_s: float) -> None:
        self.frame_s, self.last, self.frames = frame_s, 0.0, 0
        self._due: asyncio.TimerHandle | None = None

    def pace(self) -> float:
        return wait_to_read(self.last, self.frame_s, time.monotonic(), idle=self._due is None)

    def text_read(self) -> None:
        if self._due is None:
            delay = max(0.001, self.last + self.frame_s - time.monotonic())
            self._due = asyncio.get_running_loop().call_later(delay, self._draw)

    def _draw(self) -> None:
        self._due, self.last, self.frames = None, time.monotonic(), self.frames + 1


async def one_reply(server: FakeServer, client: ModelClient, rate: int, seconds: float) -> tuple[float, float, float]:
    """(cores, text handed on per second, ms from the last byte to the reply's end read)."""
    server.enqueue(reply_text("prose", int(rate * seconds)), **pace_for(rate))
    clock = FrameClock(StreamPace().frame_s)
    token = read_pace.set(clock.pace)
    started: tuple[float, float] | None = None
    handed = 0
    try:
        async for _piece in client.stream_chat([{"role": "user", "content": "go"}], model="m"):
            clock.text_read()
            if started is None:
                await asyncio.sleep(SKIP_S)
                started = (time.monotonic(), time.process_time())
            else:
                handed += 1
        ended = now()
    finally:
        read_pace.reset(token)
    assert started is not None
    wall, cpu = time.monotonic() - started[0], time.process_time() - started[1]
    return cpu / wall, handed / wall, (ended - server.wait_stream()["last_byte"]) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="replies per rate (default 3)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds each reply lasts (default 8)")
    args = parser.parse_args()
    print(machine_note())
    with FakeServer() as server:
        client = ModelClient(api_key="bench", base_url=server.base_url, max_retries=0)
        try:
            for rate in STEADY_RATES:
                runs = [await one_reply(server, client, rate, args.seconds) for _ in range(args.runs)]
                cores = sorted(run[0] for run in runs)
                print(
                    f"reading at {rate} tokens/s: {', '.join(f'{c:.4f}' for c in cores)} of a core; "
                    f"text handed on {statistics.median(run[1] for run in runs):.1f} times/s; "
                    f"the end read {summary([run[2] for run in runs], 'ms', 1, 0)} after the last byte"
                )
        finally:
            await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
