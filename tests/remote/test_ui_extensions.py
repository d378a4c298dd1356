"""Remote mode with every feature (issue 11): against a real `codhechat serve` (its model
the loopback FakeOpenAI) the app pins (F4), chooses the conversation's model from the
server's allow-list (F5) and its system prompt (F9), and shows token usage in the reply's
header and the status line; against a classic server those commands say why they cannot
run, greyed in the palette, instead of a key that does nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input

from codhechat.ui.app import CodheChatApp
from codhechat.ui.command_table import CommandTable
from codhechat.ui.screens.conversation_settings import ChooseOrType
from codhechat.ui.widgets.status import StatusBar
from tests.fake_openai import FakeOpenAI
from tests.remote.conftest import remote_backend
from tests.remote.test_ui_backends import SIZE, last_reply, reply_views, screen_of, send
from tests.ui.conftest import type_text, wait_until


async def _reply(pilot: Any, app: Any, text: str) -> None:
    count = len(reply_views(app))
    await send(pilot, text)
    await wait_until(pilot, lambda: len(reply_views(app)) > count and last_reply(app).status is not None)


async def _conversation(app: Any) -> Any:
    backend = app.backend
    backend._conversations.clear()  # read it from the server again
    return await backend.get_conversation(screen_of(app).conversation_id)


async def test_pin_model_system_prompt_and_tokens_work_against_codhechat_serve(
    make_server: Any, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    server = make_server(allowed_models=["gpt-4o"])
    app = CodheChatApp(remote_backend(server.url, token_folder=tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await _reply(pilot, app, "hello")
        # Tokens: the reply's header and the status line's context use, from the model's usage.
        await wait_until(pilot, lambda: last_reply(app)._usage is not None)
        prompt, completion = last_reply(app)._usage
        assert prompt > 0 and completion > 0
        await wait_until(pilot, lambda: app.query_one(StatusBar).tokens.startswith("context "))
        assert app.query_one(StatusBar).tokens == f"context {prompt + completion:,} tokens"
        # F4 pins it on the server.
        await pilot.press("f4")
        await wait_until(pilot, lambda: any("Pinned" in str(n.message) for n in app._notifications))
        assert (await _conversation(app)).pinned_at is not None
        # F5 lists the server's models (its allow-list) and sets this conversation's.
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        dialog = app.screen
        await wait_until(pilot, lambda: ("gpt-4o", "gpt-4o") in dialog.choices)
        assert [value for _, value in dialog.choices] == ["", "gpt-4o-mini", "gpt-4o"]
        await pilot.press("down", "down", "down", "enter")
        await wait_until(pilot, lambda: app.screen is screen_of(app))
        assert (await _conversation(app)).model == "gpt-4o"
        # F9: a system prompt of its own, typed.
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        await type_text(pilot, "Answer like a pirate.")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen_of(app))
        assert (await _conversation(app)).system_prompt == "Answer like a pirate."
        await _reply(pilot, app, "which model?")
        sent = fake_openai.requests[-1]["body"]
        assert sent["model"] == "gpt-4o"
        assert sent["messages"][0] == {"role": "system", "content": "Answer like a pirate."}
        assert last_reply(app).model == "gpt-4o"
        # A model the server does not offer, typed: refused, saying why, nothing changed.
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOrType))
        app.screen.query_one(Input).value = ""
        await type_text(pilot, "secret-model")
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("does not offer the model" in str(n.message) for n in app._notifications))
        assert (await _conversation(app)).model == "gpt-4o"


async def test_a_classic_server_greys_out_pin_model_and_system_prompt_saying_why(
    classic_server: Any, tmp_path: Path
) -> None:
    app = CodheChatApp(remote_backend(classic_server.url, token_folder=tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await _reply(pilot, app, "hello classic")
        chat = screen_of(app)
        offered = {str(hit.text): hit async for hit in CommandTable(app.screen).discover()}
        for title, words in (("Pin or unpin conversation", "cannot pin conversations"),
                             ("Model…", "cannot keep a model and system prompt per conversation"),
                             ("System prompt…", "cannot keep a model and system prompt per conversation")):  # fmt: skip
            assert words in str(offered[title].help), title
            assert "dim" in str(offered[title].display.style), title  # greyed
        # Every command the classic server cannot do says what, never "cannot do that".
        greyed = [str(hit.help) for hit in offered.values() if str(hit.help).startswith("Not available: ")]
        assert greyed and not [why for why in greyed if why.endswith("cannot do that.")]
        for key, words in (("f4", "cannot pin"), ("f5", "cannot keep a model"), ("f9", "cannot keep a model")):
            app.clear_notifications()
            await pilot.press(key)
            await wait_until(pilot, lambda w=words: any(w in str(n.message) for n in app._notifications))
            assert app.screen is chat  # no dialog, no silent key
