"""The linter, the formatter and the type checker hold the line because the suite runs them:
CI is the README's test command, so a lint, layout or type error fails it like any test.
Their settings are pyproject.toml's ([tool.ruff], [tool.mypy])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ["src", "tests", "bench"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The tool from this interpreter's environment (the venv the README makes), at the root."""
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_check_passes() -> None:
    result = run("ruff", "check", "--no-cache", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_changes_nothing() -> None:
    result = run("ruff", "format", "--check", "--no-cache", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(600)  # a fresh clone has no mypy cache: the first run reads every stub (~30 s)
def test_mypy_passes_on_src() -> None:
    result = run("mypy", "src")
    assert result.returncode == 0, result.stdout + result.stderr
