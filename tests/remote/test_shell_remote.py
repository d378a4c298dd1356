"""The shell commands with --server: they read and write the server's conversations, not
the local database, and say clearly what a classic server cannot do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codhechat import paths

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path, isolated_dirs: Path) -> Run:
    def run(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "codhechat", "--server", server.url, *args], input="",
            capture_output=True, text=True, env=dict(os.environ), cwd=tmp_path, timeout=60,
        )  # fmt: skip

    return run


def test_list_show_search_export_and_ask_work_against_codhechat_serve(cli: Run, codhe_server: Any) -> None:
    asked = cli(codhe_server, "ask", "tell me about kestrels")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout == "Echo: tell me about kestrels\n"
    listed = cli(codhe_server, "list", "--json")
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["title"] == "tell me about kestrels"
    shown = cli(codhe_server, "show", str(row["id"]))
    assert "## You\n\ntell me about kestrels" in shown.stdout and "Echo: tell me about kestrels" in shown.stdout
    found = cli(codhe_server, "search", "kestrels", "--json")
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert {h["conversation_id"] for h in hits} == {row["id"]} and "kestrels" in hits[0]["snippet"]
    exported = json.loads(cli(codhe_server, "export", str(row["id"]), "--format", "json").stdout)
    assert [m["content"] for m in exported["conversations"][0]["messages"]] == [
        "tell me about kestrels",
        "Echo: tell me about kestrels",
    ]
    again = cli(codhe_server, "ask", "-c", "and falcons?")
    assert again.returncode == 0 and again.stdout == "Echo: and falcons?\n"
    renamed = cli(codhe_server, "rename", str(row["id"]), "Birds")
    assert renamed.returncode == 0, renamed.stderr
    assert json.loads(cli(codhe_server, "list", "--json").stdout)["title"] == "Birds"
    assert not paths.default_database().exists()  # the local database was never touched


def test_a_classic_server_says_what_it_cannot_do(cli: Run, classic_server: Any, tmp_path: Path) -> None:
    (tmp_path / "nothing.json").write_text(json.dumps({"format": "codhechat", "version": 1, "conversations": []}))
    assert cli(classic_server, "ask", "hello there").returncode == 0
    assert "hello there" in cli(classic_server, "list").stdout
    for command in (("search", "hello"), ("rename", "1", "x"), ("import", "nothing.json")):
        result = cli(classic_server, *command)
        assert result.returncode != 0, command
        assert "cannot" in result.stderr and "Traceback" not in result.stderr, result.stderr
