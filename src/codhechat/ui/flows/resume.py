"""Opening a conversation at start-up: `codhechat --continue` (the most recent one) or
`codhechat --conversation ID`, so that a user whose SSH dropped is back in one command."""

from __future__ import annotations

from typing import Any, Literal

from rich.text import Text
from textual.screen import Screen

from codhechat.errors import CodheError
from codhechat.ui.session import ChatSession

LATEST = "latest"
Resume = int | Literal["latest"]


async def resume(screen: Screen[Any], session: ChatSession, which: Resume) -> None:
    """List the conversations, then open the one asked for. An unknown id ends the app
    with a plain error (a typo is better said at once than shown as an empty chat)."""
    try:
        await session.load_conversations()
        if isinstance(which, str):  # LATEST, the one word a Resume can be
            # The session lists by last activity; the store puts pinned ones first, but
            # "most recent" means the one last talked in.
            if not session.conversations:
                screen.notify("There is no conversation to continue yet: this is a new one.")
                return
            await session.open(session.conversations[0].id)
            return
        conversation = session.conversation(which) or await session.backend.get_conversation(which)
        if conversation is not None:
            session.upsert(conversation)  # older than the first page: listed, so that it has its title
            await session.open(conversation.id)
            return
    except CodheError as exc:
        screen.notify(str(exc), title="Cannot open the conversation", severity="error")
        return
    screen.app.exit(
        return_code=1,
        message=Text(f"codhechat: There is no conversation {which}.\n  `codhechat list` shows the ids."),
    )
