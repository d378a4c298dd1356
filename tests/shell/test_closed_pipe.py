"""Every command stops quietly when its reader goes away (`codhechat config | head`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codhechat import paths
from codhechat.store import Store


@pytest.fixture
def seeded(isolated_dirs: Path) -> None:
    store = Store.open(paths.default_database())
    for i in range(3):
        conversation = store.create_conversation(f"topic {i}")
        store.add_message(conversation.id, "user", "a question about pipes " * 200)
        store.add_message(conversation.id, "assistant", "an answer about pipes " * 200)
    store.close()


@pytest.mark.parametrize(
    "args",
    [("config",), ("list",), ("show", "1"), ("search", "pipes"), ("export", "--all"), ("--help",),
     ("ask", "--help"), ("ask", "hello")],
    ids=lambda args: " ".join(args),
)  # fmt: skip
def test_a_closed_pipe_ends_the_command_quietly(
    seeded: None, shell_env: dict[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "codhechat", *args], stdout=write, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=shell_env, cwd=tmp_path, timeout=30,
        )  # fmt: skip
    finally:
        os.close(write)
    assert done.stderr.decode() == ""  # no traceback, no "Exception ignored"
    assert done.returncode == 0
