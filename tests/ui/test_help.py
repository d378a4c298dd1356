"""The help screen (F1): the app's commands first, grouped, each with its key, then the
prompt's editing keys; every key it lists is a key the app or the prompt has."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding
from textual.widgets import TextArea

from codhechat.ui.command_table import BY_ACTION, GROUPS, unavailable
from codhechat.ui.screens.chat import ChatScreen
from codhechat.ui.screens.help import EDITING, PALETTE_KEY, HelpScreen, sections
from codhechat.ui.widgets.prompt import NEWLINE_KEYS, PromptInput
from tests.ui.conftest import AppFactory, type_text, wait_until
from tests.ui.test_chat import screen_of, send


def prompt_keys() -> dict[str, str]:
    """Every key the prompt has, as Textual merges its bindings (the subclass's win), to its action."""
    keys: dict[str, str] = {}
    for cls in reversed(PromptInput.__mro__):
        for binding in cls.__dict__.get("BINDINGS", []):
            assert isinstance(binding, Binding)
            keys.update((key, binding.action) for key in binding.key.split(","))
    return keys


def test_every_command_key_in_the_help_is_bound_to_its_command(make_app: AppFactory) -> None:
    app = make_app()
    found = sections(app.backend)
    assert [heading for heading, _ in found] == [*GROUPS.values(), "Editing the prompt"]
    bound = {b.key: b.action for b in [*ChatScreen.BINDINGS, *type(app).BINDINGS] if isinstance(b, Binding)}
    titled = {command.title or command.label: command for command in BY_ACTION.values()}
    for _, rows in found[:-1]:
        for row in rows:
            if row.what == "Command palette":
                assert row.keys == (PALETTE_KEY,) == (App.COMMAND_PALETTE_BINDING,)
                continue
            command = titled[row.what]
            assert row.keys == ((bound_key := command.key),) if command.key else row.keys == ()
            if command.key:
                assert bound[bound_key] in (command.action, f"gated({command.action!r})"), row
    listed = {row.what for _, rows in found[:-1] for row in rows}
    # None left out but those the backend cannot do (Tools… without MCP servers configured).
    assert {command.title or command.label for command in BY_ACTION.values()
            if unavailable(command.action, app.backend) is None} <= listed  # fmt: skip


def test_every_editing_key_in_the_help_is_the_prompts() -> None:
    keys = prompt_keys()
    handled_by_the_prompt = {"enter", "up", "down"} | NEWLINE_KEYS  # PromptInput.on_key
    for row in EDITING:
        for key in row.keys:
            assert key in keys or key in handled_by_the_prompt, (key, row.what)
    # The prompt's own meanings win over TextArea's.
    assert keys["pageup"] == "screen.page_messages(-1)" and keys["ctrl+j"] == "newline"
    assert keys["f7"] == "select_all" and keys["ctrl+z"] == "undo" and keys["ctrl+w"] == "delete_word_left"
    assert TextArea.BINDINGS  # the digest is of these


async def test_f1_shows_the_apps_keys_first_and_f1_or_esc_closes_it(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        shown = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        for key, what in (("F3", "Rename conversation"), ("F4", "Pin or unpin"), ("F8", "Delete conversation"),
                          ("Ctrl+F", "Search conversations"), ("Ctrl+O", "Copy last reply")):  # fmt: skip
            assert any(key in line and what in line for line in shown.splitlines()), (key, what)
        assert "^l" not in shown
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))


async def test_the_prompt_keys_the_help_names_do_what_it_says(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        prompt = screen_of(app).prompt
        await send(pilot, "first")
        await wait_until(pilot, lambda: prompt.text == "" and prompt.recall == ["first"])
        await pilot.press("up")
        assert prompt.text == "first"
        await pilot.press("down")
        assert prompt.text == ""
        await type_text(pilot, "a")
        await pilot.press("ctrl+j")
        await type_text(pilot, "b")
        assert prompt.text == "a\nb"
