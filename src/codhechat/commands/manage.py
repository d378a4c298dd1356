"""`codhechat list | show | search | rename | delete`: the conversation
database from the shell, readable on a terminal and plain when piped."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from codhechat.commands import EXIT_ERROR, EXIT_OK
from codhechat.commands.output import Style, is_terminal, json_line, local_time, not_found, open_store
from codhechat.errors import UsageError
from codhechat.models import snippet_parts
from codhechat.textsafe import visible


def run_list(args: argparse.Namespace, settings: Any) -> int:
    store = open_store(settings, readonly=True)
    try:
        limit = -1 if args.all else args.limit  # SQLite: a negative limit means none
        conversations = store.list_conversations(limit=limit)
    finally:
        store.close()
    out, style = sys.stdout, Style(sys.stdout)
    if args.json:
        for c in conversations:
            row = {"id": c.id, "title": c.title, "created_at": c.created_at.isoformat(),
                   "updated_at": c.updated_at.isoformat(), "model": c.model}  # fmt: skip
            out.write(json_line(row))
        return EXIT_OK
    if not conversations and is_terminal(sys.stderr):
        print("No conversations yet: `codhechat ask \"...\"` or `codhechat` starts one.", file=sys.stderr)
    width = max((len(str(c.id)) for c in conversations), default=1)
    for c in conversations:
        out.write(f"{style.cyan(str(c.id).rjust(width))}  {style.dim(local_time(c.updated_at))}  {visible(c.title)}\n")
    return EXIT_OK


def run_show(args: argparse.Namespace, settings: Any) -> int:
    from codhechat.commands.archive import conversation_markdown

    store = open_store(settings, readonly=True)
    try:
        conversation = store.get_conversation(args.id)
        if conversation is None:
            raise not_found(args.id)
        messages = store.all_messages(args.id)
    finally:
        store.close()
    text = visible(conversation_markdown(conversation, messages))
    if is_terminal(sys.stdout):
        from rich.console import Console

        from codhechat.markdown import TextMarkdown

        Console(highlight=False).print(TextMarkdown(text))
    else:
        sys.stdout.write(text)
    return EXIT_OK


def run_search(args: argparse.Namespace, settings: Any) -> int:
    if not args.query.strip():
        raise UsageError("Nothing to search for.", 'e.g. codhechat search "sqlite index"')
    store = open_store(settings, readonly=True)
    try:
        hits = store.search(
            args.query, limit=args.limit, newest_first=args.newest, syntax=args.syntax
        )
    finally:
        store.close()
    out, style = sys.stdout, Style(sys.stdout)
    if args.json:
        for hit in hits:
            row = {"conversation_id": hit.conversation_id, "message_id": hit.message_id,
                   "title": hit.title, "role": hit.role, "created_at": hit.created_at.isoformat(),
                   "snippet": _plain(hit.snippet)}  # fmt: skip
            out.write(json_line(row))
        return EXIT_OK if hits else EXIT_ERROR
    if not hits:
        print(f"codhechat: nothing matches {args.query!r}.", file=sys.stderr)
        return EXIT_ERROR  # like grep: scripts can test for a match
    for hit in hits:
        snippet = "".join(
            style.highlight(visible(part)) if is_match else visible(part)
            for part, is_match in snippet_parts(hit.snippet)
        )
        out.write(
            f"{style.cyan(str(hit.conversation_id))}  {style.bold(visible(hit.title))}  "
            f"{style.dim(f'{local_time(hit.created_at)} {hit.role} #{hit.message_id}')}\n"
            f"    {snippet}\n"
        )
    return EXIT_OK


def _plain(snippet: str) -> str:
    return "".join(part for part, _ in snippet_parts(snippet))


def run_rename(args: argparse.Namespace, settings: Any) -> int:
    title = " ".join(args.name.split())
    if not title:
        raise UsageError("The new name is empty.", 'e.g. codhechat rename 12 "Trip planning"')
    store = open_store(settings)
    try:
        renamed = store.rename_conversation(args.id, title)
    finally:
        store.close()
    if renamed is None:
        raise not_found(args.id)
    if is_terminal(sys.stderr):
        print(f"Renamed conversation {args.id} to {title!r}.", file=sys.stderr)
    return EXIT_OK


def run_delete(args: argparse.Namespace, settings: Any) -> int:
    ids = list(dict.fromkeys(args.ids))
    store = open_store(settings)
    try:
        conversations = []
        for conversation_id in ids:
            conversation = store.get_conversation(conversation_id)
            if conversation is None:
                raise not_found(conversation_id)  # before deleting anything
            conversations.append(conversation)
        if not args.yes:
            if sys.stdin is None or not sys.stdin.isatty():
                raise UsageError(
                    "Not deleting without confirmation: stdin is not a terminal.",
                    "Add --yes to delete without being asked.",
                )
            if not _confirm(conversations):
                print("Nothing deleted.", file=sys.stderr)
                return EXIT_ERROR
        for conversation in conversations:
            count = store.delete_conversation(conversation.id)
            print(
                f"Deleted conversation {conversation.id} ({conversation.title!r}, "
                f"{count} message{'' if count == 1 else 's'}).",
                file=sys.stderr,
            )
    finally:
        store.close()
    return EXIT_OK


def _confirm(conversations: list[Any]) -> bool:
    names = ", ".join(f"{c.id} ({c.title!r})" for c in conversations)
    noun = "conversation" if len(conversations) == 1 else "conversations"
    try:
        print(f"Delete {noun} {names} and all their messages? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
