"""Shell tests run the installed `codhechat` command as a subprocess, against the
loopback model server, with real files in the test's own folders."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codhechat import paths
from codhechat.store import Store
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.timeout(60)

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def shell_env(fake_openai: FakeOpenAI, isolated_dirs: Path) -> dict[str, str]:
    env = dict(os.environ)  # the isolated XDG folders set by the autouse fixture
    env.update(OPENAI_BASE_URL=fake_openai.base_url, CODHECHAT_MAX_RETRIES="0")
    env.pop("NO_COLOR", None)
    return env


@pytest.fixture
def cli(shell_env: dict[str, str], tmp_path: Path) -> Run:
    """Run `python -m codhechat ARGS`; stdin is empty unless `input` is given."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return subprocess.run(
            [sys.executable, "-m", "codhechat", *args],
            input=input if input is not None else "",
            capture_output=True, text=True, env={**shell_env, **(env or {})},
            cwd=tmp_path, timeout=timeout,
        )  # fmt: skip

    return run


@pytest.fixture
def db(isolated_dirs: Path) -> Callable[[], Store]:
    """Open the database the command uses (the default one in the test's data folder)."""

    def open_store() -> Store:
        return Store.open(paths.default_database())

    return open_store


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stdout + result.stderr
