"""`codhechat export` and `codhechat import` of codhechat's own JSON format."""

from __future__ import annotations

import json
from pathlib import Path

from codhechat.attachments import prepare
from codhechat.models import Generation, MessageStatus
from codhechat.store import Store
from tests.shell.conftest import no_traceback
from tests.support.files import png


def seed(store: Store) -> None:
    first = store.create_conversation('Ünïcode & "quotes" 🙂', model="gpt-4o")
    store.add_message(first.id, "user", "Line one\nLine two\n\n```py\nx = '\\n'\n```",
                      attachments=[prepare("notes.md", b"# notes\n"), prepare("dot.png", png())])  # fmt: skip
    store.add_message(first.id, "assistant", "Answer 🙂", model="gpt-4o")
    second = store.create_conversation("Failures")
    store.add_message(second.id, "user", "Try")
    reply = store.add_message(second.id, "assistant", "", status=MessageStatus.PARTIAL, model="m1")
    store.update_message(reply.id, content="half", status=MessageStatus.ERROR, error="boom (503)", usage=(7, 2),
                         finish_reason="cut", reasoning="hmm", thinking_ms=1200, elapsed_ms=3400)  # fmt: skip
    store.set_generation(first.id, Generation(temperature=0.5, seed=1))
    store.set_pinned(first.id, True)
    store.set_conversation_options(first.id, model="gpt-4o", system_prompt="Be brief.")
    store.add_message(second.id, "user", "Again")
    store.add_message(second.id, "assistant", "cut", status=MessageStatus.PARTIAL, model="m1")


def test_json_round_trips_exactly(cli, db, tmp_path: Path) -> None:
    seed(db())
    first = cli("export", "--all", "--format", "json", "-o", "all.json")
    assert first.returncode == 0, first.stderr
    assert "Exported 2 conversations to all.json" in first.stderr
    exported = (tmp_path / "all.json").read_text()
    document = json.loads(exported)
    assert (document["format"], document["version"]) == ("codhechat", 2)
    assert [c["title"] for c in document["conversations"]] == ['Ünïcode & "quotes" 🙂', "Failures"]
    failed = document["conversations"][1]["messages"][1]
    assert failed == {"role": "assistant", "content": "half", "status": "error", "model": "m1",
                      "created_at": failed["created_at"], "error": "boom (503)", "prompt_tokens": 7,
                      "completion_tokens": 2, "finish_reason": "cut", "reasoning": "hmm", "thinking_ms": 1200,
                      "elapsed_ms": 3400, "parent": 0, "next": 2, "attachments": []}  # fmt: skip
    assert document["conversations"][1]["current"] == 3  # one path: the last message
    attached = document["conversations"][0]["messages"][0]["attachments"]
    assert [(a["name"], a["mime"]) for a in attached] == [("notes.md", "text/plain"), ("dot.png", "image/png")]
    first = document["conversations"][0]
    assert (first["system_prompt"], first["pinned_at"] is not None) == ("Be brief.", True)
    assert first["generation"] == {"temperature": 0.5, "seed": 1}

    other = {"CODHECHAT_DATABASE": str(tmp_path / "other.db")}
    imported = cli("import", "all.json", env=other)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "Imported 2 conversations (6 messages) from all.json (codhechat export).\n"
    again = cli("export", "--all", "--format", "json", env=other)
    assert again.stdout == exported

    # Into the same database twice: nothing is duplicated.
    twice = cli("import", "all.json", env=other)
    assert twice.returncode == 0
    assert "Imported 0 conversations" in twice.stdout and "Skipped 2 conversations already here" in twice.stdout
    assert Store.open(tmp_path / "other.db").count_conversations() == 2


