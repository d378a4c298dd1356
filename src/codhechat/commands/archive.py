"""`codhechat export` and `codhechat import`.

Export writes Markdown (for reading; what `codhechat show` prints) or codhechat's own
JSON (native_format: re-imported exactly). Import reads that, or a ChatGPT data export
(chatgpt_import), checks all of it before writing anything, and writes it in one
transaction.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codhechat.backends import ATTACH, BRANCHES, IMPORT, ChatBackend, supports
from codhechat.commands import EXIT_OK
from codhechat.commands.import_file import MalformedFile
from codhechat.commands.output import is_terminal, local_time
from codhechat.commands.session import ALL, all_messages, conversation, require, run_with
from codhechat.errors import CodheError, UsageError
from codhechat.models import Conversation, ConversationRecord, Message, MessageStatus
from codhechat.native_format import FORMAT_NAME, dump_json, parse_native, record_of
from codhechat.textsafe import visible

# -- export -------------------------------------------------------------------


def run_export(args: argparse.Namespace, settings: Any) -> int:
    if args.all and args.ids:
        raise UsageError("Give conversation ids or --all, not both.")
    if not args.all and not args.ids:
        raise UsageError(
            "Which conversations? Give their ids, or --all.",
            "e.g. codhechat export 12 --format json -o chat.json  (`codhechat list` shows ids)",
        )

    async def gathered(backend: ChatBackend) -> tuple[list[tuple[Conversation, list[Message]]], bool]:
        if args.all:  # oldest first, pinned or not
            chosen = sorted(await backend.list_conversations(limit=ALL), key=lambda c: (c.created_at, c.id))
        else:
            chosen = [await conversation(backend, i) for i in dict.fromkeys(args.ids)]
        tree = args.format == "json" and supports(backend, BRANCHES)  # every branch; else the path shown
        pairs = [(c, await (backend.message_tree(c.id) if tree else all_messages(backend, c.id))) for c in chosen]
        if tree:  # the path each is on, as its tree was read (a server's is known once read)
            pairs = [((await backend.get_conversation(c.id)) or c, messages) for c, messages in pairs]
        if args.format == "json" and supports(backend, ATTACH):
            for a in {a.sha256: a for _, ms in pairs for m in ms for a in m.attachments}.values():
                if (data := await backend.attachment_data(a)) is not None:
                    blobs[a.sha256] = data
        return pairs, tree

    blobs: dict[str, bytes] = {}
    pairs, tree = run_with(settings, gathered, readonly=True)
    if args.format == "json":
        text = dump_json([record_of(c, messages, blobs, tree=tree) for c, messages in pairs])
    else:
        text = "\n---\n\n".join(conversation_markdown(c, m, reasoning=args.reasoning) for c, m in pairs)
    if args.output and args.output != "-":
        _write_file(Path(args.output), text)
        noun = "conversation" if len(pairs) == 1 else "conversations"
        print(f"Exported {len(pairs)} {noun} to {args.output}.", file=sys.stderr)
    else:
        # Into a pipe: the bytes as stored. On a terminal: nothing it would act on.
        sys.stdout.write(visible(text) if is_terminal(sys.stdout) else text)
        sys.stdout.flush()
    return EXIT_OK


def _write_file(path: Path, text: str) -> None:
    """Write whole or not at all: a failed export never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CodheError(f"Cannot write {path}: {exc.strerror}.") from None


