"""The branch marker of a message with other versions: `< 2/3 >` at the end of its
header line, whose `<` and `>` a click follows (to the previous or next version)."""

from __future__ import annotations

from rich.text import Text
from textual.events import Click
from textual.message import Message as TextualMessage
from textual.widget import Widget

from codhechat.models import Message

GAP = "   "


class BranchStep(TextualMessage):
    """A click on a marker's `<` (step -1) or `>` (step +1)."""

    def __init__(self, message: Message, step: int) -> None:
        super().__init__()
        self.message = message
        self.step = step


def add_marker(header: Text, branch: tuple[int, int] | None) -> int | None:
    """Append `< n/m >` to a header line; returns where it starts (None: no marker)."""
    if branch is None:
        return None
    header.append(GAP)
    start = len(header.plain)
    header.append(f"< {branch[0]}/{branch[1]} >", style="bold")
    return start


def step_at(event: Click, widget: Widget, header: Text, start: int | None) -> int:
    """-1 or +1 when a click on `widget` (whose first line is `header`) hit the marker's
    `<` or `>` (or the space beside it), else 0."""
    if start is None:
        return 0
    region = widget.content_region
    x, y = event.screen_x - region.x, event.screen_y - region.y
    if y != 0:
        return 0
    end = len(header.plain)
    if start <= x <= start + 1:
        return -1
    if end - 2 <= x < end:
        return 1
    return 0
