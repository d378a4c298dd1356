"""Attached images as small thumbnails, where the terminal can draw them (ui/graphics.py
decided at start): in the chips above the prompt, and under the chips of a stored
message. textual-image draws them (Kitty's graphics protocol or Sixel); it is imported
only here, when an image is shown. An image it cannot read stays a labelled chip.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rich.console import Group
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static

from codhechat.models import AttachedFile, Attachment, Message
from codhechat.ui.graphics import Protocol
from codhechat.ui.text import plain
from codhechat.ui.transcript import SentPrompt
from codhechat.ui.widgets.branches import BranchStep, add_marker, step_at
from codhechat.ui.widgets.headers import attachment_chips, header_of
from codhechat.ui.widgets.messages import MessageView

HEIGHT = 4  # lines
MAX_WIDTH = 24  # columns


def image_widget(data: bytes, protocol: Protocol) -> Widget | None:
    """textual-image's widget for `data`, or None if it cannot read it (or is missing)."""
    try:
        from PIL import Image, UnidentifiedImageError
        from textual_image.widget import SixelImage, TGPImage
    except ImportError:
        return None
    kind = TGPImage if protocol == "kitty" else SixelImage
    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
        width, height = picture.size
        image = kind(picture, classes="image")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    # HEIGHT lines, and as many columns as keep its shape (a cell is about twice as tall as wide)
    image.styles.height = HEIGHT
    image.styles.width = max(1, min(MAX_WIDTH, round(HEIGHT * 2 * width / max(1, height))))
    return image


class Thumbnail(Widget):
    """One image, drawn small."""

    DEFAULT_CSS = """
    Thumbnail { width: auto; height: auto; margin: 0 1 0 0; }
    """

    def __init__(self, data: bytes, protocol: Protocol, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data = data
        self.protocol = protocol

    def compose(self) -> ComposeResult:
        if (image := image_widget(self.data, self.protocol)) is not None:
            yield image


class ThumbnailChip(Vertical, can_focus=True):
    """An attached image above the prompt: its thumbnail over its chip (name, size, ✕);
    removed as a chip is (click, or Delete when focused)."""

    DEFAULT_CSS = """
    ThumbnailChip { width: auto; height: auto; }
    """
    BINDINGS = [Binding("delete,backspace", "remove", "Remove file")]

    def __init__(self, file: AttachedFile, protocol: Protocol) -> None:
        super().__init__(classes="chip thumbnail")
        self.file = file
        self.protocol = protocol

    def compose(self) -> ComposeResult:
        yield Thumbnail(self.file.data, self.protocol)
        label = attachment_chips((self.file.attachment,))
        label.append("✕", style="bold")
        yield Static(label)

    def on_click(self) -> None:
        self.action_remove()

    def action_remove(self) -> None:
        remove = getattr(self.parent, "remove_file", None)
        if remove is not None:
            remove(self.file)


class ThumbnailRow(Horizontal):
    """A message's images: given with their bytes (a prompt just sent), or read from the
    backend once mounted (a stored message)."""

    DEFAULT_CSS = """
    ThumbnailRow { height: auto; width: 100%; }
    """

    def __init__(self, attachments: Sequence[Attachment], protocol: Protocol,
                 files: Sequence[AttachedFile] = ()) -> None:  # fmt: skip
        super().__init__(classes="thumbnails")
        self.images = [a for a in attachments if a.kind == "image"]
        self.files = list(files)
        self.protocol = protocol

    def compose(self) -> ComposeResult:
        for file in self.files:
            yield Thumbnail(file.data, self.protocol)

    def on_mount(self) -> None:
        if not self.files:
            self._load()

    @work(exclusive=True, group="thumbnails")
    async def _load(self) -> None:
        backend = getattr(self.app, "backend", None)
        if backend is None:
            return
        for attachment in self.images:
            try:
                data = await backend.attachment_data(attachment)
            except Exception:  # a file the store or server cannot give back stays a chip
                data = None
            if data is not None:
                await self.mount(Thumbnail(data, self.protocol))


class ThumbnailedMessageView(MessageView):
    """A stored message with images, where the terminal draws them: its head (with the
    chips), the thumbnails, then its text."""

    def __init__(self, message: Message, protocol: Protocol) -> None:
        super().__init__(message)
        self.protocol = protocol

    def render(self) -> Any:
        return Widget.render(self)  # a container: the children draw the message

    def compose(self) -> ComposeResult:
        yield Static(Group(*self.head_parts()), classes="head")
        yield ThumbnailRow(self.message.attachments, self.protocol)
        yield Static(Group(*self.body_parts()), classes="body")

    def on_click(self, event: events.Click) -> None:
        if step := step_at(event, self, *self.header_line()):
            self.post_message(BranchStep(self.message, step))
        elif self.message.reasoning:
            self.show_thinking = not self.show_thinking
            self.query_one(".head", Static).update(Group(*self.head_parts()))


class PendingWithImages(Vertical):
    """The user's prompt just sent, with its images drawn (as PendingUserView, which it
    replaces where the terminal draws images): header and chips, thumbnails, text."""

    def __init__(self, prompt: SentPrompt, protocol: Protocol) -> None:
        super().__init__(classes="message user")
        self.entry = prompt
        self.text = prompt.text
        self.protocol = protocol

    def header_line(self) -> tuple[Any, int | None]:
        stored = self.entry.stored
        header = header_of("user", None)
        return header, add_marker(header, stored.branch if stored else None)

    def _head(self) -> Group:
        return Group(self.header_line()[0], attachment_chips(self.entry.attachments))

    def compose(self) -> ComposeResult:
        yield Static(self._head(), classes="head")
        yield ThumbnailRow(self.entry.attachments, self.protocol, self.entry.images)
        yield Static(plain(self.entry.text), classes="body")

    def show_stored(self) -> None:
        """Its stored copy says where it branches: the header again."""
        if self.is_mounted:
            self.query_one(".head", Static).update(self._head())

    def on_click(self, event: events.Click) -> None:
        if self.entry.stored and (step := step_at(event, self, *self.header_line())):
            self.post_message(BranchStep(self.entry.stored, step))