def seed_tree(store: Store) -> int:
    """A conversation whose question was edited twice and whose answer was regenerated,
    left on a side branch; returns its id."""
    conversation = store.create_conversation("Branches", model="m1")
    question = store.add_message(conversation.id, "user", "first question")
    answer = store.add_message(conversation.id, "assistant", "first answer")
    store.add_message(conversation.id, "assistant", "second answer", parent=question.id)
    store.add_message(conversation.id, "user", "follow-up")
    store.add_message(conversation.id, "assistant", "to the follow-up")
    for edit in ("question, edited", "question, again"):
        store.edit_message(conversation.id, question.id, edit)
        store.add_message(conversation.id, "assistant", f"to {edit}")
    store.switch_branch(conversation.id, question.id)  # back on the first question: its second answer
    store.switch_branch(conversation.id, answer.id)  # and then its first
    store.set_pinned(conversation.id, True)
    store.set_conversation_options(conversation.id, model="m2", system_prompt="Be brief.")
    return conversation.id


def test_json_carries_the_whole_tree_and_imports_it_exactly(cli, db, tmp_path: Path) -> None:
    store = db()
    conversation_id = seed_tree(store)
    path = [m.content for m in store.get_messages(conversation_id)]
    assert path == ["first question", "first answer"]
    exported = cli("export", "--all", "--format", "json").stdout
    [conversation] = json.loads(exported)["conversations"]
    messages = conversation["messages"]
    assert [(m["content"], m["parent"]) for m in messages] == [
        ("first question", None),
        ("first answer", 0),
        ("second answer", 0),
        ("follow-up", 2),
        ("to the follow-up", 3),
        ("question, edited", None),
        ("to question, edited", 5),
        ("question, again", None),
        ("to question, again", 7),
    ]
    assert messages[conversation["current"]]["content"] == "first answer"
    # Each message remembers the version after it last shown: back to the first question
    # comes back to its second answer's follow-up, as it was left.
    assert [m["next"] for m in messages] == [1, None, 3, 4, None, 6, None, 8, None]
    assert (conversation["model"], conversation["system_prompt"], conversation["pinned_at"] is not None) == (
        "m2", "Be brief.", True)  # fmt: skip
    # Markdown and `show` print the path shown, not the other branches.
    for command in (("export", str(conversation_id)), ("show", str(conversation_id))):
        shown = cli(*command).stdout
        assert "first answer" in shown and "second answer" not in shown and "edited" not in shown

    other = {"CODHECHAT_DATABASE": str(tmp_path / "other.db")}
    assert cli("export", "--all", "--format", "json", "-o", "tree.json").returncode == 0
    imported = cli("import", "tree.json", env=other)
    assert imported.stdout == "Imported 1 conversation (9 messages) from tree.json (codhechat export).\n"
    assert cli("export", "--all", "--format", "json", env=other).stdout == exported  # byte for byte
    copy = Store.open(tmp_path / "other.db")
    [restored] = copy.list_conversations()
    assert (restored.model, restored.system_prompt, restored.pinned_at) == ("m2", "Be brief.", store.get_conversation(
        conversation_id).pinned_at)  # fmt: skip
    assert [m.content for m in copy.get_messages(restored.id)] == path
    assert [m.branch for m in copy.get_messages(restored.id)] == [(1, 3), (1, 2)]
    second = copy.get_messages(restored.id)[1].siblings[1]
    copy.switch_branch(restored.id, second)
    assert [m.content for m in copy.get_messages(restored.id)][1:] == ["second answer", "follow-up", "to the follow-up"]


def test_a_version_1_file_still_imports_as_one_path(cli, db, tmp_path: Path) -> None:
    messages = [
        GOOD["messages"][0],
        GOOD["messages"][0] | {"role": "assistant", "content": "hello"},
        GOOD["messages"][0] | {"content": "and more", "parent": None},
    ]  # a `parent` in version 1 is not ours
    (tmp_path / "v1.json").write_text(json.dumps({"format": "codhechat", "version": 1,
                                                  "conversations": [GOOD | {"messages": messages}]}))  # fmt: skip
    result = cli("import", "v1.json")
    assert result.returncode == 0, result.stderr
    store = db()
    [conversation] = store.list_conversations()
    assert [m.content for m in store.get_messages(conversation.id)] == ["hi", "hello", "and more"]
    assert [m.parent_id is None for m in store.all_messages(conversation.id)] == [True, False, False]


