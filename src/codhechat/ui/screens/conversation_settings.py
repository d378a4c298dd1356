"""Per-conversation settings and editing: the model (F5), the system prompt (F9), and
editing one of your earlier messages to resend it (F12).

The chat screen calls these; they talk to the backend through its optional methods
(see codhechat.backends: CONVERSATION_OPTIONS, EDIT), which the screen checks first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from codhechat.errors import CodheError
from codhechat.textsafe import visible
from codhechat.ui.screens.dialogs import Confirm, PickOne
from codhechat.ui.text import PlainInput, plain
from codhechat.ui.widgets.messages import PAGE, MessageView, PendingUserView

if TYPE_CHECKING:
    from codhechat.ui.screens.chat import ChatScreen

Choice = tuple[str, str]  # (label shown, value chosen)
PICK_LIMIT = 200  # how many of the newest messages "Edit a message…" offers from


def _preview(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


class ChooseOrType(ModalScreen[str | None]):
    """Pick from a list, or type a value that is not in it. Typing filters the list;
    Enter in the field takes what is typed (empty: the default), Enter on the list takes
    that entry, Esc cancels. `load` fills the list after the dialog opens.

    Labels, the hint and the field are text, never markup (model names come from a
    server, presets from a file); the field spells out control characters, and taking
    it unchanged gives back `value` itself."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("down", "to_list", show=False)]

    def __init__(
        self,
        title: str,
        value: str = "",
        choices: list[Choice] | None = None,
        *,
        hint: str = "Enter takes what is typed; ↓ picks from the list; Esc cancels.",
        load: Callable[[], Awaitable[list[Choice]]] | None = None,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self._title = title
        self._value = value
        self.choices: list[Choice] = list(choices or [])
        self._hint = hint
        self._load = load

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(plain(self._title, "bold"))
            yield PlainInput(visible(self._value), id="choose-input")
            yield OptionList(id="choose-list")
            yield Static(plain(self._hint), classes="hint", id="choose-hint")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()
        if self._load is not None:
            self._load_choices()

    @work(exit_on_error=False)
    async def _load_choices(self) -> None:
        assert self._load is not None
        try:
            loaded = await self._load()
        except CodheError as exc:
            self.query_one("#choose-hint", Static).update(plain(f"{exc}\nType the name instead."))
            return
        self.choices += [c for c in loaded if c not in self.choices]
        self._fill(self.query_one(Input).value)

    def _fill(self, typed: str) -> None:
        wanted = typed.strip().lower()
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(
            Option(plain(label), id=str(i))
            for i, (label, _) in enumerate(self.choices)
            if not wanted or wanted in label.lower() or wanted == self._value.lower()
        )

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self._value if event.value == visible(self._value) else event.value.strip())

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[int(event.option.id or 0)][1])

    def action_to_list(self) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.focus()
            options.highlighted = options.highlighted or 0

    def action_cancel(self) -> None:
        self.dismiss(None)


class EditText(ModalScreen[str | None]):
    """Several lines of text to edit. Ctrl+S saves, Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(self, title: str, value: str, *, hint: str = "Ctrl+S saves, Esc cancels.") -> None:
        super().__init__(classes="dialog-screen")
        self._title = title
        self._value = value
        self._hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(plain(self._title, "bold"))
            yield TextArea(visible(self._value), id="edit-text", soft_wrap=True)
            yield Static(plain(self._hint), classes="hint")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def action_save(self) -> None:
        text = self.query_one(TextArea).text
        self.dismiss(self._value if text == visible(self._value) else text.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


# The flows, run by ChatScreen as workers (they wait on dialogs).


async def choose_model(screen: ChatScreen) -> None:
    conversation = screen.sidebar.get(screen.conversation_id)
    if conversation is None:
        screen.notify("Send a first message, then choose this conversation's model.")
        return
    backend = screen.backend
    current = conversation.model or backend.model

    async def load() -> list[Choice]:
        return [(name, name) for name in await backend.list_models()]

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
    await _save_options(screen, conversation.id, model=chosen, system_prompt=conversation.system_prompt)


async def choose_system_prompt(screen: ChatScreen) -> None:
    conversation = screen.sidebar.get(screen.conversation_id)
    if conversation is None:
        screen.notify("Send a first message, then choose this conversation's system prompt.")
        return
    backend = screen.backend
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
    await _save_options(screen, conversation.id, model=conversation.model, system_prompt=chosen)


async def _save_options(screen: ChatScreen, conversation_id: int, *, model: str | None, system_prompt: str | None) -> None:
    change = screen.backend.set_conversation_options(
        conversation_id, model=model or None, system_prompt=system_prompt or None
    )
    updated = await screen.apply_change(change, "Not saved")
    if updated is None:
        return
    screen.update_status()
    prompt = "the default system prompt" if updated.system_prompt is None else "its own system prompt"
    screen.notify(f"“{updated.title}” now uses {updated.model or screen.backend.model} and {prompt}.")


async def edit_message(screen: ChatScreen) -> None:
    conversation_id = screen.conversation_id
    backend = screen.backend
    if conversation_id is None:
        screen.notify("Open a conversation to edit one of your messages.")
        return
    if screen.live_for(conversation_id) is not None:
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
        later = await backend.get_messages(conversation_id, after=message.id, limit=100_000)
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
    if screen.conversation_id != conversation_id or screen.live_for(conversation_id) is not None:
        return  # moved on meanwhile
    try:
        earlier = await backend.get_messages(conversation_id, before=message.id, limit=PAGE + 1)
    except CodheError as exc:
        screen.notify(str(exc), title="Cannot edit", severity="error")
        return
    reply = screen.new_reply(conversation_id)
    assert reply.view is not None
    await screen.pane.show(
        [*(MessageView(m) for m in earlier[-PAGE:]), PendingUserView(text), reply.view],
        has_older=len(earlier) > PAGE,
    )
    screen.pane.has_newer = False
    screen.pane.anchor()
    screen.start_reply(reply, backend.edit_and_resend(conversation_id, message.id, text))

