"""Extension `attachments`: files uploaded with a message (codhechat serve only).

A client that finds "attachments" in `GET /extensions` uploads each file first,
`POST /attachments?name=NAME` with the file's bytes as the body, and gets an
`AttachmentOut` (its id); then it sends an `AttachedChatFrame` on /ws naming those ids.
The server keeps each file for the uploader only (another user's token gets 404), sends
it to the model as content parts, as local mode does (codhechat.attachments), and lists
a conversation's files with `GET /conversations/{id}/attachments`; `GET
/attachments/{id}` gives one file's bytes back. A classic server has none of this: a
client must not send `attachments` to it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from codhechat.protocol.frames import ChatFrame

MAX_ATTACHMENTS_PER_MESSAGE = 10


class AttachmentOut(BaseModel):
    """One stored file: what it is, and the message it came with (None: not sent yet)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    mime: str
    kind: str  # text | image | pdf
    size: int
    sha256: str
    message_id: int | None = None


class AttachedChatFrame(ChatFrame):
    """A ChatFrame whose message carries uploaded files (their ids, from POST /attachments)."""

    attachments: list[int] = Field(min_length=1, max_length=MAX_ATTACHMENTS_PER_MESSAGE)