def test_export_one_conversation_as_markdown(cli, db, tmp_path: Path) -> None:
    seed(db())
    ids = [c.id for c in db().list_conversations()]
    result = cli("export", str(min(ids)))
    assert result.returncode == 0
    assert result.stdout.startswith('# Ünïcode & "quotes" 🙂\n')
    assert "## You\n\nLine one\nLine two" in result.stdout and "## Assistant (gpt-4o)" in result.stdout
    assert cli("export", str(max(ids)), "--format", "markdown", "-o", "one.md").returncode == 0
    text = (tmp_path / "one.md").read_text()
    assert text.startswith("# Failures") and "failed: boom (503)" in text and "partial reply" in text


def test_export_usage_and_unknown_ids(cli, db, tmp_path: Path) -> None:
    seed(db())
    assert cli("export").returncode == 2
    assert cli("export", "1", "--all").returncode == 2
    assert cli("export", "1", "--format", "xml").returncode == 2
    missing = cli("export", "1", "99", "-o", "x.json", "--format", "json")
    assert missing.returncode == 1 and "There is no conversation 99" in missing.stderr
    assert not (tmp_path / "x.json").exists()


def test_malformed_files_import_nothing_and_say_why(cli, db, tmp_path: Path) -> None:
    good = {"title": "ok", "created_at": "2025-01-01T10:00:00+00:00", "updated_at": "2025-01-01T10:00:00+00:00",
            "model": None, "messages": [{"role": "user", "content": "hi", "status": "complete", "model": None,
                                         "created_at": "2025-01-01T10:00:00+00:00", "error": None}]}  # fmt: skip
    bad_role = json.loads(json.dumps(good)) | {"title": "bad"}
    bad_role["messages"][0]["role"] = "robot"
    bad_time = json.loads(json.dumps(good)) | {"created_at": "yesterday"}
    cases = {
        "role.json": ({"format": "codhechat", "version": 1, "conversations": [good, bad_role]},
                      "conversation 2, message 1: `role` must be one of"),
        "time.json": ({"format": "codhechat", "version": 1, "conversations": [bad_time]},
                      "`created_at` must be an ISO 8601 time"),
        "version.json": ({"format": "codhechat", "version": 99, "conversations": []}, "format version 99"),
        "parent.json": ({"format": "codhechat", "version": 2, "conversations": [
                            good | {"messages": [good["messages"][0] | {"parent": 0}]}]},
                        "`parent` must be the index of an earlier message"),
        "current.json": ({"format": "codhechat", "version": 2, "conversations": [good | {"current": 1}]},
                         "`current` must be the index of one of its messages"),
        "next.json": ({"format": "codhechat", "version": 2, "conversations": [
                          good | {"messages": [good["messages"][0] | {"next": 0}]}]},
                      "`next` must be the index of a message that follows it"),
        "other.json": ({"hello": "world"}, "neither a codhechat export nor a ChatGPT"),
    }  # fmt: skip
    for name, (document, message) in cases.items():
        (tmp_path / name).write_text(json.dumps(document))
        result = cli("import", name)
        assert result.returncode == 1, (name, result.stderr)
        assert message in result.stderr
        assert "nothing was imported" in result.stderr.lower()
        assert result.stderr.startswith("codhechat: ")
        no_traceback(result)
    (tmp_path / "broken.json").write_text('{"format": "codhechat", "conver')
    result = cli("import", "broken.json")
    assert result.returncode == 1 and "is not valid JSON" in result.stderr
    assert cli("import", "nope.json").returncode == 2
    assert db().count_conversations() == 0


