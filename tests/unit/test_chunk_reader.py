"""The local client sends a chat request through the openai SDK and reads the streamed body
itself (codhechat/model_chunks.py). Beside the SDK's own decoding of the same loopback streams
(tests/support/sdk_reference.py): the same pieces, outcome and request, the same errors with
the same words; an error event inside the stream is told with the endpoint's message; a
4,000-token burst comes whole, in few pieces."""

from __future__ import annotations

import pytest

from codhechat.errors import ModelError
from codhechat.llm import ModelClient, StreamOutcome
from tests.fake_openai import Behaviour, CallTools, FakeOpenAI, Gate, Reply
from tests.support.model_streams import FAILURES, MESSAGES, STREAMS, beside_the_sdk, same_outcome
from tests.support.sdk_reference import SdkDecodingClient
from tests.unit.test_coalesce import burst_text


@pytest.mark.parametrize(("behaviour", "reasoning"), STREAMS)
async def test_a_stream_reads_exactly_as_the_sdk_decodes_it(fake_openai: FakeOpenAI, behaviour: Behaviour,
                                                            reasoning: bool) -> None:  # fmt: skip
    tools = isinstance(behaviour, CallTools)
    expected, got = await beside_the_sdk(fake_openai, behaviour, ModelClient, reasoning=reasoning, tools=tools)
    assert expected.error is None and got.error is None
    assert got.runs == expected.runs
    same_outcome(expected.outcome, got.outcome)
    sdk_request, ours = (r["body"] for r in fake_openai.requests)
    assert ours == sdk_request


@pytest.mark.parametrize(("behaviour", "kind"), FAILURES)
async def test_a_failure_is_the_same_error_in_the_same_words(fake_openai: FakeOpenAI, behaviour: Behaviour,
                                                             kind: type) -> None:  # fmt: skip
    expected, got = await beside_the_sdk(fake_openai, behaviour, ModelClient, timeout=1.0)
    assert isinstance(expected.error, kind) and type(got.error) is type(expected.error)
    assert (got.error.message, got.error.hint) == (expected.error.message, expected.error.hint)
    assert got.runs == expected.runs  # what arrived before the failure is kept


async def test_an_error_event_mid_stream_is_told_with_the_endpoints_message(fake_openai: FakeOpenAI) -> None:
    behaviour = Reply("part one part two", error="The model ran out of memory.")
    expected, got = await beside_the_sdk(fake_openai, behaviour, ModelClient)
    assert isinstance(expected.error, ModelError) and isinstance(got.error, ModelError)
    assert "".join(got.pieces) == "".join(expected.pieces) == "part one part two"
    # The SDK's decoding said only that the connection broke; the reader passes on what the endpoint said.
    assert "cut off" in expected.error.message
    assert got.error.message == f"{fake_openai.base_url} reported an error mid-stream: The model ran out of memory."


@pytest.mark.parametrize("reasoning", [False, True])
async def test_a_burst_comes_whole_in_few_pieces(fake_openai: FakeOpenAI, reasoning: bool) -> None:
    text, thought = burst_text(4000), burst_text(500)
    gate = Gate()  # held after the last token (a point past it), before the finish: the whole burst is sent
    fake_openai.enqueue(Reply(text, reasoning=thought, holds=((len(text), gate),)))
    client = ModelClient(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)
    outcome = StreamOutcome()
    stream = client.stream_chat(MESSAGES, model="m", outcome=outcome, usage=True, reasoning=reasoning)
    pieces = [await anext(stream)]
    await gate.reached_async()
    while "".join(p for p in pieces if type(p) is str) != text:
        pieces.append(await anext(stream))
    gate.open()
    pieces += [piece async for piece in stream]
    await client.aclose()
    answer = "".join(p for p in pieces if type(p) is str)
    assert answer == text
    assert "".join(p for p in pieces if type(p) is not str) == (thought if reasoning else "")
    assert len(pieces) <= 60  # of 4,500 events: what had arrived is handed on together (coalesce.py)
    assert outcome.finish_reason == "stop" and outcome.usage is not None

    fake_openai.enqueue(Reply(text, reasoning=thought))  # the SDK's own decoding of the same burst
    reference = SdkDecodingClient(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)
    again = [p async for p in reference.stream_chat(MESSAGES, model="m", usage=True, reasoning=reasoning)]
    await reference.aclose()
    assert "".join(p for p in again if type(p) is str) == answer
