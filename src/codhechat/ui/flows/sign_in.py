"""Signing in to the server again from the app (the palette's "Sign in…"), once it
refuses the token for good (its secret changed, the account was deleted or signed out
everywhere), or to use another account: the backend's SIGN_IN ability."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from codhechat.errors import CodheError
from codhechat.ui.screens.sign_in import SignInScreen
from codhechat.ui.session import ChatSession


async def sign_in_again(screen: Screen[Any], session: ChatSession) -> None:
    backend = session.backend
    answer = await screen.app.push_screen_wait(SignInScreen(backend.mode, "With an account of this server."))
    if answer is None:
        return
    username, password = answer
    try:
        await backend.sign_in(username, password)
    except CodheError as exc:
        screen.notify(str(exc), title="Not signed in", severity="error")
        return
    screen.notify(f"Signed in to {backend.mode} as {username}.", title="Server")
    await session.new_conversation()  # the conversation shown was the old sign-in's
    screen.load_conversations()  # type: ignore[attr-defined]  # the chat screen's (a worker)