GOOD = {"title": "ok", "created_at": "2025-01-01T10:00:00+00:00", "updated_at": "2025-01-01T10:00:00+00:00",
        "model": None, "messages": [{"role": "user", "content": "hi", "status": "complete", "model": None,
                                     "created_at": "2025-01-01T10:00:00+00:00", "error": None}]}  # fmt: skip


def test_hostile_files_get_a_clear_message_and_import_nothing(cli, db, tmp_path: Path) -> None:
    deep_array = "[" * 200_000 + "]" * 200_000  # beyond the parser's recursion limit
    deep_valid = {"format": "codhechat", "version": 1, "conversations": [GOOD], "extra": [[[[[[[[]]]]]]]]}
    for _ in range(70):
        deep_valid = {"nested": deep_valid}
    surrogate = json.dumps({"format": "codhechat", "version": 1, "conversations": [GOOD | {"title": "x"}]})
    surrogate = surrogate.replace('"title": "x"', '"title": "bad \\ud800 title"')
    cases = {
        "deep.json": (deep_array, "nested more than 64 levels deep"),
        "deep2.json": (json.dumps(deep_valid), "nested more than 64 levels deep"),
        "surrogate.json": (surrogate, "conversation 1, title: not valid Unicode text"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        result = cli("import", name)
        assert result.returncode == 1, (name, result.stderr)
        assert message in result.stderr and "nothing was imported" in result.stderr.lower()
        no_traceback(result)
    assert db().count_conversations() == 0


def test_a_zip_bomb_is_refused_without_unpacking_it(cli, db, tmp_path: Path) -> None:
    import tracemalloc
    import zipfile

    import pytest

    from codhechat.commands.import_file import ImportLimits, MalformedFile, load_json

    bomb = tmp_path / "export.zip"
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("conversations.json", "w") as member,
    ):
        member.write(b"[" + b" " * (64 * 1024 * 1024))  # 64 MB that deflate to a few KB
    assert bomb.stat().st_size < 200_000
    result = cli("import", str(bomb), "--max-size", "2")
    assert result.returncode == 1
    assert "more than 2 MB" in result.stderr and "--max-size 8" in result.stderr
    no_traceback(result)
    tracemalloc.start()
    try:
        with pytest.raises(MalformedFile):
            load_json(bomb, ImportLimits(2))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # never unpacked: far less than its 64 MB


def test_import_help_states_its_limits(cli) -> None:
    shown = " ".join(cli("import", "--help").stdout.split())
    assert "at most 256 MB of JSON" in shown and "64 levels deep" in shown and "100,000 conversations" in shown


def test_more_conversations_than_the_limit_are_refused(tmp_path: Path) -> None:
    import pytest

    from codhechat.commands.import_file import ImportLimits, MalformedFile, check_records
    from codhechat.models import ConversationRecord

    limits = ImportLimits()
    limits.MAX_CONVERSATIONS = 3  # type: ignore[misc]
    records = [ConversationRecord(f"c{i}", "2025-01-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00") for i in range(4)]
    with pytest.raises(MalformedFile, match="holds 4 conversations, more than the 3"):
        check_records(records, tmp_path / "x.json", limits)
    check_records(records[:3], tmp_path / "x.json", limits)


def test_thinking_is_shown_only_when_asked(cli, db) -> None:
    store = db()
    c = store.create_conversation("thinker")
    store.add_message(c.id, "user", "why?")
    reply = store.add_message(c.id, "assistant", "", status=MessageStatus.PARTIAL)
    store.update_message(reply.id, content="Because.", status=MessageStatus.COMPLETE, reasoning="weighing it up",
                         thinking_ms=2500)  # fmt: skip
    plain = cli("show", str(c.id)).stdout
    assert "Because." in plain and "weighing it up" not in plain
    shown = cli("show", str(c.id), "--reasoning").stdout
    assert "> _Thinking (2.5 s)_" in shown and "> weighing it up" in shown
    exported = cli("export", str(c.id), "--reasoning").stdout
    assert "> weighing it up" in exported
