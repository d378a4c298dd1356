"""The server's wire models: defined once, in codhechat.protocol.rest, shared with the client."""

from codhechat.protocol.rest import (
    ChatRequest,
    ChatResponse,
    ConversationCreate,
    ConversationOut,
    ConversationSummary,
    ConversationUpdate,
    GuestToken,
    Health,
    HealthCheck,
    MessageOut,
    RefreshedToken,
    RefreshRequest,
    Role,
    Token,
    UserCreate,
    UserOut,
)

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "ConversationCreate",
    "ConversationOut",
    "ConversationSummary",
    "ConversationUpdate",
    "GuestToken",
    "Health",
    "HealthCheck",
    "MessageOut",
    "RefreshedToken",
    "RefreshRequest",
    "Role",
    "Token",
    "UserCreate",
    "UserOut",
]