def conversation_markdown(conversation: Conversation, messages: Sequence[Message], *, reasoning: bool = False) -> str:
    """A conversation to read; a reasoning model's thinking only when asked for."""
    lines = [f"# {conversation.title}", ""]
    about = [f"conversation {conversation.id}", f"started {local_time(conversation.created_at)}"]
    if conversation.model:
        about.append(f"model {conversation.model}")
    lines += ["_" + " · ".join(about) + "_", ""]
    for m in messages:
        who = {"user": "You", "assistant": "Assistant", "system": "System", "tool": "Tool"}.get(m.role, m.role)
        if m.role == "tool" and m.tool_name:
            who += f" {m.tool_name}"
        heading = f"## {who}"
        if m.role == "assistant" and m.model:
            heading += f" ({m.model})"
        lines += [heading, ""]
        if reasoning and m.reasoning:
            spent = f" ({m.thinking_ms / 1000:.1f} s)" if m.thinking_ms is not None else ""
            lines += [f"> _Thinking{spent}_", ">", *(f"> {line}" for line in m.reasoning.strip().splitlines()), ""]
        if m.content.strip() or not m.tool_calls:
            lines += [m.content.strip() or "_(empty)_", ""]
        lines += [f"_(asked to run `{call.name}` with `{' '.join(call.arguments.split())}`)_" for call in m.tool_calls]
        lines += [""] if m.tool_calls else []
        if m.status == MessageStatus.PARTIAL:
            lines += ["_(partial reply: it was stopped or cut off)_", ""]
        elif m.status == MessageStatus.ERROR:
            lines += [f"_(failed: {m.error or 'the model returned an error'})_", ""]
    return "\n".join(lines)


# -- import -------------------------------------------------------------------


def run_import(args: argparse.Namespace, settings: Any) -> int:
    from codhechat.commands import chatgpt_import
    from codhechat.commands.import_file import ImportLimits, check_records, load_json

    path = Path(args.file)
    limits = ImportLimits(args.max_size)
    data = load_json(path, limits)
    left_out: dict[str, int] = {}
    empty: list[str] = []
    if isinstance(data, dict) and data.get("format") == FORMAT_NAME:
        records, source = parse_native(data, path), "codhechat export"
    elif chatgpt_import.looks_like_chatgpt(data):
        result = chatgpt_import.parse(data, path)
        records, source = result.conversations, "ChatGPT export"
        left_out, empty = dict(result.left_out), result.empty_conversations
    else:
        raise MalformedFile(
            f"{path} is neither a codhechat export nor a ChatGPT conversations.json; nothing was imported.",
            "Import a file made by `codhechat export --format json`, or the conversations.json "
            "(or the .zip) of a ChatGPT data export.",
        )
    check_records(records, path, limits)

    async def write(backend: ChatBackend) -> tuple[list[Conversation], list[ConversationRecord]]:
        require(backend, IMPORT, "import conversations")
        done = await backend.import_conversations(records)
        for what, n in getattr(backend, "import_left_out", {}).items():  # a server's (remote mode)
            left_out[what] = left_out.get(what, 0) + n
        return done

    imported, skipped = run_with(settings, write)
    out = sys.stdout
    skipped_ids = {id(r) for r in skipped}
    messages = sum(len(r.messages) for r in records if id(r) not in skipped_ids)
    out.write(
        f"Imported {_count(len(imported), 'conversation')} ({_count(messages, 'message')}) "
        f"from {path.name} ({source}).\n"
    )
    if skipped:
        titles = ", ".join(repr(r.title) for r in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        out.write(f"Skipped {_count(len(skipped), 'conversation')} already here: {titles}.\n")
    if empty:
        titles = ", ".join(repr(t) for t in empty[:5]) + (", ..." if len(empty) > 5 else "")
        out.write(f"Skipped {_count(len(empty), 'conversation')} with no text messages: {titles}.\n")
    if left_out:
        details = ", ".join(_plural(n, what) for what, n in sorted(left_out.items()))
        out.write(f"Left out: {details}.\n")
    return EXIT_OK


def _plural(n: int, what: str) -> str:
    """'1 empty node', '2 empty nodes', '3 system messages'."""
    if n != 1:
        for word in ("message", "node", "part"):
            if f"{word}" in what.split(" "):
                what = what.replace(word, f"{word}s", 1)
                break
    return f"{n} {what}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
