"""Server fixtures: real uvicorn servers on port 0 (each with its own database), the
loopback FakeOpenAI as their model, and a throwaway PostgreSQL for the `postgresql` runs."""

from __future__ import annotations

import asyncio
import glob
import itertools
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from codhechat.server.app import create_app, uvicorn_options
from codhechat.server.settings import ServerSettings
from tests.fake_openai import FakeOpenAI

SECRET = "test-secret-" + "x" * 60  # >= 64 bytes, so an HS512 forgery test raises no key warning


# -- a server on its own thread ---------------------------------------------------------
class ServerThread:
    """`create_app(settings)` served by uvicorn on 127.0.0.1:0 in a background thread."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP
        # (without it every response waits ~40 ms for a delayed ACK).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1, loop="asyncio",
            **uvicorn_options(settings),
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"codhechat-{self.port}")

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self._sock]))

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(5)
        self._sock.close()

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


def server_settings(database_url: str, model: FakeOpenAI | None, **overrides: Any) -> ServerSettings:
    values: dict[str, Any] = {
        "secret_key": SECRET,
        "database_url": database_url,
        "openai_base_url": model.base_url if model else None,
        "openai_api_key": None,
        "model_max_retries": 0,
        "model_timeout": 10,
        "auth_rate_limit": 100_000,
        "password_min_length": 8,
        "log_json": True,
    }
    values.update(overrides)
    return ServerSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """The root conftest's loopback model, with TCP_NODELAY on its listener (inherited by
    accepted sockets on Linux): its socket is made without IPPROTO_TCP, so asyncio leaves
    Nagle on and each reply would stall ~40 ms on a delayed ACK."""
    with FakeOpenAI() as server:
        sock = getattr(server, "_sock", None)
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        yield server


# -- PostgreSQL, started by the test suite ------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root: pick (or make) an unprivileged account."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "codhechat-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    created = subprocess.run(["useradd", "--system", "--no-create-home", "codhechat-pg"], capture_output=True)
    return "codhechat-pg" if created.returncode == 0 else "nobody"


@dataclass
class PostgresServer:
    port: int
    bin: Path
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_database(self) -> str:
        name = f"codhechat_{next(self._names)}_{secrets.token_hex(3)}"
        subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", f'CREATE DATABASE "{name}"'],
            check=True, capture_output=True,
        )  # fmt: skip
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def sql(self, url: str, statement: str) -> str:
        """Run one statement on the database at `url` (psql); its output, unaligned."""
        name = url.rsplit("/", 1)[1]
        done = subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", name, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", statement],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout.strip()


class PostgresCluster:
    """A throwaway PostgreSQL cluster run as an unprivileged user; `stop()` and `start()`
    again on the same port and data, for outage tests."""

    def __init__(self) -> None:
        bin_dir = _pg_bin()
        if bin_dir is None or not (bin_dir / "postgres").exists():
            pytest.skip("PostgreSQL binaries not found (looked in /usr/lib/postgresql/*/bin and PATH)")
        self.bin = bin_dir
        user = _pg_user()
        self._run_as: dict[str, Any] = {}
        self.root = Path(tempfile.mkdtemp(prefix="codhechat-pg-"))
        if user is not None:
            entry = pwd.getpwnam(user)
            self._run_as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.data = self.root / "data"
        self._env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "HOME": str(self.root)}
        initdb = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            capture_output=True, text=True, env=self._env, cwd=self.root, **self._run_as,
        )  # fmt: skip
        if initdb.returncode != 0:
            shutil.rmtree(self.root, ignore_errors=True)
            pytest.skip(f"initdb failed: {initdb.stderr.strip()[-300:]}")
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = open(self.root / "postgres.log", "ab")  # noqa: SIM115

    def start(self) -> PostgresCluster:
        self._proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
             "-k", str(self.root), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdout=self._log, stderr=subprocess.STDOUT, env=self._env, cwd=self.root, **self._run_as,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                capture_output=True,
            )
            if ready.returncode == 0:
                return self
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("postgres did not start: " + (self.root / "postgres.log").read_text()[-500:])
            time.sleep(0.1)

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGINT)  # fast shutdown: clients are disconnected
        try:
            self._proc.wait(15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def close(self) -> None:
        self.stop()
        self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def server(self) -> PostgresServer:
        return PostgresServer(port=self.port, bin=self.bin)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    cluster = PostgresCluster().start()
    try:
        yield cluster.server
    finally:
        cluster.close()


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    """A cluster of this test's own, which it may stop and start (the shared one stays up)."""
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.close()


