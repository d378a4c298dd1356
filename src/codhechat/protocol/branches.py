"""Extension: conversations as trees on codhechat serve (`branches`, `regenerate`, `edit`
in `GET /extensions`: rest.EXTENSIONS). One definition for both ends, like frames.py and rest.py.

Each message has a parent (none for a first message); each conversation a current leaf,
the end of the chosen path. The classic routes and frames see only that path, as a
flat history, so a classic client never notices the tree. The extension adds:

- `GET /conversations/{id}/tree`: every message of every branch, with its parent, and
  the current leaf (`MessageTree`);
- `PUT /conversations/{id}/branch` `{"message_id"}`: make the path through that message
  current, continued as it was last shown (else to its newest message); answers the tree;
- `DELETE /conversations/{id}/messages/{message_id}`: delete a message and everything
  after it (`BranchDeleted`);
- /ws frames `regenerate` (a new reply beside the path's last one, which stays as its
  sibling) and `edit` (a new version of one of the user's messages, beside it, then a
  reply to it). Both are answered as a chat frame is: `started` (for an edit its
  `userMessageId` is the new version), chunks, `complete`; the model sees only the path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from codhechat.protocol.frames import _ClientFrame
from codhechat.protocol.limits import MAX_REQUEST_ID_CHARS
from codhechat.protocol.rest import DbId, MessageOut


class RegenerateFrame(_ClientFrame):
    """Ask for a new version of the conversation's last reply (or a reply to its last
    message, when that is the user's); the old reply stays, one branch away."""

    type: Literal["regenerate"] = "regenerate"
    request_id: str = Field(min_length=1, max_length=MAX_REQUEST_ID_CHARS)
    conversation_id: int


class EditFrame(_ClientFrame):
    """Store `message` as a new version of the user's message `message_id` (its sibling)
    and reply to it; the old version stays, with what followed it."""

    type: Literal["edit"] = "edit"
    request_id: str = Field(min_length=1, max_length=MAX_REQUEST_ID_CHARS)
    conversation_id: int
    message_id: int
    message: str


class TreeMessageOut(MessageOut):
    parent_id: int | None = None  # the message it follows (None: a first message)
    current_child: int | None = None  # the version after it the path last took


class MessageTree(BaseModel):
    """Every message of a conversation, oldest first, and the end of the current path."""

    current_leaf: int | None
    messages: list[TreeMessageOut]


class BranchSwitch(BaseModel):
    message_id: DbId


class BranchDeleted(BaseModel):
    deleted: int  # how many messages went
    current_leaf: int | None
