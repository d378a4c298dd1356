"""Build the real app on a temporary database, talking to the loopback model server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from codhechat.cli import build_app
from codhechat.config import load_settings
from codhechat.ui.app import CodheChatApp
from tests.fake_openai import FakeOpenAI

AppFactory = Callable[..., CodheChatApp]


@pytest.fixture
def make_app(fake_openai: FakeOpenAI) -> AppFactory:
    def make(*, theme: str | None = None, resume: int | str | None = None, **flags: Any) -> CodheChatApp:
        settings = load_settings({"base_url": fake_openai.base_url, "max_retries": 0, **flags})
        return build_app(settings, theme=theme, resume=resume)  # type: ignore[no-any-return]

    return make


async def wait_until(pilot: Pilot, predicate: Callable[[], object], timeout: float = 20.0) -> None:
    """Let the app run until `predicate()` holds; fail loudly if it never does. The
    timeout is a ceiling for a busy machine (one core, a CPU hog beside), not a speed test."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        await pilot.pause(0.02)
    await pilot.pause()


async def type_text(pilot: Pilot, text: str) -> None:
    await pilot.press(*[{" ": "space", "\n": "ctrl+j"}.get(c, c) for c in text])


async def palette_titles(app: CodheChatApp) -> list[str]:
    """The command palette's entries with nothing typed: what every provider it uses offers."""
    titles: list[str] = []
    for source in app.COMMANDS | app.screen.COMMANDS:
        provider = (source if isinstance(source, type) else source())(app.screen)
        async for hit in provider.discover():
            if hit is not NotImplemented:
                titles.append(str(hit.text))
    return titles


async def in_thread(func: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(func, *args)
