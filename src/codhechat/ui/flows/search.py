"""Search every conversation (SearchScreen) and open the one chosen at the message found."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.screen import Screen

from codhechat.backends import BRANCHES, supports
from codhechat.errors import CodheError
from codhechat.models import SearchHit
from codhechat.ui.screens.search import RESULTS, SearchScreen
from codhechat.ui.session import ChatSession


def search_conversations(screen: Screen[Any], session: ChatSession, *, hidden: Callable[[int], bool]) -> None:
    """`hidden`: conversations not to offer (deleted, their undo pending)."""

    async def chosen(hit: SearchHit | None) -> None:
        if hit is None:
            return
        branches = supports(session.backend, BRANCHES)
        if branches and session.live_for(hit.conversation_id) is not None:
            # Its path cannot change under a reply being written to it.
            screen.notify("A reply is being generated there: stop it (Esc) first, then open the result.")
            return
        try:
            if branches:  # the hit may be on another branch: show that one
                await session.backend.switch_branch(hit.conversation_id, hit.message_id)
            await session.open(hit.conversation_id, at=hit.message_id)
        except CodheError as exc:
            screen.notify(str(exc), title="Cannot open the conversation", severity="error")
            return
        if session.conversation(hit.conversation_id) is None:
            screen.sub_title = hit.title  # beyond the loaded pages of the sidebar
        screen.query_one("#prompt").focus()

    search = SearchScreen(lambda query: session.backend.search(query, limit=RESULTS), hidden=hidden)
    screen.app.push_screen(search, chosen)
