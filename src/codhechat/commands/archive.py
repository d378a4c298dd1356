"""`codhechat export` and `codhechat import`, and codhechat's own export format.

The JSON format is versioned and carries everything the store keeps about a
conversation except its database ids (which belong to one database): so
export -> import -> export gives the same bytes, and importing into a database
that already has conversations cannot clash. Markdown is for reading (and is
what `codhechat show` prints).

    {"format": "codhechat", "version": 1, "conversations": [
      {"title": str, "created_at": ISO 8601, "updated_at": ISO 8601, "model": str | null,
       "pinned_at": ISO 8601 | null, "system_prompt": str | null,
       "messages": [{"role": "user" | "assistant" | "system", "content": str,
                     "status": "complete" | "partial" | "error", "model": str | null,
                     "created_at": ISO 8601, "error": str | null,
                     "prompt_tokens": int | null, "completion_tokens": int | null,
                     "finish_reason": str | null}]}]}

    pinned_at, system_prompt, the token counts and finish_reason came later; files
    without them still import (as null).

Import reads that, or a ChatGPT data export (chatgpt_import), checks all of
it before writing anything, and writes it in one transaction.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codhechat.backends import IMPORT, ChatBackend
from codhechat.commands import EXIT_OK
from codhechat.commands.import_file import MalformedFile
from codhechat.commands.output import is_terminal, local_time
from codhechat.commands.session import ALL, all_messages, conversation, require, run_with
from codhechat.errors import CodheError, UsageError
from codhechat.models import Conversation, ConversationRecord, Message, MessageRecord, MessageStatus
from codhechat.textsafe import visible

FORMAT_NAME = "codhechat"
FORMAT_VERSION = 1
ROLES = ("user", "assistant", "system")


# -- export -------------------------------------------------------------------


def run_export(args: argparse.Namespace, settings: Any) -> int:
    if args.all and args.ids:
        raise UsageError("Give conversation ids or --all, not both.")
    if not args.all and not args.ids:
        raise UsageError(
            "Which conversations? Give their ids, or --all.",
            "e.g. codhechat export 12 --format json -o chat.json  (`codhechat list` shows ids)",
        )
    async def gathered(backend: ChatBackend) -> list[tuple[Conversation, list[Message]]]:
        if args.all:  # oldest first, pinned or not
            chosen = sorted(await backend.list_conversations(limit=ALL), key=lambda c: (c.created_at, c.id))
        else:
            chosen = [await conversation(backend, i) for i in dict.fromkeys(args.ids)]
        return [(c, await all_messages(backend, c.id)) for c in chosen]

    pairs = run_with(settings, gathered, readonly=True)
    if args.format == "json":
        text = dump_json([record_of(c, messages) for c, messages in pairs])
    else:
        text = "\n---\n\n".join(conversation_markdown(c, messages) for c, messages in pairs)
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


def record_of(conversation: Conversation, messages: Sequence[Message]) -> ConversationRecord:
    return ConversationRecord(
        title=conversation.title,
        created_at=conversation.created_at.isoformat(),
        updated_at=conversation.updated_at.isoformat(),
        model=conversation.model,
        pinned_at=conversation.pinned_at.isoformat() if conversation.pinned_at else None,
        system_prompt=conversation.system_prompt,
        messages=[
            MessageRecord(
                role=m.role, content=m.content, created_at=m.created_at.isoformat(),
                status=m.status, model=m.model, error=m.error, prompt_tokens=m.prompt_tokens,
                completion_tokens=m.completion_tokens, finish_reason=m.finish_reason,
            )  # fmt: skip
            for m in messages
        ],
    )


def dump_json(records: Sequence[ConversationRecord]) -> str:
    conversations = [
        {
            "title": r.title,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            "model": r.model,
            "pinned_at": r.pinned_at,
            "system_prompt": r.system_prompt,
            "messages": [
                {"role": m.role, "content": m.content, "status": str(m.status), "model": m.model,
                 "created_at": m.created_at, "error": m.error, "prompt_tokens": m.prompt_tokens,
                 "completion_tokens": m.completion_tokens, "finish_reason": m.finish_reason}  # fmt: skip
                for m in r.messages
            ],
        }
        for r in records
    ]
    document = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "conversations": conversations}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def conversation_markdown(conversation: Conversation, messages: Sequence[Message]) -> str:
    lines = [f"# {conversation.title}", ""]
    about = [f"conversation {conversation.id}", f"started {local_time(conversation.created_at)}"]
    if conversation.model:
        about.append(f"model {conversation.model}")
    lines += ["_" + " · ".join(about) + "_", ""]
    for m in messages:
        who = {"user": "You", "assistant": "Assistant", "system": "System"}.get(m.role, m.role)
        heading = f"## {who}"
        if m.role == "assistant" and m.model:
            heading += f" ({m.model})"
        lines += [heading, "", m.content.strip() or "_(empty)_", ""]
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
            f"{path} is neither a codhechat export nor a ChatGPT conversations.json; "
            "nothing was imported.",
            "Import a file made by `codhechat export --format json`, or the conversations.json "
            "(or the .zip) of a ChatGPT data export.",
        )
    check_records(records, path, limits)

    async def write(backend: ChatBackend) -> tuple[list[Conversation], list[ConversationRecord]]:
        require(backend, IMPORT, "import conversations")
        return await backend.import_conversations(records)

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
    """'1 empty node', '2 empty nodes', '3 messages on other branches'."""
    if n != 1:
        what = what.replace("another branch", "other branches")
        for word in ("message", "node", "part"):
            if f"{word}" in what.split(" "):
                what = what.replace(word, f"{word}s", 1)
                break
    return f"{n} {what}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def parse_native(data: dict[str, Any], path: Path) -> list[ConversationRecord]:
    """Check a codhechat export completely, so that a bad file imports nothing."""
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise MalformedFile(
            f"{path} is a codhechat export of format version {version!r}; this codhechat "
            f"reads version {FORMAT_VERSION}. Nothing was imported.",
            "Export it again with this version of codhechat, or upgrade codhechat.",
        )
    conversations = data.get("conversations")
    if not isinstance(conversations, list):
        raise _bad(path, "the file", "`conversations` must be a list")
    records = []
    for i, item in enumerate(conversations, 1):
        where = f"conversation {i}"
        if not isinstance(item, dict):
            raise _bad(path, where, "must be an object")
        messages = item.get("messages")
        if not isinstance(messages, list):
            raise _bad(path, where, "`messages` must be a list")
        parsed = []
        for j, message in enumerate(messages, 1):
            at = f"{where}, message {j}"
            if not isinstance(message, dict):
                raise _bad(path, at, "must be an object")
            role = message.get("role")
            if role not in ROLES:
                raise _bad(path, at, f"`role` must be one of {', '.join(ROLES)}, not {role!r}")
            status = message.get("status", "complete")
            if status not in {s.value for s in MessageStatus}:
                raise _bad(path, at, f"`status` {status!r} is not complete, partial or error")
            parsed.append(
                MessageRecord(
                    role=role,
                    content=_text(message, "content", path, at),
                    created_at=_time(message, "created_at", path, at),
                    status=MessageStatus(status),
                    model=_text(message, "model", path, at, optional=True),
                    error=_text(message, "error", path, at, optional=True),
                    prompt_tokens=_tokens(message, "prompt_tokens", path, at),
                    completion_tokens=_tokens(message, "completion_tokens", path, at),
                    finish_reason=_text(message, "finish_reason", path, at, optional=True),
                )
            )
        title = _text(item, "title", path, where)
        records.append(
            ConversationRecord(
                title=title,
                created_at=_time(item, "created_at", path, where),
                updated_at=_time(item, "updated_at", path, where),
                model=_text(item, "model", path, where, optional=True),
                messages=parsed,
                pinned_at=_time(item, "pinned_at", path, where) if item.get("pinned_at") is not None else None,
                system_prompt=_text(item, "system_prompt", path, where, optional=True),
            )
        )
    return records


def _text(obj: dict[str, Any], key: str, path: Path, where: str, *, optional: bool = False) -> Any:
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _bad(path, where, f"`{key}` must be a string")
    return value


def _tokens(obj: dict[str, Any], key: str, path: Path, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
        raise _bad(path, where, f"`{key}` must be a whole number of tokens")
    return value


def _time(obj: dict[str, Any], key: str, path: Path, where: str) -> str:
    value = obj.get(key)
    try:
        return normalise_time(value)
    except (TypeError, ValueError):
        raise _bad(path, where, f"`{key}` must be an ISO 8601 time, not {value!r}") from None


def normalise_time(value: Any) -> str:
    """ISO 8601 text in UTC, as the store writes it (so it sorts as text)."""
    if not isinstance(value, str):
        raise TypeError(value)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _bad(path: Path, where: str, problem: str) -> MalformedFile:
    return MalformedFile(
        f"{path} is malformed: {where}: {problem}. Nothing was imported.",
        "Fix that part of the file, or export it again.",
    )
