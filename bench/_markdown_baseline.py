"""Baseline for bench/streaming.py: a reply streamed into Textual's own Markdown widget.

Run by streaming.py as a child process (so it can be killed at a time cap):
`python bench/_markdown_baseline.py BASE_URL < expected_text`. A tiny App holds
one Markdown widget in an anchored VerticalScroll; codhechat's model client
reads the reply from the loopback server and feeds every delta to
Markdown.get_stream(). It prints {"rendered_chars": n} each second while it
runs, then {"first": t, "done": t}: the first delta and the moment the whole
reply was rendered (after the stream stopped and the screen refreshed).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from codhechat.llm import ModelClient


class Baseline(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown()


async def run(base_url: str, text: str) -> dict:
    app = Baseline()
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(VerticalScroll).anchor()
        markdown = app.query_one(Markdown)
        rendered, append = 0, markdown.append

        async def counted(fragment: str) -> None:
            nonlocal rendered
            await append(fragment)
            rendered += len(fragment)

        async def report() -> None:
            while True:
                await asyncio.sleep(1)
                print(json.dumps({"rendered_chars": rendered}), flush=True)

        markdown.append = counted  # type: ignore[method-assign,assignment]
        reporter = asyncio.create_task(report())
        stream = Markdown.get_stream(markdown)
        client = ModelClient(api_key="x", base_url=base_url, max_retries=0)
        first = 0.0
        async for chunk in client.stream_chat([{"role": "user", "content": "go"}], model="gpt-4o-mini"):
            first = first or time.perf_counter()
            await stream.write(chunk)
        await stream.stop()
        await pilot.pause()
        done = time.perf_counter()
        reporter.cancel()
        await client.aclose()
        assert markdown.source == text, "the baseline lost text"
    return {"first": first, "done": done}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(sys.argv[1], sys.stdin.read()))), flush=True)
