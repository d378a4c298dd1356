"""Attachments in remote mode (the server's extension `attachments`): each file is
uploaded before the message that carries it (`POST /attachments`), the frame names the
ids the server gave, and a conversation's files come back with its history. The server
keeps them for this user only; a classic server has no such routes, and the backend
does not offer ATTACH there."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from pydantic import TypeAdapter

from codhechat.attachments import DEFAULT_MAX_MB, read_file
from codhechat.backends.remote.api import ServerApi
from codhechat.backends.remote.errors import RemoteError, body_of, status_error
from codhechat.models import AttachedFile, Attachment
from codhechat.protocol.attachments import AttachmentOut

STORED = TypeAdapter(AttachmentOut)
LISTED = TypeAdapter(list[AttachmentOut])


def attachment_of(stored: AttachmentOut) -> Attachment:
    return Attachment(stored.name, stored.mime, stored.kind, stored.size, stored.sha256)


class RemoteFiles:
    def __init__(self, api: ServerApi, *, max_mb: float = DEFAULT_MAX_MB) -> None:
        self.api = api
        self.max_mb = max_mb  # checked here too, so a file too large is refused before it is sent
        self._ids: dict[str, int] = {}  # SHA-256 -> the id of one of this user's files with those bytes

    async def read(self, path: Path) -> AttachedFile:
        return await asyncio.to_thread(read_file, path, max_mb=self.max_mb)

    async def upload(self, files: Sequence[AttachedFile]) -> list[tuple[int, Attachment]]:
        """Each file's id on the server (uploaded now: an id is good for one message)."""
        uploaded = []
        for file in files:
            response = await self.api.authorised(
                "POST", "/attachments", params={"name": file.attachment.name}, content=file.data
            )
            if response.status_code == 413:
                raise RemoteError(f"The server refused {file.attachment.name}: it is larger than the server takes.",
                                  "Attach a smaller file.")  # fmt: skip
            if response.status_code != 201:
                raise status_error(self.api.server, response)
            stored = body_of(self.api.server, response, STORED, "POST /attachments")
            self._ids[stored.sha256] = stored.id
            uploaded.append((stored.id, file.attachment))
        return uploaded

    async def of_conversation(self, conversation_id: int) -> dict[int, tuple[Attachment, ...]]:
        """The files of a conversation's messages, by message id."""
        response = await self.api.authorised("GET", f"/conversations/{conversation_id}/attachments")
        if response.status_code == 404:
            return {}
        if response.status_code != 200:
            raise status_error(self.api.server, response)
        carried: dict[int, tuple[Attachment, ...]] = {}
        for stored in body_of(self.api.server, response, LISTED, "GET /conversations/{id}/attachments"):
            self._ids[stored.sha256] = stored.id
            if stored.message_id is not None:
                carried[stored.message_id] = (*carried.get(stored.message_id, ()), attachment_of(stored))
        return carried

    async def data(self, attachment: Attachment) -> bytes | None:
        """A file's bytes, from the server (None if it has them no more)."""
        known = self._ids.get(attachment.sha256)
        if known is None:
            return None
        response = await self.api.authorised("GET", f"/attachments/{known}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise status_error(self.api.server, response)
        return response.content
