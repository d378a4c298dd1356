"""The seam between the UI and where conversations live.

The UI only knows this protocol: local mode implements it over the Store and
an OpenAI-compatible endpoint; remote mode will implement it over a CoDHeChat
server. A backend owns persistence: the prompt is stored before generation,
the reply as it streams and when it ends, with a status.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from codhechat.models import (
    AttachedFile,
    Attachment,
    ConnectionState,
    ContextUse,
    Conversation,
    ConversationRecord,
    Generation,
    Message,
    ProviderModels,
    ReplyEvent,
    SearchHit,
)

# Optional abilities. A backend lists those it has in `capabilities`; the UI offers a
# command (key, palette entry) only when the backend has its ability, and a backend
# without one need not define its method.
RENAME = "rename"  # rename_conversation
DELETE = "delete"  # delete_conversation
PIN = "pin"  # set_pinned
SEARCH = "search"  # search
REGENERATE = "regenerate"  # regenerate_reply
# list_models, set_conversation_options, system_prompt_presets, default_system_prompt
CONVERSATION_OPTIONS = "conversation_options"
EDIT = "edit"  # edit_and_resend
TOKENS = "tokens"  # context_use
CONTINUE = "continue"  # continue_reply
IMPORT = "import"  # import_conversations
ATTACH = "attach"  # stream_reply(..., attachments=...), attachment_data, read_attachment
TOOLS = "tools"  # tool_servers, switch_tool (MCP servers are configured)
# Conversations as trees (edit and regenerate keep what they replace, one branch away):
# switch_branch, delete_branch, message_tree; Message.siblings is filled in.
BRANCHES = "branches"
# A server's accounts: sign_in (again, once the server refuses the token for good).
SIGN_IN = "sign_in"


def supports(backend: object, ability: str) -> bool:
    return ability in getattr(backend, "capabilities", frozenset())


class ChatBackend(Protocol):
    mode: str  # shown in the status line: "local", or a server's address
    model: str
    model_choices: list[str]
    capabilities: frozenset[str]

    async def list_conversations(self, *, limit: int = 200, offset: int = 0) -> list[Conversation]: ...

    async def get_messages(
        self,
        conversation_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]: ...

    async def get_conversation(self, conversation_id: int) -> Conversation | None: ...

    def stream_reply(
        self,
        conversation_id: int | None,
        prompt: str,
        *,
        title: str | None = None,
        attachments: Sequence[AttachedFile] = (),
    ) -> AsyncGenerator[ReplyEvent, None]:
        """Store `prompt` (in a new conversation when `conversation_id` is None, titled after
        `title` or the prompt, where the backend names conversations) and stream a reply.
        `attachments` only where the backend can ATTACH.
        A backend with TOOLS may yield ReplyToolCall: the stream waits until its
        `approval` is decided, so a consumer must decide every one that is `needed`."""
        ...

    async def resolve_model(self) -> str | None:
        """Settle which model to use where none was chosen; what to tell the user, if
        anything. Where the endpoint serves several models and none was chosen, they are
        left in `model_choices` for the user to pick one (then assigned to `model`)."""
        ...

    def retry_reply(self, conversation_id: int) -> AsyncGenerator[ReplyEvent, None]:
        """Drop an unfinished last reply and generate it again."""
        ...

    def set_api_key(self, api_key: str) -> None: ...

    def watch_connection(self, listener: Callable[[ConnectionState], None]) -> Callable[[], None]:
        """Call `listener` with each state of the link to where conversations live (from
        now on); returns an unsubscribe. A backend without a link that can change (local
        mode) need never call it."""
        ...

    # Optional (see `capabilities`)

    async def rename_conversation(self, conversation_id: int, title: str) -> Conversation | None: ...

    async def delete_conversation(self, conversation_id: int) -> int | None:
        """Delete a conversation and its messages; None if it did not exist."""
        ...

    async def set_pinned(self, conversation_id: int, pinned: bool) -> Conversation | None: ...

    async def search(
        self, query: str, *, limit: int = 30, newest_first: bool = False, syntax: bool = False
    ) -> list[SearchHit]:
        """Messages matching every word of `query`, best first (or newest), with snippets."""
        ...

    async def import_conversations(
        self, records: Sequence[ConversationRecord]
    ) -> tuple[list[Conversation], list[ConversationRecord]]:
        """Add whole conversations, all or nothing; returns (imported, skipped as already there)."""
        ...

    def regenerate_reply(self, conversation_id: int) -> AsyncGenerator[ReplyEvent, None]:
        """Generate the last reply again, whatever its state (it goes once the new one has
        text; with BRANCHES it stays, as the new one's sibling)."""
        ...

    def continue_reply(self, conversation_id: int) -> AsyncGenerator[ReplyEvent, None]:
        """Ask for the rest of a last reply that stopped early; its text is extended in place."""
        ...

    async def list_models(self) -> list[str]:
        """The endpoint's models, to choose one per conversation."""
        ...

    async def read_attachment(self, path: Path) -> AttachedFile:
        """A file to attach to the next message, read and checked (its size against the
        cap, its kind); a CodheError says why it cannot be sent."""
        ...

    async def attachment_data(self, attachment: Attachment) -> bytes | None:
        """An attached file's bytes, to save it (ATTACH); None if the store lost them."""
        ...

    async def set_generation(self, conversation_id: int, generation: Generation) -> Conversation | None:
        """A conversation's generation parameters (CONVERSATION_OPTIONS)."""
        ...

    async def model_catalogue(self) -> list[ProviderModels]:
        """The models grouped by provider (F5), with why a provider lists none."""
        ...

    async def set_conversation_options(
        self, conversation_id: int, *, model: str | None, system_prompt: str | None
    ) -> Conversation | None:
        """The model and system prompt for this conversation's replies (None: the defaults)."""
        ...

    @property
    def system_prompt_presets(self) -> dict[str, str]: ...

    @property
    def default_system_prompt(self) -> str: ...

    def edit_and_resend(self, conversation_id: int, message_id: int, content: str) -> AsyncGenerator[ReplyEvent, None]:
        """Replace one of the user's messages and reply to it: with BRANCHES, the new version
        is a sibling of the old (which stays, with what followed it); without, every later
        message is deleted."""
        ...

    async def switch_branch(self, conversation_id: int, message_id: int) -> None:
        """Make the path through `message_id` the current one (what get_messages pages
        through and the model sees), continued to its newest message."""
        ...

    async def delete_branch(self, conversation_id: int, message_id: int) -> int:
        """Delete a message and everything that follows it; returns how many went."""
        ...

    async def message_tree(self, conversation_id: int) -> list[Message]:
        """Every message of every branch, oldest first, each with its parent_id (to export)."""
        ...

    async def context_use(self, conversation_id: int) -> ContextUse | None:
        """How full the model's context was at the conversation's last reply (None when
        the endpoint reported no usage)."""
        ...

    async def tool_servers(self) -> list[Any]:
        """The MCP servers (codhechat.tools.toolbox.ServerState: name, where, status, tools)."""
        ...

    async def switch_tool(self, conversation_id: int, name: str, on: bool) -> Conversation | None:
        """Offer a tool, or a server's tools, in this conversation, or not (Conversation.tools_off)."""
        ...

    async def tool_resources(self) -> list[tuple[str, str, str]]:
        """The MCP servers' resources, (server, uri, name), to attach to a message (TOOLS)."""
        ...

    async def mcp_resource(self, server: str, uri: str) -> AttachedFile:
        """One of them as an attachment; a CodheError says why it cannot be had."""
        ...

    async def sign_in(self, username: str, password: str) -> None:
        """Sign in to the server with an account (SIGN_IN), and reconnect with it; a
        CodheError says why not (a wrong password...)."""
        ...

    async def warm_up(self) -> None:
        """Load what the first reply needs, once the first screen is drawn."""
        ...

    async def aclose(self) -> None: ...
