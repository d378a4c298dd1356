"""The server refuses the token for good (issue 11): its secret changed between runs, or
the account was deleted. The status line says "signed out" and how to sign in again, the
palette's "Sign in…" does it from the app, and chatting carries on, against a real
`codhechat serve` restarted on the same port and database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from codhechat.ui.app import CodheChatApp
from codhechat.ui.command_table import CommandTable
from codhechat.ui.screens.sign_in import SignInScreen
from tests.remote.conftest import remote_backend
from tests.remote.test_ui_backends import SIZE, last_reply, reply_views, screen_of, send
from tests.ui.conftest import type_text, wait_until

SIGNED_OUT = "○ signed out: Ctrl+P, “Sign in…”"
OTHER_SECRET = "a-new-secret-after-a-leak-" + "k" * 50


async def _register(url: str, folder: Path, username: str, password: str) -> str:
    """An account, signed in with its token stored in `folder` (as `codhechat login --register`)."""
    backend = remote_backend(url, token_folder=folder)
    try:
        return (await backend.api.login(username, password, register=True)).access_token
    finally:
        await backend.aclose()


async def _sign_in(pilot: Any, app: Any, username: str, password: str) -> None:
    await pilot.press("ctrl+p")
    await type_text(pilot, "sign in")
    await pilot.pause(0.3)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen))
    await type_text(pilot, username)
    await pilot.press("enter")  # on to the password
    await type_text(pilot, password)
    await pilot.press("enter")


async def test_a_changed_secret_signs_out_and_sign_in_from_the_palette_carries_on(
    make_server: Any, tmp_path: Path
) -> None:
    database = tmp_path / "server.db"
    server = make_server(database=database)
    port = server.port
    await _register(server.url, tmp_path, "alice", "a-long-password")
    app = CodheChatApp(remote_backend(server.url, token_folder=tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        status = screen_of(app).status
        await send(pilot, "before the restart")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        assert last_reply(app).text == "Echo: before the restart"
        offered = {str(h.text): h.help async for h in CommandTable(app.screen).discover()}
        assert "Sign in…" in offered  # remote mode has accounts
        # The operator rotates SECRET_KEY: every token signed with the old one is refused.
        server.stop()
        make_server(port=port, database=database, secret_key=OTHER_SECRET)
        await wait_until(pilot, lambda: status.connection == SIGNED_OUT, timeout=30)
        told = "\n".join(str(n.message) for n in app._notifications)
        assert "expired" in told and "Sign in…" in told  # why, and what to do
        # A send fails, saying so (not a silent "offline"); the prompt is given back.
        await send(pilot, "are you there?")
        await wait_until(pilot, lambda: len(reply_views(app)) == 2 and last_reply(app).status is not None)
        assert "Sign in" in str(last_reply(app).query_one(".notice").render())
        assert app.query_one("#prompt").text == "are you there?"
        # Sign in again from the palette: connected, the account's conversations are back.
        await _sign_in(pilot, app, "alice", "a-long-password")
        await wait_until(pilot, lambda: status.connection == "● connected", timeout=30)
        await wait_until(
            pilot, lambda: any(c.title == "before the restart" for c in screen_of(app).session.conversations)
        )
        app.query_one("#prompt").clear()
        await send(pilot, "back again")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).text == "Echo: back again")


async def test_a_deleted_account_signs_out_and_a_wrong_sign_in_says_why(make_server: Any, tmp_path: Path) -> None:
    server = make_server()
    token = await _register(server.url, tmp_path, "bob", "another-password")
    async with httpx.AsyncClient(base_url=server.url) as http:
        gone = await http.delete("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 204
    app = CodheChatApp(remote_backend(server.url, token_folder=tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        status = screen_of(app).status
        await wait_until(pilot, lambda: status.connection == SIGNED_OUT, timeout=30)
        await _sign_in(pilot, app, "bob", "another-password")
        await wait_until(
            pilot, lambda: any("Wrong username or password" in str(n.message) for n in app._notifications), timeout=30
        )
        assert status.connection == SIGNED_OUT


async def test_sign_in_switches_from_a_guest_to_an_account_while_connected(make_server: Any, tmp_path: Path) -> None:
    server = make_server()
    await _register(server.url, tmp_path / "carol", "carol", "carols-password")
    app = CodheChatApp(remote_backend(server.url, token_folder=tmp_path / "guest"))
    async with app.run_test(size=SIZE) as pilot:
        status = screen_of(app).status
        await send(pilot, "a guest's words")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        assert status.connection == "● connected"
        await _sign_in(pilot, app, "carol", "carols-password")
        await wait_until(pilot, lambda: any("as carol" in str(n.message) for n in app._notifications), timeout=30)
        await wait_until(pilot, lambda: status.connection == "● connected")
        await wait_until(pilot, lambda: not screen_of(app).session.conversations)  # carol has none yet
        await send(pilot, "carol speaking")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).text == "Echo: carol speaking")
        mine = await app.backend.list_conversations()
        assert [c.title for c in mine] == ["carol speaking"]
