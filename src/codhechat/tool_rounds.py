"""The tool half of a turn (codhechat.turn): what is offered, asking, running, storing.

After a reply that asked for tools, each call is shown (ReplyToolCall) and waits for
its approval, runs (or is refused), is stored as a `tool` message and sent back; the
turn then streams the model's next round. The loop guard stops a turn whose model
keeps asking after `max_rounds` rounds, answering its last calls "not run" so the
history stays one the API accepts.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from codhechat.errors import CodheError, ModelError, StorageError
from codhechat.models import Message, ReplyEvent, ReplyNotice, ReplyToolCall, ReplyToolResult, ToolApproval, ToolCall
from codhechat.tools.calls import ToolOutcome, ToolSpec, complete_calls

if TYPE_CHECKING:
    from codhechat.reply_store import ToolReplyStore
    from codhechat.tools.toolbox import Toolbox

DECLINED = "The user declined to run this tool."


class ToolLoop(CodheError):
    """The model kept asking for tools past the loop guard."""


def history_dicts(
    history: Sequence[Message], content: Callable[[Message], Any], parts: Mapping[int, object]
) -> list[dict[str, Any]]:
    """Stored messages as the model gets them: an assistant's `tool_calls` with it, each
    `tool` message with the call id it answers."""
    out: list[dict[str, Any]] = []
    for m in history:
        if m.role == "tool":
            if m.tool_call_id:
                out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content})
        elif m.tool_calls:
            out.append({"role": m.role, "content": content(m) if m.content else None,
                        "tool_calls": [c.as_openai() for c in m.tool_calls]})  # fmt: skip
        elif m.content or m.id in parts:
            out.append({"role": m.role, "content": content(m)})
    return out


class ToolRounds:
    def __init__(self, tools: Toolbox, store: ToolReplyStore, conversation_id: int) -> None:
        self.tools = tools
        self.store = store
        self.conversation_id = conversation_id
        self.offered: list[ToolSpec] = []
        self.off: Collection[str] = ()
        self.count = 0  # rounds of tool calls so far
        self.stopped: CodheError | None = None  # why the turn must end after this round

    @staticmethod
    def complete(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The fitted prompt with every call answered and no answer without its call."""
        system, *rest = messages
        return [system, *complete_calls(rest)]

    async def prepare(self, off: Collection[str], model: str) -> AsyncGenerator[ReplyEvent, None]:
        """Start the servers (the first time) and say which would not start."""
        self.off = off
        self.offered = [] if model in self.tools.refused_by else await self.tools.offered(off)
        for notice in self.tools.take_notices():
            yield ReplyNotice(notice)

    def functions(self) -> list[dict[str, Any]] | None:
        return [spec.function() for spec in self.offered] or None

    def refused(self, error: CodheError, model: str) -> bool:
        """Did the endpoint refuse the request for its tools (a model without tool support:
        Ollama says "does not support tools")? Then they are not offered to it again."""
        if not self.offered or "tool" not in error.message.lower() or not isinstance(error, ModelError):
            return False
        self.tools.refused_by.add(model)
        self.offered = []
        return True

    async def run(self, reply: Message, messages: list[dict[str, Any]]) -> AsyncGenerator[ReplyEvent, None]:
        """Answer every call of `reply`, adding it and the answers to `messages`."""
        self.count += 1
        messages.append({"role": "assistant", "content": reply.content or None,
                         "tool_calls": [c.as_openai() for c in reply.tool_calls]})  # fmt: skip
        guard = self.count > self.tools.max_rounds
        for call in reply.tool_calls:
            if guard:
                outcome = ToolOutcome(f"Not run: this turn reached its limit of {self.tools.max_rounds} tool rounds.",
                                      failed=True)  # fmt: skip
            else:
                spec = self.tools.spec(call.name)
                approval = ToolApproval(needed=spec is not None and self.tools.needs_asking(call.name))
                yield ReplyToolCall(call, reply, spec.server if spec else "", approval)
                outcome = await self._outcome(call, spec, approval)
            try:
                stored = await self.store.add_tool_result(self.conversation_id, call, outcome.text,
                                                          failed=outcome.failed)  # fmt: skip
            except StorageError as exc:
                self.stopped = exc
                return
            messages.append({"role": "tool", "tool_call_id": call.id, "content": outcome.text})
            yield ReplyToolResult(call, stored, outcome.failed)
            for notice in self.tools.take_notices():
                yield ReplyNotice(notice)
        if guard:
            self.stopped = ToolLoop(
                f"Stopped: the model asked for tools {self.count} rounds in a row (the limit is "
                f"{self.tools.max_rounds}).",
                "Raise max_rounds in the [mcp] table of the config file if it needs more.",
            )  # fmt: skip
            return
        if self.offered:
            self.offered = await self.tools.offered(self.off)  # a server that died is no longer offered

    async def _outcome(self, call: ToolCall, spec: ToolSpec | None, approval: ToolApproval) -> ToolOutcome:
        if spec is None:
            return ToolOutcome(f"There is no tool named {call.name!r}.", failed=True)
        decision = await approval.wait()
        if decision == "deny":
            return ToolOutcome(DECLINED, failed=True)
        if decision == "always":
            self.tools.allow_always(call.name)
        return await self.tools.call(call.name, call.arguments)
