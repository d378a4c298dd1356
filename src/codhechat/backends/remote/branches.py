"""Remote mode's branches (REGENERATE, EDIT, BRANCHES) over codhechat serve's extension
(protocol/branches.py), offered only where `GET /extensions` lists it.

The server keeps the tree; this client reads it whole when a conversation is opened
(`GET /conversations/{id}/tree`), shows its current path with each message's siblings,
and asks for a regenerate or an edit over the link as a chat frame is asked for: the
reply streams as any other (an Exchange), the old version stays on the server.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import replace

from pydantic import TypeAdapter

from codhechat.backends.remote.api import ServerApi
from codhechat.backends.remote.errors import body_of, status_error
from codhechat.backends.remote.exchange import Exchange, checked_prompt
from codhechat.backends.remote.link import ClientFrame, Link
from codhechat.models import Conversation, Message, ReplyDone, ReplyEvent, ReplyStarted
from codhechat.protocol.branches import BranchDeleted, EditFrame, MessageTree, RegenerateFrame
from codhechat.protocol.rest import MessageOut

TREE = TypeAdapter(MessageTree)
DELETED = TypeAdapter(BranchDeleted)
GONE = "That conversation or message does not exist on the server (any more)."


class RegenerateExchange(Exchange):
    def request(self) -> ClientFrame:
        assert self.conversation_id is not None
        return RegenerateFrame(request_id=self.request_id, conversation_id=self.conversation_id)


class EditExchange(Exchange):
    message_id = 0

    def request(self) -> ClientFrame:
        assert self.conversation_id is not None
        self.prompt = checked_prompt(self.prompt)
        return EditFrame(request_id=self.request_id, conversation_id=self.conversation_id,
                         message_id=self.message_id, message=self.prompt)  # fmt: skip


def current_path(tree: MessageTree, read: Callable[[MessageOut], Message]) -> tuple[list[Message], list[Message]]:
    """(the current path, oldest first, each message with its siblings; every message)."""
    everything = [replace(read(m), parent_id=m.parent_id, current_child=m.current_child) for m in tree.messages]
    by_id = {m.id: m for m in everything}
    children: dict[int | None, list[int]] = {}
    for message in everything:
        children.setdefault(message.parent_id, []).append(message.id)
    path: list[Message] = []
    at = by_id.get(tree.current_leaf) if tree.current_leaf is not None else None
    while at is not None and len(path) <= len(everything):
        kids = children.get(at.parent_id, [])
        path.append(replace(at, siblings=tuple(sorted(kids))) if len(kids) > 1 else at)
        at = by_id.get(at.parent_id) if at.parent_id is not None else None
    return path[::-1], everything


class RemoteBranches:
    """The branch methods of RemoteBackend (a mixin). Needs, from it: api, link, the
    history cache, and how it reads a message and makes an exchange's settings."""

    api: ServerApi
    link: Link
    model: str
    reply_idle_timeout: float
    _history: dict[int, list[Message]]
    _conversations: dict[int, Conversation]
    _message: Callable[[int, MessageOut], Message]

    async def _load_tree(self, conversation_id: int) -> list[Message]:
        """Read the conversation's tree; cache its current path (what get_messages pages through)."""
        path, _ = current_path(await self._tree("GET", conversation_id, "tree"), self._reader(conversation_id))
        self._history[conversation_id] = path
        return path

    async def message_tree(self, conversation_id: int) -> list[Message]:
        _, everything = current_path(await self._tree("GET", conversation_id, "tree"), self._reader(conversation_id))
        return everything

    async def switch_branch(self, conversation_id: int, message_id: int) -> None:
        await self._tree("PUT", conversation_id, "branch", json={"message_id": message_id})
        self._history.pop(conversation_id, None)  # read again as a whole (with its files: backend.py)

    async def delete_branch(self, conversation_id: int, message_id: int) -> int:
        path = f"/conversations/{conversation_id}/messages/{message_id}"
        response = await self.api.authorised("DELETE", path)
        if response.status_code != 200:
            raise status_error(self.api.server, response, not_found=GONE)
        self._history.pop(conversation_id, None)
        return body_of(self.api.server, response, DELETED, "DELETE /conversations/{id}/messages/{id}").deleted

    async def regenerate_reply(self, conversation_id: int) -> AsyncGenerator[ReplyEvent, None]:
        """A new version of the last reply, beside it on the server (the old one stays)."""
        exchange = RegenerateExchange(self.link, self, conversation_id, "",  # type: ignore[arg-type]
                                      idle_timeout=self.reply_idle_timeout, model=lambda: self.model)  # fmt: skip
        async for event in exchange.events():
            if isinstance(event, ReplyStarted):
                event = ReplyStarted(event.conversation, None)
            yield await self._with_siblings(event)

    async def edit_and_resend(
        self, conversation_id: int, message_id: int, content: str
    ) -> AsyncGenerator[ReplyEvent, None]:
        """A new version of one of the user's messages, beside it on the server, and its reply."""
        exchange = EditExchange(self.link, self, conversation_id, content,  # type: ignore[arg-type]
                                idle_timeout=self.reply_idle_timeout, model=lambda: self.model)  # fmt: skip
        exchange.message_id = message_id
        async for event in exchange.events():
            yield await self._with_siblings(event)

    async def _with_siblings(self, event: ReplyEvent) -> ReplyEvent:
        """The stored message an event carries, with its siblings (read from the server's tree)."""
        if isinstance(event, ReplyStarted) and event.user_message is not None and event.user_message.id:
            found = await self._stored(event.conversation.id, event.user_message.id)
            if found is not None:
                return ReplyStarted(event.conversation, _placed(event.user_message, found))
        if isinstance(event, ReplyDone) and event.message.id:
            found = await self._stored(event.message.conversation_id, event.message.id)
            if found is not None:
                return ReplyDone(_placed(event.message, found))
        return event

    async def _stored(self, conversation_id: int, message_id: int) -> Message | None:
        path = await self._load_tree(conversation_id)
        return next((m for m in path if m.id == message_id), None)

    def _reader(self, conversation_id: int) -> Callable[[MessageOut], Message]:
        return lambda item: self._message(conversation_id, item)

    async def _tree(self, method: str, conversation_id: int, route: str, **kwargs: object) -> MessageTree:
        response = await self.api.authorised(method, f"/conversations/{conversation_id}/{route}", **kwargs)
        if response.status_code != 200:
            raise status_error(self.api.server, response, not_found=GONE)
        tree = body_of(self.api.server, response, TREE, f"{method} /conversations/{{id}}/{route}")
        if (known := self._conversations.get(conversation_id)) is not None:  # the path it is on, as local mode's
            self._conversations[conversation_id] = replace(known, current_leaf=tree.current_leaf)
        return tree


def _placed(message: Message, stored: Message) -> Message:
    return replace(message, parent_id=stored.parent_id, siblings=stored.siblings)
