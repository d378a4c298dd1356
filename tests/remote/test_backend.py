"""RemoteBackend over real loopback sockets: sign-in, paging, the link's failures and recoveries."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from codhechat.backends.remote import AuthError, Credentials, RemoteBackend, RemoteError, TokenStore
from codhechat.backends.remote.tokens import jwt_claims, jwt_expiry
from codhechat.models import (
    ConnectionState,
    MessageStatus,
    ReplyDelta,
    ReplyDone,
    ReplyEvent,
    ReplyFailed,
    ReplyStarted,
)
from codhechat.server.security import create_token
from tests.classic_server import ClassicServer
from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.remote.conftest import PortServer, remote_backend
from tests.server.conftest import SECRET, ServerThread


async def until(predicate: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


async def collect(events: Any) -> list[ReplyEvent]:
    return [event async for event in events]


def text_of(events: list[ReplyEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReplyDelta))


class Watch:
    """Every ConnectionState a backend publishes."""

    def __init__(self, backend: RemoteBackend) -> None:
        self.states: list[ConnectionState] = []
        backend.watch_connection(self.states.append)

    @property
    def statuses(self) -> list[str]:
        return [s.status for s in self.states if not s.notice]

    @property
    def notices(self) -> list[str]:
        return [s.notice for s in self.states if s.notice]


@pytest.fixture
async def backends() -> Any:
    made: list[RemoteBackend] = []

    def make(url: str, **options: Any) -> RemoteBackend:
        backend = remote_backend(url, **options)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


# -- sign-in and tokens ----------------------------------------------------------------


async def test_a_guest_token_is_stored_readable_by_the_user_only_and_reused(
    codhe_server: ServerThread, backends: Any, fake_openai: FakeOpenAI
) -> None:
    backend = backends(codhe_server.url)
    events = await collect(backend.stream_reply(None, "hello there"))
    assert isinstance(events[0], ReplyStarted) and isinstance(events[-1], ReplyDone)
    path = TokenStore(backend.server).path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["kind"] == "guest" and stored["refresh"] is True and stored["refresh_token"]
    assert stored["header_auth"] is True  # this server takes the token in the handshake header
    again = backends(codhe_server.url)  # a new process: same identity, same conversations
    assert [c.title for c in await again.list_conversations()] == ["hello there"]


async def test_an_expired_access_token_is_refreshed_and_keeps_the_identity(
    codhe_server: ServerThread, backends: Any, fake_openai: FakeOpenAI
) -> None:
    backend = backends(codhe_server.url)
    await collect(backend.stream_reply(None, "keep me"))
    await backend.aclose()
    store = TokenStore(backend.server)
    credentials = store.load()
    assert credentials is not None
    username = jwt_claims(credentials.access_token)["sub"]
    credentials.access_token = create_token(username, secret=SECRET, minutes=-1)  # expired a minute ago
    store.save(credentials)
    again = backends(codhe_server.url)
    assert [c.title for c in await again.list_conversations()] == ["keep me"]
    renewed = store.load()
    assert renewed is not None and (jwt_expiry(renewed.access_token) or 0) > time.time()


async def test_a_guest_token_that_expires_on_a_server_without_refresh_is_explained(
    make_classic: Callable[..., ClassicServer], backends: Any, fake_openai: FakeOpenAI
) -> None:
    # Six seconds: the first reply (a guest token, a socket, a stream) must finish inside it
    # on a busy CI machine (one second did not, once); the wait below is for the expiry itself.
    server = make_classic(token_minutes=6 / 60)
    backend = backends(server.url)
    events = await collect(backend.stream_reply(None, "before expiry"))
    assert isinstance(events[-1], ReplyDone)
    credentials = backend.api.credentials
    assert credentials is not None and credentials.refresh is False and credentials.header_auth is False
    await until(
        lambda: (jwt_expiry(credentials.access_token) or 0) < time.time(), timeout=10, what="the token to expire"
    )
    with pytest.raises(AuthError) as told:
        await backend.list_conversations()
    assert "guest session" in told.value.message and "expired" in told.value.message
    assert "A new guest identity cannot see the old conversations" in told.value.hint
    assert await backend.list_conversations() == []  # carried on as a new guest, as told


async def test_a_rejected_token_is_renewed_once_then_the_link_stops_and_says_so(
    codhe_server: ServerThread, backends: Any
) -> None:
    backend = backends(codhe_server.url)
    forged = create_token("someone", secret="not-the-server-secret-" + "z" * 40, minutes=30)
    TokenStore(backend.server).save(Credentials(forged, kind="user", username="someone", refresh=False))
    watch = Watch(backend)
    opened: list[bool] = []
    real_open = backend.link.open_socket

    async def counting_open(token: str, use_header: bool) -> Any:
        opened.append(use_header)
        return await real_open(token, use_header)

    backend.link.open_socket = counting_open  # type: ignore[method-assign]
    with pytest.raises(AuthError) as refused:
        await collect(backend.stream_reply(None, "hi"))
    assert "expired" in refused.value.message and "codhechat login" in refused.value.hint
    assert backend.connection.status == "offline" and backend.connection.signed_out
    assert opened == [True, False]  # header, then ?token= once; no reconnect loop
    await asyncio.sleep(0.3)
    assert len(opened) == 2 and watch.statuses[-1] == "offline"
    assert any("expired" in n for n in watch.notices)


def test_a_token_file_that_is_not_an_object_is_ignored_not_a_crash(tmp_path: Path) -> None:
    store = TokenStore("http://127.0.0.1:1", tmp_path)
    for text in ("[]", '"a string"', "{not json", '{"kind": "guest"}'):  # the last lacks access_token
        store.path.write_text(text)
        assert store.load() is None


def test_login_and_register_through_the_cli(
    codhe_server: ServerThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    fake_openai: FakeOpenAI,
) -> None:  # fmt: skip
    from codhechat.cli import main

    password = "correct horse battery"
    monkeypatch.setattr("getpass.getpass", lambda prompt="": password)
    username = f"alice{time.monotonic_ns()}"
    assert main(["login", "--server", codhe_server.url, "--register", "-u", username]) == 0
    out = capsys.readouterr()
    assert "Created the account and signed in" in out.out and password not in out.out + out.err
    path = TokenStore(codhe_server.url).path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and password not in path.read_text()
    assert json.loads(path.read_text())["kind"] == "user"

    async def chat() -> list[ReplyEvent]:
        backend = remote_backend(codhe_server.url)
        try:
            assert await backend.list_conversations() == []
            return await collect(backend.stream_reply(None, "as alice"))
        finally:
            await backend.aclose()

    assert isinstance(asyncio.run(chat())[-1], ReplyDone)
    assert json.loads(path.read_text())["kind"] == "user"  # still the account, not a guest

    monkeypatch.setattr("getpass.getpass", lambda prompt="": "wrong password")
    assert main(["login", "--server", codhe_server.url, "-u", username]) == 1
    assert "Wrong username or password" in capsys.readouterr().err
    assert main(["logout", "--server", codhe_server.url]) == 0
    assert not path.exists()


# -- clear errors ----------------------------------------------------------------------


async def test_unreachable_wrong_and_tls_addresses_are_explained(
    backends: Any, fake_openai: FakeOpenAI, codhe_server: ServerThread
) -> None:
    with pytest.raises(RemoteError, match=r"Cannot connect to http://127\.0\.0\.1:9"):
        await backends("http://127.0.0.1:9").list_conversations()
    with pytest.raises(RemoteError, match="does not look like a CoDHeChat server"):
        await backends(fake_openai.base_url.removesuffix("/v1")).list_conversations()
    port = codhe_server.url.rsplit(":", 1)[1]
    with pytest.raises(RemoteError) as tls:
        await backends(f"https://127.0.0.1:{port}").list_conversations()
    assert "secure (TLS) connection" in tls.value.message and "https://" in tls.value.hint
    with pytest.raises(RemoteError, match="is not a server address"):
        RemoteBackend("http://[::1")


async def test_rate_limited_sign_in_is_explained(make_server: Callable[..., PortServer], backends: Any) -> None:
    server = make_server(auth_rate_limit=1)
    await backends(server.url).list_conversations()
    with pytest.raises(RemoteError) as limited:
        await backends(server.url, token_folder=Path("other-tokens")).list_conversations()
    assert "rate limiting" in limited.value.message and "(429)" in limited.value.message
    assert "Wait" in limited.value.hint


async def test_a_server_without_a_model_closes_1013_and_the_link_backs_off(
    make_server: Callable[..., PortServer], backends: Any
) -> None:
    backend = backends(make_server(model=False).url, busy_backoff=0.5)
    watch = Watch(backend)
    with pytest.raises(RemoteError) as busy:
        await collect(backend.stream_reply(None, "anyone?"))
    assert "cannot chat right now" in busy.value.message and "1013" in busy.value.message
    assert backend.connection.status == "reconnecting"
    assert (backend.connection.retry_at or 0) - time.monotonic() > 0.2  # backed off, not spinning
    assert watch.statuses.count("reconnecting") == 1


# -- paging ----------------------------------------------------------------------------


async def test_every_page_of_conversations_and_history_is_loaded(codhe_server: ServerThread, backends: Any) -> None:
    backend = backends(codhe_server.url)
    token = await backend.api.token()
    headers = {"Authorization": f"Bearer {token}"}
    user_id = backend.api.credentials.user_id  # type: ignore[union-attr]
    async with httpx.AsyncClient(base_url=codhe_server.url, headers=headers) as client:
        ids = []
        for i in range(105):
            created = await client.post(f"/users/{user_id}/conversations/", json={"name": f"c{i}"})
            ids.append(created.json()["id"])
    conversations = await backend.list_conversations(limit=1000)
    assert len(conversations) == 105 and conversations[0].title == "c104"  # newest first
    assert [c.title for c in await backend.list_conversations(limit=5, offset=100)] == ["c4", "c3", "c2", "c1", "c0"]


async def test_a_long_history_loads_every_page(
    classic_server: ClassicServer, backends: Any, fake_openai: FakeOpenAI
) -> None:
    backend = backends(classic_server.url)
    conversation_id = None
    for i in range(55):  # 110 messages: two pages of the classic API
        events = await collect(backend.stream_reply(conversation_id, f"m{i}"))
        conversation_id = events[0].conversation.id  # type: ignore[union-attr]
    assert conversation_id is not None
    history = await backend.get_messages(conversation_id, limit=1000)
    assert len(history) == 110 and history[0].content == "m0" and history[-1].content == "Echo: m54"
    assert [m.content for m in await backend.get_messages(conversation_id, limit=2)] == ["m54", "Echo: m54"]
    older = await backend.get_messages(conversation_id, before=history[2].id, limit=5)
    assert [m.content for m in older] == ["m0", "Echo: m0"]


# -- the link: drops, restarts, garbage ------------------------------------------------


async def test_killing_the_server_mid_stream_keeps_the_partial_reply_and_retry_recovers(
    make_server: Callable[..., PortServer], backends: Any, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    database = tmp_path / "kept.db"
    server = make_server(database=database)
    port = server.port
    backend = backends(server.url)
    watch = Watch(backend)
    gate = Gate()  # the server stops while the reply is held after 20 words
    fake_openai.enqueue(Reply("word " * 400, hold=gate, hold_after=20))
    events: list[ReplyEvent] = []

    async def run() -> None:
        async for event in backend.stream_reply(None, "a long one"):
            events.append(event)

    task = asyncio.create_task(run())
    await until(lambda: text_of(events) == "word " * 20, what="some text")
    await asyncio.to_thread(server.stop)
    await asyncio.wait_for(task, 5)
    failed = events[-1]
    assert isinstance(failed, ReplyFailed) and "dropped mid-reply" in str(failed.error)
    assert failed.message is not None and failed.message.content == text_of(events)
    conversation_id = failed.message.conversation_id
    await until(lambda: backend.connection.status == "reconnecting", what="reconnecting")
    assert "reconnecting in" in backend.connection.describe(time.monotonic()) or backend.connection.retry_at

    make_server(port=port, database=database)  # the same server, back
    await until(lambda: backend.connection.status == "connected", what="reconnected")
    history = await backend.get_messages(conversation_id, limit=100)
    assert [m.role for m in history] == ["user", "assistant"]
    assert history[1].status == MessageStatus.PARTIAL  # the server kept what it had
    assert history[1].content.startswith(text_of(events))

    retried = await collect(backend.retry_reply(conversation_id))
    assert isinstance(retried[-1], ReplyDone) and text_of(retried) == "Echo: a long one"
    assert retried[0] == ReplyStarted(retried[0].conversation, None)  # type: ignore[union-attr]
    assert "reconnecting" in watch.statuses and watch.statuses[-1] == "connected"


async def test_a_server_restart_while_idle_only_shows_in_the_indicator(
    make_server: Callable[..., PortServer], backends: Any, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    database = tmp_path / "idle.db"
    server = make_server(database=database)
    port = server.port
    backend = backends(server.url)
    watch = Watch(backend)
    first = await collect(backend.stream_reply(None, "before"))
    conversation_id = first[0].conversation.id  # type: ignore[union-attr]
    await asyncio.to_thread(server.stop)
    await until(lambda: backend.connection.status == "reconnecting", what="reconnecting")
    make_server(port=port, database=database)
    await until(lambda: backend.connection.status == "connected", what="reconnected")
    after = await collect(backend.stream_reply(conversation_id, "after"))
    assert isinstance(after[-1], ReplyDone) and text_of(after) == "Echo: after"
    assert not watch.notices  # nothing to tell the user
    assert [m.content for m in await backend.get_messages(conversation_id)] == [
        "before", "Echo: before", "after", "Echo: after"
    ]  # fmt: skip


async def test_a_prompt_while_the_server_is_down_fails_before_anything_is_sent(
    make_server: Callable[..., PortServer], backends: Any, tmp_path: Path
) -> None:
    server = make_server()
    backend = backends(server.url)
    await backend.list_conversations()
    await backend.warm_up()
    await until(lambda: backend.connection.status == "connected")
    await asyncio.to_thread(server.stop)
    with pytest.raises(RemoteError, match="Cannot connect"):
        await collect(backend.stream_reply(None, "hello?"))


async def test_a_dropped_socket_interrupts_the_reply_and_the_link_comes_back(
    classic_server: ClassicServer, backends: Any, fake_openai: FakeOpenAI
) -> None:
    backend = backends(classic_server.url)
    fake_openai.enqueue(Reply("chunk " * 300, hold=Gate(), hold_after=10))
    events: list[ReplyEvent] = []

    async def run() -> None:
        async for event in backend.stream_reply(None, "drop me"):
            events.append(event)

    task = asyncio.create_task(run())
    await until(lambda: text_of(events) == "chunk " * 10, what="some text")
    await asyncio.to_thread(classic_server.drop_sockets)
    await asyncio.wait_for(task, 5)
    assert isinstance(events[-1], ReplyFailed) and "dropped mid-reply" in events[-1].error.message  # type: ignore[union-attr]
    assert events[-1].message is not None and events[-1].message.content == text_of(events)  # type: ignore[union-attr]
    await until(lambda: backend.connection.status == "connected", what="reconnected")
    conversation_id = events[0].conversation.id  # type: ignore[union-attr]
    retried = await collect(backend.retry_reply(conversation_id))
    assert text_of(retried) == "Echo: drop me"


async def test_garbage_unknown_ids_and_other_conversations_never_reach_a_reply(
    classic_server: ClassicServer, backends: Any, fake_openai: FakeOpenAI
) -> None:
    backend = backends(classic_server.url)
    watch = Watch(backend)
    gate = Gate()  # held after 5 words while the garbage arrives
    fake_openai.enqueue(Reply("steady " * 60, hold=gate, hold_after=5))
    events: list[ReplyEvent] = []

    async def run() -> None:
        async for event in backend.stream_reply(None, "keep going"):
            events.append(event)

    task = asyncio.create_task(run())
    await until(lambda: text_of(events) == "steady " * 5, what="some text")
    [request_id] = backend.link.requests.pending
    conversation_id = events[0].conversation.id  # type: ignore[union-attr]
    for frame in (
        "this is not json",
        json.dumps([1, 2, 3]),
        json.dumps({"type": "chunk", "requestId": "someone-else", "conversationId": conversation_id, "content": "LEAK"}),
        json.dumps({"type": "complete", "requestId": "someone-else", "conversationId": conversation_id}),
        json.dumps({"type": "chunk", "requestId": request_id, "conversationId": conversation_id + 1000,
                    "content": "steady " * 3 + "LEAK"}),
    ):  # fmt: skip
        await asyncio.to_thread(classic_server.inject, frame)
    gate.open()
    await asyncio.wait_for(task, 10)
    assert isinstance(events[-1], ReplyDone)
    assert text_of(events) == "steady " * 60 and "LEAK" not in text_of(events)
    assert any("not valid JSON" in n for n in watch.notices)
    assert any("not of the CoDHeChat protocol" in n for n in watch.notices)
    assert backend.connection.status == "connected"


async def test_a_frame_of_unknown_type_for_a_reply_ends_it_clearly(
    classic_server: ClassicServer, backends: Any, fake_openai: FakeOpenAI
) -> None:
    backend = backends(classic_server.url)
    fake_openai.enqueue(Reply("slowly " * 100, hold=Gate(), hold_after=3))
    events: list[ReplyEvent] = []

    async def run() -> None:
        async for event in backend.stream_reply(None, "strange"):
            events.append(event)

    task = asyncio.create_task(run())
    await until(lambda: text_of(events), what="some text")
    [request_id] = backend.link.requests.pending
    await asyncio.to_thread(classic_server.inject, json.dumps({"type": "surprise", "requestId": request_id}))
    await asyncio.wait_for(task, 5)
    assert isinstance(events[-1], ReplyFailed) and "not of the CoDHeChat protocol" in events[-1].error.message  # type: ignore[union-attr]


async def test_a_long_whole_reply_chunk_does_not_kill_the_connection(
    classic_server: ClassicServer, backends: Any, fake_openai: FakeOpenAI
) -> None:
    long = "x" * 1_500_000  # each whole-reply chunk is larger than websockets' default 1 MiB limit
    fake_openai.enqueue(Reply(long + " end"))
    backend = backends(classic_server.url)
    events = await collect(backend.stream_reply(None, "a huge one"))
    assert isinstance(events[-1], ReplyDone) and text_of(events) == long + " end"
    assert backend.connection.status == "connected"


async def test_delta_streaming_and_cancel_on_codhechat_serve(
    codhe_server: ServerThread, backends: Any, fake_openai: FakeOpenAI
) -> None:
    backend = backends(codhe_server.url)
    fake_openai.enqueue(Reply("piece " * 300, hold=Gate(), hold_after=10))
    stream = backend.stream_reply(None, "stop me")
    events: list[ReplyEvent] = []
    async for event in stream:
        events.append(event)
        if len(text_of(events)) > 30:
            break
    await stream.aclose()  # what Esc does: the generator is closed mid-reply
    assert backend.link.requests.extended  # the server sent `started` and delta chunks
    started = events[0]
    assert isinstance(started, ReplyStarted) and started.user_message is not None and started.user_message.id > 0
    conversation_id = started.conversation.id
    await until(lambda: not backend.link.background, what="the cancel frame")

    async def stored_partial() -> bool:
        # The server saves a streaming reply as `partial` while it grows (at most once a
        # second), so wait until the row holds at least what the client saw.
        history = await backend.get_messages(conversation_id)
        return (
            len(history) == 2 and history[1].status == MessageStatus.PARTIAL
            and history[1].content.startswith(text_of(events))
        )  # fmt: skip

    deadline = time.monotonic() + 5
    while not await stored_partial():
        assert time.monotonic() < deadline, "the server never stored the partial reply"
        await asyncio.sleep(0.05)
    kept = (await backend.get_messages(conversation_id))[1].content
    assert kept.startswith(text_of(events)) and len(kept) < len("piece " * 300)  # the server stopped


async def test_frames_that_queued_up_are_read_in_a_burst_that_still_lets_the_loop_run(
    classic_server: ClassicServer, backends: Any, fake_openai: FakeOpenAI
) -> None:
    """The client reads one frame per token: frames that queued up while the reader was busy
    are taken without an event-loop turn each, but a turn comes every so often (the UI repaints)."""
    backend = backends(classic_server.url)
    fake_openai.enqueue(Reply("w " * 300))  # 300 chunks, then complete
    stream = backend.stream_reply(None, "burst")
    assert isinstance(await stream.__anext__(), ReplyStarted)  # the first chunk is read; we stop reading
    [(_, queue)] = backend.link.requests.pending.values()
    await until(lambda: queue.qsize() == 300, what="the rest of the reply to queue up")
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(count_turns())
    await asyncio.sleep(0)
    at_event: list[int] = []
    events: list[ReplyEvent] = []
    async for event in stream:
        events.append(event)
        at_event.append(turns)
    ticker.cancel()
    assert isinstance(events[-1], ReplyDone) and text_of(events) == "w " * 300
    assert at_event[-1] > at_event[0]  # the loop ran during the burst
    assert at_event[-1] - at_event[0] < 50  # but not once per frame
