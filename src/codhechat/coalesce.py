"""Coalescing a stream of text pieces: everything already received is one piece.

A model's reply arrives as one Server-Sent Event per token. At a steady pace each
is worth handing on by itself, but when a fast provider (or a buffering proxy)
delivers thousands at once, handing them one by one through the backend and the UI
costs more than decoding them. `coalesced` reads its source in a task of its own,
which runs ahead while the network has data ready; the reader then gets everything
decoded so far, joined, in one piece (or one per kind, when the model's thinking and
its answer are both waiting: `Thinking` stays apart from plain text, in order).
Nothing is lost or reordered, and an error the source raises comes after the text
that arrived before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

from codhechat.thinking import Thinking


def joined(pieces: list[str]) -> list[str]:
    """Adjacent pieces of the same kind (answer or Thinking) joined, in order."""
    out: list[str] = []
    run: list[str] = []
    thinking = False
    for piece in pieces:
        kind = isinstance(piece, Thinking)
        if run and kind != thinking:
            out.append(_one(run, thinking))
            run = []
        run.append(piece)
        thinking = kind
    if run:
        out.append(_one(run, thinking))
    return out


def _one(run: list[str], thinking: bool) -> str:
    text = run[0] if len(run) == 1 else "".join(run)
    return Thinking(text) if thinking and not isinstance(text, Thinking) else text


async def coalesced(source: AsyncIterator[str]) -> AsyncGenerator[str, None]:
    """Yield `source`'s pieces, joining all those that arrived while the reader was busy."""
    queue: list[str] = []
    ready = asyncio.Event()
    error: list[BaseException] = []

    async def pump() -> None:
        try:
            async for piece in source:
                queue.append(piece)
                ready.set()
        except Exception as exc:  # handed to the reader, after the text before it
            error.append(exc)
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    task = asyncio.create_task(pump())
    task.add_done_callback(lambda _: ready.set())  # the reader always wakes to see the end
    try:
        while True:
            if not queue:
                if task.done():
                    break
                await ready.wait()
                ready.clear()
                continue
            pieces = queue[:]
            queue.clear()
            for piece in joined(pieces):
                yield piece
        if error:
            raise error[0]
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
