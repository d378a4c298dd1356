"""Attaching files to the next message: the picker (F10, "Attach file…") and `@path`
completed with Tab in the prompt, or an MCP server's resource; and saving a file
attached to a message shown. The backend reads and checks each file (its size cap,
its kind); the chips above the prompt hold them until the message is sent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.screen import Screen

from codhechat.errors import CodheError
from codhechat.models import Message
from codhechat.ui.screens.attach import PickFile
from codhechat.ui.screens.dialogs import PickOne
from codhechat.ui.session import ChatSession
from codhechat.ui.text import plain
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


def unused_path(folder: Path, name: str) -> Path:
    """`folder/name`, or `name (2)`, `name (3)`... if that exists: a save never overwrites.
    The name is the file's own (untrusted): only its last part is used."""
    base = Path(name).name or "attachment"
    path, stem, suffix = folder / base, Path(base).stem, Path(base).suffix
    n = 2
    while path.exists():
        path, n = folder / f"{stem} ({n}){suffix}", n + 1
    return path


async def save_attachment(screen: Screen[Any], session: ChatSession) -> None:
    """Pick one of the files attached to the messages shown and save it in the working folder."""
    shown = [(m, a) for m in session.window.entries if isinstance(m, Message) for a in m.attachments]
    if not shown:
        screen.notify("No message shown here has a file attached.")
        return
    choices = [plain(f"{a.name}  ({a.size:,} bytes, {m.role} message)") for m, a in shown]
    index = await screen.app.push_screen_wait(PickOne("Save which file (to the working folder)?", [*choices]))
    if index is None:
        return
    attachment = shown[index][1]
    try:
        data = await session.backend.attachment_data(attachment)
    except CodheError as exc:
        screen.notify(str(exc), title="Cannot save the file", severity="error")
        return
    if data is None:
        screen.notify(f"The store no longer holds {attachment.name}.", severity="error")
        return
    path = unused_path(Path.cwd(), attachment.name)
    try:
        await asyncio.to_thread(path.write_bytes, data)
    except OSError as exc:
        screen.notify(f"Cannot write {path}: {exc.strerror}.", title="Cannot save the file", severity="error")
        return
    screen.notify(f"Saved {path}.")


async def attach_resource(screen: Screen[Any], session: ChatSession) -> None:
    """Pick one of the MCP servers' resources and attach it to the next message."""
    backend = session.backend
    try:
        resources = await backend.tool_resources()
    except CodheError as exc:
        screen.notify(str(exc), title="Cannot list the resources", severity="error")
        return
    if not resources:
        screen.notify("No MCP server here offers resources.")
        return
    choices = [plain(f"{name}  ({server}: {uri})") for server, uri, name in resources]
    index = await screen.app.push_screen_wait(PickOne("Attach which resource?", [*choices]))
    if index is None:
        return
    server, uri, _ = resources[index]
    try:
        file = await backend.mcp_resource(server, uri)
    except CodheError as exc:
        screen.notify(str(exc), title="Cannot attach the resource", severity="error")
        return
    screen.query_one(AttachmentBar).add_file(file)


async def pick_and_attach(screen: Screen[Any], session: ChatSession) -> None:
    path = await screen.app.push_screen_wait(PickFile(Path.cwd()))
    if path is not None:
        await attach_path(screen, session, path)
