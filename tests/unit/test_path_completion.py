"""`@path` completion in the prompt follows a shell's Tab."""

from __future__ import annotations

from pathlib import Path

import pytest

from codhechat.ui.path_completion import Completion, complete


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print()\n")
    (tmp_path / "notes-monday.txt").write_text("a")
    (tmp_path / "notes-tuesday.txt").write_text("b")
    (tmp_path / ".env").write_text("SECRET=1")
    return tmp_path


def test_a_unique_file_is_completed_and_named(tree: Path) -> None:
    assert complete("src/ma", tree) == Completion("src/main.py", file=tree / "src" / "main.py")


def test_a_unique_folder_gets_its_slash(tree: Path) -> None:
    assert complete("sr", tree) == Completion("src/")


def test_several_matches_complete_their_common_prefix_then_are_listed(tree: Path) -> None:
    assert complete("no", tree) == Completion("notes-")
    assert complete("notes-", tree) == Completion("notes-", choices=("notes-monday.txt", "notes-tuesday.txt"))


def test_dot_files_only_when_asked_for(tree: Path) -> None:
    assert complete("", tree).choices == ("notes-monday.txt", "notes-tuesday.txt", "src/")
    assert complete(".e", tree) == Completion(".env", file=tree / ".env")


def test_nothing_matches_or_no_such_folder_changes_nothing(tree: Path) -> None:
    assert complete("zzz", tree) == Completion("zzz")
    assert complete("nowhere/x", tree) == Completion("nowhere/x")


def test_home_is_tilde(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tree))
    assert complete("~/src/m", Path("/")) == Completion("~/src/main.py", file=tree / "src" / "main.py")
