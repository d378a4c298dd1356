"""The seam between the UI and where conversations live.

The UI only knows this protocol: local mode implements it over the Store and
an OpenAI-compatible endpoint; remote mode will implement it over a CoDHeChat
server. A backend owns persistence: the prompt is stored before generation,
the reply as it streams and when it ends, with a status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from codhechat.models import Conversation, Message, ReplyEvent


class ChatBackend(Protocol):
    mode: str  # shown in the status line: "local", or a server's address
    model: str

    async def list_conversations(self, *, limit: int = 200, offset: int = 0) -> list[Conversation]: ...

    async def get_messages(
        self,
        conversation_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]: ...

    def stream_reply(self, conversation_id: int | None, prompt: str) -> AsyncIterator[ReplyEvent]:
        """Store `prompt` (in a new conversation when `conversation_id` is None) and stream a reply."""
        ...

    def retry_reply(self, conversation_id: int) -> AsyncIterator[ReplyEvent]:
        """Drop an unfinished last reply and generate it again."""
        ...

    def set_api_key(self, api_key: str) -> None: ...

    async def warm_up(self) -> None:
        """Load what the first reply needs, once the first screen is drawn."""
        ...

    async def aclose(self) -> None: ...
