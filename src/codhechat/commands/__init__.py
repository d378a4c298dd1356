"""Shell subcommands: ask, list, show, search, rename, delete, export, import.

This module only declares their flags (argparse, so `--help` stays instant);
each command's module, and the store and model client behind it, is imported
when that command runs.

Exit codes, the same for every command:
  0  done
  1  error (no such conversation, a file that cannot be read or imported, storage)
  2  usage error (bad flags or arguments, empty prompt, bad config)
  3  the model endpoint failed (connection, HTTP error, cut-off reply)
  130  interrupted (Ctrl+C); a reply cut short is kept, marked partial
"""

from __future__ import annotations

import argparse
from typing import Any

# `codhechat import` limits (import_limits imports nothing, so `--help` stays instant).
from codhechat.import_limits import IMPORT_MAX_CONVERSATIONS, IMPORT_MAX_DEPTH, IMPORT_MAX_MB

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_ENDPOINT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


SHELL_COMMANDS = frozenset({"ask", "list", "show", "search", "rename", "delete", "export", "import", "models"})


def _id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a conversation id: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a conversation id: {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def add_shell_parsers(commands: Any) -> None:
    """Add the shell subcommands to the `codhechat` parser's subparsers."""
    suppress = argparse.SUPPRESS  # so `codhechat --model X ask` is not reset by ask's default

    ask = commands.add_parser(
        "ask",
        help="send one prompt, stream the reply to stdout (stored like any other)",
        description="Send a prompt and stream the reply to stdout. Piped input is added "
        "to the prompt (`git diff | codhechat ask 'review this'`). The exchange is stored "
        "and shows up in the app.",
        epilog="Exit codes: 0 done, 1 error, 2 usage error, 3 the endpoint failed, "
        "130 interrupted (the partial reply is kept).",
    )
    ask.add_argument("prompt", nargs="?", help="the prompt (optional when input is piped)")
    ask.add_argument(
        "-a", "--attach", action="append", default=[], metavar="FILE",
        help="attach a file (text, code, PDF, PNG/JPEG/GIF/WebP image); repeatable; - reads it from stdin",
    )  # fmt: skip
    which = ask.add_mutually_exclusive_group()
    which.add_argument(
        "-c", "--continue", dest="continue_last", action="store_true",
        help="continue the most recent conversation",
    )  # fmt: skip
    which.add_argument("--conversation", type=_id, metavar="ID", help="continue conversation ID")
    ask.add_argument("-m", "--model", default=suppress, help="model for this reply")
    ask.add_argument(
        "--system",
        dest="system_prompt",
        metavar="TEXT",
        default=suppress,
        help="system prompt for this reply",
    )
    ask.add_argument(
        "--allow-tool", action="append", default=[], metavar="NAME",
        help="let the model run this MCP tool too (those in a server's `allow` always may); repeatable",
    )  # fmt: skip
    ask.add_argument("--allow-all-tools", action="store_true", help="let the model run every MCP tool")
    ask.add_argument(
        "--resource", action="append", default=[], metavar="SERVER:URI",
        help="attach a resource of an MCP server, e.g. docs:file:///notes.md; repeatable",
    )  # fmt: skip

    models = commands.add_parser(
        "models", help="list every provider's models",
        description="List the models of the default endpoint and of each [providers.NAME] in the "
        "config file (asked at once; a provider that does not answer is listed with the reason). "
        "Use a name as shown with --model, or choose it in the app with F5.",
    )  # fmt: skip
    models.add_argument("--json", action="store_true", help="one JSON object per line")

    listing = commands.add_parser(
        "list", help="list conversations: pinned first, then most recent first",
        description="List conversations (id, last activity, title): the pinned ones first (latest pin "
        "first), then the others, most recent first. `codhechat --conversation ID` opens one in the app; "
        "`codhechat --continue` opens the one last talked in.",
    )  # fmt: skip
    listing.add_argument("-n", "--limit", type=_positive, default=50, help="how many (default: 50)")
    listing.add_argument("--all", action="store_true", help="list every conversation")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    show = commands.add_parser(
        "show", help="print a conversation",
        description="Print a conversation as Markdown (rendered when stdout is a terminal).",
    )  # fmt: skip
    show.add_argument("id", type=_id, metavar="ID")
    show.add_argument("--reasoning", action="store_true", help="include a reasoning model's thinking")

    search = commands.add_parser(
        "search", help="search every message",
        description="Full-text search over every message (every word must occur; "
        "`review` also finds `reviews`). Best matches first.",
    )  # fmt: skip
    search.add_argument("query", help="words to look for")
    search.add_argument("-n", "--limit", type=_positive, default=20, help="how many (default: 20)")
    search.add_argument("--newest", action="store_true", help="newest matches first")
    search.add_argument(
        "--syntax", action="store_true",
        help='read QUERY as SQLite FTS5 syntax: OR, NOT, "exact phrase", prefix*',
    )  # fmt: skip
    search.add_argument("--json", action="store_true", help="one JSON object per line")

    rename = commands.add_parser("rename", help="rename a conversation")
    rename.add_argument("id", type=_id, metavar="ID")
    rename.add_argument("name", metavar="NAME", help="the new title")

    delete = commands.add_parser(
        "delete", help="delete conversations and their messages",
        description="Delete conversations and their messages. Asks first on a terminal; "
        "otherwise needs --yes.",
    )  # fmt: skip
    delete.add_argument("ids", type=_id, nargs="+", metavar="ID")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    export = commands.add_parser(
        "export", help="export conversations as Markdown or JSON",
        description="Export conversations. JSON is codhechat's own versioned format: "
        "`codhechat import` reads it back exactly.",
    )  # fmt: skip
    export.add_argument("ids", type=_id, nargs="*", metavar="ID")
    export.add_argument("--all", action="store_true", help="export every conversation")
    export.add_argument(
        "-f", "--format", choices=["markdown", "json"], default="markdown",
        help="output format (default: markdown)",
    )  # fmt: skip
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    export.add_argument(
        "--reasoning", action="store_true",
        help="Markdown: include a reasoning model's thinking (JSON always carries it)",
    )  # fmt: skip

    imports = commands.add_parser(
        "import", help="import a codhechat JSON export or a ChatGPT export",
        description="Import conversations from a `codhechat export --format json` file, or "
        "from a ChatGPT data export (its conversations.json, or the .zip). All or nothing: "
        "a file with any malformed conversation imports nothing.",
        epilog=f"Limits: at most {IMPORT_MAX_MB} MB of JSON (after unpacking a zip; --max-size "
        f"raises it), nested at most {IMPORT_MAX_DEPTH} levels deep, at most "
        f"{IMPORT_MAX_CONVERSATIONS:,} conversations.",
    )  # fmt: skip
    imports.add_argument("file", metavar="FILE")
    imports.add_argument(
        "--max-size", type=_positive, default=IMPORT_MAX_MB, metavar="MB",
        help=f"read at most MB megabytes of JSON (default: {IMPORT_MAX_MB})",
    )  # fmt: skip


def run_shell_command(args: argparse.Namespace, settings: Any) -> int:
    """Run one shell subcommand; errors are printed, never raised as tracebacks."""
    from codhechat.commands import dispatch

    return dispatch.run_guarded(args, settings)
