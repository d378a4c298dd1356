"""How a shell command reaches the conversations: through the same backend seam as the
app (ChatBackend), so that `codhechat --server URL list` lists the server's, not the
local database, and a command the backend cannot do says so.

Every command runs as one coroutine on one event loop (the model client's and the
server link's connections belong to the loop that made them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from codhechat.backends import ChatBackend, supports
from codhechat.commands.output import not_found
from codhechat.errors import CodheError
from codhechat.models import Conversation, Message

if TYPE_CHECKING:
    from codhechat.backends.remote import RemoteBackend

T = TypeVar("T")
ALL = 10**9  # "every one" as a page size


def open_backend(settings: Any, *, readonly: bool = False, **local: Any) -> ChatBackend:
    """Remote mode when a server is configured, else local mode over the SQLite file
    (opened read-only for reading commands: see output.open_store); `local` are
    LocalBackend's options."""
    if settings.server:
        from codhechat.backends.remote import RemoteBackend

        # The protocol lists the optional abilities too: a server has those its capabilities
        # name (supports() is asked before each), which a static type cannot say.
        return cast(ChatBackend, RemoteBackend(settings.server, http_timeout=settings.request_timeout))  # see run_with
    from codhechat.backends.local import LocalBackend
    from codhechat.commands.output import open_store

    return LocalBackend(settings, open_store(settings, readonly=readonly), **local)


def run_with(settings: Any, work: Callable[[ChatBackend], Awaitable[T]], *, readonly: bool = False, **local: Any) -> T:
    """Open the backend, run `work` with it on one event loop, and close it."""

    async def main() -> T:
        backend = open_backend(settings, readonly=readonly, **local)
        try:
            if settings.server:
                remote = cast("RemoteBackend", backend)  # a server configured: open_backend made one
                await remote.learn_extensions()  # what this server can do, before a command needs it
            return await work(backend)
        finally:
            await backend.aclose()

    return asyncio.run(main())


def require(backend: ChatBackend, ability: str, what: str) -> None:
    """Say clearly when the backend cannot do this (a classic server cannot search)."""
    if not supports(backend, ability):
        raise CodheError(
            f"{backend.mode} cannot {what}.",
            "This server does not offer it; `codhechat serve` does, and so does local mode (without --server).",
        )


async def conversation(backend: ChatBackend, conversation_id: int) -> Conversation:
    found = await backend.get_conversation(conversation_id)
    if found is None:
        raise not_found(conversation_id)
    return found


async def all_messages(backend: ChatBackend, conversation_id: int) -> list[Message]:
    return await backend.get_messages(conversation_id, limit=ALL)
