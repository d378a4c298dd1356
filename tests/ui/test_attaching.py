"""Attaching files in the app: the picker (F10), `@path` and Tab, the chips above the
prompt (removable before sending), and what reaches the model. Pilot against the
loopback model server; the working folder is a temporary one."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from codhechat.ui.screens.attach import PickFile, VisibleFiles
from codhechat.ui.screens.dialogs import PickOne
from codhechat.ui.widgets.attachment_bar import AttachmentBar, AttachmentChip
from codhechat.ui.widgets.messages import ReplyView
from codhechat.ui.widgets.prompt import PromptInput
from tests.fake_openai import FakeOpenAI
from tests.ui.conftest import AppFactory, type_text, wait_until

SIZE = (110, 36)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("remember the milk\n")
    (work / "pixel.png").write_bytes(PNG)
    (work / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    (work / ".hidden").write_text("never offered")
    monkeypatch.chdir(work)
    return work


def chips(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [chip.file.attachment.name for chip in app.query(AttachmentChip)]


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(n.message) for n in app._notifications]


async def sent(pilot, app, fake_openai: FakeOpenAI, text: str) -> list:  # type: ignore[no-untyped-def]
    await type_text(pilot, text)
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().status is not None)
    return fake_openai.requests[-1]["body"]["messages"][-1]["content"]


async def test_the_picker_attaches_a_file_and_the_model_gets_it(
    make_app: AppFactory, fake_openai: FakeOpenAI, folder: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f10")
        await wait_until(pilot, lambda: isinstance(app.screen, PickFile))
        tree = app.screen.query_one(VisibleFiles)
        await wait_until(pilot, lambda: tree.root.children)
        names = [str(node.label) for node in tree.root.children]
        assert ".hidden" not in names and "notes.txt" in names
        tree.move_cursor(tree.root.children[names.index("notes.txt")])
        await pilot.press("enter")
        await wait_until(pilot, lambda: chips(app) == ["notes.txt"])
        assert app.query_one(AttachmentBar).display and app.focused is not None
        content = await sent(pilot, app, fake_openai, "what does it say?")
        assert content[0] == {"type": "text", "text": "what does it say?"}
        assert content[1] == {"type": "text", "text": "File notes.txt:\n\nremember the milk\n"}
        assert chips(app) == [] and not app.query_one(AttachmentBar).display  # sent with the message


async def test_at_path_and_tab_complete_and_attach(make_app: AppFactory, fake_openai: FakeOpenAI, folder: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "look at @pix")
        await pilot.press("tab")
        await wait_until(pilot, lambda: chips(app) == ["pixel.png"])
        assert app.query_one(PromptInput).text == "look at @pixel.png"
        assert isinstance(app.focused, PromptInput)  # Tab completed; it did not move the focus
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().status is not None)
        image = fake_openai.requests[-1]["body"]["messages"][-1]["content"][1]
        assert image == {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
        }


async def test_a_chip_is_removed_before_sending_and_that_file_is_not_sent(
    make_app: AppFactory, fake_openai: FakeOpenAI, folder: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "@notes.txt")
        await pilot.press("tab")
        await wait_until(pilot, lambda: chips(app) == ["notes.txt"])
        await type_text(pilot, " @pixel.png")
        await pilot.press("tab")
        await wait_until(pilot, lambda: chips(app) == ["notes.txt", "pixel.png"])
        app.query(AttachmentChip).first().focus()
        await pilot.press("delete")
        await wait_until(pilot, lambda: chips(app) == ["pixel.png"])
        await pilot.click(AttachmentChip)
        await wait_until(pilot, lambda: chips(app) == [])
        app.query_one(PromptInput).focus()
        content = await sent(pilot, app, fake_openai, " please")
        assert content == "@notes.txt @pixel.png please"  # only text: no file was left attached


async def test_a_file_that_cannot_be_sent_says_why_and_is_not_attached(
    make_app: AppFactory, fake_openai: FakeOpenAI, folder: Path
) -> None:
    app = make_app(attachment_max_mb=0.00001)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "@blob.bin")
        await pilot.press("tab")
        await wait_until(pilot, lambda: any("limited to" in n for n in notices(app)))
        assert chips(app) == []
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "@blob.bin")
        await pilot.press("tab")
        await wait_until(pilot, lambda: any("cannot be sent" in n for n in notices(app)))
        assert chips(app) == []


async def test_several_matches_are_listed(make_app: AppFactory, fake_openai: FakeOpenAI, folder: Path) -> None:
    (folder / "notes-2.txt").write_text("more")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "@notes")
        await pilot.press("tab")
        await wait_until(pilot, lambda: any("notes-2.txt" in n and "notes.txt" in n for n in notices(app)))
        assert chips(app) == [] and app.query_one(PromptInput).text == "@notes"


async def test_a_file_attached_to_a_message_is_saved_without_overwriting(
    make_app: AppFactory, fake_openai: FakeOpenAI, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "@notes.txt")
        await pilot.press("tab")
        await wait_until(pilot, lambda: chips(app) == ["notes.txt"])
        await sent(pilot, app, fake_openai, " keep this")
        await app.screen.session.open(app.screen.session.conversation_id)  # as stored
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "notes.txt").write_text("an older file of the same name")
        monkeypatch.chdir(elsewhere)
        for expected in ("notes (2).txt", "notes (3).txt"):
            app.screen.action_save_attachment()
            await wait_until(pilot, lambda: isinstance(app.screen, PickOne))
            await pilot.press("enter")
            await wait_until(pilot, lambda: (elsewhere / expected).exists())
            assert (elsewhere / expected).read_text() == "remember the milk\n"
        assert (elsewhere / "notes.txt").read_text() == "an older file of the same name"
