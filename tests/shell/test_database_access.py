"""A database the commands may read but not write: a read-only file or folder, or one
written by a newer codhechat. Reading commands work; writing ones say why they cannot."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from codhechat import paths
from codhechat.store import SCHEMA_VERSION, Store
from tests.shell.conftest import no_traceback


def seed() -> Path:
    path = paths.default_database()
    store = Store.open(path)
    conversation = store.create_conversation("kept safe")
    store.add_message(conversation.id, "user", "a question about sqlite")
    store.close()  # the last connection: SQLite removes the -wal and -shm files
    return path


@pytest.fixture
def read_only() -> Iterator[list[Path]]:
    """Make paths read-only for real, even for root (who ignores file modes): chmod as a
    user, the immutable attribute (chattr +i) as root. Undone at the end."""
    made: list[Path] = []
    yield made
    for path in reversed(made):
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        else:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def freeze(made: list[Path], path: Path) -> None:
    if os.geteuid() == 0:
        if (
            shutil.which("chattr") is None
            or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode
        ):
            pytest.skip("cannot make a file read-only for root here (no chattr +i)")
    else:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    made.append(path)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_reading_commands_work_on_a_read_only_database(cli, read_only: list[Path], what: str) -> None:
    path = seed()
    freeze(read_only, path)
    if what == "folder":
        freeze(read_only, path.parent)
    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert "kept safe" in listed.stdout
    assert cli("show", "1").returncode == 0
    assert "sqlite" in cli("search", "sqlite").stdout
    assert cli("export", "1").returncode == 0

    renamed = cli("rename", "1", "new name")
    assert renamed.returncode == 1
    assert "cannot be written" in renamed.stderr and "read-only" in renamed.stderr
    assert "Reading commands (list, show, search, export) still work" in renamed.stderr
    no_traceback(renamed)


def test_a_newer_codhechats_database_is_read_but_not_written(cli) -> None:
    path = seed()
    store = Store.open(path)
    store.db["meta"].upsert({"key": "written_by", "value": "7.0.0"}, pk="key")
    store.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    store.close()
    before = path.read_bytes()

    assert "kept safe" in cli("list").stdout
    for command in (("ask", "hello"), ("rename", "1", "x"), ("delete", "1", "--yes")):
        result = cli(*command)
        assert result.returncode == 1, command
        assert "written by codhechat 7.0.0" in result.stderr and "Upgrade codhechat" in result.stderr
        no_traceback(result)
    assert path.read_bytes() == before


def test_reading_commands_make_no_database(cli) -> None:
    assert cli("list").returncode == 0
    assert cli("search", "anything").returncode == 1  # nothing matches, like grep
    assert not paths.default_database().exists()
