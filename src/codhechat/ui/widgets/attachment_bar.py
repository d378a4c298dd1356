"""The files attached to the message being written, as chips above the prompt.

Each chip (name, size; an image's thumbnail above it where the terminal draws images:
widgets/thumbnail.py) can be removed before sending: click its ✕, or focus it (Tab)
and press Delete or Backspace. The bar hides itself while it is empty.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static

from codhechat.models import AttachedFile
from codhechat.ui import graphics
from codhechat.ui.widgets.headers import attachment_chips


class AttachmentChip(Static, can_focus=True):
    BINDINGS = [Binding("delete,backspace", "remove", "Remove file")]

    def __init__(self, file: AttachedFile) -> None:
        chip = attachment_chips((file.attachment,))
        chip.append("✕", style="bold")
        super().__init__(chip, classes="chip")
        self.file = file

    def on_click(self) -> None:
        self.action_remove()

    def action_remove(self) -> None:
        bar = self.parent
        if isinstance(bar, AttachmentBar):
            bar.remove_file(self.file)


class AttachmentBar(Horizontal):
    """Holds the attached files until the message is sent (`take()`)."""

    def __init__(self, **kwargs: Any) -> None:  # the Widget options (id, classes, ...), passed on
        super().__init__(**kwargs)
        self.files: list[AttachedFile] = []

    def on_mount(self) -> None:
        self.display = False

    def add_file(self, file: AttachedFile) -> bool:
        """Attach `file` (once: the same bytes attached twice are one attachment)."""
        if any(f.attachment.sha256 == file.attachment.sha256 for f in self.files):
            return False
        self.files.append(file)
        if file.attachment.kind == "image" and graphics.current:
            from codhechat.ui.widgets.thumbnail import ThumbnailChip

            self.mount(ThumbnailChip(file, graphics.current))
        else:
            self.mount(AttachmentChip(file))
        self.display = True
        return True

    def remove_file(self, file: AttachedFile) -> None:
        self.files = [f for f in self.files if f is not file]
        for chip in self.query(".chip"):
            if getattr(chip, "file", None) is file:
                chip.remove()
        self.display = bool(self.files)

    def take(self) -> list[AttachedFile]:
        """The files to send with the message; the bar is empty afterwards."""
        files, self.files = self.files, []
        self.remove_children()
        self.display = False
        return files
