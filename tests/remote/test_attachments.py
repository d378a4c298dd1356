"""Attachments in remote mode: against `codhechat serve` (extension `attachments`) files
are uploaded with the message and reach the model exactly as in local mode, and come back
with the history; against a classic server the command is disabled, saying why."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codhechat.attachments import prepare
from codhechat.backends import ATTACH
from codhechat.models import ReplyDone, ReplyStarted
from codhechat.ui.app import CodheChatApp
from codhechat.ui.command_table import CommandTable
from codhechat.ui.widgets.attachment_bar import AttachmentChip
from codhechat.ui.widgets.messages import PendingUserView, ReplyView
from tests.classic_server import ClassicServer
from tests.fake_openai import FakeOpenAI
from tests.remote.conftest import remote_backend
from tests.server.conftest import ServerThread
from tests.support.files import png
from tests.ui.conftest import type_text, wait_until

SIZE = (110, 36)


async def test_files_go_to_the_model_and_come_back_with_the_history(
    codhe_server: ServerThread, fake_openai: FakeOpenAI
) -> None:
    backend = remote_backend(codhe_server.url)
    try:
        await backend.learn_extensions()
        assert ATTACH in backend.capabilities
        image = png(2, 2)
        files = [prepare("todo.md", b"- milk\n"), prepare("dot.png", image)]
        events = [e async for e in backend.stream_reply(None, "what is here?", attachments=files)]
        started = next(e for e in events if isinstance(e, ReplyStarted))
        assert isinstance(events[-1], ReplyDone)
        assert [a.name for a in started.user_message.attachments] == ["todo.md", "dot.png"]
        [request] = fake_openai.requests
        assert request["body"]["messages"][-1] == {"role": "user", "content": [
            {"type": "text", "text": "what is here?"},
            {"type": "text", "text": "File todo.md:\n\n- milk\n"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()}},
        ]}  # fmt: skip
        conversation_id = started.conversation.id
        messages = await backend.get_messages(conversation_id)
        assert [a.name for a in messages[0].attachments] == ["todo.md", "dot.png"] and not messages[1].attachments
        assert await backend.attachment_data(messages[0].attachments[1]) == image
        # Asked again (Ctrl+R), the prompt goes with its files once more.
        events = [e async for e in backend.retry_reply(conversation_id)]
        assert isinstance(events[-1], ReplyDone)
        assert fake_openai.requests[-1]["body"]["messages"][-1] == request["body"]["messages"][-1]
    finally:
        await backend.aclose()


async def test_a_classic_server_cannot_take_attachments(classic_server: ClassicServer) -> None:
    backend = remote_backend(classic_server.url)
    app = CodheChatApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        await backend.learn_extensions()
        assert ATTACH not in backend.capabilities
        offered = {str(h.text): h.help async for h in CommandTable(app.screen).discover()}
        assert offered["Attach file…"].startswith("Not available: ")
        assert "cannot take attachments" in offered["Attach file…"]
        await pilot.press("f10")
        await wait_until(pilot, lambda: any("cannot take attachments" in str(n.message) for n in app._notifications))
        assert not app.query(AttachmentChip)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("remember the milk\n")
    monkeypatch.chdir(work)
    return work


async def test_the_app_attaches_a_file_over_the_server(
    codhe_server: ServerThread, fake_openai: FakeOpenAI, folder: Path
) -> None:
    backend = remote_backend(codhe_server.url)
    app = CodheChatApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: ATTACH in backend.capabilities)  # learnt at warm-up
        await type_text(pilot, "read @not")
        await pilot.press("tab")
        await wait_until(pilot, lambda: [c.file.attachment.name for c in app.query(AttachmentChip)] == ["notes.txt"])
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().status is not None)
        content: Any = fake_openai.requests[-1]["body"]["messages"][-1]["content"]
        assert content == [
            {"type": "text", "text": "read @notes.txt"},
            {"type": "text", "text": "File notes.txt:\n\nremember the milk\n"},
        ]
        shown = app.query(PendingUserView).last()
        assert [a.name for a in shown.entry.attachments] == ["notes.txt"]  # its chip, in the history
        conversation_id = app.query(ReplyView).last().stored.conversation_id
        history = await backend.get_messages(conversation_id)
        assert [a.name for a in history[0].attachments] == ["notes.txt"]


def ask_with_file(server: Any, cwd: Path, piped: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codhechat", "--server", server.url, "ask", "-a", "-", "review this"],
        input=piped, capture_output=True, text=True, env=dict(os.environ), cwd=cwd, timeout=60,
    )  # fmt: skip


def test_ask_a_from_a_pipe_over_the_server(
    codhe_server: ServerThread, classic_server: ClassicServer, fake_openai: FakeOpenAI, tmp_path: Path,
    isolated_dirs: Path,
) -> None:  # fmt: skip
    asked = ask_with_file(codhe_server, tmp_path, "-old\n+new\n")
    assert asked.returncode == 0, asked.stderr
    assert fake_openai.requests[-1]["body"]["messages"][-1]["content"] == [
        {"type": "text", "text": "review this"},
        {"type": "text", "text": "File stdin:\n\n-old\n+new\n"},
    ]
    refused = ask_with_file(classic_server, tmp_path, "-old\n+new\n")
    assert refused.returncode != 0 and "cannot take attachments" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
