"""Per-conversation settings and editing: the model (F5), the system prompt (F9), and
editing one of your earlier messages to resend it (F12).

They use the backend's optional methods (codhechat.backends: CONVERSATION_OPTIONS,
EDIT), whose commands the chat screen offers only where the backend has them.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from codhechat.backends import BRANCHES, supports
from codhechat.errors import CodheError, ModelError
from codhechat.textsafe import visible
from codhechat.ui.flows.manage import apply_change
from codhechat.ui.screens.conversation_settings import Choice, ChooseOrType, EditText
from codhechat.ui.screens.dialogs import Confirm, PickOne
from codhechat.ui.session import ChatSession
from codhechat.ui.text import plain

PICK_LIMIT = 200  # how many of the newest messages "Edit a message…" offers from


def _preview(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


async def choose_model(screen: Screen[Any], session: ChatSession) -> None:
    conversation = session.conversation(session.conversation_id)
    if conversation is None:
        screen.notify("Send a first message, then choose this conversation's model.")
        return
    backend = session.backend
    current = conversation.model or backend.model

    async def load() -> list[Choice]:
        groups = await backend.model_catalogue()
        if groups and not any(group.models for group in groups) and groups[0].error:
            raise ModelError(groups[0].error)  # shown under the field: type the name instead
        several = len(groups) > 1
        choices: list[Choice] = []
        for group in groups:
            if several or group.error:
                why = f"  ({group.error})" if group.error else ""
                choices.append((f"{group.provider}  {group.endpoint}{why}", None))
            choices += [(f"  {name}" if several else name, name) for name in group.models]
        return choices

    chosen = await screen.app.push_screen_wait(
        ChooseOrType(
            f"Model for “{conversation.title}” (now {current})",
            current,
            [(f"{backend.model}  (the default)", "")],
            hint="Type any model name and press Enter, or ↓ to pick one the endpoint lists. Esc cancels.",
            load=load,
        )
    )
    if chosen is None:
        return
    await _save_options(screen, session, conversation.id, model=chosen, system_prompt=conversation.system_prompt)


async def settle_model(screen: Screen[Any], session: ChatSession) -> None:
    """Once the first screen is drawn: where no model was chosen and the endpoint does not
    serve the default, say which model is used, or ask once which of its models to use."""
    backend = session.backend
    notice = await backend.resolve_model()
    if choices := backend.model_choices:
        title = f"The endpoint does not serve {visible(backend.model)}: use which of its models?"
        index = await screen.app.push_screen_wait(PickOne(title, [*choices]))
        if index is not None:
            backend.model, backend.model_choices = choices[index], []
            screen.notify(f"Using {choices[index]} (set `model` in the config to keep it).", title="Model")
    elif notice:
        screen.notify(notice, title="Model", timeout=8)
    screen.update_status()  # type: ignore[attr-defined]


async def choose_system_prompt(screen: Screen[Any], session: ChatSession) -> None:
    conversation = session.conversation(session.conversation_id)
    if conversation is None:
        screen.notify("Send a first message, then choose this conversation's system prompt.")
        return
    backend = session.backend
    default = backend.default_system_prompt
    choices: list[Choice] = [(f"(default) {_preview(default)}", "")]
    choices += [(f"{name}: {_preview(text)}", text) for name, text in sorted(backend.system_prompt_presets.items())]
    chosen = await screen.app.push_screen_wait(
        ChooseOrType(
            f"System prompt for “{conversation.title}”",
            conversation.system_prompt or "",
            choices,
            hint="Type a system prompt and press Enter (empty: the default), or ↓ to pick a preset "
            "([presets] in config.toml). Esc cancels.",
        )
    )
    if chosen is None:
        return
    await _save_options(screen, session, conversation.id, model=conversation.model, system_prompt=chosen)


async def _save_options(
    screen: Screen[Any], session: ChatSession, conversation_id: int, *, model: str | None, system_prompt: str | None
) -> None:
    change = session.backend.set_conversation_options(
        conversation_id, model=model or None, system_prompt=system_prompt or None
    )
    updated = await apply_change(screen, session, change, "Not saved")
    if updated is None:
        return
    prompt = "the default system prompt" if updated.system_prompt is None else "its own system prompt"
    screen.notify(f"“{updated.title}” now uses {updated.model or session.backend.model} and {prompt}.")


async def edit_message(screen: Screen[Any], session: ChatSession) -> None:
    conversation_id = session.conversation_id
    backend = session.backend
    if conversation_id is None:
        screen.notify("Open a conversation to edit one of your messages.")
        return
    if session.live_for(conversation_id) is not None:
        screen.notify("A reply is being generated here: stop it (Esc) first.", severity="warning")
        return
    try:
        mine = [m for m in await backend.get_messages(conversation_id, limit=PICK_LIMIT) if m.role == "user"]
    except CodheError as exc:
        screen.notify(str(exc), title="Cannot edit", severity="error")
        return
    if not mine:
        screen.notify("There is no message of yours here to edit.")
        return
    index = await screen.app.push_screen_wait(
        PickOne("Edit which of your messages?", [plain(_preview(m.content, 80)) for m in mine])
    )
    if index is None:
        return
    message = mine[index]
    text = await screen.app.push_screen_wait(EditText("Edit your message, then resend it", message.content))
    if text is None:
        return
    try:
        later = [] if supports(backend, BRANCHES) else await backend.get_messages(  # branches lose nothing
            conversation_id, after=message.id, limit=100_000)  # fmt: skip
    except CodheError as exc:
        screen.notify(str(exc), title="Cannot edit", severity="error")
        return
    if later:
        count = len(later)
        question = (
            f"Resend the edited message? The {count} later message{'s' if count != 1 else ''} "
            f"after it {'are' if count != 1 else 'is'} deleted, not kept, and a new reply is generated."
        )
        if not await screen.app.push_screen_wait(Confirm(question, yes=f"Delete {count} and resend")):
            return
    if session.conversation_id != conversation_id or session.live_for(conversation_id) is not None:
        return  # moved on meanwhile
    try:
        await session.resend_edited(message, text)
    except CodheError as exc:
        screen.notify(str(exc), title="Cannot edit", severity="error")


def set_api_key(screen: Any) -> None:
    """F2: store an API key in the config file, and use it from now on."""
    from codhechat.ui.screens.api_key import ApiKeyScreen
    from codhechat.ui.widgets.welcome import Welcome

    def stored(key: str | None) -> None:
        if key:
            screen.backend.set_api_key(key)
            screen.needs_api_key = False
            screen.update_status()
            if screen.pane.query("#welcome"):
                screen.run_worker(screen.pane.show([Welcome(needs_api_key=False)], has_older=False))

    screen.app.push_screen(ApiKeyScreen(), stored)
