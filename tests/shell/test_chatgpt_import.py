"""`codhechat import` of a ChatGPT data export (conversations.json, or the .zip).

The export is generated here in ChatGPT's shape: each conversation a tree of
nodes under `mapping`, with the hidden system message ChatGPT starts with,
custom instructions, an edited prompt (two branches), a code-interpreter
round trip (assistant -> tool), an image beside text, and empty nodes.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from codhechat.models import MessageStatus
from tests.shell.conftest import no_traceback

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class Tree:
    """Builds one ChatGPT conversation's `mapping`."""

    def __init__(self) -> None:
        self.mapping: dict[str, Any] = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
        self.clock = T0

    def add(self, node_id: str, parent: str, role: str | None, parts: list[Any] | None = None,
            *, content_type: str = "text", recipient: str = "all", hidden: bool = False,
            model: str | None = None, extra: dict[str, Any] | None = None) -> str:  # fmt: skip
        self.clock += 10
        message = None
        if role is not None:
            content: dict[str, Any] = {"content_type": content_type}
            if parts is not None:
                content["parts"] = parts
            content.update(extra or {})
            metadata: dict[str, Any] = {}
            if hidden:
                metadata["is_visually_hidden_from_conversation"] = True
            if model:
                metadata["model_slug"] = model
            message = {
                "id": node_id, "author": {"role": role, "name": None, "metadata": {}},
                "create_time": self.clock, "update_time": None, "content": content,
                "status": "finished_successfully", "end_turn": True, "weight": 1.0,
                "metadata": metadata, "recipient": recipient,
            }  # fmt: skip
        self.mapping[node_id] = {"id": node_id, "message": message, "parent": parent, "children": []}
        self.mapping[parent]["children"].append(node_id)
        return node_id

    def conversation(self, title: str | None, current: str, **extra: Any) -> dict[str, Any]:
        return {
            "title": title, "create_time": T0, "update_time": self.clock, "mapping": self.mapping,
            "moderation_results": [], "current_node": current, "plugin_ids": None,
            "conversation_id": f"conv-{title}", "default_model_slug": "gpt-4o", "id": f"conv-{title}",
            **extra,
        }  # fmt: skip


def realistic_export() -> list[dict[str, Any]]:
    # 1. Branches, system/hidden/tool messages, an image, empty nodes.
    t = Tree()
    t.add("sys", "root", "system", [""], hidden=True)
    t.add("ctx", "sys", "user", None, content_type="user_editable_context", hidden=True,
          extra={"user_profile": "I am a baker", "user_instructions": "Be brief"})  # fmt: skip
    t.add("u1", "ctx", "user", ["How many grams of flour in a cup?"])
    t.add("a1", "u1", "assistant", ["About 120 g of all-purpose flour."], model="gpt-4o")
    # The user edited their next prompt: the first version and its reply are on the old branch.
    t.add("u2-old", "a1", "user", ["And sugar?"])
    t.add("a2-old", "u2-old", "assistant", ["About 200 g."], model="gpt-4o")
    t.add("u2", "a1", "user", ["Compute 3 cups in grams, please."])
    t.add("code", "u2", "assistant", None, content_type="code", recipient="python",
          extra={"language": "unknown", "text": "3 * 120"})  # fmt: skip
    t.add("out", "code", "tool", None, content_type="execution_output", extra={"text": "360"})
    t.add("a2", "out", "assistant", ["3 cups is **360 g**."], model="gpt-4o")
    t.add("u3", "a2", "user", [
        {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-abc",
         "size_bytes": 12345, "width": 512, "height": 512},
        "What bread is this?",
    ], content_type="multimodal_text")  # fmt: skip
    t.add("a3", "u3", "assistant", [""], model="gpt-4o")  # an empty node
    t.add("a3b", "a3", "assistant", ["A sourdough boule."], model="gpt-4o-mini")
    baking = t.conversation("Baking conversions", "a3b")

    # 2. Only a system message and an image: nothing to import.
    e = Tree()
    e.add("sys", "root", "system", [""], hidden=True)
    e.add("img", "sys", "user", [{"content_type": "image_asset_pointer", "asset_pointer": "x"}],
          content_type="multimodal_text")  # fmt: skip
    empty = e.conversation("Just a picture", "img")

    # 3. No title (ChatGPT leaves it null sometimes): named after the first prompt.
    n = Tree()
    n.add("u", "root", "user", ["Translate 'bonjour'"])
    n.add("a", "u", "assistant", ["Hello."], model="gpt-4o")
    untitled = n.conversation(None, "a")
    return [baking, empty, untitled]


