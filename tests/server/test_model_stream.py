"""The server's own model-stream reader (server/model_stream.py) against the SDK's, on a real
loopback endpoint: the same pieces, the same outcome (finish reason, model, usage, tool calls),
the same fixed sentence for every failure, and the SDK's retry rules."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from codhechat.errors import ContextExceeded, ModelError, ModelTimeout, ReplyCut
from codhechat.llm import ModelClient, StreamOutcome
from codhechat.server import upstream
from codhechat.server.model_stream import LeanModelClient
from tests.fake_openai import Behaviour, CallTools, Disconnect, Fail, FakeOpenAI, Gate, Hang, Recorded, Reply

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


@dataclass
class Run:
    pieces: list[str]
    outcome: StreamOutcome
    error: ModelError | None
    kinds: list[type] = field(default_factory=list)  # Thinking or str, per piece

    @property
    def runs(self) -> list[tuple[type, str]]:
        """The text as runs of one kind (answer or Thinking): the pieces' own boundaries
        depend on timing, since the model client coalesces what has arrived (coalesce.py)."""
        merged: list[tuple[type, str]] = []
        for piece, kind in zip(self.pieces, self.kinds, strict=True):
            if merged and merged[-1][0] is kind:
                merged[-1] = (kind, merged[-1][1] + piece)
            else:
                merged.append((kind, str(piece)))
        return merged

    @property
    def said(self) -> str | None:
        return upstream.public_cause(self.error, timeout=1.0) if self.error is not None else None


async def run(client: ModelClient, *, reasoning: bool = False, tools: bool = False) -> Run:
    pieces: list[str] = []
    outcome = StreamOutcome()
    error: ModelError | None = None
    functions = [{"type": "function", "function": {"name": "clock", "parameters": {"type": "object"}}}]
    try:
        async for piece in client.stream_chat(MESSAGES, model="gpt-4o-mini", outcome=outcome, usage=True,
                                              reasoning=reasoning, tools=functions if tools else None):  # fmt: skip
            pieces.append(piece)
    except ModelError as exc:
        error = exc
    finally:
        await client.aclose()
    return Run(pieces, outcome, error, [type(p) for p in pieces])


def clients(fake: FakeOpenAI, **kwargs: object) -> tuple[ModelClient, LeanModelClient]:
    options: dict[str, object] = {"api_key": "sk-test", "base_url": fake.base_url, "max_retries": 0, **kwargs}
    return ModelClient(**options), LeanModelClient(**options)  # type: ignore[arg-type]


async def both(fake: FakeOpenAI, behaviour: Behaviour, **kwargs: object) -> tuple[Run, Run]:
    reasoning = bool(kwargs.pop("reasoning", False))
    tools = bool(kwargs.pop("tools", False))
    sdk, lean = clients(fake, **kwargs)
    fake.enqueue(behaviour)
    expected = await run(sdk, reasoning=reasoning, tools=tools)
    fake.enqueue(behaviour)
    got = await run(lean, reasoning=reasoning, tools=tools)
    return expected, got


def same_outcome(a: StreamOutcome, b: StreamOutcome) -> None:
    assert (a.finish_reason, a.model, a.usage) == (b.finish_reason, b.model, b.usage)
    assert a.tool_calls.calls() == b.tool_calls.calls()


STREAMS = [
    pytest.param(Reply("Hello **there**, friend. " * 5, tokens_per_chunk=1), False, id="reply"),
    pytest.param(Reply("cut at the limit", finish_reason="length"), False, id="length"),
    pytest.param(Reply("Fine.", reasoning="Let me think about it first"), True, id="reasoning"),
    pytest.param(Reply("Fine.", reasoning="Let me think"), False, id="reasoning-not-asked"),
    pytest.param(CallTools((("clock", '{"zone": "UTC"}'),), text="Let me look."), False, id="tool-calls"),
    *(
        pytest.param(Recorded(f"llama.cpp/{name}.http"), reasoning, id=f"llama.cpp-{name}-{reasoning}")
        for name in (
            "stream-stop",
            "stream-length",
            "stream-no-usage",
            "stream-reasoning-deepseek",
            "stream-think-tags",
        )
        for reasoning in (False, True)
    ),
]


@pytest.mark.parametrize(("behaviour", "reasoning"), STREAMS)
async def test_a_stream_reads_exactly_as_through_the_sdk(fake_openai: FakeOpenAI, behaviour: Behaviour,
                                                         reasoning: bool) -> None:  # fmt: skip
    expected, got = await both(fake_openai, behaviour, reasoning=reasoning, tools=isinstance(behaviour, CallTools))
    assert expected.error is None and got.error is None
    assert got.runs == expected.runs
    same_outcome(expected.outcome, got.outcome)
    sdk_request, lean_request = (r["body"] for r in fake_openai.requests)
    assert lean_request == sdk_request  # the same request body


FAILURES = [
    pytest.param(Fail(401, echo_auth=True), ModelError, id="401"),
    pytest.param(Fail(403), ModelError, id="403"),
    pytest.param(Fail(404), ModelError, id="404"),
    pytest.param(Fail(429), ModelError, id="429"),
    pytest.param(Fail(500), ModelError, id="500"),
    pytest.param(Fail(503), ModelError, id="503"),
    pytest.param(Fail(400, message="Invalid value for 'temperature'."), ModelError, id="400"),
    pytest.param(Recorded("llama.cpp/unauthorized.http"), ModelError, id="llama.cpp-401"),
    pytest.param(Recorded("llama.cpp/bad-request.http"), ModelError, id="llama.cpp-400"),
    pytest.param(Recorded("llama.cpp/context-exceeded.http"), ContextExceeded, id="llama.cpp-context"),
    pytest.param(Disconnect("part one part two part three", after_chunks=2), ModelError, id="cut-mid-stream"),
    pytest.param(Reply("half a reply", finish_reason=None, done=True), ReplyCut, id="no-finish-reason"),
    pytest.param(Reply("half a reply", finish_reason=None, done=False), ReplyCut, id="no-finish-no-done"),
    pytest.param(Hang(30), ModelTimeout, id="timeout"),
]


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
