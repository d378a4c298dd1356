"""Small modal dialogs: a line of text (rename), a yes/no confirmation, and a list to pick from."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from codhechat.textsafe import visible
from codhechat.ui.text import PlainInput, plain


class AskText(ModalScreen[str | None]):
    """One line of text, e.g. a conversation's new title. Enter accepts, Esc cancels.

    The field shows `value` with control characters spelled out; taking it unchanged
    gives back `value` itself, so opening and accepting never alters a stored title."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", *, hint: str = "Enter saves, Esc cancels.") -> None:
        super().__init__(classes="dialog-screen")
        self._title = title
        self._value = value
        self._hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self._title, "bold"))
            yield PlainInput(visible(self._value), id="dialog-input")
            yield Static(plain(self._hint), classes="hint")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value == visible(self._value):
            self.dismiss(self._value or None)  # unchanged: exactly as it was, even unstripped
        else:
            self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """A question with a yes and a no; Esc (or N) is no, Y or Enter on the yes button is yes."""

    BINDINGS = [
        Binding("escape,n", "answer(False)", "No"),
        Binding("y", "answer(True)", "Yes"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__(classes="dialog-screen")
        self._question = question
        self._yes = yes
        self._no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self._question))
            with Horizontal(classes="buttons"):
                yield Button(f"{self._yes} (y)", variant="error", id="yes")
                yield Button(f"{self._no} (Esc)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer is the default

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PickOne(ModalScreen[int | None]):
    """Choose one of a list (Enter), or Esc to cancel; dismisses with the chosen index."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[Text | str]) -> None:
        super().__init__(classes="dialog-screen")
        self._title = title
        self._choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(plain(self._title, "bold"))
            choices = [plain(c) if isinstance(c, str) else c for c in self._choices]
            yield OptionList(*[Option(c, id=str(i)) for i, c in enumerate(choices)], id="pick")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        if self._choices:
            options.highlighted = len(self._choices) - 1  # the newest is the likeliest

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(int(event.option.id or 0))

    def action_cancel(self) -> None:
        self.dismiss(None)
