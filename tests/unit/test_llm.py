"""The model client against a real loopback server: streaming and every failure."""

from __future__ import annotations

import pytest

from codhechat.errors import MissingApiKey, ModelError, ReplyCut
from codhechat.llm import ModelClient, StreamOutcome
from tests.fake_openai import Disconnect, Fail, FakeOpenAI, Hang, Recorded, Reply

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


def client_for(server: FakeOpenAI, **kwargs: object) -> ModelClient:
    options: dict[str, object] = {"api_key": "sk-test", "base_url": server.base_url, "max_retries": 0}
    options.update(kwargs)
    return ModelClient(**options)  # type: ignore[arg-type]


async def collect(client: ModelClient, parts: list[str] | None = None) -> str:
    parts = [] if parts is None else parts
    async for text in client.stream_chat(MESSAGES, model="gpt-4o-mini"):
        parts.append(text)
    return "".join(parts)


async def test_streams_the_reply_and_sends_the_conversation(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("Hello **there**, friend.", tokens_per_chunk=1))
    client = client_for(fake_openai)
    parts: list[str] = []
    assert await collect(client, parts) == "Hello **there**, friend."
    assert 1 <= len(parts) <= 3  # tokens that arrive together are handed on together (coalesce.py)
    request = fake_openai.requests[-1]
    assert request["body"]["messages"] == MESSAGES
    assert request["body"]["stream"] is True
    assert request["headers"]["authorization"] == "Bearer sk-test"
    await client.aclose()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "rejected the API key (401)"),
        (403, "(403)"),
        (404, "was not found"),
        (429, "Rate limited by the endpoint (429)"),
        (500, "server error (500)"),
        (503, "server error (503)"),
    ],
)
async def test_http_errors_name_the_cause(fake_openai: FakeOpenAI, status: int, expected: str) -> None:
    fake_openai.enqueue(Fail(status))
    with pytest.raises(ModelError) as error:
        await collect(client_for(fake_openai))
    assert expected in error.value.message
    assert error.value.hint


async def test_a_stream_cut_half_way_keeps_what_arrived(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Disconnect("one two three four five", after_chunks=2))
    parts: list[str] = []
    with pytest.raises(ModelError) as error:
        await collect(client_for(fake_openai), parts)
    assert "".join(parts) == "one two "
    assert "cut off" in error.value.message


