"""README.md is the one place a newcomer needs: its commands must be the ones CI proves."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    command = ci_lines[-1]
    assert "pytest" in command
    assert command in (ROOT / "README.md").read_text()


def test_readme_documents_every_footer_binding() -> None:
    readme = (ROOT / "README.md").read_text()
    for key in (
        "Enter",
        "Ctrl+J",
        "Ctrl+N",
        "Esc",
        "Ctrl+R",
        "Ctrl+B",
        "Ctrl+T",
        "Ctrl+Q",
        "Ctrl+P",
        "F1",
        "F2",
        "Ctrl+F",
        "F3",
        "F4",
        "F8",
        "Ctrl+Z",
        "Ctrl+G",
        "Ctrl+O",
        "Up",
        "F5",
        "F9",
        "F12",
    ):
        assert f"`{key}`" in readme, key
