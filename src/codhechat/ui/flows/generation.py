"""A conversation's generation parameters ("Generation settings…" in the palette):
temperature, top_p, max tokens, seed, reasoning effort, each sent only when set."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from codhechat.ui.flows.manage import apply_change
from codhechat.ui.screens.generation import GenerationForm
from codhechat.ui.session import ChatSession


async def choose_generation(screen: Screen[Any], session: ChatSession) -> None:
    conversation = session.conversation(session.conversation_id)
    if conversation is None:
        screen.notify("Send a first message, then set this conversation's generation settings.")
        return
    chosen = await screen.app.push_screen_wait(
        GenerationForm(f"Generation settings for “{conversation.title}”", conversation.generation)
    )
    if chosen is None or chosen == conversation.generation:
        return
    updated = await apply_change(screen, session, session.backend.set_generation(conversation.id, chosen), "Not saved")
    if updated is not None:
        shown = ", ".join(f"{k} {v}" for k, v in updated.generation.options().items()) or "the endpoint's defaults"
        screen.notify(f"“{updated.title}” now uses {shown}.")
