"""RemoteBackend: the ChatBackend over a CoDHeChat server, and its conversation cache.

The facade the UI talks to. Conversations and messages come over REST (api.py), replies
over the link (link.py), each reply one Exchange (exchange.py). The cache holds what the
server listed, so a reply's conversation has its title at once, and each opened
conversation's full history, from which the UI takes windows.

A reply streaming when the link drops ends as ReplyFailed, its text kept (the server
stores it too, as `partial`), and Ctrl+R asks again (`retry_reply`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from codhechat.backends import ATTACH, BRANCHES, DELETE, EDIT, REGENERATE, RENAME, SIGN_IN
from codhechat.backends.remote.address import display_name
from codhechat.backends.remote.api import ServerApi
from codhechat.backends.remote.branches import RemoteBranches
from codhechat.backends.remote.errors import RemoteError
from codhechat.backends.remote.exchange import Exchange, checked_prompt
from codhechat.backends.remote.extensions import ConversationExtensions, abilities
from codhechat.backends.remote.files import RemoteFiles
from codhechat.backends.remote.link import Link
from codhechat.errors import CodheError
from codhechat.models import (
    AttachedFile,
    Attachment,
    ConnectionState,
    Conversation,
    Message,
    MessageStatus,
    ReplyEvent,
    ReplyStarted,
    SearchHit,
    title_for,
)
from codhechat.protocol.rest import ConversationListItem, ConversationSummary, MessageOut


def _utc(moment: datetime) -> datetime:
    """Servers may send naive times (the classic one does): they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class RemoteBackend(RemoteBranches, ConversationExtensions):
    # The classic protocol has none of the optional abilities; a server that shows it
    # speaks codhechat serve's extensions (it lists without embedded messages, or its
    # socket sends `started`) can also rename and delete; the rest (pin, search, options,
    # tokens, import, branches with regenerate and edit) only where `GET /extensions` lists them (extensions.py).
    capabilities: frozenset[str] = frozenset({SIGN_IN})  # every server has /token
    warm_up_is_heavy = False  # a few small requests: the app runs it at once (ui/screens/chat.py)

    def __init__(
        self,
        server: str,
        *,
        http_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        reply_idle_timeout: float = 180.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        busy_backoff: float = 10.0,
        token_folder: Path | None = None,
    ) -> None:
        self.api = ServerApi(server, timeout=http_timeout, token_folder=token_folder)
        self.server = self.api.server
        self.mode = display_name(self.server)
        self.model = ""
        self.model_choices: list[str] = []  # the server chooses its model
        self.reply_idle_timeout = reply_idle_timeout
        self.link = Link(self.api, connect_timeout=connect_timeout, backoff_base=backoff_base,
                         backoff_cap=backoff_cap, busy_backoff=busy_backoff,
                         on_extensions=self._extensions_seen)  # fmt: skip
        self._conversations: dict[int, Conversation] = {}
        self._history: dict[int, list[Message]] = {}
        self.files = RemoteFiles(self.api)  # extension `attachments` (ATTACH)
        self.named_extensions: set[str] = set()  # what GET /extensions listed
        self._extensions_learnt = False

    # -- connection state, for the status line ----------------------------------------

    @property
    def connection(self) -> ConnectionState:
        return self.link.connection

    def watch_connection(self, listener: Callable[[ConnectionState], None]) -> Callable[[], None]:
        """Call `listener` with every ConnectionState from now on; returns an unsubscribe."""
        return self.link.watch(listener)

    async def _learn_once(self) -> None:
        """The server's extensions, learnt before the first request whose form depends on
        them, if the warm-up (half a second after start) has not learnt them yet."""
        if not self._extensions_learnt:
            await self.learn_extensions()

    def _extensions_seen(self) -> None:
        self.capabilities = self.capabilities | {RENAME, DELETE}

    async def learn_extensions(self) -> None:
        """What the server says it can do (`GET /extensions`), mapped onto the app's abilities;
        a classic server says nothing, and keeps the abilities its answers show."""
        self.named_extensions = await self.api.extensions()
        self._extensions_learnt = True
        offered = abilities(self.named_extensions)
        if {"branches", "regenerate", "edit"} <= self.named_extensions:  # conversations as trees (remote/branches.py)
            offered |= {BRANCHES, REGENERATE, EDIT}
        self.capabilities = self.capabilities | offered

    async def search(
        self, query: str, *, limit: int = 30, newest_first: bool = False, syntax: bool = False
    ) -> list[SearchHit]:
        """Extension: the server's full-text search (every word must occur; best first).
        `newest_first` and `syntax` are local mode's; the server orders by relevance."""
        hits = await self.api.search(query, limit=limit)
        return [SearchHit(message_id=h.message_id, conversation_id=h.conversation_id, title=h.title, role=h.role,
                          created_at=_utc(h.created_at), snippet=h.snippet) for h in hits]  # fmt: skip

    # -- conversations (REST) ----------------------------------------------------------

    async def list_conversations(self, *, limit: int = 200, offset: int = 0) -> list[Conversation]:
        """All pages, newest first (classic servers may list in any order: we sort)."""
        items = await self.api.conversations()
        if items and all(isinstance(item, ConversationSummary) for item in items):
            self._extensions_seen()
        conversations = [self._conversation(item) for item in items]
        # Pinned first, the latest pin first; then the most recent (as local mode lists).
        conversations.sort(key=lambda c: (c.pinned_at is not None, c.pinned_at or c.updated_at, c.updated_at, c.id),
                           reverse=True)  # fmt: skip
        self._conversations.update((c.id, c) for c in conversations)
        return conversations[offset : offset + limit]

    async def get_conversation(self, conversation_id: int) -> Conversation | None:
        """From the cache, else from the server's list (the protocol has no one-conversation read
        on a classic server)."""
        if conversation_id not in self._conversations:
            await self.list_conversations(limit=10**9)
        return self._conversations.get(conversation_id)

    async def rename_conversation(self, conversation_id: int, title: str) -> Conversation | None:
        summary = await self.api.rename(conversation_id, title)
        if summary is None:
            return None
        renamed = self._conversation(summary)
        self._conversations[conversation_id] = renamed
        return renamed

    async def delete_conversation(self, conversation_id: int) -> int | None:
        """Returns how many messages went with it, as far as this client had seen."""
        if not await self.api.delete(conversation_id):
            return None
        self._conversations.pop(conversation_id, None)
        return len(self._history.pop(conversation_id, []))

    @staticmethod
    def _conversation(item: ConversationListItem) -> Conversation:
        created = _utc(item.created_at)
        if isinstance(item, ConversationSummary):
            pinned = _utc(item.pinned_at) if item.pinned_at else None
            return Conversation(id=item.id, title=item.name, created_at=created, updated_at=_utc(item.updated_at),
                                pinned_at=pinned, model=item.model, system_prompt=item.system_prompt)  # fmt: skip
        # The classic shape embeds the messages: the newest is when it was last updated.
        updated = max([created, *(_utc(m.timestamp) for m in item.messages)])
        return Conversation(id=item.id, title=item.name, created_at=created, updated_at=updated)

    @staticmethod
    def _message(conversation_id: int, item: MessageOut) -> Message:
        try:
            status = MessageStatus(item.status)
        except ValueError:  # a status this client does not know
            status = MessageStatus.COMPLETE
        return Message(id=item.id, conversation_id=conversation_id, role=item.role, content=item.content,
                       created_at=_utc(item.timestamp), status=status, model=item.model,
                       prompt_tokens=item.prompt_tokens, completion_tokens=item.completion_tokens)  # fmt: skip

    async def _load_history(self, conversation_id: int) -> list[Message]:
        await self._learn_once()  # how the history is read depends on them
        if BRANCHES in self.capabilities:  # the server's tree: its current path, with siblings
            messages = await self._load_tree(conversation_id)
        else:
            items = await self.api.messages(conversation_id)
            messages = sorted((self._message(conversation_id, item) for item in items), key=lambda m: m.id)
        if ATTACH in self.capabilities and (carried := await self.files.of_conversation(conversation_id)):
            messages = [replace(m, attachments=carried[m.id]) if m.id in carried else m for m in messages]
        self._history[conversation_id] = messages
        return messages

    async def get_messages(
        self,
        conversation_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """Windows of the full history, loaded (all pages) when a conversation is opened."""
        messages = self._history.get(conversation_id)
        if messages is None or (before is None and after is None):
            messages = await self._load_history(conversation_id)
        if after is not None:
            return [m for m in messages if m.id > after][:limit]
        return [m for m in messages if before is None or m.id < before][-limit:]

    # -- the cache, as exchanges need it (exchange.Conversations) -----------------------

    async def conversation_for(self, conversation_id: int, prompt: str, *, new: bool = False) -> Conversation:
        known = self._conversations.get(conversation_id)
        if known is None and not new:
            try:
                await self.list_conversations(limit=10**9)
            except CodheError:
                pass
            known = self._conversations.get(conversation_id)
        if known is None:  # a new conversation, named after its first message by the server
            known = Conversation(conversation_id, title_for(prompt), _now(), _now())
        known = replace(known, updated_at=_now())
        self._conversations[conversation_id] = known
        return known

    async def find_new_conversation(self, prompt: str) -> Conversation | None:
        """A classic server's error frame names no conversation: find the one it just made."""
        title = title_for(prompt)
        try:
            conversations = await self.list_conversations(limit=10**9)
        except CodheError:
            return None
        named = [c for c in conversations if " ".join(c.title.split()) == title]
        return max(named, key=lambda c: c.id) if named else None

    def forget_history(self, conversation_id: int) -> None:
        self._history.pop(conversation_id, None)

    # -- replies -----------------------------------------------------------------------

    def stream_reply(
        self,
        conversation_id: int | None,
        prompt: str,
        *,
        title: str | None = None,
        attachments: Sequence[AttachedFile] = (),
    ) -> AsyncGenerator[ReplyEvent, None]:
        """`title` is ignored: a CoDHeChat server names a conversation after its first message.
        `attachments` are uploaded first (ATTACH: a server with the extension)."""
        if attachments:
            return self._attached(conversation_id, prompt, attachments)
        return self._learnt_first(self._exchange(conversation_id, prompt))

    async def _learnt_first(self, exchange: Exchange) -> AsyncGenerator[ReplyEvent, None]:
        """The exchange's events, once the server's extensions are known (warm-up waits for
        a pause in typing): what the reply's end offers (token use: "tokens") depends on them."""
        try:
            await self._learn_once()
        except RemoteError:
            pass  # the exchange meets the same trouble and says it
        async for event in exchange.events():
            yield event

    async def _attached(
        self, conversation_id: int | None, prompt: str, files: Sequence[AttachedFile]
    ) -> AsyncGenerator[ReplyEvent, None]:
        if not prompt.strip():
            raise RemoteError("A message to a CoDHeChat server needs some text beside its files.",
                              "Write what the model should do with them.")  # fmt: skip
        exchange = self._exchange(conversation_id, checked_prompt(prompt))
        exchange.attached = await self.files.upload(files)
        async for event in exchange.events():
            yield event

    async def read_attachment(self, path: Path) -> AttachedFile:
        return await self.files.read(path)

    async def attachment_data(self, attachment: Attachment) -> bytes | None:
        return await self.files.data(attachment)

    async def resolve_model(self) -> str | None:
        """The server chooses the model: nothing to settle here."""
        return None

    def _exchange(self, conversation_id: int | None, prompt: str) -> Exchange:
        return Exchange(self.link, self, conversation_id, prompt, idle_timeout=self.reply_idle_timeout,
                        model=lambda: self.model)  # fmt: skip

    async def retry_reply(self, conversation_id: int) -> AsyncGenerator[ReplyEvent, None]:
        """Ask again for the reply to the conversation's last user message.

        On a server with branches that is a regenerate: the new reply goes beside the
        failed or stopped one, which stays one branch away. The classic protocol has no
        "regenerate": a server only replies to a message it receives.
        So a retry sends the last user message again, and the server stores it a second
        time, then the new reply. The failed or stopped reply stays on the server as it
        ended (`partial` or `error` on servers that keep a status; nothing when no text
        had arrived): the protocol cannot delete one message. Reopening the conversation
        shows that earlier attempt, the repeated prompt and the new reply.
        """
        if BRANCHES in self.capabilities:  # the server answers the last message again, beside the failed reply
            async for event in self.regenerate_reply(conversation_id):
                yield event
            return
        history = await self._load_history(conversation_id)
        last_user = next((m for m in reversed(history) if m.role == "user"), None)
        if last_user is None:
            raise RemoteError("There is no message to retry in this conversation.")
        exchange = self._exchange(conversation_id, last_user.content)
        if last_user.attachments:  # its files go again (uploaded anew: an upload is good for one message)
            files = [AttachedFile(a, data) for a in last_user.attachments if (data := await self.files.data(a))]
            exchange.attached = await self.files.upload(files)
        async for event in exchange.events():
            yield ReplyStarted(event.conversation, None) if isinstance(event, ReplyStarted) else event

    async def sign_in(self, username: str, password: str) -> None:
        """Sign in with an account (the stored token is replaced), then reconnect with it."""
        await self.api.login(username, password)
        self._conversations.clear()
        self._history.clear()
        await self.link.reconnect()

    # -- the rest of ChatBackend ---------------------------------------------------------

    def set_api_key(self, api_key: str) -> None:
        """The server holds the model's key: nothing to do here."""

    async def warm_up(self) -> None:
        """Open the link, and learn the model's name and the server's extensions, before the first prompt."""
        self.link.start()
        await self.learn_extensions()
        self.model = await self.api.health_model() or self.model
        self.link.publish(self.link.connection)

    async def aclose(self) -> None:
        await self.link.aclose()
        await self.api.aclose()
