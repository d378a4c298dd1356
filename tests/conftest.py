"""Shared fixtures: every test gets its own platform folders and a loopback model server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI
from tests.support.env import xdg_dirs

ENV_TO_CLEAR = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CODHECHAT_MODEL",
    "CODHECHAT_BASE_URL",
    "CODHECHAT_API_KEY",
    "CODHECHAT_SYSTEM_PROMPT",
    "CODHECHAT_HISTORY_WINDOW",
    "CODHECHAT_DATABASE",
    "CODHECHAT_THEME",
    "CODHECHAT_SERVER",
)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point XDG folders and the working directory at tmp_path; no ambient settings."""
    home = tmp_path / "home"
    for name, folder in xdg_dirs(home).items():
        monkeypatch.setenv(name, folder)
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session's loopback server, with an empty script and record per test."""
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()
