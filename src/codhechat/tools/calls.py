"""Tool calls as the Chat Completions API streams them, and tools as it is offered them.

Light on purpose (no `mcp` here): the model client and the turn engine use it on every
request that offers tools.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codhechat.models import ToolCall

_NAME_BAD = re.compile(r"[^a-zA-Z0-9_-]")
NAME_LIMIT = 64  # the API's limit on a function's name (^[a-zA-Z0-9_-]{1,64}$)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool on offer: `name` as the model sees it (the server's own name, or
    SERVER__TOOL when two servers have a tool of that name), and where it lives."""

    name: str
    server: str
    tool: str  # as the server knows it
    description: str
    parameters: dict[str, Any]

    def function(self) -> dict[str, Any]:
        """The tool as an OpenAI function tool."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What a call gave: the text sent back to the model, and whether it failed."""

    text: str
    failed: bool = False


def offered_names(tools: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(server, tool) -> the function name offered: the tool's own name where unique
    across servers, else SERVER__TOOL; made safe for the API and unique either way."""
    pairs = list(tools)
    counts: dict[str, int] = {}
    for _, tool in pairs:
        counts[tool] = counts.get(tool, 0) + 1
    names: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for server, tool in pairs:
        wanted = tool if counts[tool] == 1 else f"{server}__{tool}"
        name = _NAME_BAD.sub("_", wanted)[:NAME_LIMIT] or "tool"
        n = 2
        while name in taken:
            suffix = f"_{n}"
            name = _NAME_BAD.sub("_", wanted)[: NAME_LIMIT - len(suffix)] + suffix
            n += 1
        taken.add(name)
        names[(server, tool)] = name
    return names


@dataclass(slots=True)
class _Partial:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ToolCallBuffer:
    """Tool calls put together from a stream's `delta.tool_calls` pieces: each piece
    names its call by `index`; the id and name come first, the arguments in fragments."""

    _calls: dict[int, _Partial] = field(default_factory=dict)

    def feed(self, pieces: object) -> None:
        if not isinstance(pieces, list):
            return
        for piece in pieces:
            if not isinstance(piece, dict):
                continue
            index = piece.get("index")
            index = index if isinstance(index, int) else len(self._calls)
            call = self._calls.setdefault(index, _Partial())
            if isinstance(piece.get("id"), str) and piece["id"]:
                call.id = piece["id"]
            function = piece.get("function")
            if isinstance(function, dict):
                if isinstance(function.get("name"), str):
                    call.name += function["name"]
                if isinstance(function.get("arguments"), str):
                    call.arguments.append(function["arguments"])

    def calls(self) -> list[ToolCall]:
        """The calls so far, in index order (a call without an id gets one)."""
        return [ToolCall(c.id or f"call_{i}", c.name, "".join(c.arguments))
                for i, c in sorted(self._calls.items()) if c.name]  # fmt: skip

    def __bool__(self) -> bool:
        return bool(self.calls())


def parse_arguments(arguments: str) -> dict[str, Any] | None:
    """The arguments a model wrote, as the object a tool takes; None if they are not one."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def pretty_arguments(arguments: str) -> str:
    """The arguments indented for reading; as written when they are not JSON."""
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except ValueError:
        return arguments


def complete_calls(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history as the API accepts it: every assistant `tool_calls` answered by its
    `tool` messages right after it. A call never answered (the turn was stopped) gets a
    "not run" answer; a `tool` message whose call is not there (cut off by the history
    window) is left out."""
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    for message in history:
        if message.get("role") == "tool":
            if message.get("tool_call_id") in pending:
                pending.remove(message["tool_call_id"])
                out.append(message)
            continue
        out += [{"role": "tool", "tool_call_id": i, "content": "Not run: the turn was stopped."} for i in pending]
        pending = [c["id"] for c in message.get("tool_calls") or ()]
        out.append(message)
    out += [{"role": "tool", "tool_call_id": i, "content": "Not run: the turn was stopped."} for i in pending]
    return out


def tool_calls_json(calls: tuple[ToolCall, ...]) -> str | None:
    return json.dumps([{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]) if calls else None


def tool_calls_from(text: object) -> tuple[ToolCall, ...]:
    """Stored (or imported) tool calls; anything malformed is left out."""
    try:
        data = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return ()
    if not isinstance(data, list):
        return ()
    return tuple(ToolCall(c["id"], c["name"], c.get("arguments") or "") for c in data
                 if isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("name"), str)
                 and isinstance(c.get("arguments", ""), str))  # fmt: skip
