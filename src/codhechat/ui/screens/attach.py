"""The file picker of "Attach file…": the working folder as a tree (hidden files left
out), arrows to move, Enter to open a folder or take a file, Esc to cancel."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Static

from codhechat.ui.text import plain


class VisibleFiles(DirectoryTree):
    """A DirectoryTree without dot files and folders."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [path for path in paths if not path.name.startswith(".")]


class PickFile(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, start: Path) -> None:
        super().__init__(classes="dialog-screen")
        self._start = start

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tall"):
            yield Static(plain(f"Attach a file from {self._start}", "bold"))
            yield VisibleFiles(self._start, id="pick-file")
            yield Static(plain("Enter takes a file or opens a folder; Esc cancels. "
                               "In the prompt, @ and Tab complete a path too."), classes="hint")  # fmt: skip

    def on_mount(self) -> None:
        self.query_one(VisibleFiles).focus()

    @on(DirectoryTree.FileSelected)
    def _chosen(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(event.path)

    def action_cancel(self) -> None:
        self.dismiss(None)
