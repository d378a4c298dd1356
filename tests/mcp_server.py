"""A real MCP server, written with the `mcp` SDK, for the tool tests.

Run over stdio (the default) as `python -m tests.mcp_server`, or over streamable HTTP
with `--http PORT`. Its tools: `add`, `echo` and `pid` answer, `block` never does, `fail` raises (the client gets
an error result), `die` ends the process mid-call (a server that dies), `env` tells
what one environment variable holds in the server (nothing leaks to it unasked).
"""

from __future__ import annotations

import argparse
import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("codhechat-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return f"echo: {text}"


@server.tool()
def fail(reason: str = "broken") -> str:
    """Always fails."""
    raise ToolError(f"the tool failed: {reason}")


@server.tool()
def die() -> str:
    """Ends the server's process in the middle of the call."""
    sys.stdout.flush()
    os._exit(3)


@server.tool()
async def block() -> str:
    """Never answers (until the call is cancelled)."""
    import anyio

    await anyio.sleep_forever()
    return "unreachable"


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def env(name: str) -> str:
    """The value of one environment variable in the server, or (unset)."""
    return os.environ.get(name, "(unset)")


@server.resource("note://hello", mime_type="text/markdown")
def hello_note() -> str:
    """A note to attach."""
    return "# Hello\n\nFrom a resource."


@server.prompt()
def terse() -> str:
    """A system prompt: answer in few words."""
    return "Answer in as few words as you can."


@server.prompt()
def about(topic: str) -> str:
    """Needs an argument: not a preset."""
    return f"Talk about {topic}."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=None, help="serve streamable HTTP on this port")
    args = parser.parse_args()
    if args.http is None:
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.http)


if __name__ == "__main__":
    main()
