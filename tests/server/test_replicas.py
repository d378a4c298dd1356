"""Two `codhechat serve` processes sharing one PostgreSQL serve the same users."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fake_openai import FakeOpenAI, Reply
from tests.server.conftest import SECRET, PostgresServer, ask, new_guest, open_ws


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "codhechat.server", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=self._out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"replica did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()


@pytest.fixture
def replicas(postgres: PostgresServer, fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[list[Replica]]:
    env = {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": postgres.new_database(),
        "OPENAI_BASE_URL": fake_openai.base_url,
        "MODEL_MAX_RETRIES": "0",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
    }
    # Both start at once: the migration takes an advisory lock, so only one creates the schema.
    started = [Replica(env, tmp_path / f"replica{i}.log") for i in (1, 2)]
    try:
        for replica in started:
            replica.wait_ready()
        yield started
    finally:
        for replica in started:
            replica.stop()


async def test_a_conversation_moves_between_replicas(replicas: list[Replica], fake_openai: FakeOpenAI) -> None:
    one, two = replicas
    fake_openai.enqueue(Reply("First answer"), Reply("Second answer"))
    async with httpx.AsyncClient(base_url=one.url) as client:
        guest = await new_guest(client)
    # Start on replica one over the WebSocket...
    async with await open_ws(_Target(one), guest.token) as ws:
        frames = await ask(ws, "hello from one")
    conversation_id = frames[-1]["conversationId"]
    assert frames[-2]["content"] == "First answer"
    # ...listed and continued on replica two with the same token.
    async with httpx.AsyncClient(base_url=two.url) as client:
        listed = (await client.get("/conversations/", headers=guest_headers(guest.token))).json()
        assert [c["id"] for c in listed] == [conversation_id]
        assert [m["content"] for m in listed[0]["messages"]] == ["hello from one", "First answer"]
    async with await open_ws(_Target(two), guest.token) as ws:
        frames = await ask(ws, "and on two", conversation_id=conversation_id)
    assert frames[-1] == {"type": "complete", "requestId": "r1", "conversationId": conversation_id}
    # The model on replica two saw the history written through replica one.
    assert [m["content"] for m in fake_openai.last_messages[1:]] == ["hello from one", "First answer", "and on two"]
    async with httpx.AsyncClient(base_url=one.url) as client:
        messages = (await client.get(f"/conversations/{conversation_id}/messages/", headers=guest_headers(guest.token))).json()
    assert [m["content"] for m in messages] == ["hello from one", "First answer", "and on two", "Second answer"]
    # Logs went out as JSON and carry no token.
    for replica in replicas:
        text = replica.log.read_text()
        assert guest.token not in text and '"level": "INFO"' in text


def guest_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class _Target:
    def __init__(self, replica: Replica) -> None:
        self.ws_url = f"ws://127.0.0.1:{replica.port}/ws"
