"""A JSON export carries the whole tree and the path shown, in both modes, and imported
elsewhere (a fresh database, a fresh `codhechat serve`) it exports byte-identically (issue 11)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fake_openai import FakeOpenAI, Reply
from tests.remote.test_branches_both_modes import run
from tests.remote.worlds import World


def cli(world: World, place: str | Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`codhechat` in the world's mode: `place` is a database file (local) or a server URL."""
    where = ["--server", str(place)] if world.mode == "remote" else ["--database", str(place)]
    return subprocess.run([sys.executable, "-m", "codhechat", *where, *args], input="", capture_output=True,
                          text=True, env=dict(os.environ), timeout=60)  # fmt: skip


async def test_a_json_round_trip_keeps_every_branch_and_the_path_shown_byte_identically(
    world: World, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    backend = await world.backend()
    started, *_ = await run(backend.stream_reply(None, "q"))
    conversation_id = started.conversation.id
    fake_openai.enqueue(Reply("answer 2"))
    await run(backend.regenerate_reply(conversation_id))
    question = (await backend.get_messages(conversation_id))[0]
    fake_openai.enqueue(Reply("to q2"))
    await run(backend.edit_and_resend(conversation_id, question.id, "q2"))
    await backend.switch_branch(conversation_id, question.id)  # the path shown is not the newest messages
    shown = [m.content for m in await backend.get_messages(conversation_id)]
    assert shown == ["q", "answer 2"]

    here = world.server.url if world.server is not None else world.database
    exported = await asyncio.to_thread(cli, world, here, "export", "--all", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    [record] = json.loads(exported.stdout)["conversations"]
    contents = [m["content"] for m in record["messages"]]
    assert sorted(contents) == sorted(["q", "Echo: q", "answer 2", "q2", "to q2"])  # every branch
    assert contents[record["current"]] == "answer 2"  # and the path shown

    file = tmp_path / "tree.json"
    file.write_text(exported.stdout)
    elsewhere: str | Path = tmp_path / "elsewhere.db"
    if world.server is not None:
        elsewhere = world.make_server(database=tmp_path / "elsewhere.db").url
    imported = await asyncio.to_thread(cli, world, elsewhere, "import", str(file))
    assert imported.returncode == 0, imported.stderr
    again = await asyncio.to_thread(cli, world, elsewhere, "export", "--all", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert again.stdout == exported.stdout  # byte-identical
    shown_there = await asyncio.to_thread(cli, world, elsewhere, "show", "1")
    assert shown_there.returncode == 0, shown_there.stderr
    assert "answer 2" in shown_there.stdout and "to q2" not in shown_there.stdout
