"""Where conversations live in one mode (local: a SQLite file; remote: a `codhechat serve`
on loopback), for the suites that drive both modes through the same scenarios."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from codhechat.backends.local import LocalBackend
from codhechat.cli import build_app
from codhechat.config import load_settings
from codhechat.store import Store
from codhechat.ui.app import CodheChatApp
from tests.fake_openai import FakeOpenAI
from tests.remote.conftest import PortServer, remote_backend

MODES = ["local", "remote"]


class World:
    """Where conversations live in one mode, and how to reach them again after a restart."""

    def __init__(self, mode: str, tmp_path: Path, fake_openai: FakeOpenAI, make_server: Callable[..., PortServer]):
        self.mode = mode
        self.fake_openai = fake_openai
        self.database = tmp_path / "chat.db"
        self.make_server = make_server
        self.server: PortServer | None = None
        self.backends: list[Any] = []
        if mode == "remote":
            self.server = make_server(database=tmp_path / "server.db", history_window=4)

    def settings(self) -> Any:
        return load_settings({"base_url": self.fake_openai.base_url, "max_retries": 0, "history_window": 4})

    async def backend(self) -> Any:
        if self.server is None:
            backend: Any = LocalBackend(self.settings(), Store.open(self.database))
        else:
            backend = remote_backend(self.server.url)
            await backend.warm_up()
        self.backends.append(backend)
        return backend

    def app(self) -> CodheChatApp:
        if self.server is None:
            return build_app(self.settings())  # type: ignore[no-any-return]
        return CodheChatApp(remote_backend(self.server.url))

    async def restart(self) -> None:
        """Close every backend; a remote server is stopped and another started on its database."""
        for backend in self.backends:
            await backend.aclose()
        self.backends.clear()
        if self.server is not None:
            port = self.server.port
            self.server.stop()
            self.server = self.make_server(port=port, database=self.server.settings.database_url.split("///")[1],
                                           history_window=4)  # fmt: skip
