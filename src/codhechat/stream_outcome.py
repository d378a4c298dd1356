"""What an endpoint said about a streamed reply besides its text (codhechat.llm fills it in)."""

from __future__ import annotations

from dataclasses import dataclass, field

from codhechat.tools.calls import ToolCallBuffer


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
