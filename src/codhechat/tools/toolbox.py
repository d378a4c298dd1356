"""What a turn needs of the tools: those on offer, who may run what, running one.

Servers start lazily, all at once, on the first turn that could use them; one that
fails to start, or dies, is reported once (`take_notices`) and the chat goes on
without its tools. Which tools run without asking: those in their server's `allow`,
and those the user allowed "always" in this session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass

from codhechat.errors import UsageError
from codhechat.tools.calls import ToolOutcome, ToolSpec, offered_names, parse_arguments
from codhechat.tools.mcp_client import McpConnection, ServerDown
from codhechat.tools.settings import McpSettings


def _import_sdk() -> None:
    import logging

    import mcp

    # The SDK logs its troubles (with tracebacks); what matters reaches the user as a notice,
    # and nothing may write over the app's screen or into `ask`'s stderr.
    sdk_log = logging.getLogger("mcp")
    sdk_log.addHandler(logging.NullHandler())
    sdk_log.propagate = False
    import mcp.client.stdio
    import mcp.client.streamable_http  # noqa: F401


@dataclass(frozen=True, slots=True)
class ServerState:
    """A server as the tools list shows it."""

    name: str
    where: str
    status: str  # "not started", "running", or why it is down
    tools: tuple[str, ...]  # the names offered to the model


class Toolbox:
    def __init__(self, settings: McpSettings) -> None:
        self.settings = settings
        self._connections = {name: McpConnection(name, config, start_timeout=settings.start_timeout,
                                                 call_timeout=settings.call_timeout)
                             for name, config in settings.servers.items() if config.enabled}  # fmt: skip
        self._start: asyncio.Task[None] | None = None
        self._specs: dict[str, ToolSpec] = {}
        self._notices: list[str] = []
        self._reported: set[str] = set()
        self._always: set[str] = set()
        self.refused_by: set[str] = set()  # models whose endpoint refused a request with tools

    @property
    def max_rounds(self) -> int:
        return self.settings.max_rounds

    def __bool__(self) -> bool:
        return bool(self._connections)

    async def offered(self, off: Collection[str] = ()) -> list[ToolSpec]:
        """The tools to offer the model, minus those (or those servers) in `off`."""
        if self._start is None:
            self._start = asyncio.create_task(self._start_all())
        await asyncio.shield(self._start)
        return [s for s in self._specs.values() if s.name not in off and s.server not in off]

    async def _start_all(self) -> None:
        await asyncio.to_thread(_import_sdk)  # over a second: not on the event loop the app draws from
        results = await asyncio.gather(*(c.start() for c in self._connections.values()), return_exceptions=True)
        for connection, result in zip(self._connections.values(), results, strict=True):
            if isinstance(result, ServerDown):
                self._down(connection.name, result.reason, starting=True)
        self._refresh()

    def _refresh(self) -> None:
        live = [(c.name, t) for c in self._connections.values() if c.failure is None for t in c.tools]
        names = offered_names((server, tool.name) for server, tool in live)
        self._specs = {}
        for server, tool in live:
            name = names[(server, tool.name)]
            schema = getattr(tool, "input_schema", None) or {"type": "object", "properties": {}}
            self._specs[name] = ToolSpec(name, server, tool.name, tool.description or "", dict(schema))

    def _down(self, server: str, reason: str, *, starting: bool) -> None:
        if server in self._reported:
            return
        self._reported.add(server)
        what = "could not start" if starting else "stopped"
        self._notices.append(f"MCP server {server!r} {what}: {reason}. The chat goes on without its tools.")

    def prompts(self) -> dict[str, str]:
        """The running servers' prompts that take no arguments, as SERVER/PROMPT -> text."""
        return {f"{c.name}/{name}": text for c in self._connections.values() if c.failure is None
                for name, text in c.prompts.items()}  # fmt: skip

    def take_notices(self) -> list[str]:
        """What to tell the user, each thing once."""
        notices, self._notices = self._notices, []
        return notices

    def spec(self, name: str) -> ToolSpec | None:
        return self._specs.get(name)

    def needs_asking(self, name: str) -> bool:
        spec = self._specs.get(name)
        if spec is None:
            return False  # nothing to run: it is refused without asking
        allow = self.settings.servers[spec.server].allow
        return not (spec.tool in allow or spec.name in allow or spec.name in self._always)

    def allow_always(self, name: str) -> None:
        self._always.add(name)

    async def call(self, name: str, arguments: str) -> ToolOutcome:
        spec = self._specs.get(name)
        if spec is None:
            return ToolOutcome(f"There is no tool named {name!r}.", failed=True)
        values = parse_arguments(arguments)
        if values is None:
            return ToolOutcome("The arguments are not a JSON object; nothing was run.", failed=True)
        connection = self._connections[spec.server]
        try:
            return await connection.call(spec.tool, values)
        except ServerDown as exc:
            self._down(spec.server, exc.reason, starting=False)
            self._refresh()
            return ToolOutcome(f"The tool's server ({spec.server}) is gone: {exc.reason}.", failed=True)

    async def read_resource(self, server: str, uri: str) -> bytes:
        """A resource of a server, to attach; a CodheError says why it cannot be had."""
        await self.offered()
        connection = self._connections.get(server)
        if connection is None:
            raise UsageError(f"There is no MCP server named {server!r}.", "Its name is its [mcp.servers.NAME] table.")
        try:
            return await connection.read_resource(uri)
        except ServerDown as exc:
            raise UsageError(f"MCP server {server!r} is down: {exc.reason}.") from None
        except ValueError as exc:
            raise UsageError(f"MCP server {server!r} could not give {uri}: {exc}.") from None

    def resources(self) -> list[tuple[str, str, str]]:
        """Every running server's resources: (server, uri, name)."""
        return [(name, uri, title) for name, connection in self._connections.items()
                if connection.failure is None for uri, title in connection.resources]  # fmt: skip

    def states(self) -> list[ServerState]:
        """Every enabled server: where it is, how it is, its tools."""
        states = []
        for name, connection in self._connections.items():
            if connection.failure is not None:
                status = f"down: {connection.failure}"
            elif self._start is None or not self._start.done():
                status = "not started"
            else:
                status = "running"
            tools = tuple(s.name for s in self._specs.values() if s.server == name)
            states.append(ServerState(name, connection.config.where, status, tools))
        return states

    async def aclose(self) -> None:
        if self._start is not None and not self._start.done():
            self._start.cancel()
        await asyncio.gather(*(c.aclose() for c in self._connections.values()), return_exceptions=True)