def test_imports_every_branch_shows_the_displayed_one_and_reports_what_was_left_out(cli, db, tmp_path: Path) -> None:
    (tmp_path / "conversations.json").write_text(json.dumps(realistic_export()))
    result = cli("import", "conversations.json")
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    out = result.stdout
    assert "Imported 2 conversations (10 messages) from conversations.json (ChatGPT export)." in out
    assert "Skipped 1 conversation with no text messages: 'Just a picture'." in out
    left_out = out.split("Left out: ", 1)[1]
    for what in ("2 system messages", "2 tool messages", "1 hidden message,",
                 "4 empty nodes",
                 "2 non-text parts (image_asset_pointer)"):  # fmt: skip
        assert what in left_out, (what, left_out)

    store = db()
    baking, untitled = sorted(store.list_conversations(), key=lambda c: c.title)
    assert (baking.title, baking.model) == ("Baking conversions", "gpt-4o")
    assert baking.created_at.isoformat() == "2023-11-14T22:13:20+00:00"
    assert "other branches" not in left_out  # every branch is kept
    messages = store.get_messages(baking.id)  # the path ChatGPT showed last
    assert [(m.role, m.content) for m in messages] == [
        ("user", "How many grams of flour in a cup?"),
        ("assistant", "About 120 g of all-purpose flour."),
        ("user", "Compute 3 cups in grams, please."),
        ("assistant", "3 cups is **360 g**."),
        ("user", "What bread is this?"),
        ("assistant", "A sourdough boule."),
    ]
    assert [m.model for m in messages if m.role == "assistant"] == ["gpt-4o", "gpt-4o", "gpt-4o-mini"]
    assert all(m.status == MessageStatus.COMPLETE for m in messages)
    assert [m.created_at for m in messages] == sorted(m.created_at for m in messages)
    # The prompt edited in ChatGPT: both versions, the old one with its reply, one branch away.
    edited = messages[2]
    assert edited.branch == (2, 2)
    store.switch_branch(baking.id, edited.siblings[0])
    assert [m.content for m in store.get_messages(baking.id)][2:] == ["And sugar?", "About 200 g."]
    assert untitled.title == "Translate 'bonjour'"
    # Imported text is searchable, and shows like any conversation.
    assert cli("search", "sourdough").stdout.startswith(f"{baking.id}  Baking conversions")


def test_the_zip_of_a_data_export_is_read_too(cli, db, tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:
        archive.writestr("chat.html", "<html></html>")
        archive.writestr("conversations.json", json.dumps(realistic_export()))
    result = cli("import", "export.zip")
    assert result.returncode == 0, result.stderr
    assert "Imported 2 conversations" in result.stdout
    assert db().count_conversations() == 2


def test_malformed_chatgpt_exports_import_nothing(cli, db, tmp_path: Path) -> None:
    def broken(change) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
        export = realistic_export()
        change(export[2])  # the last conversation is bad; the first two are fine
        return export

    def loop(c: dict[str, Any]) -> None:
        c["mapping"]["root"]["parent"] = "a"

    cases = {
        "missing current node": (lambda c: c.update(current_node="nope"), "`current_node` 'nope' is not in `mapping`"),
        "parent loop": (loop, "loop"),
        "no author": (lambda c: c["mapping"]["u"]["message"].pop("author"), "no `author`"),
        "parts not a list": (lambda c: c["mapping"]["u"]["message"]["content"].update(parts="x"), "`parts` must be a list"),
        "mapping not an object": (lambda c: c.update(mapping=[]), "`mapping` must be an object"),
    }  # fmt: skip
    for name, (change, message) in cases.items():
        (tmp_path / "conversations.json").write_text(json.dumps(broken(change)))
        result = cli("import", "conversations.json")
        assert result.returncode == 1, (name, result.stdout)
        assert "conversation 3" in result.stderr and message in result.stderr, (name, result.stderr)
        assert "Nothing was imported" in result.stderr
        no_traceback(result)
    assert db().count_conversations() == 0
