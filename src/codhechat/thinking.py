"""A reasoning model's thinking, told apart from its answer.

Servers send it in one of two ways: as `delta.reasoning_content` (DeepSeek, vLLM,
llama.cpp with `--reasoning-format deepseek`; `delta.reasoning` on OpenRouter), or
inside the answer itself, as a `<think>...</think>` block that opens the content
(llama.cpp with `--reasoning-format none`, many Ollama models). Either way a caller
gets `Thinking` pieces (a str, so code that only joins text keeps working) before
the answer's plain str pieces, and keeps the two apart: thinking is shown dimmed and
stored on its own, never sent back to the model as history.
"""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


class Thinking(str):
    """A piece of the model's reasoning, not of its answer."""

    __slots__ = ()


class ThinkTags:
    """Splits a `<think>` block that opens the content from the answer after it.

    Only a block at the very start counts (after whitespace): a `<think>` later on is
    the model talking about tags. Text is held back only while it could still be the
    start of `<think>` or `</think>`, so the answer is never delayed by more than a tag.
    """

    def __init__(self) -> None:
        self._state = "start"  # start -> thinking -> closed -> answer, or start -> answer
        self._held = ""

    def feed(self, text: str) -> list[str]:
        self._held += text
        out: list[str] = []
        while self._held:
            if self._state == "start":
                stripped = self._held.lstrip()
                if stripped.startswith(OPEN):
                    self._held = stripped[len(OPEN) :]
                    self._state = "thinking"
                elif OPEN.startswith(stripped):
                    break  # could still become <think>: wait for more
                else:
                    self._state = "answer"
            elif self._state == "thinking":
                end = self._held.find(CLOSE)
                if end >= 0:
                    if end:
                        out.append(Thinking(self._held[:end]))
                    self._held = self._held[end + len(CLOSE) :]
                    self._state = "closed"  # the newlines after </think> are not the answer's
                    continue
                keep = _partial_suffix(self._held, CLOSE)
                if len(self._held) > keep:
                    out.append(Thinking(self._held[: len(self._held) - keep]))
                    self._held = self._held[len(self._held) - keep :]
                break
            elif self._state == "closed":
                self._held = self._held.lstrip("\n")
                if self._held:
                    self._state = "answer"
            else:
                out.append(self._held)
                self._held = ""
        return out

    def flush(self) -> list[str]:
        """The end of the stream: whatever is held is what it looked like."""
        held, self._held = self._held, ""
        if not held or self._state == "closed":  # only the newlines after </think>
            return []
        return [Thinking(held) if self._state == "thinking" else held]


def _partial_suffix(text: str, tag: str) -> int:
    """How many of `text`'s last characters could be the start of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
