"""The sockets under the model-stream readers (server/model_net.py's pool over asyncio_net.py):
kept-alive connections reused, a silent stream timed out mid-reply, and TLS, on real loopback peers."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from codhechat.errors import ModelTimeout
from codhechat.llm import ModelClient
from codhechat.server.model_stream import LeanModelClient
from tests.fake_openai import FakeOpenAI, Reply

MESSAGES = [{"role": "user", "content": "Hi"}]


async def text_of(client: ModelClient) -> str:
    return "".join([piece async for piece in client.stream_chat(MESSAGES, model="m")])


async def test_one_kept_alive_connection_serves_reply_after_reply(fake_openai: FakeOpenAI) -> None:
    client = LeanModelClient(api_key="k", base_url=fake_openai.base_url, max_retries=0)
    for n in range(4):
        fake_openai.enqueue(Reply(f"reply {n} done"))
        assert await text_of(client) == f"reply {n} done"
    assert client._http is not None
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    assert len(pool.connections) == 1  # the body is read to its end after [DONE], so it is reused
    await client.aclose()


def test_it_runs_on_uvloop_as_the_server_does(fake_openai: FakeOpenAI) -> None:
    """uvicorn serves on uvloop, whose transports are not asyncio.Transport subclasses."""
    import uvloop

    async def main() -> list[str]:
        client = LeanModelClient(api_key="k", base_url=fake_openai.base_url, max_retries=0, timeout=5)
        try:
            return [await text_of(client) for _ in range(2)]
        finally:
            await client.aclose()

    fake_openai.enqueue(Reply("one on uvloop"), Reply("two on uvloop"))
    assert uvloop.run(main()) == ["one on uvloop", "two on uvloop"]


@pytest.mark.parametrize("make_client", [LeanModelClient, ModelClient], ids=["server", "local"])
async def test_a_stream_that_goes_silent_mid_reply_times_out(
    fake_openai: FakeOpenAI, make_client: type[ModelClient]
) -> None:
    fake_openai.enqueue(Reply("late words", delay=30))  # the role chunk at once, then silence
    client = make_client(api_key="k", base_url=fake_openai.base_url, max_retries=0, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ModelTimeout):
        await text_of(client)
    assert time.monotonic() - started < 5
    await client.aclose()


BODY = (
    b'data: {"model": "tls-model", "choices": [{"index": 0, "delta": {"content": "over TLS"}, "finish_reason": null}]}\n\n'
    b'data: {"model": "tls-model", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


class Endpoint:
    """A bare HTTP/1.1 endpoint that answers every request with BODY once `together` requests
    are in (so that many are in progress at once), counting its connections."""

    def __init__(self, together: int = 1) -> None:
        self.connections = 0
        self.together = together
        self.waiting: list[asyncio.Future[None]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))  # fmt: skip
                await reader.readexactly(length)
                self.waiting.append(arrived := asyncio.get_running_loop().create_future())
                if len(self.waiting) >= self.together:
                    for future in self.waiting:
                        future.set_result(None)
                    self.waiting = []
                await arrived
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             b"content-length: %d\r\n\r\n%s" % (len(BODY), BODY))  # fmt: skip
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_connections_are_opened_only_while_all_the_idle_ones_are_busy() -> None:
    endpoint = Endpoint(together=5)
    server = await asyncio.start_server(endpoint.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = LeanModelClient(api_key="k", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=10)
    try:
        for _ in range(3):  # five replies at once, three times: five connections in all
            assert await asyncio.gather(*(text_of(client) for _ in range(5))) == ["over TLS"] * 5
        assert endpoint.connections == 5
        assert client._http is not None
        assert len(client._http._transport._pool.connections) == 5  # type: ignore[attr-defined]
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    return cert, key


@pytest.mark.parametrize("make_client", [LeanModelClient, ModelClient], ids=["server", "local"])
async def test_an_https_endpoint_streams_over_tls(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, make_client: type[ModelClient]
) -> None:
    """Both clients' connections are codhechat.asyncio_net's (the local one's under the
    openai SDK's httpcore2)."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    endpoint = Endpoint()
    server = await asyncio.start_server(endpoint.handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this certificate only
    client = make_client(api_key="k", base_url=f"https://127.0.0.1:{port}/v1", max_retries=0, timeout=10)
    try:
        assert await text_of(client) == "over TLS"
        assert await text_of(client) == "over TLS"
        assert endpoint.connections == 1
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
