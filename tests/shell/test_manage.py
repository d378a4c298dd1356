"""`codhechat list | show | search | rename | delete` on a real database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codhechat.models import MessageStatus
from codhechat.store import Store
from tests.shell.conftest import no_traceback


@pytest.fixture
def seeded(db) -> list[int]:  # type: ignore[no-untyped-def]
    """Three conversations; the second has the most recent activity."""
    store: Store = db()
    ids = []
    for title, user, reply in [
        ("Sourdough starter", "How do I feed a sourdough starter?", "Feed it flour and water daily."),
        ("SQLite indexes", "When does SQLite use an index?", "When the query's WHERE matches it."),
        ("Trip to Lisbon", "What should I see in Lisbon?", "The Alfama district and the trams."),
    ]:
        conversation = store.create_conversation(title, model="gpt-4o-mini")
        store.add_message(conversation.id, "user", user)
        store.add_message(conversation.id, "assistant", reply, model="gpt-4o-mini")
        ids.append(conversation.id)
    store.add_message(ids[1], "user", "And covering indexes?")
    store.add_message(ids[1], "assistant", "Half an ans", status=MessageStatus.PARTIAL)
    store.close()
    return ids


def test_list_newest_first_with_limit_and_json(cli, seeded: list[int]) -> None:
    result = cli("list")
    assert result.returncode == 0 and "\x1b" not in result.stdout
    lines = result.stdout.splitlines()
    assert [line.split("  ", 2)[2] for line in lines] == ["SQLite indexes", "Trip to Lisbon", "Sourdough starter"]
    assert lines[0].split()[0] == str(seeded[1])
    assert len(cli("list", "--limit", "1").stdout.splitlines()) == 1
    rows = [json.loads(line) for line in cli("list", "--json").stdout.splitlines()]
    assert [r["id"] for r in rows] == [seeded[1], seeded[2], seeded[0]]
    assert set(rows[0]) == {"id", "title", "created_at", "updated_at", "model"}
    assert cli("list", "--limit", "0").returncode == 2


def test_list_of_an_empty_database(cli) -> None:
    result = cli("list")
    assert (result.returncode, result.stdout) == (0, "")


def test_show_prints_the_conversation_as_markdown(cli, seeded: list[int]) -> None:
    result = cli("show", str(seeded[1]))
    assert result.returncode == 0
    out = result.stdout
    assert out.startswith("# SQLite indexes\n")
    assert "## You\n\nWhen does SQLite use an index?" in out
    assert "## Assistant (gpt-4o-mini)\n\nWhen the query's WHERE matches it." in out
    assert out.index("When does") < out.index("covering indexes") < out.index("Half an ans")
    assert "partial reply" in out
    assert "\x1b" not in out

    missing = cli("show", "999")
    assert missing.returncode == 1 and "There is no conversation 999" in missing.stderr
    no_traceback(missing)


def test_search_finds_words_with_snippets_and_conversation(cli, seeded: list[int]) -> None:
    result = cli("search", "feeding")  # stemmed: finds "feed" in both messages
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert all(line.startswith(f"{seeded[0]}  Sourdough starter  ") for line in lines[::2])
    assert {lines[1].strip(), lines[3].strip()} == {
        "How do I feed a sourdough starter?",
        "Feed it flour and water daily.",
    }
    assert "\x1b" not in result.stdout and "\x02" not in result.stdout

    rows = [json.loads(line) for line in cli("search", "index", "--json").stdout.splitlines()]
    assert {r["conversation_id"] for r in rows} == {seeded[1]}
    assert len(rows) == 2 and all(r["title"] == "SQLite indexes" for r in rows)
    newest = [json.loads(line) for line in cli("search", "index", "--json", "--newest").stdout.splitlines()]
    assert newest[0]["snippet"] == "And covering indexes?"

    assert cli("search", "trams OR flour", "--syntax", "--json").stdout.count("\n") == 2
    odd = cli("search", 'what "should (NOT')  # FTS5 syntax characters taken literally
    assert odd.returncode == 1 and "nothing matches" in odd.stderr
    no_traceback(odd)
    bad = cli("search", "(unbalanced", "--syntax")
    assert bad.returncode == 2 and "Not a valid search query" in bad.stderr
    none = cli("search", "zebra")
    assert (none.returncode, none.stdout) == (1, "")


def test_rename(cli, db, seeded: list[int]) -> None:
    result = cli("rename", str(seeded[0]), "Bread   baking")
    assert result.returncode == 0, result.stderr
    assert db().get_conversation(seeded[0]).title == "Bread baking"
    assert cli("list").stdout.splitlines()[0].endswith("SQLite indexes")  # order unchanged
    assert cli("rename", "999", "x").returncode == 1
    assert cli("rename", str(seeded[0]), "  ").returncode == 2


def test_delete_with_yes_removes_the_conversation_and_its_messages(cli, db, seeded: list[int]) -> None:
    result = cli("delete", str(seeded[1]), "--yes")
    assert result.returncode == 0, result.stderr
    assert "Deleted conversation" in result.stderr and "4 messages" in result.stderr
    store = db()
    assert store.get_conversation(seeded[1]) is None
    assert store.db.execute("select count(*) from messages where conversation_id = ?", [seeded[1]]).fetchone()[0] == 0
    assert cli("search", "index").returncode == 1  # gone from the index too
    assert store.count_conversations() == 2


def test_delete_refuses_without_yes_when_not_on_a_terminal(cli, db, seeded: list[int]) -> None:
    result = cli("delete", str(seeded[0]))
    assert result.returncode == 2 and "--yes" in result.stderr
    assert db().count_conversations() == 3
    unknown = cli("delete", str(seeded[0]), "999", "--yes")  # checked before anything goes
    assert unknown.returncode == 1 and db().count_conversations() == 3


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("n\n", False)])
def test_delete_asks_on_a_terminal(
    shell_env, db, seeded: list[int], tmp_path: Path, answer: str, deleted: bool
) -> None:
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "codhechat", "delete", str(seeded[2])],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=shell_env, cwd=tmp_path,
    )  # fmt: skip
    os.close(slave)
    try:
        assert proc.stderr is not None
        prompt = b""
        deadline = time.monotonic() + 15
        while b"[y/N]" not in prompt and time.monotonic() < deadline:
            prompt += os.read(proc.stderr.fileno(), 200)
        assert b"Trip to Lisbon" in prompt
        os.write(master, answer.encode())
        proc.communicate(timeout=15)
    finally:
        proc.kill()
        os.close(master)
    assert proc.returncode == (0 if deleted else 1)
    assert (db().get_conversation(seeded[2]) is None) == deleted


def test_config_warnings_go_to_stderr_once(cli) -> None:
    from codhechat import paths

    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('modle = "x"\n')
    result = cli("list")
    assert result.returncode == 0
    assert result.stderr.count("unknown setting `modle` (did you mean `model`?)") == 1
    assert result.stdout == ""


def test_models_lists_every_provider_grouped_with_the_reason_one_is_down(cli, fake_openai) -> None:
    from codhechat import paths

    config = paths.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[providers.fixed]\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["alpha", "beta"]\n\n'
        '[providers.down]\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    result = cli("models")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("default  " + fake_openai.base_url)
    assert "  gpt-4o-mini" in lines
    assert any(line.startswith("down  http://127.0.0.1:9/v1  (Cannot connect") for line in lines)
    assert "  fixed/alpha" in lines and "  fixed/beta" in lines  # listed in the config: not asked
    as_json = cli("models", "--json").stdout.splitlines()
    assert '{"provider": "fixed", "model": "fixed/alpha"}' in as_json
