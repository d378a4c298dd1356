"""Search every conversation: results as you type, each with its matching snippet."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from codhechat.errors import CodheError
from codhechat.models import SearchHit, snippet_parts
from codhechat.textsafe import visible
from codhechat.ui.text import plain

TYPING_PAUSE_S = 0.12  # search once typing pauses, not on every key
RESULTS = 30

Search = Callable[[str], Awaitable[list[SearchHit]]]


def snippet_text(snippet: str) -> Text:
    """A snippet with its matches highlighted (the store marks them with control
    characters, which are taken out before the rest of the text's are spelled out)."""
    text = Text()
    for part, is_match in snippet_parts(snippet):
        text.append(visible(part), style="bold reverse" if is_match else "")
    return text


class SearchScreen(ModalScreen[SearchHit | None]):
    """Type to search; Down/Up move through results, Enter opens one, Esc closes."""

    BINDINGS = [
        Binding("escape", "cancel", "Close"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self, search: Search, *, hidden: Callable[[int], bool] = lambda _: False) -> None:
        super().__init__(classes="dialog-screen")
        self._search = search
        self._hidden = hidden  # conversations not to show (deleted, undo pending)
        self.hits: list[SearchHit] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="search-dialog"):
            yield Static(Text("Search every conversation", style="bold"))
            yield Input(placeholder="words to find…", id="search-input")
            yield OptionList(id="search-results")
            yield Static("Type to search · ↑↓ choose · Enter opens · Esc closes", classes="hint", id="search-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    @work(exclusive=True, group="search")
    async def run_search(self, query: str) -> None:
        await asyncio.sleep(TYPING_PAUSE_S)
        hint = self.query_one("#search-hint", Static)
        hits: list[SearchHit] = []
        if query.strip():
            try:
                hits = [h for h in await self._search(query) if not self._hidden(h.conversation_id)]
            except CodheError as exc:
                hint.update(plain(str(exc), "bold"))
                return
        self.hits = hits
        results = self.query_one(OptionList)
        results.clear_options()
        results.add_options(
            [
                Option(
                    Text.assemble(
                        (visible(hit.title), "bold"),
                        (f"  {'you' if hit.role == 'user' else hit.role}", "dim"),
                        "\n",
                        snippet_text(hit.snippet),
                    ),
                    id=str(i),
                )
                for i, hit in enumerate(hits)
            ]
        )
        if hits:
            results.highlighted = 0
        if not query.strip():
            hint.update("Type to search · ↑↓ choose · Enter opens · Esc closes")
        else:
            hint.update(f"{len(hits)} result{'s' if len(hits) != 1 else ''}" if hits else "No matches")

    def action_move(self, step: int) -> None:
        results = self.query_one(OptionList)
        if results.option_count:
            current = results.highlighted if results.highlighted is not None else -step
            results.highlighted = max(0, min(results.option_count - 1, current + step))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        highlighted = self.query_one(OptionList).highlighted
        if highlighted is not None and highlighted < len(self.hits):
            self.dismiss(self.hits[highlighted])

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.hits[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)
