"""The dialogs of the per-conversation settings (codhechat.ui.flows.settings): pick or
type a value (the model, F5; the system prompt, F9), and edit a text (a message, F12)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from codhechat.errors import CodheError
from codhechat.textsafe import visible
from codhechat.ui.text import PlainInput, plain

Choice = tuple[str, str | None]  # (label shown, value chosen); no value: a group's heading


class ChooseOrType(ModalScreen[str | None]):
    """Pick from a list, or type a value that is not in it. Typing filters the list;
    Enter in the field takes what is typed (empty: the default), Enter on the list takes
    that entry, Esc cancels. `load` fills the list after the dialog opens. A choice
    without a value heads a group (a provider's models): shown, dimmed, while any entry
    under it matches what is typed, and never chosen.

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
        shown: list[Option] = []
        heading: Option | None = None
        for i, (label, value) in enumerate(self.choices):
            if value is None:
                heading = Option(plain(label, "bold dim"), id=str(i), disabled=True)
            elif not wanted or wanted in label.lower() or wanted == self._value.lower():
                if heading is not None:
                    shown.append(heading)
                    heading = None
                shown.append(Option(plain(label), id=str(i)))
        options.add_options(shown)

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
        self.dismiss(self.choices[int(event.option.id or 0)][1] or "")

    def action_to_list(self) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.focus()
            if options.highlighted is None:
                options.action_first()  # the first entry that can be chosen, not a heading

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
