"""How a streaming reply is painted: how often, and in what steps the pane follows it.

Painting, not the model, should set what a stream costs: each frame re-renders the
reply's live piece and each line the pane scrolls repaints every line on screen
(tens of KiB at 120x40, a burden over SSH and beside a local model on the same
cores). So a reply is re-rendered at most `refresh_hz` times a second, and room
for `jump_lines` more lines is made below it at a time (as terminals' jump
scroll does), so the pane scrolls once per `jump_lines` lines, not once per line.

Nor is the model's stream read more often than the reply is shown: a read waits for the
next frame first (ReplyView.read_wait, codhechat.read_pace), unless the reply's end or a
backlog arrives meanwhile (codhechat.asyncio_net), and then takes all that came meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamPace:
    refresh_hz: float = 10.0
    jump_lines: int = 8

    @property
    def frame_s(self) -> float:
        return 1 / self.refresh_hz


def wait_to_read(last_frame: float, frame_s: float, now: float, *, idle: bool) -> float:
    """Seconds until a view that drew its last frame at `last_frame` next shows new text (0:
    at once), for the reader of its model stream (codhechat.read_pace). `idle`: it has no
    text waiting for a frame, nor a frame due.

    A frame due now (overdue, or due in less than a tenth of a frame) is being drawn with
    what was just read (the reader wakes at the frame, as the view's timer does, and
    whichever comes first, the text it read is on its way): what comes next shows a frame
    later. Read at once instead, it was a second, small read each frame, and more while a
    busy machine made the frames late. Only a view idle for a while shows new text at once."""
    due = last_frame + frame_s - now
    if due >= frame_s / 10:
        return due
    if due <= -frame_s and idle:
        return 0.0
    return max(due, 0.0) + frame_s
