"""End-to-end fixtures: the wheel installed into a fresh venv, and a real terminal (tmux).

The venv is built once per test session: build the wheel (`pip wheel`, through
the build backend in an isolated build environment), `python -m venv`, and
`pip install` the wheel with its dependencies from the configured package index
(pip's cache is reused), so the tests run what a user gets from `pip install`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tmux import COLS, ROWS, TmuxTerminal, status_line

__all__ = ["COLS", "ROWS", "Installed", "TmuxTerminal", "status_line", "strip_styles"]

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], *, timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        pytest.fail(f"{shlex.join(cmd)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path
    package_dir: Path

    @property
    def codhechat(self) -> Path:
        return self.venv / "bin" / "codhechat"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """codhechat built as a wheel and pip-installed into a new venv (once per session).

    Session fixtures are set up before the per-test `isolated_dirs`, so pip sees the real
    environment here: its configured index and its cache."""
    base = tmp_path_factory.mktemp("installed")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input", "-q", "-w", str(base / "dist"), str(ROOT)],
         timeout=180, env=env, cwd=base)  # fmt: skip
    wheels = sorted((base / "dist").glob("codhechat-*.whl"))
    assert len(wheels) == 1, wheels
    venv = base / "venv"
    # A bare venv, filled by this interpreter's pip (`--python`, pip >= 22.3): the same install
    # as the venv's own pip would do, without bootstrapping pip into it (~7 s saved).
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120, env=env, cwd=base)
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-input", "-q",
          "--no-compile", str(wheels[0])], timeout=300, env=env, cwd=base)  # fmt: skip
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import codhechat, pathlib; print(pathlib.Path(codhechat.__file__).parent)"],
        timeout=60, env=env, cwd=base,
    ).stdout.strip()  # fmt: skip
    return Installed(venv=venv, wheel=wheels[0], package_dir=Path(where))


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def strip_styles(text: str) -> str:
    return _ANSI.sub("", text)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[TmuxTerminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: the e2e tests drive the app in a real terminal through tmux")
    term = TmuxTerminal(tmp_path)
    yield term
    term.close()
