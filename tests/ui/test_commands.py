"""The command table (codhechat.ui.command_table): keys, footer and palette from one
declaration of each command, hidden together where the backend cannot do it."""

from __future__ import annotations

from codhechat.ui.command_table import CommandTable
from codhechat.ui.screens.chat import ChatScreen
from codhechat.ui.screens.dialogs import Confirm
from codhechat.ui.widgets.sidebar import ConversationTree
from tests.ui.conftest import AppFactory, type_text, wait_until
from tests.ui.test_chat import SIZE, last_reply, reply_views, screen_of, send

# The palette's entries as they were hand-written before the table (title, help).
PALETTE = {
    "New conversation": "Start a new chat (Ctrl+N)",
    "Stop generating": "Stop the reply, keep what arrived (Esc)",
    "Retry reply": "Generate the failed or stopped reply again (Ctrl+R)",
    "Regenerate reply": "A new version of the last reply (the old one stays, one branch away) (Ctrl+G)",
    "Continue reply": "The rest of a reply cut at the length limit (or stopped), in the same reply (F7)",
    "Generation settings…": "This conversation's temperature, top p, max tokens, seed, reasoning effort",
    "Edit a message…": "Change one of your messages and resend it; the old version stays, one branch away (F12)",
    "Model…": "This conversation's model: from the endpoint's list, or type one (F5)",
    "System prompt…": "This conversation's system prompt: a preset or your own (F9)",
    "Attach file…": "A file for your next message (or type @path, then Tab) (F10)",
    "Save an attached file…": "Save a file of a message shown to the working folder",
    "Copy last reply": "To the clipboard, by OSC 52 (Ctrl+O)",
    "Copy last code block": "The last code block of a reply, to the clipboard",
    "Copy a message…": "Pick any message shown, to the clipboard",
    "Search conversations": "Every conversation's text, as you type (Ctrl+F)",
    "Rename conversation": "The open one, or the one selected in the sidebar (F3)",
    "Pin or unpin conversation": "Pinned conversations head the sidebar (F4)",
    "Delete conversation": "After a confirmation; Ctrl+Z undoes it for a few seconds (F8)",
    "Undo delete": "Bring back the conversation (or version) just deleted (Ctrl+Z)",
    "Toggle sidebar": "Show or hide the conversation list (Ctrl+B)",
    "Set API key": "Store an API key in the config file (F2)",
    "Toggle dark/light theme": "Switch between dark and light (Ctrl+T)",
}


async def offered(app) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    return {str(hit.text): hit.help async for hit in CommandTable(app.screen).discover()}


async def test_the_palette_offers_each_command_with_its_key(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await wait_until(pilot, lambda: reply_views(app) and last_reply(app).status is not None)
        # Everything but "Undo delete", there only while a delete can be undone, and "Continue
        # reply", only while the last reply was cut short (the versions' commands: see test_branches).
        assert await offered(app) == {title: help for title, help in PALETTE.items()
                                      if title not in ("Undo delete", "Continue reply")}  # fmt: skip
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.query_one(ConversationTree).conversations)
        assert (await offered(app))["Undo delete"] == PALETTE["Undo delete"]
        # A palette entry runs what its key runs.
        await pilot.press("ctrl+p")
        await type_text(pilot, "undo delete")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query_one(ConversationTree).conversations)
        assert "Undo delete" not in await offered(app)


async def test_a_command_the_backend_cannot_do_says_why_instead_of_doing_nothing(make_app: AppFactory) -> None:
    app = make_app()
    app.backend.capabilities = frozenset()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chat = screen_of(app)
        assert chat.why_not("search") == "Not available: local cannot search conversations."
        assert chat.check_action("gated", ("search",))  # its key runs, to say why
        assert (await offered(app))["Search conversations"] == "Not available: local cannot search conversations."
        hits = [h async for h in CommandTable(app.screen).discover() if h.text == "Search conversations"]
        hit = hits[0]
        assert "dim" in str(hit.display.style)  # greyed
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: any("cannot search" in str(n.message) for n in app._notifications))
        assert app.screen is chat  # no dialog
        # A command that cannot run for another reason stays hidden (Ctrl+Z: the prompt's undo).
        assert chat.why_not("copy_last_reply") is None and chat.why_not("undo_delete") is not None
        assert not chat.check_action("undo_delete", ()) and "Undo delete" not in await offered(app)
        keys = {binding.key for binding in ChatScreen.BINDINGS}
        assert {"ctrl+f", "f3", "f4", "f8", "ctrl+z", "ctrl+g", "f5", "f9", "f12"} <= keys
