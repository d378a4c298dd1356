"""The extensions that make a `codhechat serve` conversation as capable as a local one:
their names (listed by `GET /extensions`) and their request and response bodies.

    pin                   PUT /conversations/{id}/pin {"pinned": bool} -> ConversationSummary
    conversation_options  PUT /conversations/{id}/options {"model", "system_prompt"} -> ConversationSummary
                          (a model the server does not allow is a 422 saying so)
    models                GET /models -> ModelList (what F5 offers)
    tokens                a reply's usage: MessageOut.prompt_tokens / completion_tokens / model,
                          and the same on the `complete` frame of a delta socket
    archive               GET /export -> codhechat's JSON export (codhechat.native_format);
                          POST /import (that JSON) -> ImportResult

One definition for both ends, as the rest of codhechat.protocol.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

PIN, CONVERSATION_OPTIONS, MODELS, TOKENS, ARCHIVE = "pin", "conversation_options", "models", "tokens", "archive"
CONVERSATION_EXTENSIONS = (PIN, CONVERSATION_OPTIONS, MODELS, TOKENS, ARCHIVE)

MAX_MODEL_CHARS = 200
MAX_SYSTEM_PROMPT_CHARS = 20_000


class PinUpdate(BaseModel):
    pinned: bool


class ConversationOptions(BaseModel):
    """A conversation's own model and system prompt; null (or empty) is the server's default."""

    model: str | None = Field(default=None, max_length=MAX_MODEL_CHARS)
    system_prompt: str | None = Field(default=None, max_length=MAX_SYSTEM_PROMPT_CHARS)


class ModelList(BaseModel):
    """The models a conversation may use on this server (its allow-list), the default first."""

    default: str
    models: list[str]


class ImportResult(BaseModel):
    """What `POST /import` added, and the titles it skipped as already there."""

    imported: list[int]  # the new conversations' ids, in the file's order
    skipped: list[str]
    left_out: dict[str, int] = {}  # what the server cannot keep, e.g. {"tool message": 2}
