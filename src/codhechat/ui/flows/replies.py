"""Regenerate the last reply (Ctrl+G): a new version beside the old one where the backend
keeps branches; elsewhere after saying what it replaces."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from codhechat.backends import BRANCHES, supports
from codhechat.ui.screens.dialogs import Confirm
from codhechat.ui.session import ChatSession


async def regenerate(screen: Screen[Any], session: ChatSession) -> None:
    conversation_id = session.conversation_id
    if conversation_id is None or session.live_for(conversation_id) is not None:
        return
    finished = session.finished_reply()
    if finished is None:
        screen.notify("There is no finished reply here to regenerate.")
        return
    old, complete, text = finished
    if not complete:
        await screen.run_action("retry")  # failed or stopped: that is a retry
        return

    if supports(session.backend, BRANCHES):
        await session.regenerate(old)  # nothing is lost: the old reply is one branch away
        return

    async def confirmed(yes: bool | None) -> None:
        if yes and session.conversation_id == conversation_id and not session.live_for(conversation_id):
            await session.regenerate(old)

    question = (
        f"Regenerate replaces the last reply: the current one ({len(text):,} characters) "
        "is deleted, not kept.\nCopy it first (Ctrl+O) to keep it."
    )
    screen.app.push_screen(Confirm(question, yes="Replace it"), confirmed)