async def test_connection_refused_names_the_endpoint() -> None:
    client = ModelClient(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(ModelError) as error:
        await collect(client)
    assert "Cannot connect to http://127.0.0.1:9/v1" in error.value.message
    assert "OPENAI_BASE_URL" in error.value.hint


async def test_timeout(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Hang(5))
    with pytest.raises(ModelError) as error:
        await collect(client_for(fake_openai, timeout=0.3))
    assert "did not answer within 0.3 s" in error.value.message


async def test_openai_itself_needs_a_key() -> None:
    with pytest.raises(MissingApiKey):
        await collect(ModelClient(api_key=None, base_url=None))


async def test_a_local_server_needs_no_key(fake_openai: FakeOpenAI) -> None:
    assert await collect(client_for(fake_openai, api_key=None)) == "Echo: Hi"
    assert fake_openai.requests[-1]["headers"]["authorization"] == "Bearer not-needed"


def test_the_key_never_appears_in_error_text(fake_openai: FakeOpenAI) -> None:
    import asyncio

    fake_openai.enqueue(Fail(401))
    with pytest.raises(ModelError) as error:
        asyncio.run(collect(client_for(fake_openai, api_key="sk-very-secret-key")))
    assert "sk-very-secret-key" not in str(error.value)


async def test_a_server_that_rejects_stream_options_still_streams(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Fail(400, message="Unrecognized request argument supplied: stream_options"))
    client = client_for(fake_openai)
    parts: list[str] = []
    async for text in client.stream_chat(MESSAGES, model="gpt-4o-mini", usage=True):
        parts.append(text)
    assert "".join(parts) == "Echo: Hi"
    first, second = fake_openai.requests
    assert "stream_options" in first["body"] and "stream_options" not in second["body"]
    async for _ in client.stream_chat(MESSAGES, model="gpt-4o-mini", usage=True):
        pass
    assert "stream_options" not in fake_openai.requests[-1]["body"]  # remembered


async def test_usage_is_reported_when_asked(fake_openai: FakeOpenAI) -> None:
    outcome = StreamOutcome()
    async for _ in client_for(fake_openai).stream_chat(MESSAGES, model="gpt-4o-mini", outcome=outcome, usage=True):
        pass
    assert outcome.usage is not None and outcome.usage[0] > 0 and outcome.usage[1] > 0
    assert outcome.finish_reason == "stop"
    assert fake_openai.requests[-1]["body"]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("done", [True, False], ids=["with [DONE]", "without [DONE]"])
async def test_a_stream_that_ends_without_a_finish_reason_was_cut_short(fake_openai: FakeOpenAI, done: bool) -> None:
    fake_openai.enqueue(Reply("half a reply", finish_reason=None, done=done))
    parts: list[str] = []
    with pytest.raises(ReplyCut) as error:
        await collect(client_for(fake_openai), parts)
    assert "".join(parts) == "half a reply"  # what arrived, before the error
    assert "cut short" in error.value.message


async def test_why_a_reply_ended_is_reported(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("too long", finish_reason="length"))
    outcome = StreamOutcome()
    async for _ in client_for(fake_openai).stream_chat(MESSAGES, model="m", outcome=outcome):
        pass
    assert outcome.finish_reason == "length"


async def test_a_genuine_bad_request_is_still_an_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Fail(400, message="messages: too long"), Fail(400, message="messages: too long"))
    with pytest.raises(ModelError) as error:
        async for _ in client_for(fake_openai).stream_chat(MESSAGES, model="m", usage=True):
            pass
    assert "(400)" in error.value.message and "too long" in error.value.message


async def test_lists_the_endpoints_models(fake_openai: FakeOpenAI) -> None:
    fake_openai.models = ["llama3", "gpt-4o-mini", "qwen2"]
    client = client_for(fake_openai)
    assert await client.list_models() == ["gpt-4o-mini", "llama3", "qwen2"]
    await client.aclose()


async def test_listing_models_fails_with_a_translated_error(fake_openai: FakeOpenAI) -> None:
    refused = ModelClient(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(ModelError) as error:
        await refused.list_models()
    assert "Cannot connect to http://127.0.0.1:9/v1" in error.value.message
    missing = client_for(fake_openai, base_url=fake_openai.base_url + "/nowhere")
    with pytest.raises(ModelError) as error:
        await missing.list_models()
    assert "does not list its models (404)" in error.value.message
    assert "Type the model's name" in error.value.hint
    await missing.aclose()


async def test_a_bad_request_that_does_not_name_stream_options_is_not_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Recorded("llama.cpp/bad-request.http"))
    client = client_for(fake_openai)
    with pytest.raises(ModelError) as error:
        async for _ in client.stream_chat(MESSAGES, model="m", usage=True):
            pass
    assert "Expected 'messages' to be an array" in error.value.message
    assert len(fake_openai.requests) == 1  # asked once, not again without stream_options
    async for _ in client.stream_chat(MESSAGES, model="m", usage=True):
        pass
    assert fake_openai.requests[-1]["body"]["stream_options"] == {"include_usage": True}  # usage still asked


async def test_request_timeout_is_the_whole_wait_retries_included(fake_openai: FakeOpenAI) -> None:
    import time

    fake_openai.enqueue(Hang(30), Hang(30), Hang(30))
    client = client_for(fake_openai, timeout=1.0, max_retries=2)
    started = time.monotonic()
    with pytest.raises(ModelError) as error:
        await collect(client)
    assert "did not answer within 1 s" in error.value.message
    assert time.monotonic() - started < 10  # not 3 tries of 1 s plus backoff, nor 30 s
    assert len(fake_openai.requests) == 1
    await client.aclose()
