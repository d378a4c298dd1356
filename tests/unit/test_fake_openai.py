"""Drive FakeOpenAI with the real openai SDK over a real socket, so the fake stays honest."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import openai
import pytest
import pytest_asyncio

from tests.fake_openai import Disconnect, Fail, FakeOpenAI, Gate, Hang, Reply

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "ping pong"}]


@pytest.fixture
def srv() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest_asyncio.fixture
async def client(srv: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(api_key="sk-test", base_url=srv.base_url, max_retries=0)
    yield c
    await c.close()


async def _stream(client: openai.AsyncOpenAI, **kw: object) -> list[openai.types.chat.ChatCompletionChunk]:
    stream = await client.chat.completions.create(  # type: ignore[call-overload]
        model="gpt-4o-mini", messages=MSGS, stream=True, stream_options={"include_usage": True}, **kw
    )
    return [chunk async for chunk in stream]


@pytest.mark.asyncio
async def test_stream_text_chunks_and_usage(srv: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    text = "Hello, world!\n\n  How are you?"
    srv.enqueue(Reply(text, tokens_per_chunk=2))
    chunks = await _stream(client)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == text
    assert len(pieces) == 3  # 5 tokens, 2 per chunk
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5 and chunks[-1].usage.prompt_tokens == 4
    assert chunks[-1].usage.total_tokens == 9
    assert {c.model for c in chunks} == {"gpt-4o-mini"} and len({c.id for c in chunks}) == 1


@pytest.mark.asyncio
async def test_default_echo_fifo_and_recording(srv: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    srv.enqueue(Reply("first"), Fail(500))
    texts = []
    for _ in range(2):
        try:
            chunks = await _stream(client)
            texts.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
        except openai.InternalServerError:
            texts.append("500")
    chunks = await _stream(client)
    texts.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
    assert texts == ["first", "500", "Echo: ping pong"]
    reqs = await asyncio.to_thread(srv.wait_for_requests, 3, 1)
    assert len(reqs) == 3
    assert reqs[0]["headers"]["authorization"] == "Bearer sk-test"
    assert reqs[0]["body"]["stream"] is True and reqs[0]["body"]["model"] == "gpt-4o-mini"
    assert srv.last_messages == MSGS


@pytest.mark.asyncio
async def test_non_streaming_and_models(srv: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    srv.enqueue(Reply("plain answer"))
    resp = await client.chat.completions.create(model="gpt-4o", messages=MSGS)
    assert resp.object == "chat.completion" and resp.model == "gpt-4o"
    assert resp.choices[0].message.content == "plain answer"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens == 2
    models = [m.id async for m in client.models.list()]
    assert "gpt-4o-mini" in models


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fail", "exc", "code"),
    [
        (Fail(401), openai.AuthenticationError, "invalid_api_key"),
        (Fail(429), openai.RateLimitError, "rate_limit_exceeded"),
        (Fail(500), openai.InternalServerError, None),
    ],
)
async def test_fail_maps_to_sdk_errors(
    srv: FakeOpenAI, client: openai.AsyncOpenAI, fail: Fail, exc: type[openai.APIStatusError], code: str | None
) -> None:
    srv.enqueue(fail)
    with pytest.raises(exc) as info:
        await _stream(client)
    assert info.value.status_code == fail.status
    assert info.value.code == code and info.value.type == fail.type
    if fail.status == 429:
        assert info.value.response.headers["retry-after"] == "1"


@pytest.mark.asyncio
async def test_api_key_is_enforced() -> None:
    with FakeOpenAI(api_key="sk-right") as srv:
        srv.enqueue(Reply("secret"))
        async with openai.AsyncOpenAI(api_key="sk-wrong", base_url=srv.base_url, max_retries=0) as bad:
            with pytest.raises(openai.AuthenticationError):
                await _stream(bad)
        async with openai.AsyncOpenAI(api_key="sk-right", base_url=srv.base_url, max_retries=0) as good:
            chunks = await _stream(good)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "secret"


@pytest.mark.asyncio
async def test_disconnect_mid_stream(srv: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    # openai 3.x wraps transport errors raised while iterating the stream: the server closing the
    # socket mid chunked body makes httpx2 raise RemoteProtocolError("peer closed connection without
    # sending complete message body (incomplete chunked read)"), which the SDK re-raises as
    # openai.APIConnectionError (message "Connection error.") with the httpx2 error as __cause__.
    srv.enqueue(Disconnect("one two three four", after_chunks=2))
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True)
    got: list[str] = []
    with pytest.raises(openai.APIConnectionError) as info:
        async for chunk in stream:
            got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "one two "
    assert isinstance(info.value.__cause__, httpx2.RemoteProtocolError)
    assert not isinstance(info.value, openai.APITimeoutError)

    # Non-streaming: half of a Content-Length body, then the same drop.
    srv.enqueue(Disconnect("whole answer", after_chunks=0))
    with pytest.raises(openai.APIConnectionError) as info:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    assert isinstance(info.value.__cause__, httpx2.RemoteProtocolError)


@pytest.mark.asyncio
async def test_a_gate_holds_the_stream_until_opened(srv: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    gate = Gate()
    srv.enqueue(Reply("one two three", hold=gate, hold_after=1))
    stream = await client.chat.completions.create(model="m", messages=MSGS, stream=True)
    pieces: list[str] = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
            if len(pieces) == 1:
                await gate.reached_async()
                assert not gate.is_open  # held: nothing more can have been sent
                gate.open()
    assert pieces == ["one ", "two ", "three"]


@pytest.mark.asyncio
async def test_a_stream_can_end_cleanly_without_finish_reason_or_done(
    srv: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    srv.enqueue(Reply("cut short", finish_reason=None, done=False))
    chunks = await _stream(client)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "cut short"
    assert all(c.choices[0].finish_reason is None for c in chunks if c.choices)
    assert all(c.usage is None for c in chunks)
    srv.enqueue(Reply("too long", finish_reason="length"))
    chunks = await _stream(client)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"


def test_reset_opens_every_gate(srv: FakeOpenAI) -> None:
    gate = Gate()
    srv.enqueue(Reply("x", hold=gate))
    srv.reset()
    assert gate.is_open


@pytest.mark.asyncio
async def test_delay_and_hang_timeout_then_prompt_stop() -> None:
    srv = FakeOpenAI().start()
    async with openai.AsyncOpenAI(api_key="k", base_url=srv.base_url, max_retries=0, timeout=0.3) as c:
        try:
            srv.enqueue(Reply("a b c", delay=0.05))
            t0 = time.monotonic()
            await _stream(c)
            assert time.monotonic() - t0 >= 0.15
            srv.enqueue(Hang(30))
            with pytest.raises(openai.APITimeoutError):
                await _stream(c)
            srv.enqueue(Hang(30))  # still sleeping server-side when we stop
            pending = asyncio.ensure_future(_stream(c, timeout=30))
            await asyncio.to_thread(srv.wait_for_requests, 3)
        finally:
            t0 = time.monotonic()
            await asyncio.to_thread(srv.stop)
            assert time.monotonic() - t0 < 1.5
        # Stopping wakes the Hang before any response started, so uvicorn answers a plain 500.
        with pytest.raises(openai.InternalServerError):
            await pending


def test_cli_entry_point() -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai", "--port", "0"],
        cwd=root, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        assert httpx2.get(f"{base_url}/models").json()["object"] == "list"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0  # a ceiling for a busy machine, not a speed test


@pytest.mark.asyncio
async def test_a_recorded_real_stream_is_replayed_byte_for_byte(srv: FakeOpenAI) -> None:
    from tests.fake_openai import Recorded, recording

    srv.enqueue(Recorded("llama.cpp/stream-length.http"))
    async with httpx2.AsyncClient() as http:
        response = await http.post(f"{srv.base_url}/chat/completions", json={"stream": True, "messages": []})
    assert response.status_code == 200 and response.headers["server"] == "llama.cpp"
    assert response.content == recording("llama.cpp/stream-length.http").body
    srv.enqueue(Recorded("llama.cpp/context-exceeded.http"))
    async with httpx2.AsyncClient() as http:
        refused = await http.post(f"{srv.base_url}/chat/completions", json={"stream": True, "messages": []})
    assert refused.status_code == 400 and refused.json()["error"]["n_ctx"] == 2048
    srv.models_recording = "llama.cpp/models.http"
    async with httpx2.AsyncClient() as http:
        models = (await http.get(f"{srv.base_url}/models")).json()
    assert models["data"][0]["meta"]["n_ctx"] == 2048
