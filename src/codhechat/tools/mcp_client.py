"""Speaking to one MCP server with the official `mcp` SDK.

The SDK's client is an async context manager whose task group must be entered and left
by the same task, while tool calls come from whichever task runs a turn: so each server
gets a task of its own that holds the connection open until asked to stop, and calls
are sent through the connection from any task. `mcp` is imported on first start only.

A stdio server's stderr goes to a log file (never to the terminal the app draws on),
and its environment is the SDK's minimal one (PATH, HOME, USER, LOGNAME, SHELL, TERM)
plus exactly the `env` its config names.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import IO, Any

from codhechat import paths
from codhechat.tools.calls import ToolOutcome
from codhechat.tools.settings import McpServerSettings

RESULT_LIMIT = 100_000  # characters of a tool's result sent back to the model, at most


class ServerDown(Exception):
    """The server would not start, or has stopped: `reason` says how, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class McpConnection:
    def __init__(self, name: str, config: McpServerSettings, *, start_timeout: float, call_timeout: float) -> None:
        self.name = name
        self.config = config
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self.tools: list[Any] = []  # the server's tools (mcp Tool objects)
        self.prompts: dict[str, str] = {}  # its prompts that take no arguments: name -> text
        self.resources: list[tuple[str, str]] = []  # its resources: (uri, name)
        self.failure: str | None = None  # why it is down, once it is
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._log: IO[str] | None = None

    @property
    def log_path(self) -> Path:
        return paths.state_dir() / "mcp" / f"{self.name}.log"

    async def start(self) -> list[Any]:
        """Connect (a stdio server: start it) and list its tools; raises ServerDown."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mcp-{self.name}")
        try:
            async with asyncio.timeout(self.start_timeout):
                await self._ready.wait()
        except TimeoutError:
            self.failure = f"it did not answer within {self.start_timeout:g} s"
            await self.aclose()
        if self.failure is not None or self._client is None:
            raise ServerDown(self.failure or "it stopped")
        return self.tools

    def _transport(self) -> Any:
        config = self.config
        if config.url is not None:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            client = create_mcp_http_client(headers=dict(config.headers) or None)
            return streamable_http_client(config.url, http_client=client)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        paths.ensure_dir(self.log_path.parent)
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in _run)
        params = StdioServerParameters(command=config.command or "", args=list(config.args), env=dict(config.env),
                                       cwd=config.cwd)  # fmt: skip
        return stdio_client(params, errlog=self._log)

    async def _run(self) -> None:
        try:
            from mcp import Client

            async with Client(self._transport(), read_timeout_seconds=self.call_timeout) as client:
                listed = await client.list_tools()
                self.tools = list(listed.tools)
                self.prompts = await _prompts(client)
                self.resources = await _resources(client)
                self._client = client
                self._ready.set()
                await self._stop.wait()
        except asyncio.CancelledError:
            self.failure = self.failure or "it was stopped"
        except BaseException as exc:  # whatever the SDK or the server did, it is down
            self.failure = self.failure or _describe(exc, self)
        finally:
            self._client = None
            self._ready.set()
            if self._log is not None:
                self._log.close()

    async def call(self, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Run one tool; a tool's own failure is a failed outcome, a server gone is ServerDown."""
        client = self._client
        if client is None:
            raise ServerDown(self.failure or "it is not running")
        try:
            result = await client.call_tool(tool, arguments)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if (self._task is not None and self._task.done()) or _closed(exc):
                self.failure = self.failure or "it stopped during a call"
                self._client = None
                raise ServerDown(self.failure) from None
            return ToolOutcome(f"The tool call failed: {_describe(exc, self)}", failed=True)
        return ToolOutcome(_text_of(result), failed=bool(getattr(result, "is_error", False)))

    async def read_resource(self, uri: str) -> bytes:
        """A resource's bytes (its text as UTF-8, or its blob); raises ServerDown, or
        ValueError with the server's reason."""
        client = self._client
        if client is None:
            raise ServerDown(self.failure or "it is not running")
        try:
            result = await client.read_resource(uri)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise ValueError(_describe(exc, self)) from None
        import base64

        parts = []
        for content in getattr(result, "contents", None) or ():
            if isinstance(text := getattr(content, "text", None), str):
                parts.append(text.encode("utf-8"))
            elif isinstance(blob := getattr(content, "blob", None), str):
                parts.append(base64.b64decode(blob))
        return b"".join(parts)

    async def aclose(self) -> None:
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        try:
            if self._client is None:  # still starting: nothing to close gracefully
                raise TimeoutError
            async with asyncio.timeout(5):
                await asyncio.shield(task)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _resources(client: Any) -> list[tuple[str, str]]:
    """The server's resources, (uri, name), to attach to a message."""
    capabilities = getattr(client, "server_capabilities", None)
    if capabilities is None or getattr(capabilities, "resources", None) is None:
        return []
    try:
        listed = (await client.list_resources()).resources
    except Exception:
        return []
    return [(str(r.uri), str(getattr(r, "name", "") or r.uri)) for r in listed]


async def _prompts(client: Any) -> dict[str, str]:
    """The server's prompts that need no arguments, as text (system-prompt presets)."""
    capabilities = getattr(client, "server_capabilities", None)
    if capabilities is None or getattr(capabilities, "prompts", None) is None:
        return {}
    prompts: dict[str, str] = {}
    try:
        for prompt in (await client.list_prompts()).prompts:
            if any(argument.required for argument in prompt.arguments or ()):
                continue
            result = await client.get_prompt(prompt.name, {})
            text = "\n\n".join(t for m in result.messages if isinstance(t := getattr(m.content, "text", None), str))
            if text.strip():
                prompts[prompt.name] = text
    except Exception:  # prompts are a nicety: a server whose prompts fail still has its tools
        return prompts
    return prompts


def _closed(exc: BaseException) -> bool:
    return "closed" in str(exc).lower()


def _describe(exc: BaseException, connection: McpConnection) -> str:
    """Why a server is down, in a line: never a traceback."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"cannot run {connection.config.command!r} (not found)"
    if isinstance(exc, OSError):
        return f"cannot start it: {exc.strerror or exc}"
    text = " ".join(str(exc).split())[:200] or type(exc).__name__
    if connection.config.url is not None:
        return f"{text} (at {connection.config.url})"
    return f"{text}; its messages are in {connection.log_path}"


def _text_of(result: Any) -> str:
    """A tool result as text for the model: its text blocks, else its structured content."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or ():
        text = getattr(block, "text", None)
        if isinstance(text, str):
            parts.append(text)
        else:
            kind = getattr(block, "type", "content")
            parts.append(f"[{kind} content not shown]")
    if not parts and getattr(result, "structured_content", None) is not None:
        import json

        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(parts)
    return text if len(text) <= RESULT_LIMIT else text[:RESULT_LIMIT] + "\n[... cut]"
