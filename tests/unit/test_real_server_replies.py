"""Local mode against what llama.cpp's server really sends (recorded exchanges, replayed):
length cuts, small contexts, the model it names, and retries while it is down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codhechat.backends.local import LocalBackend
from codhechat.config import load_settings
from codhechat.errors import ContextExceeded
from codhechat.models import FinishReason, MessageStatus, ReplyDelta, ReplyDone, ReplyFailed, ReplyPrompt
from codhechat.store import Store
from tests.fake_openai import Disconnect, FakeOpenAI, Recorded, Reply, recording


def backend_for(fake: FakeOpenAI, tmp_path: Path, **flags: object) -> LocalBackend:
    settings = load_settings({"base_url": fake.base_url, "max_retries": 0, **flags})
    return LocalBackend(settings, Store.open(tmp_path / "chat.db"))


async def run(events) -> list:  # type: ignore[no-untyped-def]
    return [event async for event in events]


def text_of(events: list) -> str:  # type: ignore[type-arg]
    return "".join(e.text for e in events if isinstance(e, ReplyDelta))


def recorded_text(name: str, field: str = "content") -> str:
    """The reply text (or another delta field) in a recorded stream, as the server sent it."""
    text = ""
    for event in recording(name).events():
        data = event.decode().removeprefix("data: ").strip()
        if data != "[DONE]":
            for choice in json.loads(data).get("choices", []):
                text += choice.get("delta", {}).get(field) or ""
    return text


async def test_a_reply_cut_at_the_length_limit_is_stored_as_such(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.enqueue(Recorded("llama.cpp/stream-length.http"))
    backend = backend_for(fake_openai, tmp_path)
    events = await run(backend.stream_reply(None, "Say hello"))
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.message.finish_reason == FinishReason.LENGTH
    assert done.message.content == recorded_text("llama.cpp/stream-length.http")
    assert done.message.model == "tiny-random.gguf"  # the model the endpoint says answered
    assert (done.message.prompt_tokens, done.message.completion_tokens) == (21, 24)
    stored = backend.store.get_messages(done.message.conversation_id)[-1]
    assert (stored.status, stored.finish_reason) == (MessageStatus.COMPLETE, "length")


async def test_continue_extends_a_length_cut_reply_in_place(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.enqueue(Reply("The first half", finish_reason="length"), Reply(" and the rest."))
    backend = backend_for(fake_openai, tmp_path)
    first = await run(backend.stream_reply(None, "Tell me"))
    conversation_id = first[0].conversation.id
    more = await run(backend.continue_reply(conversation_id))
    assert text_of(more) == " and the rest."
    assert isinstance(more[-1], ReplyDone) and more[-1].message.content == "The first half and the rest."
    messages = backend.store.get_messages(conversation_id)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "Tell me"),
        ("assistant", "The first half and the rest."),
    ]
    assert messages[-1].finish_reason == FinishReason.STOP
    sent = fake_openai.last_messages
    assert sent[-2] == {"role": "assistant", "content": "The first half"}
    assert sent[-1]["role"] == "user" and "Continue it exactly where it stopped" in sent[-1]["content"]


async def test_the_context_window_comes_from_the_endpoint_and_the_history_is_fitted(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.models_recording = "llama.cpp/models.http"  # meta.n_ctx: 2048
    backend = backend_for(fake_openai, tmp_path)
    assert await backend.client.context_window("tiny-random.gguf") == 2048
    long = "word " * 1500  # ~2,500 estimated tokens: alone more than the context
    conversation_id = (await run(backend.stream_reply(None, "first")))[0].conversation.id
    await run(backend.stream_reply(conversation_id, long))
    events = await run(backend.stream_reply(conversation_id, "and now?"))
    [prompt] = [e for e in events if isinstance(e, ReplyPrompt)]
    assert prompt.window == 2048 and prompt.left_out >= 2  # the long message (and its echo) were not sent
    sent = fake_openai.last_messages
    assert sent[0]["role"] == "system" and sent[-1] == {"role": "user", "content": "and now?"}
    assert all("word word" not in m["content"] for m in sent)
    assert sum(len(m["content"]) for m in sent) < 2048 * 3


async def test_a_context_exceeded_error_says_so_and_the_next_try_fits(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    backend = backend_for(fake_openai, tmp_path, model="x")  # unknown to the table: no window known
    conversation_id = (await run(backend.stream_reply(None, "word " * 1200)))[0].conversation.id
    fake_openai.enqueue(Recorded("llama.cpp/context-exceeded.http"))
    events = await run(backend.stream_reply(conversation_id, "one more"))
    failed = events[-1]
    assert isinstance(failed, ReplyFailed) and isinstance(failed.error, ContextExceeded)
    assert "longer than the model's context window (2,048 tokens)" in failed.error.message
    assert failed.error.window == 2048
    retried = await run(backend.retry_reply(conversation_id))
    assert isinstance(retried[-1], ReplyDone)
    [prompt] = [e for e in retried if isinstance(e, ReplyPrompt)]
    assert prompt.window == 2048 and prompt.left_out >= 1  # learned from the error, and fitted
    assert fake_openai.last_messages[-1] == {"role": "user", "content": "one more"}


async def test_a_retry_while_the_server_is_down_keeps_what_was_kept(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.enqueue(Disconnect("the partial answer we got", after_chunks=3))
    backend = backend_for(fake_openai, tmp_path)
    events = await run(backend.stream_reply(None, "question"))
    conversation_id = events[0].conversation.id
    kept = backend.store.get_messages(conversation_id)[-1]
    assert kept.content == "the partial answer " and kept.status == MessageStatus.ERROR

    backend.client.base_url = "http://127.0.0.1:9/v1"  # the server is down now
    backend.client._client = None
    retried = await run(backend.retry_reply(conversation_id))
    assert isinstance(retried[-1], ReplyFailed) and retried[-1].message is None
    assert [m.content for m in backend.store.get_messages(conversation_id)] == ["question", "the partial answer "]

    backend.client.base_url = fake_openai.base_url  # back up: the retry replaces it
    backend.client._client = None
    again = await run(backend.retry_reply(conversation_id))
    assert isinstance(again[-1], ReplyDone)
    assert [m.content for m in backend.store.get_messages(conversation_id)] == ["question", "Echo: question"]


@pytest.mark.parametrize("name", ["stream-stop.http", "stream-no-usage.http"])
async def test_recorded_streams_are_stored_exactly(fake_openai: FakeOpenAI, tmp_path: Path, name: str) -> None:
    fake_openai.enqueue(Recorded(f"llama.cpp/{name}"))
    backend = backend_for(fake_openai, tmp_path)
    events = await run(backend.stream_reply(None, "hello"))
    assert isinstance(events[-1], ReplyDone)
    assert events[-1].message.content == recorded_text(f"llama.cpp/{name}")
    assert events[-1].message.finish_reason in ("stop", "length")


async def test_with_no_model_chosen_the_endpoints_own_model_is_used(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.models_recording = "llama.cpp/models.http"  # serves only tiny-random.gguf
    backend = backend_for(fake_openai, tmp_path)
    notice = await backend.resolve_model()
    assert notice is not None and "Using tiny-random.gguf" in notice
    events = await run(backend.stream_reply(None, "hi"))
    assert fake_openai.requests[-1]["body"]["model"] == "tiny-random.gguf"
    assert events[0].conversation.model == "tiny-random.gguf"
    assert await backend.resolve_model() is None  # asked once


async def test_a_chosen_model_is_never_replaced(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.models_recording = "llama.cpp/models.http"
    backend = backend_for(fake_openai, tmp_path, model="my-model")
    assert await backend.resolve_model() is None
    await run(backend.stream_reply(None, "hi"))
    assert fake_openai.requests[-1]["body"]["model"] == "my-model"


async def test_several_models_and_none_chosen_are_offered(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.models = ["llama3", "qwen2"]  # not the default gpt-4o-mini
    backend = backend_for(fake_openai, tmp_path)
    notice = await backend.resolve_model()
    assert notice is not None and "choose one (F5)" in notice
    assert backend.model_choices == ["llama3", "qwen2"] and backend.model == "gpt-4o-mini"


async def test_reasoning_content_is_kept_apart_and_never_sent_back(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    from codhechat.models import ReplyThinking

    fake_openai.enqueue(Recorded("llama.cpp/stream-reasoning-deepseek.http"))
    backend = backend_for(fake_openai, tmp_path)
    events = await run(backend.stream_reply(None, "Think first"))
    thinking = "".join(e.text for e in events if isinstance(e, ReplyThinking))
    assert thinking == recorded_text("llama.cpp/stream-reasoning-deepseek.http", "reasoning_content")
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.message.reasoning == thinking and done.message.thinking_ms is not None
    assert done.message.elapsed_ms is not None and done.message.elapsed_ms >= done.message.thinking_ms
    assert done.message.content == text_of(events) and thinking not in done.message.content
    await run(backend.stream_reply(done.message.conversation_id, "and then?"))
    sent = " ".join(m["content"] for m in fake_openai.last_messages)
    assert thinking[:40] not in sent  # the thinking is never history


async def test_a_think_block_opening_the_content_is_the_thinking(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.enqueue(Recorded("llama.cpp/stream-think-tags.http"))
    backend = backend_for(fake_openai, tmp_path)
    events = await run(backend.stream_reply(None, "Think first"))
    raw = recorded_text("llama.cpp/stream-think-tags.http")
    assert raw.startswith("<think>\n")
    inside, _, after = raw.removeprefix("<think>").partition("</think>")
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.message.reasoning == inside
    assert done.message.content == after.lstrip("\n")  # later </think> tokens are the answer's text


async def test_generation_parameters_are_sent_and_max_tokens_leaves_room(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    from codhechat.models import Generation

    backend = backend_for(fake_openai, tmp_path)
    conversation_id = (await run(backend.stream_reply(None, "first")))[0].conversation.id
    chosen = Generation(temperature=0.2, top_p=0.9, max_tokens=64, seed=7, reasoning_effort="low")
    updated = await backend.set_generation(conversation_id, chosen)
    assert updated is not None and updated.generation == chosen
    await run(backend.stream_reply(conversation_id, "again"))
    body = fake_openai.requests[-1]["body"]
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "seed", "reasoning_effort")} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 64,
        "seed": 7,
        "reasoning_effort": "low",
    }
    await backend.set_generation(conversation_id, Generation())
    await run(backend.stream_reply(conversation_id, "plain"))
    assert "temperature" not in fake_openai.requests[-1]["body"]
