"""What an endpoint said about a streamed reply besides its text, and how one parsed chunk of
the stream is read into it (codhechat.llm's SDK stream and the server's own reader share it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codhechat.thinking import CLOSE, Thinking, ThinkTags
from codhechat.tools.calls import ToolCallBuffer

REASONING_KEYS = ("reasoning_content", "reasoning")  # DeepSeek, vLLM, llama.cpp; OpenRouter


@dataclass(slots=True)
class StreamOutcome:
    """What the endpoint said about a streamed reply besides its text.

    A stream is complete only when a choice carried a `finish_reason`: a body that
    just ends (a proxy or the server dropping the connection cleanly) is cut short,
    however normal the end of the bytes looked."""

    finish_reason: str | None = None  # stop, length, content_filter, tool_calls, ...
    model: str | None = None  # the model the endpoint says answered
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: ToolCallBuffer = field(default_factory=ToolCallBuffer)  # the tools the model asked to run

    @property
    def usage(self) -> tuple[int, int] | None:
        """(prompt, completion) tokens, when the endpoint reported both."""
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return (self.prompt_tokens, self.completion_tokens)


def take_chunk(
    chunk: object, outcome: StreamOutcome, tags: ThinkTags | None, thought: bool
) -> tuple[list[str], bool, bool]:
    """One parsed stream chunk into `outcome`: (its text pieces, whether reasoning has come, whether
    it carried anything, text or tool calls)."""
    pieces: list[str] = []
    got = False
    if not isinstance(chunk, dict):
        return pieces, thought, got
    if isinstance(named := chunk.get("model"), str) and named:
        outcome.model = named
    choices = chunk.get("choices")
    if choices and isinstance(choice := choices[0], dict):
        delta = choice.get("delta")
        if isinstance(delta, dict):
            thought = thought or (tags is not None and _reasoning_in(delta))
            pieces = _pieces(delta, tags, thought)
            got = bool(pieces)
            if "tool_calls" in delta:
                got = True
                outcome.tool_calls.feed(delta["tool_calls"])
        if isinstance(reason := choice.get("finish_reason"), str) and reason:
            outcome.finish_reason = reason
    if isinstance(reported := chunk.get("usage"), dict):
        if isinstance(tokens := reported.get("prompt_tokens"), int):
            outcome.prompt_tokens = tokens
        if isinstance(tokens := reported.get("completion_tokens"), int):
            outcome.completion_tokens = tokens
    return pieces, thought, got


def _pieces(delta: dict[str, Any], tags: ThinkTags | None, thought: bool) -> list[str]:
    """A chunk's text: its reasoning (when asked for) as Thinking, then its content."""
    pieces: list[str] = []
    if tags is not None:
        for key in REASONING_KEYS:
            if isinstance(thinking := delta.get(key), str) and thinking:
                pieces.append(Thinking(thinking))
    text = delta.get("content")
    if isinstance(text, str) and text:
        if tags is None:
            pieces.append(text)
        elif thought:  # reasoning came on its own: content is the answer (minus a stray </think>)
            stripped = text.lstrip()
            pieces.append(stripped.removeprefix(CLOSE) if stripped.startswith(CLOSE) else text)
        else:
            pieces += tags.feed(text)
    return [p for p in pieces if p]


def _reasoning_in(delta: dict[str, Any]) -> bool:
    return any(isinstance(delta.get(key), str) and delta.get(key) for key in REASONING_KEYS)
