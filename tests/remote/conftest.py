"""Remote-mode fixtures: `codhechat serve` on port 0 (its model the loopback FakeOpenAI),
a server that speaks only the classic protocol, and one app factory over every backend."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from codhechat.backends.remote import RemoteBackend
from codhechat.cli import build_app
from codhechat.config import load_settings
from codhechat.ui.app import CodheChatApp
from tests.classic_server import ClassicServer
from tests.fake_openai import FakeOpenAI
from tests.server.conftest import ServerThread, server_settings

if TYPE_CHECKING:
    from tests.remote.worlds import World

# Fast reconnects for tests; the defaults (0.5 s doubling to 30 s, 10 s after a 1013) suit people.
FAST = {"http_timeout": 5.0, "connect_timeout": 5.0, "backoff_base": 0.05, "backoff_cap": 0.3, "busy_backoff": 0.2}


class PortServer(ServerThread):
    """A ServerThread on a chosen port, so a test can stop it and start another in its place."""

    def __init__(self, settings: Any, port: int = 0) -> None:
        super().__init__(settings)
        if port:
            self._sock.close()
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind(("127.0.0.1", port))


@pytest.fixture(scope="session")
def codhe_server(tmp_path_factory: pytest.TempPathFactory, fake_openai_server: FakeOpenAI) -> Iterator[ServerThread]:
    """One `codhechat serve` for the session; every test is a new guest, so tests never meet."""
    database = tmp_path_factory.mktemp("remote-db") / "chat.db"
    # The model gets 2 s of silence: the server shares this process, and its GIL, with the apps under test.
    server = ServerThread(server_settings(f"sqlite:///{database}", fake_openai_server, model_timeout=2.0)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def classic_server(fake_openai_server: FakeOpenAI) -> Iterator[ClassicServer]:
    server = ClassicServer(fake_openai_server.base_url).start()
    yield server
    server.stop()


@pytest.fixture
def make_server(tmp_path: Path, fake_openai_server: FakeOpenAI) -> Iterator[Callable[..., PortServer]]:
    """A dedicated `codhechat serve`: make_server(port=0, database=None, model=True, **settings)."""
    started: list[PortServer] = []

    def make(*, port: int = 0, database: Path | None = None, model: bool = True, **overrides: Any) -> PortServer:
        url = f"sqlite:///{database or tmp_path / 'server.db'}"
        server = PortServer(server_settings(url, fake_openai_server if model else None, **overrides), port)
        started.append(server.start())
        return server

    yield make
    for server in started:
        if server._thread.is_alive():
            server.stop()


@pytest.fixture
def make_classic(fake_openai_server: FakeOpenAI) -> Iterator[Callable[..., ClassicServer]]:
    started: list[ClassicServer] = []

    def make(**options: Any) -> ClassicServer:
        server = ClassicServer(fake_openai_server.base_url, **options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def remote_backend(url: str, **options: Any) -> RemoteBackend:
    return RemoteBackend(url, **{**FAST, **options})


@pytest.fixture(params=["local", "remote", "classic"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_app(backend_kind: str, fake_openai: FakeOpenAI, request: pytest.FixtureRequest) -> Callable[..., CodheChatApp]:
    """The real app over the backend under test: local (SQLite + the loopback model), remote
    (`codhechat serve` whose model is that loopback model) or classic (the classic-protocol server)."""

    def make(**options: Any) -> CodheChatApp:
        if backend_kind == "local":
            settings = load_settings({"base_url": fake_openai.base_url, "max_retries": 0, "request_timeout": 1.0})
            return build_app(settings)  # type: ignore[no-any-return]
        server = request.getfixturevalue("codhe_server" if backend_kind == "remote" else "classic_server")
        return CodheChatApp(remote_backend(server.url, **options))

    return make


@pytest.fixture(params=["local", "remote"])
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, fake_openai: FakeOpenAI, make_server: Callable[..., PortServer]
) -> AsyncIterator[World]:
    """Local and remote mode, the same scenarios (tests/remote/worlds.py)."""
    from tests.remote.worlds import World

    made = World(str(request.param), tmp_path, fake_openai, make_server)
    yield made
    for backend in made.backends:
        await backend.aclose()
