"""The REST bodies: requests and responses of every route (protocol.md + extensions).

One definition for both ends: `codhechat serve` declares its routes with these models and
the remote backend reads the answers of any server with them. A classic server sends
the legacy shapes only: `ConversationOut` (messages embedded, no `updated_at`),
messages without `status` (read as "complete"), no `RefreshedToken` (no /auth/refresh).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from codhechat.protocol.conversation_ext import CONVERSATION_EXTENSIONS

Role = Literal["system", "user", "assistant"]
# Ids are INTEGER columns: 32-bit on PostgreSQL. A larger number is a 422, never a 500.
MAX_DB_INT = 2**31 - 1
DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored as text (in either database), or None: PostgreSQL
    refuses NUL, and an unpaired surrogate (JSON's "\\ud800") is not encodable as UTF-8."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (not valid Unicode)"
    return None


def _storable(value: str) -> str:
    if problem := text_problem(value):
        raise ValueError(problem)
    return value


Text = Annotated[str, AfterValidator(_storable)]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class GuestToken(Token):
    user_id: int


class RefreshedToken(GuestToken):
    """Extension: `POST /auth/refresh`."""

    refresh_token: str
    expires_in: int


class RefreshRequest(BaseModel):
    refresh_token: Text | None = None


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@+-]+$")
    password: Text = Field(min_length=1, max_length=256)


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    role: Role
    content: str
    timestamp: datetime
    status: str = "complete"  # extension: complete | partial | error
    # Extension "tokens": the model's usage for a reply, and which model wrote it.
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ConversationSummary(BaseModel):
    """Extension: a conversation without its messages (`?include_messages=false`, PATCH, GET one)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    updated_at: datetime
    # Extensions "pin" and "conversation_options" (None: not pinned; the server's defaults).
    pinned_at: datetime | None = None
    model: str | None = None
    system_prompt: str | None = None


class ConversationOut(BaseModel):
    """The legacy shape, messages embedded."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    messages: list[MessageOut] = []


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    conversations: list[ConversationOut] = []


class ConversationCreate(BaseModel):
    name: Text = Field(min_length=1, max_length=200)


class ConversationUpdate(BaseModel):
    name: Text = Field(min_length=1, max_length=200)

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name is empty")
        return value


class ChatRequest(BaseModel):
    message: str  # checked by validate_message (trimmed, length, storable), for a clear 422
    conversation_id: DbId | None = None


class ChatResponse(BaseModel):
    conversation_id: int
    reply: str


class HealthCheck(BaseModel):
    component: Literal["database", "chat_service"]
    status: Literal["ok", "degraded", "error"]
    detail: str


class Health(BaseModel):
    status: Literal["ok", "degraded", "error"]
    checks: list[HealthCheck]


# What a client reads from `GET /conversations/?include_messages=false`: the summary from a
# server with the extension, the legacy shape (messages embedded) from a classic one.
ConversationListItem = ConversationSummary | ConversationOut


class SearchHitOut(BaseModel):
    """Extension: one message matching `GET /search?q=...`; matches in `snippet` are
    wrapped in \\x02 ... \\x03, as codhechat marks them."""

    message_id: int
    conversation_id: int
    title: str
    role: Role
    created_at: datetime
    snippet: str


class Extensions(BaseModel):
    """Extension: `GET /extensions`, what this server can do beyond the classic protocol.
    A classic server answers 404: a client then offers none of them."""

    extensions: list[str]


# The names `GET /extensions` lists (a client maps them onto its own abilities).
EXTENSIONS = (
    "rename", "delete", "search", "delta", "cancel", "refresh", "attachments", "branches", "regenerate", "edit",
    *CONVERSATION_EXTENSIONS,
)  # fmt: skip
