"""An ASGI app served by uvicorn on a loopback port, in a thread of its own: the loopback
model (tests/fake_openai.py), the classic CoDHeChat server (tests/classic_server.py) and
`codhechat serve` itself (tests/server/conftest.py) all run this way."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn


class Served:
    """`app` on `host:port` (0: any free port). `on_loop` runs on the server's event loop
    when it starts (to keep the loop, or make loop-bound objects)."""

    def __init__(self, app: Any, *, name: str, host: str = "127.0.0.1", port: int = 0,
                 on_loop: Callable[[asyncio.AbstractEventLoop], None] | None = None,
                 start_timeout: float = 30.0, **options: Any) -> None:  # fmt: skip
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
        # TCP (without it every response waits ~40 ms for a delayed ACK).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        defaults: dict[str, Any] = {"log_level": "warning", "log_config": None, "lifespan": "off",
                                    "timeout_graceful_shutdown": 1, "loop": "asyncio"}  # fmt: skip
        self.server = uvicorn.Server(uvicorn.Config(app, **(defaults | options)))
        self.loop: asyncio.AbstractEventLoop | None = None
        self._on_loop = on_loop
        self._start_timeout = start_timeout
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            if self._on_loop is not None:
                self._on_loop(self.loop)
            await self.server.serve(sockets=[self.sock])

        asyncio.run(main())

    def start(self) -> Served:
        """Return once the listener accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop(force=True)
                raise RuntimeError(f"{self._thread.name} failed to start")
            time.sleep(0.005)
        return self

    def stop(self, *, force: bool = False, timeout: float = 10.0) -> None:
        """Stop serving (`force`: no graceful drain of open connections)."""
        self.server.should_exit = True
        self.server.force_exit = force
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(5)
        self.sock.close()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
