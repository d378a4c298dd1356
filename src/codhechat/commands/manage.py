"""`codhechat list | show | search | rename | delete`: the conversations from the
shell (local, or a server's with --server), readable on a terminal and plain when piped."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from codhechat.backends import DELETE, RENAME, SEARCH, ChatBackend
from codhechat.commands import EXIT_ERROR, EXIT_OK
from codhechat.commands.output import Style, is_terminal, json_line, local_time, not_found
from codhechat.commands.session import ALL, all_messages, conversation, require, run_with
from codhechat.errors import UsageError
from codhechat.models import snippet_parts
from codhechat.textsafe import visible


def run_list(args: argparse.Namespace, settings: Any) -> int:
    async def listed(backend: ChatBackend) -> list[Any]:
        return await backend.list_conversations(limit=ALL if args.all else args.limit)

    conversations = run_with(settings, listed, readonly=True)
    out, style = sys.stdout, Style(sys.stdout)
    if args.json:
        for c in conversations:
            row = {"id": c.id, "title": c.title, "created_at": c.created_at.isoformat(),
                   "updated_at": c.updated_at.isoformat(), "model": c.model}  # fmt: skip
            out.write(json_line(row))
        return EXIT_OK
    if not conversations and is_terminal(sys.stderr):
        print('No conversations yet: `codhechat ask "..."` or `codhechat` starts one.', file=sys.stderr)
    width = max((len(str(c.id)) for c in conversations), default=1)
    for c in conversations:
        out.write(f"{style.cyan(str(c.id).rjust(width))}  {style.dim(local_time(c.updated_at))}  {visible(c.title)}\n")
    return EXIT_OK


def run_show(args: argparse.Namespace, settings: Any) -> int:
    from codhechat.commands.archive import conversation_markdown

    async def shown(backend: ChatBackend) -> str:
        return conversation_markdown(
            await conversation(backend, args.id), await all_messages(backend, args.id), reasoning=args.reasoning
        )

    text = visible(run_with(settings, shown, readonly=True))
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

    async def found(backend: ChatBackend) -> list[Any]:
        require(backend, SEARCH, "search conversations")
        return await backend.search(args.query, limit=args.limit, newest_first=args.newest, syntax=args.syntax)

    hits = run_with(settings, found, readonly=True)
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

    async def rename(backend: ChatBackend) -> Any:
        await backend.list_conversations(limit=1)  # a server shows its extensions by listing
        require(backend, RENAME, "rename conversations")
        return await backend.rename_conversation(args.id, title)

    renamed = run_with(settings, rename)
    if renamed is None:
        raise not_found(args.id)
    if is_terminal(sys.stderr):
        print(f"Renamed conversation {args.id} to {title!r}.", file=sys.stderr)
    return EXIT_OK


def run_delete(args: argparse.Namespace, settings: Any) -> int:
    ids = list(dict.fromkeys(args.ids))

    async def delete(backend: ChatBackend) -> int:
        await backend.list_conversations(limit=1)  # a server shows its extensions by listing
        require(backend, DELETE, "delete conversations")
        conversations = [await conversation(backend, i) for i in ids]  # all found before any goes
        if not args.yes:
            if sys.stdin is None or not sys.stdin.isatty():
                raise UsageError(
                    "Not deleting without confirmation: stdin is not a terminal.",
                    "Add --yes to delete without being asked.",
                )
            if not _confirm(conversations):
                print("Nothing deleted.", file=sys.stderr)
                return EXIT_ERROR
        for doomed in conversations:
            count = await backend.delete_conversation(doomed.id)
            if count is None:
                raise not_found(doomed.id)
            print(
                f"Deleted conversation {doomed.id} ({doomed.title!r}, {count} message{'' if count == 1 else 's'}).",
                file=sys.stderr,
            )
        return EXIT_OK

    return run_with(settings, delete)


def _confirm(conversations: list[Any]) -> bool:
    names = ", ".join(f"{c.id} ({c.title!r})" for c in conversations)
    noun = "conversation" if len(conversations) == 1 else "conversations"
    try:
        print(f"Delete {noun} {names} and all their messages? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
