"""`codhechat ask`: one exchange from the shell.

It goes through the app's own backend (local, or a server's with --server), so the
prompt is stored before the
request, the reply is saved as it streams and marked complete, error or
partial, and the conversation shows up in the app like any other. The reply is
written to stdout as it arrives, flushed per piece, so `| less` or `> file`
see it stream; there is nothing but the reply on stdout, with no colour.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from codhechat.backends import ATTACH, TOOLS, ChatBackend
from codhechat.commands import EXIT_ENDPOINT, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from codhechat.commands.output import Style, is_terminal, report
from codhechat.commands.session import conversation, require, run_with
from codhechat.errors import CodheError, MissingApiKey, ModelError, UsageError
from codhechat.models import (
    FinishReason,
    ReplyDelta,
    ReplyDone,
    ReplyEvent,
    ReplyFailed,
    ReplyNotice,
    ReplyPrompt,
    ReplyStarted,
    ReplyToolCall,
    ReplyToolResult,
)
from codhechat.textsafe import visible
from codhechat.tool_rounds import DECLINED


@dataclass
class _Progress:
    conversation_id: int | None
    wrote: bool = False
    ends_with_newline: bool = True
    error: Exception | None = None
    finish_reason: str | None = None
    left_out: int = 0
    allowed_tools: frozenset[str] = frozenset()  # --allow-tool NAME
    all_tools: bool = False  # --allow-all-tools


def run(args: argparse.Namespace, settings: Any) -> int:
    files = attached(args.attach, settings.attachment_max_mb)
    resources = [_resource(text) for text in getattr(args, "resource", None) or ()]
    # `-a -` takes stdin as a file of its own, so the prompt stays separate from it.
    prompt = combine(args.prompt, "" if "-" in args.attach else read_piped_input())
    if not prompt and not files and not resources:
        raise UsageError(
            "Nothing to ask: give a prompt, or pipe some text in.",
            'e.g. codhechat ask "what is FTS5?"   or   git diff | codhechat ask "review this"',
        )
    # A --model or --system given here applies; otherwise a continued conversation keeps
    # its own model (and provider) and system prompt, as in the app.
    explicit = getattr(args, "model", None) is not None or getattr(args, "system_prompt", None) is not None
    # Titled after what was typed, not the piped text after it.
    title = args.prompt.strip() if args.prompt and args.prompt.strip() else prompt
    progress = _Progress(None, allowed_tools=frozenset(getattr(args, "allow_tool", None) or ()),
                         all_tools=bool(getattr(args, "allow_all_tools", False)))  # fmt: skip
    out = sys.stdout

    async def exchange(backend: ChatBackend) -> None:
        conversation_id = await _conversation_for(backend, args)
        if conversation_id is None and (notice := await backend.resolve_model()):
            print(f"codhechat: {visible(notice)}", file=sys.stderr)
        if resources:
            require(backend, TOOLS, "attach MCP resources")
            files.extend([await backend.mcp_resource(server, uri) for server, uri in resources])
        if files:
            require(backend, ATTACH, "take attachments")
            events = backend.stream_reply(conversation_id, prompt, title=title, attachments=files)
        else:
            events = backend.stream_reply(conversation_id, prompt, title=title)
        await _exchange(events, progress, out)

    try:
        run_with(settings, exchange, conversation_options=not explicit)
    except KeyboardInterrupt:
        _end_line(progress, out)
        print(
            f"codhechat: interrupted; what arrived is kept as a partial reply "
            f"(conversation {progress.conversation_id}).",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return _outcome(progress, out)


def attached(names: list[str], max_mb: float) -> list[Any]:
    """The files given with -a, read and checked before anything is sent."""
    if not names:
        return []
    from codhechat.attachments import prepare, read_file

    files = []
    for name in names:
        if name == "-":
            data = sys.stdin.buffer.read() if sys.stdin is not None else b""
            files.append(prepare("stdin", data, max_mb=max_mb))
        else:
            files.append(read_file(Path(name), max_mb=max_mb))
    return files


def _resource(text: str) -> tuple[str, str]:
    """SERVER:URI, as --resource takes it."""
    server, _, uri = text.partition(":")
    if not server or not uri:
        raise UsageError(f"--resource {text!r} is not SERVER:URI.", "e.g. --resource docs:file:///notes.md")
    return server, uri


def read_piped_input(stdin: TextIO | None = None) -> str:
    """The text piped in, or "" when stdin is a terminal (or closed)."""
    stdin = stdin if stdin is not None else sys.stdin
    if stdin is None or stdin.closed or stdin.isatty():
        return ""
    try:
        data = stdin.buffer.read()
    except (OSError, ValueError, AttributeError):
        return ""
    return data.decode("utf-8", errors="replace")


def combine(prompt: str | None, piped: str) -> str:
    """The instruction first, then the piped text after a blank line: what a
    person would type when pasting a diff under a request."""
    prompt = (prompt or "").strip()
    piped = piped.strip("\n").rstrip()
    if prompt and piped.strip():
        return f"{prompt}\n\n{piped}"
    return prompt or piped.strip()


async def _conversation_for(backend: ChatBackend, args: argparse.Namespace) -> int | None:
    if args.conversation is not None:
        return (await conversation(backend, args.conversation)).id
    if args.continue_last:
        latest = await backend.list_conversations(limit=1)
        return latest[0].id if latest else None  # nothing to continue: start one
    return None


def _outcome(progress: _Progress, out: IO[str]) -> int:
    """Say how the reply ended (stderr), and the exit code."""
    _end_line(progress, out)
    if progress.error is not None:
        error = progress.error
        if isinstance(error, CodheError):
            report(_for_the_shell(error, progress.conversation_id))
        else:
            print(f"codhechat: {error}", file=sys.stderr)
        return EXIT_ENDPOINT if isinstance(error, ModelError) else EXIT_ERROR
    if progress.left_out:
        print(f"codhechat: {progress.left_out} earlier message{'s' if progress.left_out != 1 else ''} "
              "did not fit the model's context and were not sent.", file=sys.stderr)  # fmt: skip
    if progress.finish_reason == FinishReason.LENGTH:
        print(
            "codhechat: the reply stopped at the length limit: it may be incomplete "
            f"(continue it in the app, conversation {progress.conversation_id}).",
            file=sys.stderr,
        )
    elif progress.finish_reason == FinishReason.CONTENT_FILTER:
        print("codhechat: the endpoint's content filter stopped the reply.", file=sys.stderr)
    if is_terminal(sys.stderr):
        print(Style(sys.stderr).dim(f"[conversation {progress.conversation_id}]"), file=sys.stderr)
    return EXIT_OK


async def _exchange(events: AsyncGenerator[ReplyEvent, None], progress: _Progress, out: IO[str]) -> None:
    # Raw bytes into a pipe or a file, as asked; on a terminal the model must not
    # be able to send escape sequences (retitle the window, write the clipboard).
    shown = visible if is_terminal(out) else str
    async with aclosing(events) as stream:
        async for event in stream:
            if isinstance(event, ReplyStarted):
                progress.conversation_id = event.conversation.id
            elif isinstance(event, ReplyDelta):
                out.write(shown(event.text))
                out.flush()
                progress.wrote = True
                progress.ends_with_newline = event.text.endswith("\n")
            elif isinstance(event, ReplyFailed):
                progress.error = event.error
            elif isinstance(event, ReplyDone):
                progress.finish_reason = event.message.finish_reason
            elif isinstance(event, ReplyPrompt):
                progress.left_out = event.left_out
            elif isinstance(event, ReplyToolCall | ReplyToolResult | ReplyNotice):
                _tool_event(event, progress)


def _tool_event(event: ReplyToolCall | ReplyToolResult | ReplyNotice, progress: _Progress) -> None:
    """There is no one to ask in a pipe: a tool not allowed (config, --allow-tool) is
    refused, and stderr says how to allow it."""
    if isinstance(event, ReplyNotice):
        print(f"codhechat: {visible(event.text)}", file=sys.stderr)
    elif isinstance(event, ReplyToolCall):
        name = event.call.name
        if not event.approval.needed or progress.all_tools or name in progress.allowed_tools:
            event.approval.decide("once")
            print(f"codhechat: running tool {visible(name)}", file=sys.stderr)
        else:
            event.approval.decide("deny")
            print(f"codhechat: refused tool {visible(name)} (allow it with --allow-tool {visible(name)}, "
                  "or in the server's `allow` list)", file=sys.stderr)  # fmt: skip
    elif event.failed and event.message.content != DECLINED:
        print(f"codhechat: tool {visible(event.call.name)} failed: {visible(event.message.content[:300])}",
              file=sys.stderr)  # fmt: skip


def _end_line(progress: _Progress, out: IO[str]) -> None:
    if progress.wrote and not progress.ends_with_newline:
        out.write("\n")
        progress.ends_with_newline = True
    out.flush()


def _for_the_shell(error: CodheError, conversation_id: int | None) -> CodheError:
    """The endpoint errors' hints are the app's; say what to do in a shell."""
    if isinstance(error, MissingApiKey):
        hint = (
            "Set OPENAI_API_KEY (in the environment or .env), or point OPENAI_BASE_URL "
            "at a local server such as Ollama, which needs no key."
        )
    else:
        # The model and server errors say "retry" (the app adds its key, Ctrl+R).
        hint = re.sub(r"\bretry\b", "run the command again", error.hint.replace(" Press F2 to set one.", ""))
        hint = re.sub(r"\bRetry\b", "Run the command again", hint)
    return CodheError(error.message, hint)
