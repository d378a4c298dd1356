"""Local mode's tools and files: the MCP servers a conversation may use (started on
first use), and attached files (read and checked, their bytes from the store, the parts
the model gets). A mixin of LocalBackend (backends/local.py), which owns the settings,
the store and its worker threads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codhechat.attachments import content_part, read_file
from codhechat.errors import UsageError
from codhechat.models import AttachedFile, Attachment, Conversation, Message

if TYPE_CHECKING:
    from codhechat.backends.local_replies import LocalReplies
    from codhechat.config import Settings
    from codhechat.store import Store
    from codhechat.tools.toolbox import ServerState, Toolbox


class LocalFiles:
    if TYPE_CHECKING:

        @property
        def settings(self) -> Settings: ...  # LocalBackend's (loaded after the first frame)

    store: Store
    replies: LocalReplies
    toolbox: Toolbox | None
    get_conversation: Callable[[int], Awaitable[Conversation | None]]  # LocalBackend's

    def _toolbox(self) -> Toolbox | None:
        if self.toolbox is None and any(s.enabled for s in self.settings.mcp.servers.values()):
            from codhechat.tools.toolbox import Toolbox

            self.toolbox = Toolbox(self.settings.mcp)
        return self.toolbox

    async def tool_servers(self) -> list[ServerState]:
        """The MCP servers and their tools (started, if they were not yet)."""
        toolbox = self._toolbox()
        if toolbox is None:
            return []
        await toolbox.offered()
        return toolbox.states()

    async def tool_resources(self) -> list[tuple[str, str, str]]:
        """The MCP servers' resources, (server, uri, name), to attach (servers started if need be)."""
        toolbox = self._toolbox()
        if toolbox is None:
            return []
        await toolbox.offered()
        return toolbox.resources()

    async def mcp_resource(self, server: str, uri: str) -> AttachedFile:
        """An MCP server's resource as an attachment (named after its URI)."""
        from codhechat.attachments import prepare

        toolbox = self._toolbox()
        if toolbox is None:
            raise UsageError("No MCP servers are configured.", "Add a [mcp.servers.NAME] table to the config file.")
        data = await toolbox.read_resource(server, uri)
        return prepare(uri.rstrip("/").rsplit("/", 1)[-1] or uri, data, max_mb=self.settings.attachment_max_mb)

    async def switch_tool(self, conversation_id: int, name: str, on: bool) -> Conversation | None:
        """Offer a tool (or a whole server's) in this conversation, or not (kept with it)."""
        conversation = await self.get_conversation(conversation_id)
        if conversation is None:
            return None
        off = conversation.tools_off - {name} if on else conversation.tools_off | {name}
        return await self.replies.write(self.store.set_tools_off, conversation_id, off)

    def _parts(self, history: Sequence[Message]) -> dict[int, list[dict[str, Any]]]:
        """The content parts of the files attached to the messages sent (in a worker thread)."""
        parts: dict[int, list[dict[str, Any]]] = {}
        for message in history:
            for attachment in message.attachments:
                data = self.store.attachment_data(attachment.sha256)
                if data is not None:
                    parts.setdefault(message.id, []).append(content_part(AttachedFile(attachment, data)))
        return parts

    async def read_attachment(self, path: Path) -> AttachedFile:
        return await asyncio.to_thread(read_file, path, max_mb=self.settings.attachment_max_mb)

    async def attachment_data(self, attachment: Attachment) -> bytes | None:
        """An attached file's bytes (to open or save it from the app)."""
        return await self.replies.read(self.store.attachment_data, attachment.sha256)
