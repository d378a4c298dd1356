"""The first frame needs only what it draws: with the sidebar listed from a real database,
the modules left for later (sqlite-utils and what it brings, the model client, pydantic
and the settings it validates, Markdown, the flows' dialogs) are not imported yet. Run in
a fresh interpreter, the app built as `codhechat` builds it (cli.first_frame_settings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from codhechat.store import Store
from tests.support.env import xdg_dirs

DEFERRED = ["sqlite_utils", "click", "dateutil", "pluggy", "openai", "httpx", "httpx2", "httpx_sse", "orjson"]
# Drawn by no first frame (it shows no message): rendering a message loads them, and a
# command's flow its dialogs.
NOT_DRAWN = ["rich.markdown", "markdown_it", "rich.syntax", "pygments", "codhechat.ui.screens.help"]
NOT_DRAWN += ["codhechat.ui.flows.settings", "codhechat.ui.flows.attach", "codhechat.ui.screens.conversation_settings"]
# The settings beyond what the first frame shows: loaded once the first page is drawn.
NOT_DRAWN += ["pydantic", "pydantic_settings", "codhechat.config"]

FIRST_FRAME = f"""
import asyncio, json, sys
from codhechat.cli import build_app, first_frame_settings
from codhechat.ui.widgets.sidebar import ConversationTree

app = build_app(first_frame_settings({{}}, None))
seen = {{}}
settings_later = app.first_page_shown

def first_page_shown():  # the sidebar's first page is drawn: what was imported for it?
    seen["not_drawn"] = [m for m in {NOT_DRAWN!r} if m in sys.modules]
    settings_later()

app.first_page_shown = first_page_shown

async def main():
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one(ConversationTree)
        while not tree.conversations or "not_drawn" not in seen:  # the sidebar's first page, drawn
            await pilot.pause()
        await pilot.pause()  # drawn
        seen["titles"] = [c.title for c in tree.conversations]
        seen["loaded"] = [m for m in {DEFERRED!r} if m in sys.modules]
        await app.screen.open_conversation(tree.conversations[0].id)  # reading one: plain sqlite3 too
        await pilot.pause()
        seen["opened"] = [m for m in {DEFERRED!r} if m in sys.modules]
        while app.backend._settings is None:  # then the rest of the settings, from pydantic-settings
            await pilot.pause()
        seen["settings"] = [app.backend.settings.model, "pydantic_settings" in sys.modules]

asyncio.run(main())
print(json.dumps(seen))
"""


def test_the_first_frame_leaves_storage_helpers_and_the_model_client_for_later(tmp_path: Path) -> None:
    database = tmp_path / "chats.db"
    store = Store.open(database)
    for n in range(3):
        conversation = store.create_conversation(f"chat {n}", model="gpt-4o-mini")
        store.add_message(conversation.id, "user", f"question {n}")
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODHECHAT_", "XDG_"))}
    env |= xdg_dirs(tmp_path) | {"CODHECHAT_DATABASE": str(database), "OPENAI_API_KEY": "sk-test"}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(seen["titles"]) == ["chat 0", "chat 1", "chat 2"]
    assert seen["loaded"] == []
    assert seen["not_drawn"] == []
    assert seen["opened"] == []
    assert seen["settings"] == ["gpt-4o-mini", True]
