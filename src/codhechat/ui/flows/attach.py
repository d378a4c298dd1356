"""Attaching files to the next message: the picker (F10, "Attach file…") and `@path`
completed with Tab in the prompt. The backend reads and checks each file (its size cap,
its kind); the chips above the prompt hold them until the message is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.screen import Screen

from codhechat.errors import CodheError
from codhechat.ui.screens.attach import PickFile
from codhechat.ui.session import ChatSession
from codhechat.ui.widgets.attachment_bar import AttachmentBar


async def attach_path(screen: Screen[Any], session: ChatSession, path: Path) -> None:
    """Read `path` (through the backend) and show it as a chip, or say why it cannot be sent."""
    try:
        file = await session.backend.read_attachment(path)
    except CodheError as exc:
        screen.notify(str(exc), title="Cannot attach the file", severity="error")
        return
    if not screen.query_one(AttachmentBar).add_file(file):
        screen.notify(f"{file.attachment.name} is attached already.")


async def pick_and_attach(screen: Screen[Any], session: ChatSession) -> None:
    path = await screen.app.push_screen_wait(PickFile(Path.cwd()))
    if path is not None:
        await attach_path(screen, session, path)
