"""The context window is a budget, not a message count.

Local servers often run with 2,048-8,192 tokens of context; sending the last 20
messages whatever their size got a conversation stuck after one long reply ("exceeds
the available context size", on every later turn). So the history sent is fitted to
the context minus room for the reply, newest first, never dropping the system prompt
or the new message.

Token counts are estimated (no tokenizer ships for every model, and tiktoken fetches
its tables from the internet on first use): UTF-8 bytes / 3 plus a few tokens per
message, deliberately on the high side for English (about 4 bytes a token) and about
right for CJK (3 bytes a character). Once the endpoint reports a prompt's real size
(usage), the estimate is scaled to match that model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

BYTES_PER_TOKEN = 3
TOKENS_PER_MESSAGE = 4  # role and framing
REPLY_SHARE, REPLY_MIN, REPLY_MAX = 4, 256, 4096  # room kept for the reply: a quarter, within bounds
IMAGE_TOKENS = 1000  # what an attached image counts for (providers charge roughly that)

# Context windows of well-known models, for endpoints that do not say (OpenAI's /v1/models
# does not). Matched as prefixes of the model id (after any "vendor/" part), longest first.
KNOWN_WINDOWS = {
    "gpt-4o": 128_000, "gpt-4o-mini": 128_000, "gpt-4.1": 1_047_576, "gpt-4-turbo": 128_000,
    "gpt-4": 8_192, "gpt-3.5-turbo": 16_385, "gpt-5": 400_000, "o1": 200_000, "o3": 200_000,
    "o4-mini": 200_000, "llama3.1": 131_072, "llama3.2": 131_072, "llama3": 8_192,
    "llama-3.1": 131_072, "qwen2.5": 32_768, "mistral": 32_768, "gemma2": 8_192,
    "deepseek-r1": 65_536, "deepseek-chat": 65_536, "phi3": 4_096,
}  # fmt: skip


def known_window(model: str) -> int | None:
    name = model.rsplit("/", 1)[-1].lower()
    for prefix in sorted(KNOWN_WINDOWS, key=len, reverse=True):
        if name.startswith(prefix):
            return KNOWN_WINDOWS[prefix]
    return None


def estimate_tokens(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass")) // BYTES_PER_TOKEN + TOKENS_PER_MESSAGE


@dataclass
class Calibration:
    """Per model, how far the estimate was from the prompt sizes the endpoint reported."""

    ratios: dict[str, float] = field(default_factory=dict)

    def learn(self, model: str, estimated: int, reported: int) -> None:
        if estimated > 0 and reported > 0:
            self.ratios[model] = min(3.0, max(0.3, reported / estimated))

    def tokens(self, model: str, messages: Sequence[dict[str, Any]]) -> int:
        raw = sum(content_tokens(m.get("content")) for m in messages)
        return round(raw * self.ratios.get(model, 1.0))


def content_tokens(content: object) -> int:
    """A message's content: text, or a list of parts (text, and images at a flat rate)."""
    if isinstance(content, str):
        return estimate_tokens(content)
    if isinstance(content, list):
        return sum(
            estimate_tokens(part.get("text") or "") if part.get("type") == "text" else IMAGE_TOKENS
            for part in content
            if isinstance(part, dict)
        )
    return TOKENS_PER_MESSAGE


def reply_room(window: int) -> int:
    return max(REPLY_MIN, min(REPLY_MAX, window // REPLY_SHARE))


@dataclass(frozen=True, slots=True)
class FittedPrompt:
    messages: list[dict[str, Any]]  # system, then the history that fits, the newest message last
    left_out: int  # earlier messages that did not fit
    estimated_tokens: int


def fit(
    system: dict[str, str],
    history: Sequence[dict[str, Any]],
    *,
    window: int | None,
    model: str,
    calibration: Calibration,
    reply_tokens: object = None,
) -> FittedPrompt:
    """The system prompt, the newest message (the last of `history`) and as many of the
    messages before it as fit in `window` minus room for the reply (`reply_tokens`, the
    request's max_tokens, when set), newest first."""
    if not history:
        return FittedPrompt([system], 0, calibration.tokens(model, [system]))
    *earlier, newest = history
    kept = [newest]
    used = calibration.tokens(model, [system, newest])
    if window is None:
        kept = [*earlier, newest]
        return FittedPrompt([system, *kept], 0, calibration.tokens(model, [system, *kept]))
    room = reply_tokens if isinstance(reply_tokens, int) and 0 < reply_tokens < window else reply_room(window)
    budget = window - room
    for message in reversed(earlier):
        cost = calibration.tokens(model, [message])
        if used + cost > budget:
            break
        kept.insert(0, message)
        used += cost
    return FittedPrompt([system, *kept], len(history) - len(kept), used)


# What endpoints answer when a prompt is longer than the context:
#   llama.cpp: {"type": "exceed_context_size_error", "n_ctx": 2048, ...}
#   OpenAI:    code "context_length_exceeded", "This model's maximum context length is 8192 tokens..."
#   vLLM:      "This model's maximum context length is 4096 tokens. However, you requested ..."
_WINDOW_IN_TEXT = re.compile(r"(?:maximum context length|context (?:size|window|length))\D{0,40}?(\d[\d,]{2,})", re.I)
_EXCEEDED = re.compile(
    r"context[_ ](?:length|size|window)[_ ]exceeded|exceed(?:s|ed)? (?:the )?(?:available |maximum )?context", re.I
)


def context_exceeded(body: object, message: str) -> tuple[bool, int | None]:
    """(is this a context-exceeded error, the window it names if any)."""
    error = body.get("error", body) if isinstance(body, dict) else {}
    if not isinstance(error, dict):
        error = {}
    kinds = " ".join(str(error.get(key, "")) for key in ("type", "code"))
    exceeded = "exceed_context_size_error" in kinds or "context_length_exceeded" in kinds
    exceeded = exceeded or bool(_EXCEEDED.search(message))
    if not exceeded:
        return False, None
    window = error.get("n_ctx")
    if isinstance(window, int) and window > 0:
        return True, window
    match = _WINDOW_IN_TEXT.search(message)
    return True, int(match.group(1).replace(",", "")) if match else None
