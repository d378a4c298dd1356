"""How a streaming reply is painted: how often, and in what steps the pane follows it.

Painting, not the model, should set what a stream costs: each frame re-renders the
reply's live piece and each line the pane scrolls repaints every line on screen
(tens of KiB at 120x40, a burden over SSH and beside a local model on the same
cores). So a reply is re-rendered at most `refresh_hz` times a second, and room
for `jump_lines` more lines is made below it at a time (as terminals' jump
scroll does), so the pane scrolls once per `jump_lines` lines, not once per line.

Nor is the model's stream read more often than the reply is shown: a read that would wait
for bytes waits for the next frame first, `read_wait_s` at most (model_reads.py), and then
takes all that came meanwhile. So the end of a reply shows at most that much later.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamPace:
    refresh_hz: float = 10.0
    jump_lines: int = 8
    read_wait_s: float = 0.05

    @property
    def frame_s(self) -> float:
        return 1 / self.refresh_hz
