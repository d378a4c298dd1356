"""What the model-stream comparisons share (tests/server/test_model_stream.py, the server's
reader; tests/unit/test_chunk_reader.py, the local client's): the streams and failures played
on a real loopback endpoint (tests/fake_openai.py), and one run of a client over one of them,
set beside the SDK's own decoding (tests/support/sdk_reference.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from codhechat.errors import ContextExceeded, ModelError, ModelTimeout, ReplyCut
from codhechat.llm import ModelClient, StreamOutcome
from codhechat.server import upstream
from tests.fake_openai import Behaviour, CallTools, Disconnect, Fail, FakeOpenAI, Hang, Recorded, Reply
from tests.support.sdk_reference import SdkDecodingClient

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


async def beside_the_sdk(
    fake: FakeOpenAI, behaviour: Behaviour, kind: type[ModelClient], **kwargs: object
) -> tuple[Run, Run]:
    """`behaviour` played twice: read by the SDK's own decoding (expected), then by a `kind` client (got)."""
    reasoning = bool(kwargs.pop("reasoning", False))
    tools = bool(kwargs.pop("tools", False))
    options: dict[str, object] = {"api_key": "sk-test", "base_url": fake.base_url, "max_retries": 0, **kwargs}
    fake.enqueue(behaviour)
    expected = await run(SdkDecodingClient(**options), reasoning=reasoning, tools=tools)  # type: ignore[arg-type]
    fake.enqueue(behaviour)
    got = await run(kind(**options), reasoning=reasoning, tools=tools)  # type: ignore[arg-type]
    return expected, got
