"""The dialog of "Generation settings…": a conversation's temperature, top_p, max tokens,
seed and reasoning effort, each left empty for the endpoint's own default."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from codhechat.models import Generation
from codhechat.ui.text import PlainInput, plain

EFFORTS = ("minimal", "low", "medium", "high")
FIELDS = {  # name: (label, what it takes)
    "temperature": ("Temperature", "0 to 2; lower is more focused"),
    "top_p": ("Top p", "0 to 1"),
    "max_tokens": ("Max tokens", "the longest reply, in tokens"),
    "seed": ("Seed", "a whole number, for repeatable replies where the endpoint supports it"),
    "reasoning_effort": ("Reasoning effort", " / ".join(EFFORTS) + ", for reasoning models"),
}


def parse_generation(texts: dict[str, str]) -> Generation:
    """The parameters typed into the form; empty fields are left to the endpoint. A
    ValueError names the field that is wrong and what it takes."""
    values: dict[str, float | int | str] = {}
    for name, text in texts.items():
        text = text.strip()
        if not text:
            continue
        label, takes = FIELDS[name]
        try:
            if name in ("temperature", "top_p"):
                number = float(text)
                if not (0 <= number <= (2 if name == "temperature" else 1)):
                    raise ValueError
                values[name] = number
            elif name in ("max_tokens", "seed"):
                whole = int(text)
                if name == "max_tokens" and whole < 1:
                    raise ValueError
                values[name] = whole
            elif text.lower() in EFFORTS:
                values[name] = text.lower()
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"{label}: {takes}.") from None
    return Generation(**values)  # type: ignore[arg-type]


class GenerationForm(ModalScreen[Generation | None]):
    """Tab moves between fields, Enter or Ctrl+S saves, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save", priority=True)]

    def __init__(self, title: str, current: Generation) -> None:
        super().__init__(classes="dialog-screen")
        self._title = title
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(plain(self._title, "bold"))
            for name, (label, takes) in FIELDS.items():
                value = getattr(self._current, name)
                with Horizontal(classes="field"):
                    yield Label(plain(label), classes="field-label")
                    yield PlainInput("" if value is None else str(value), placeholder=takes, id=f"gen-{name}")
            yield Static(plain("Empty: the endpoint's default. Enter or Ctrl+S saves; Esc cancels."),
                         classes="hint", id="gen-hint")  # fmt: skip

    def on_mount(self) -> None:
        self.query_one("#gen-temperature", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        texts = {name: self.query_one(f"#gen-{name}", Input).value for name in FIELDS}
        try:
            generation = parse_generation(texts)
        except ValueError as exc:
            self.query_one("#gen-hint", Static).update(plain(str(exc), "bold red"))
            return
        self.dismiss(generation)

    def action_cancel(self) -> None:
        self.dismiss(None)
