"""A server is untrusted: REST bodies and frames that are not of the protocol end in a clear
RemoteError or a notice, never another exception, and never text in the wrong reply.

Over real sockets, against the classic server with its answers tampered with
(`ClassicServer.tamper`, `inject`), plus a property test of the frame router itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codhechat.backends.remote import RemoteBackend, RemoteError
from codhechat.backends.remote.routing import Dropped, Requests
from codhechat.models import ReplyDone, ReplyEvent, ReplyFailed
from tests.classic_server import ClassicServer
from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.remote.conftest import remote_backend
from tests.remote.test_backend import Watch, collect, text_of, until

NOT_OURS = "not of the CoDHeChat protocol"
WHEN = "2025-01-02T03:04:05"


@pytest.fixture
async def backends() -> Any:
    made: list[RemoteBackend] = []

    def make(url: str, **options: Any) -> RemoteBackend:
        made.append(remote_backend(url, **options))
        return made[-1]

    yield make
    for backend in made:
        await backend.aclose()


def conversation(**fields: Any) -> dict[str, Any]:
    return {"id": 1, "name": "a", "created_at": WHEN, "messages": []} | fields


def message(**fields: Any) -> dict[str, Any]:
    return {"id": 1, "role": "user", "content": "hi", "timestamp": WHEN} | fields


# -- REST ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["not json", "[]", '{"access_token": 5, "user_id": 1}', '{"token_type": "bearer"}'])
async def test_a_sign_in_answer_that_is_not_of_the_protocol_is_explained(
    make_classic: Callable[..., ClassicServer], backends: Any, body: str
) -> None:
    server = make_classic()
    server.tamper("/auth/guest", body)
    with pytest.raises(RemoteError) as told:
        await backends(server.url).list_conversations()
    assert NOT_OURS in told.value.message and "/auth/guest" in told.value.message


@pytest.mark.parametrize(
    "listing",
    [
        "not json",
        {"detail": "a list was expected"},
        [1, 2],
        [{"id": 1}],
        [conversation(id=[1])],  # unhashable: the hand-written reader failed with a TypeError
        [conversation(id="one")],
        [conversation(name=None)],
        [conversation(created_at="yesterday")],
        [conversation(messages=[message(role="root")])],
        [conversation(messages="none")],
    ],
)
async def test_a_listing_that_is_not_of_the_protocol_is_a_remote_error(
    make_classic: Callable[..., ClassicServer], backends: Any, listing: Any
) -> None:
    server = make_classic()
    server.tamper("/conversations/", listing if isinstance(listing, str) else json.dumps(listing))
    with pytest.raises(RemoteError) as told:
        await backends(server.url).list_conversations()
    assert NOT_OURS in told.value.message and "/conversations/" in told.value.message


async def test_naive_and_zulu_times_are_utc_and_embedded_messages_date_a_conversation(
    make_classic: Callable[..., ClassicServer], backends: Any
) -> None:
    server = make_classic()
    server.tamper("/conversations/", json.dumps([
        conversation(id=1, name="old", created_at="2025-01-01T00:00:00"),
        conversation(id=2, name="busy", created_at="2024-06-01T00:00:00Z",
                     messages=[message(timestamp="2025-02-01T00:00:00")]),
    ]))  # fmt: skip
    busy, old = await backends(server.url).list_conversations()
    assert (busy.title, old.title) == ("busy", "old")  # newest first, by the latest message
    assert busy.updated_at.tzinfo is UTC and busy.updated_at.month == 2 and old.created_at.tzinfo is UTC


@pytest.mark.parametrize(
    "history",
    ["not json", [message(role="root")], [message(content=None)], [message(id=None)], [{"id": 1}]],
)
async def test_a_history_that_is_not_of_the_protocol_is_a_remote_error(
    make_classic: Callable[..., ClassicServer], backends: Any, fake_openai: FakeOpenAI, history: Any
) -> None:
    server = make_classic()
    backend = backends(server.url)
    conversation_id = (await collect(backend.stream_reply(None, "hello")))[0].conversation.id  # type: ignore[union-attr]
    body = history if isinstance(history, str) else json.dumps(history)
    server.tamper(f"/conversations/{conversation_id}/messages/", body)
    with pytest.raises(RemoteError) as told:
        await backend.get_messages(conversation_id)
    assert NOT_OURS in told.value.message


async def test_an_unknown_message_status_reads_as_complete(
    make_classic: Callable[..., ClassicServer], backends: Any, fake_openai: FakeOpenAI
) -> None:
    server = make_classic()
    backend = backends(server.url)
    conversation_id = (await collect(backend.stream_reply(None, "hello")))[0].conversation.id  # type: ignore[union-attr]
    server.tamper(f"/conversations/{conversation_id}/messages/", json.dumps([message(status="exploded")]))
    [read] = await backend.get_messages(conversation_id)
    assert read.status == "complete" and read.content == "hi"


@pytest.mark.parametrize(
    ("body", "model"),
    [
        ("not json", ""),
        ('{"checks": 5}', ""),
        ('{"status": "ok", "checks": [{"component": "chat_service", "status": "ok", "detail": 7}]}', ""),
        ('{"status": "ok", "checks": [{"component": "chat_service", "status": "ok", "detail": "model m-1"}]}', "m-1"),
    ],
)
async def test_health_is_read_only_when_it_is_of_the_protocol(
    make_classic: Callable[..., ClassicServer], backends: Any, body: str, model: str
) -> None:
    server = make_classic()
    server.tamper("/health", body)
    backend = backends(server.url)
    await backend.warm_up()
    assert backend.model == model


# -- frames ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "said"),
    [
        ({"type": "complete"}, "a frame of type 'complete' (conversationId: field required)"),  # was an AssertionError
        ({"type": "chunk", "conversationId": 0, "content": 5}, "a chunk whose text is not a string"),
        ({"type": "started", "conversationId": "7"}, "a frame of type 'started' (conversationId:"),
        ({"type": "error", "detail": ["x"]}, "a frame of type 'error' (detail:"),
        ({"type": "surprise"}, "a frame of unknown type 'surprise'"),
    ],
)
async def test_a_frame_for_our_request_that_is_not_of_the_protocol_ends_the_reply_clearly(
    classic_server: ClassicServer, backends: Any, fake_openai: FakeOpenAI, frame: dict[str, Any], said: str
) -> None:
    backend = backends(classic_server.url)
    gate = Gate()  # the server has stored the prompt and waits on the model: it has sent no frame
    fake_openai.enqueue(Reply("never shown", hold=gate, hold_after=0))
    stream = asyncio.ensure_future(collect(backend.stream_reply(None, "first of all")))
    try:
        await gate.reached_async()
        [request_id] = backend.link.requests.pending
        await asyncio.to_thread(classic_server.inject, json.dumps({**frame, "requestId": request_id}))
        events = await asyncio.wait_for(stream, 5)
    finally:
        gate.open()
    failed = events[-1]
    assert isinstance(failed, ReplyFailed) and said in failed.error.message and NOT_OURS in failed.error.message
    assert not text_of(events)
    assert backend.connection.status == "connected"  # one bad frame does not cost the link


async def test_unasked_for_frames_and_errors_about_no_request_change_no_reply(
    classic_server: ClassicServer, backends: Any, fake_openai: FakeOpenAI
) -> None:
    backend = backends(classic_server.url)
    watch = Watch(backend)
    gate = Gate()
    fake_openai.enqueue(Reply("all of it", hold=gate, hold_after=1))
    events: list[ReplyEvent] = []

    async def run() -> None:
        async for event in backend.stream_reply(None, "carry on"):
            events.append(event)

    task = asyncio.create_task(run())
    await gate.reached_async()
    [request_id] = backend.link.requests.pending
    for frame in (
        {"type": "cancelled", "requestId": request_id, "conversationId": None, "messageId": None},
        {"type": "error", "detail": "Invalid payload format"},
        {"type": "chunk", "requestId": 5, "conversationId": 1, "delta": "LEAK"},  # not an id: nobody's
        {"type": "chunk", "conversationId": 1, "content": "LEAK"},
    ):
        await asyncio.to_thread(classic_server.inject, json.dumps(frame))
    gate.open()
    await asyncio.wait_for(task, 5)
    assert isinstance(events[-1], ReplyDone) and text_of(events) == "all of it" and "LEAK" not in text_of(events)
    assert "The server reported an error: Invalid payload format" in watch.notices
    assert any(NOT_OURS in n for n in watch.notices)


async def test_a_whole_reply_chunk_that_does_not_continue_the_reply_ends_it(
    classic_server: ClassicServer, backends: Any, fake_openai: FakeOpenAI
) -> None:
    backend = backends(classic_server.url)
    gate = Gate()
    fake_openai.enqueue(Reply("one two three", hold=gate, hold_after=1))
    events: list[ReplyEvent] = []

    async def run() -> None:
        async for event in backend.stream_reply(None, "count"):
            events.append(event)

    task = asyncio.create_task(run())
    await gate.reached_async()
    await until(lambda: text_of(events), what="the first chunk")
    so_far = text_of(events)
    [request_id] = backend.link.requests.pending
    conversation_id = events[0].conversation.id  # type: ignore[union-attr]
    forged = {"type": "chunk", "requestId": request_id, "conversationId": conversation_id, "content": "REWRITTEN"}
    await asyncio.to_thread(classic_server.inject, json.dumps(forged))
    await asyncio.wait_for(task, 5)
    gate.open()
    failed = events[-1]
    assert isinstance(failed, ReplyFailed) and "does not continue the reply" in failed.error.message
    assert failed.message is not None and failed.message.content == text_of(events) == so_far


# -- the router, for any frame at all ------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
frames = st.fixed_dictionaries(
    {"requestId": st.sampled_from(["mine", "other"]) | json_values},
    optional={
        "type": st.sampled_from(["started", "chunk", "complete", "error", "cancelled"]) | json_values,
        "conversationId": st.integers() | json_values,
        "delta": st.text() | json_values,
        "content": st.text() | json_values,
        "detail": json_values,
    },
)


@given(st.lists(frames.map(json.dumps) | st.text(), max_size=8))
def test_the_router_hands_a_request_only_its_own_frames_and_never_raises(raws: list[str]) -> None:
    notices: list[str] = []
    requests = Requests(notices.append, lambda: None)
    mine = requests.register("mine", object())  # type: ignore[arg-type]  # a socket is only an identity here
    for raw in raws:
        requests.dispatch(raw)
    while not mine.empty():
        item = mine.get_nowait()
        assert not isinstance(item, Dropped) and item.request_id == "mine"
    assert all(isinstance(n, str) for n in notices)


def test_text_keeps_its_markup_and_escapes_as_data_for_the_ui_to_show_safely() -> None:
    requests = Requests(lambda _: None, lambda: None)
    mine = requests.register("r", object())  # type: ignore[arg-type]
    text = "[bold red]x[/] \x1b[2J\x07"
    requests.dispatch(json.dumps({"type": "chunk", "requestId": "r", "conversationId": 1, "delta": text}))
    assert mine.get_nowait().delta == text  # type: ignore[union-attr]