# -- server processes --------------------------------------------------------------------
class Replica:
    """`python -m codhechat.server` in a process of its own (so it can be killed)."""

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

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def kill(self) -> None:
        """kill -9: no shutdown, no last save."""
        self.proc.kill()
        self.proc.wait()
        self._out.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()


def replica_env(database_url: str, model: FakeOpenAI, **settings: str) -> dict[str, str]:
    """The environment for a Replica: this checkout's code, the loopback model, JSON logs."""
    return {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "OPENAI_BASE_URL": model.base_url,
        "MODEL_MAX_RETRIES": "0",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
        **{name.upper(): value for name, value in settings.items()},
    }


# -- servers -----------------------------------------------------------------------------
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def database_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """backend name -> a fresh, empty database URL."""
    counter = itertools.count(1)

    def make(backend: str) -> str:
        if backend == "postgresql":
            pg: PostgresServer = request.getfixturevalue("postgres")
            return pg.new_database()
        path = tmp_path_factory.mktemp("db") / f"chat{next(counter)}.db"
        return f"sqlite:///{path}"

    return make


@pytest.fixture
def make_server(
    database_factory: Callable[[str], str], fake_openai_server: FakeOpenAI
) -> Iterator[Callable[..., ServerThread]]:
    """Start a dedicated server: make_server(backend="sqlite", model=True, **settings)."""
    started: list[ServerThread] = []

    def make(backend: str = "sqlite", *, model: bool = True, database_url: str | None = None,
             **overrides: Any) -> ServerThread:  # fmt: skip
        url = database_url or database_factory(backend)
        settings = server_settings(url, fake_openai_server if model else None, **overrides)
        server = ServerThread(settings).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def shared_server(
    request: pytest.FixtureRequest,
    database_factory: Callable[[str], str],
    fake_openai_server: FakeOpenAI,
) -> Iterator[ServerThread]:
    """One server per backend for the whole session; tests isolate themselves by user."""
    url = database_factory(request.param)
    server = ServerThread(server_settings(url, fake_openai_server)).start()
    yield server
    server.stop()


@pytest.fixture
def server(shared_server: ServerThread, fake_openai: FakeOpenAI) -> ServerThread:
    return shared_server


@pytest.fixture(scope="session")
def sqlite_server(database_factory: Callable[[str], str], fake_openai_server: FakeOpenAI) -> Iterator[ServerThread]:
    """A shared SQLite server for tests that need not run on both databases."""
    server = ServerThread(server_settings(database_factory("sqlite"), fake_openai_server)).start()
    yield server
    server.stop()


@pytest.fixture
async def api(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


# -- client helpers ------------------------------------------------------------------------
@dataclass
class Guest:
    token: str
    user_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def new_guest(client: httpx.AsyncClient) -> Guest:
    response = await client.post("/auth/guest")
    assert response.status_code == 200, response.text
    body = response.json()
    return Guest(body["access_token"], body["user_id"])


@pytest.fixture
async def guest(api: httpx.AsyncClient) -> Guest:
    return await new_guest(api)


async def open_ws(server: ServerThread, token: str | None = None, *, query: str = "",
                  headers: dict[str, str] | None = None) -> ClientConnection:  # fmt: skip
    params = [p for p in (f"token={token}" if token else "", query) if p]
    url = server.ws_url + ("?" + "&".join(params) if params else "")
    return await connect(url, additional_headers=headers, open_timeout=10, max_size=None)


async def recv(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def collect(ws: ClientConnection, request_id: str, timeout: float = 10) -> list[dict[str, Any]]:
    """Frames for one request, up to and including its complete/error/cancelled frame."""
    frames = []
    while True:
        frame = await recv(ws, timeout)
        if frame.get("requestId") != request_id:
            continue
        frames.append(frame)
        if frame["type"] in ("complete", "error", "cancelled"):
            return frames


async def ask(ws: ClientConnection, message: str, *, request_id: str = "r1",
              conversation_id: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    await ws.send(json.dumps(
        {"request_id": request_id, "message": message, "conversation_id": conversation_id}
    ))  # fmt: skip
    return await collect(ws, request_id)
