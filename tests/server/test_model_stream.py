"""The server's own model-stream reader (server/model_stream.py) against the SDK's, on a real
loopback endpoint: the same pieces, the same outcome (finish reason, model, usage, tool calls),
the same fixed sentence for every failure, and the SDK's retry rules."""

from __future__ import annotations

import time

import pytest

from codhechat.errors import ContextExceeded, ModelError, ModelTimeout, ReplyCut
from codhechat.server import upstream
from codhechat.server.model_stream import LeanModelClient
from tests.fake_openai import Behaviour, CallTools, Disconnect, Fail, FakeOpenAI, Gate, Hang, Reply
from tests.support.model_streams import FAILURES, MESSAGES, STREAMS, Run, beside_the_sdk, run, same_outcome
from tests.support.sdk_reference import SdkDecodingClient


def clients(fake: FakeOpenAI, **kwargs: object) -> tuple[SdkDecodingClient, LeanModelClient]:
    options: dict[str, object] = {"api_key": "sk-test", "base_url": fake.base_url, "max_retries": 0, **kwargs}
    return SdkDecodingClient(**options), LeanModelClient(**options)  # type: ignore[arg-type]


async def both(fake: FakeOpenAI, behaviour: Behaviour, **kwargs: object) -> tuple[Run, Run]:
    """The SDK's own decoding (expected) and the server's reader (got) on the same stream."""
    return await beside_the_sdk(fake, behaviour, LeanModelClient, **kwargs)


@pytest.mark.parametrize(("behaviour", "reasoning"), STREAMS)
async def test_a_stream_reads_exactly_as_through_the_sdk(fake_openai: FakeOpenAI, behaviour: Behaviour,
                                                         reasoning: bool) -> None:  # fmt: skip
    expected, got = await both(fake_openai, behaviour, reasoning=reasoning, tools=isinstance(behaviour, CallTools))
    assert expected.error is None and got.error is None
    assert got.runs == expected.runs
    same_outcome(expected.outcome, got.outcome)
    sdk_request, lean_request = (r["body"] for r in fake_openai.requests)
    assert lean_request == sdk_request  # the same request body


@pytest.mark.parametrize(("behaviour", "kind"), FAILURES)
async def test_a_failure_tells_the_client_the_same_fixed_sentence(fake_openai: FakeOpenAI, behaviour: Behaviour,
                                                                  kind: type) -> None:  # fmt: skip
    expected, got = await both(fake_openai, behaviour, timeout=1.0)
    assert isinstance(expected.error, kind) and isinstance(got.error, kind)
    assert type(got.error) is type(expected.error) or not isinstance(expected.error, ModelTimeout | ReplyCut)
    assert got.said == expected.said
    assert got.runs == expected.runs  # what arrived before the failure is kept
    assert "sk-test" not in got.said and "sk-test" not in upstream.log_detail(got.error)
    if isinstance(got.error, ContextExceeded):
        assert got.error.window == expected.error.window == 2048  # type: ignore[union-attr]


async def test_an_endpoint_that_is_not_there_cannot_be_reached() -> None:
    lean = LeanModelClient(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0)
    got = await run(lean)
    assert got.said == upstream.CANNOT_CONNECT


async def test_a_stream_held_mid_reply_then_cut_keeps_what_arrived(fake_openai: FakeOpenAI) -> None:
    gate = Gate()
    fake_openai.enqueue(Disconnect("one two three four", after_chunks=2, hold=gate))
    lean = LeanModelClient(api_key="k", base_url=fake_openai.base_url, max_retries=0)
    pieces: list[str] = []
    with pytest.raises(ModelError) as error:
        async for piece in lean.stream_chat(MESSAGES, model="m"):
            pieces.append(piece)
            if "".join(pieces) == "one two ":  # in one piece or two (coalesce.py)
                await gate.reached_async()
                gate.open()
    assert "".join(pieces) == "one two "
    assert upstream.public_cause(error.value, timeout=1) == upstream.CUT_OFF
    await lean.aclose()


async def test_retries_follow_the_sdk_rules(fake_openai: FakeOpenAI) -> None:
    _, lean = clients(fake_openai, max_retries=2)
    fake_openai.enqueue(Fail(500), Fail(429, retry_after=0.01), Reply("third time lucky"))
    got = await run(lean)
    assert got.error is None and "".join(got.pieces) == "third time lucky"
    assert len(fake_openai.requests) == 3

    fake_openai.reset()
    _, lean = clients(fake_openai, max_retries=1)
    fake_openai.enqueue(Fail(503), Fail(503), Reply("never asked"))
    got = await run(lean)
    assert got.said == "The model endpoint failed with a server error (503); try again."
    assert len(fake_openai.requests) == 2  # one try and MODEL_MAX_RETRIES=1 more

    fake_openai.reset()
    _, lean = clients(fake_openai, max_retries=2)
    fake_openai.enqueue(Fail(401), Fail(400))
    assert "rejected the API key (401)" in str((await run(lean)).said)
    assert len(fake_openai.requests) == 1  # a 401 is not tried again


async def test_the_whole_wait_is_bounded_by_the_timeout_retries_included(fake_openai: FakeOpenAI) -> None:
    _, lean = clients(fake_openai, timeout=1.0, max_retries=2)
    fake_openai.enqueue(Hang(30), Hang(30), Hang(30))
    started = time.monotonic()
    got = await run(lean)
    assert (
        isinstance(got.error, ModelTimeout) and got.said == "The model endpoint did not answer within 1 s; try again."
    )
    assert time.monotonic() - started < 10


async def test_an_endpoint_that_rejects_stream_options_is_asked_again_without(fake_openai: FakeOpenAI) -> None:
    _, lean = clients(fake_openai)
    fake_openai.enqueue(Fail(400, message="Unrecognized request argument supplied: stream_options"))
    got = await run(lean)
    assert got.error is None and "".join(got.pieces) == "Echo: Hi"
    first, second = fake_openai.requests
    assert "stream_options" in first["body"] and "stream_options" not in second["body"]


async def test_an_error_event_mid_stream_ends_the_reply_after_its_text(fake_openai: FakeOpenAI) -> None:
    """httpx-sse names an unnamed event "message": the check for `event is None` this reader had
    never matched, and the error was read as a stream that just ended (cut short)."""
    expected, got = await both(fake_openai, Reply("part one part two", error="The model ran out of memory."))
    assert isinstance(expected.error, ModelError) and isinstance(got.error, ModelError)
    assert not isinstance(got.error, ReplyCut)
    assert got.runs == expected.runs and "".join(got.pieces) == "part one part two"
    assert got.said == upstream.GENERIC  # nothing the endpoint sent is repeated to the client...
    assert "The model ran out of memory." in upstream.log_detail(got.error)  # ...but the operator sees it
