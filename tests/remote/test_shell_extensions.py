"""`codhechat --server URL export --all --format json` and `import` against real
`codhechat serve` servers (issue 11): everything the server keeps travels (pin, the
conversation's model and system prompt, token usage), the round trip is byte-identical,
the server's own GET /export writes the same bytes, and `search` finds the imported text."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from codhechat.backends.remote import RemoteBackend


def cli(server: Any, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codhechat", "--server", server.url, *args], input="",
        capture_output=True, text=True, env=dict(os.environ), cwd=cwd, timeout=60,
    )  # fmt: skip


async def _pin_and_choose(url: str, pinned: int, chosen: int) -> str:
    """Pin one conversation and give another a model and system prompt, as the app's F4/F5/F9
    would (the same sign-in as the shell's); returns the server's own GET /export."""
    backend = RemoteBackend(url)
    try:
        await backend.learn_extensions()
        assert await backend.set_pinned(pinned, True) is not None
        assert await backend.set_conversation_options(chosen, model="gpt-4o", system_prompt="Be brief.") is not None
        token = await backend.api.token()
        async with httpx.AsyncClient(base_url=url) as http:
            return (await http.get("/export", headers={"Authorization": f"Bearer {token}"})).text
    finally:
        await backend.aclose()


def test_json_export_import_round_trip_through_the_server_is_byte_identical(
    make_server: Any, tmp_path: Path, isolated_dirs: Path
) -> None:
    first = make_server(database=tmp_path / "first.db", allowed_models=["gpt-4o"])
    second = make_server(database=tmp_path / "second.db")
    assert cli(first, tmp_path, "ask", "tell me about kestrels").returncode == 0
    assert cli(first, tmp_path, "ask", "-c", "and their nests?").returncode == 0
    assert cli(first, tmp_path, "ask", "a second conversation").returncode == 0
    listed = [json.loads(line) for line in cli(first, tmp_path, "list", "--json").stdout.splitlines()]
    ids = {row["title"]: row["id"] for row in listed}
    served = asyncio.run(_pin_and_choose(first.url, ids["a second conversation"], ids["tell me about kestrels"]))

    exported = cli(first, tmp_path, "export", "--all", "--format", "json", "-o", "first.json")
    assert exported.returncode == 0, exported.stderr
    text = (tmp_path / "first.json").read_text()
    assert text == served  # the client's export and the server's: one format, the same bytes
    document = json.loads(text)
    kestrels, second_one = document["conversations"]
    assert kestrels["model"] == "gpt-4o" and kestrels["system_prompt"] == "Be brief."
    assert second_one["pinned_at"] is not None
    assert kestrels["messages"][1]["prompt_tokens"] > 0 and kestrels["messages"][1]["completion_tokens"] > 0

    imported = cli(second, tmp_path, "import", "first.json")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("Imported 2 conversations (6 messages)")
    again = cli(second, tmp_path, "export", "--all", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert again.stdout == text  # byte-identical
    twice = cli(second, tmp_path, "import", "first.json")
    assert "Skipped 2 conversations already here" in twice.stdout

    found = cli(second, tmp_path, "search", "nests", "--json")
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert hits and {h["title"] for h in hits} == {"tell me about kestrels"}
    listed = [json.loads(line) for line in cli(second, tmp_path, "list", "--json").stdout.splitlines()]
    assert listed[0]["title"] == "a second conversation"  # pinned first


def test_an_import_into_a_server_says_what_it_left_out(make_server: Any, tmp_path: Path, isolated_dirs: Path) -> None:
    """A local-mode file may hold tool messages, which a server conversation cannot: the
    rest is imported, and `import` says what was left out."""
    at = "2026-01-02T03:04:05+00:00"
    document = {"format": "codhechat", "version": 1, "conversations": [{
        "title": "with a tool", "created_at": at, "updated_at": at, "messages": [
            {"role": "user", "content": "what is 6 times 7?", "created_at": at},
            {"role": "assistant", "content": "", "created_at": at,
             "tool_calls": [{"id": "c1", "name": "calc", "arguments": "{}"}]},
            {"role": "tool", "content": "42", "created_at": at, "tool_call_id": "c1", "tool_name": "calc"},
            {"role": "assistant", "content": "It is 42.", "created_at": at},
        ]}]}  # fmt: skip
    (tmp_path / "tools.json").write_text(json.dumps(document))
    server = make_server()
    imported = cli(server, tmp_path, "import", "tools.json")
    assert imported.returncode == 0, imported.stderr
    assert "Imported 1 conversation" in imported.stdout and "Left out: 1 tool message." in imported.stdout
    shown = cli(server, tmp_path, "show", json.loads(cli(server, tmp_path, "list", "--json").stdout)["id"].__str__())
    assert "what is 6 times 7?" in shown.stdout and "It is 42." in shown.stdout
