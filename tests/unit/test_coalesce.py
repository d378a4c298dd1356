"""Coalescing a reply's pieces (codhechat.coalesce) through the real model client on
loopback: a burst comes out as few pieces with exactly the text sent, in order; text
that arrived before a pause is handed on during the pause; thinking stays apart."""

from __future__ import annotations

import asyncio
import random

import pytest

from codhechat.coalesce import coalesced, joined
from codhechat.errors import ModelError
from codhechat.llm import ModelClient
from codhechat.thinking import Thinking
from tests.fake_openai import Disconnect, FakeOpenAI, Gate, Reply

MESSAGES = [{"role": "user", "content": "Hi"}]


def client_for(server: FakeOpenAI) -> ModelClient:
    return ModelClient(api_key="sk-test", base_url=server.base_url, max_retries=0)


def burst_text(tokens: int) -> str:
    rng = random.Random(7)
    words = ["alpha", "`beta`", "**gamma**", "δέλτα", "\\n", "-", "1.", "```", "\n", "\n\n", "x" * 9]
    return "".join(f"{rng.choice(words)}{i} " for i in range(tokens))


async def test_a_burst_arrives_whole_in_few_pieces_with_nothing_lost_or_reordered(fake_openai: FakeOpenAI) -> None:
    text = burst_text(4000)
    # A burst is text already on the socket: the server sends every token, then holds the
    # finish until the test has read them all, so that no machine's speed decides how much
    # was waiting (a reader that keeps up with a slow writer rightly gets small pieces).
    gate = Gate()
    fake_openai.enqueue(Reply(text, tokens_per_chunk=1, holds=((len(text), gate),)))
    client = client_for(fake_openai)
    stream = client.stream_chat(MESSAGES, model="m")
    parts = [await anext(stream)]
    await gate.reached_async()
    while "".join(parts) != text:
        parts.append(await anext(stream))
    gate.open()
    parts += [part async for part in stream]
    await client.aclose()
    assert "".join(parts) == text
    assert len(parts) < 400  # not one per token: the backlog is handed on in large pieces


async def test_text_that_arrived_before_a_pause_is_handed_on_during_it(fake_openai: FakeOpenAI) -> None:
    first, second = Gate(), Gate()
    fake_openai.enqueue(Reply("one two three four", tokens_per_chunk=1, holds=((2, first), (3, second))))
    client = client_for(fake_openai)
    stream = client.stream_chat(MESSAGES, model="m")
    got = ""
    while got != "one two ":  # the server holds after two tokens: they come while it waits
        got += await anext(stream)
    assert not first.is_open
    first.open()
    while got != "one two three ":
        got += await anext(stream)
    second.open()
    rest = [part async for part in stream]
    assert got + "".join(rest) == "one two three four"
    await client.aclose()


async def test_thinking_and_answer_stay_apart_and_in_order(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("the answer is 42", reasoning="let me think about it", tokens_per_chunk=1))
    client = client_for(fake_openai)
    parts = [part async for part in client.stream_chat(MESSAGES, model="m", reasoning=True)]
    await client.aclose()
    thinking = "".join(p for p in parts if isinstance(p, Thinking))
    answer = "".join(p for p in parts if not isinstance(p, Thinking))
    assert (thinking, answer) == ("let me think about it", "the answer is 42")
    first_answer = next(i for i, p in enumerate(parts) if not isinstance(p, Thinking))
    assert all(not isinstance(p, Thinking) for p in parts[first_answer:])


async def test_an_error_comes_after_the_text_that_arrived_before_it(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Disconnect("one two three four five", after_chunks=3))
    client = client_for(fake_openai)
    parts: list[str] = []
    with pytest.raises(ModelError):
        async for part in client.stream_chat(MESSAGES, model="m"):
            parts.append(part)
    assert "".join(parts) == "one two three "
    await client.aclose()


async def test_closing_early_stops_the_source() -> None:
    closed = asyncio.Event()

    async def source():  # type: ignore[no-untyped-def]
        try:
            for i in range(1000):
                yield f"{i} "
                await asyncio.sleep(0)
        finally:
            closed.set()

    stream = coalesced(source())
    assert (await anext(stream)).startswith("0 ")
    await stream.aclose()
    await asyncio.wait_for(closed.wait(), 5)


def test_joined_keeps_kinds_apart_in_order() -> None:
    pieces = [Thinking("a"), Thinking("b"), "c", "d", Thinking("e"), "f"]
    out = joined(pieces)
    assert out == ["ab", "cd", "e", "f"]
    assert [isinstance(p, Thinking) for p in out] == [True, False, True, False]
