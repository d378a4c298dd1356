"""The `codhechat` command.

argparse keeps `--help` instant; the UI (Textual) and the model client
(openai) are imported only once we know they are needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from codhechat import __version__, paths
from codhechat.commands import SHELL_COMMANDS, add_shell_parsers, run_shell_command
from codhechat.errors import CodheError
from codhechat.server.cli import add_serve_parser, serve_main

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codhechat",
        description="A terminal chat client for OpenAI and OpenAI-compatible models "
        "(Ollama, vLLM, llama.cpp). Conversations are kept in a local SQLite database, "
        "or on a CoDHeChat server with --server URL.",
        epilog="Settings come from flags, then the environment (OPENAI_API_KEY, OPENAI_BASE_URL, "
        "CODHECHAT_*), then .env, then the config file; `codhechat config` shows the result.",
    )
    parser.add_argument("--version", action="version", version=f"codhechat {__version__}")
    parser.add_argument("-m", "--model", help="model to chat with (default: gpt-4o-mini)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1")
    parser.add_argument("--system", dest="system_prompt", help="system prompt the model sees first")
    parser.add_argument("--history-window", type=int, help="how many earlier messages the model sees")
    parser.add_argument("--database", type=Path, help="SQLite database file to use")
    parser.add_argument(
        "--theme", metavar="NAME", help="theme for this run: dark, light or a Textual theme (nord, gruvbox, …)"
    )
    parser.add_argument("--config", type=Path, help=f"config file (default: {paths.config_file()})")
    parser.add_argument(
        "--server", metavar="URL", help="chat on a CoDHeChat server (remote mode), e.g. https://chat.example.org"
    )
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        "-c", "--continue", dest="resume_latest", action="store_true",
        help="open the most recent conversation (the one last talked in)",
    )  # fmt: skip
    resume.add_argument(
        "--conversation",
        dest="resume_id",
        type=int,
        metavar="ID",
        help="open conversation ID (`codhechat list` shows them)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("config", help="print the effective settings and where files live")
    login = commands.add_parser(
        "login",
        help="sign in to a CoDHeChat server with a username and password",
        description="Sign in to a CoDHeChat server and keep the token (readable by you only) for "
        "remote mode; without it, remote mode signs in as a guest. The password is read "
        "from the terminal without echo.",
    )
    login.add_argument(
        "--server", dest="login_server", metavar="URL", help="the server (default: `server` from the config)"
    )
    login.add_argument("-u", "--username", help="your username (asked for when not given)")
    login.add_argument("--register", action="store_true", help="create the account first")
    logout = commands.add_parser("logout", help="forget the token kept for a CoDHeChat server")
    logout.add_argument(
        "--server", dest="login_server", metavar="URL", help="the server (default: `server` from the config)"
    )
    add_serve_parser(commands)  # flags only: the server stack is imported when it runs
    add_shell_parsers(commands)  # ask, list, show, search, rename, delete, export, import
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`codhechat config | head`): stop quietly, as Unix tools do.
        from codhechat.commands.output import silence_stdout

        silence_stdout()
        return EXIT_OK


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    flags: dict[str, Any] = {
        key: getattr(args, key)
        for key in ("model", "base_url", "system_prompt", "history_window", "database", "server")
    }
    if args.command is not None and (args.resume_latest or args.resume_id is not None):
        parser.error("--continue and --conversation open the app: use them without a COMMAND")
    if args.command == "serve":
        return serve_main(args)
    try:
        if args.command is None and (deferred := first_frame_settings(flags, args.config)) is not None:
            return run_app(deferred, theme=args.theme, resume="latest" if args.resume_latest else args.resume_id)
        from codhechat.config import load_settings

        settings = load_settings(flags, config_file=args.config)
        if args.command is not None:
            warn(settings.warnings)  # the app shows them itself
        if args.command == "config":
            return print_config(settings, args.config)
        if args.command in ("login", "logout"):
            return account_main(args, settings)
        if args.command in SHELL_COMMANDS:
            return run_shell_command(args, settings)
        return run_app(settings, theme=args.theme, resume="latest" if args.resume_latest else args.resume_id)
    except CodheError as exc:
        from codhechat.errors import ConfigError
        from codhechat.textsafe import visible

        print(f"codhechat: {visible(exc.message)}", file=sys.stderr)
        if exc.hint:
            print(f"  {visible(exc.hint)}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def first_frame_settings(flags: dict[str, Any], config_file: Path | None) -> Any:
    """The app's settings as DeferredSettings: what the first frame draws, read without
    pydantic (first_settings.py), the rest loaded after it; None where the reader cannot
    tell (remote mode...): the settings are then loaded before the app."""
    from codhechat.first_settings import DeferredSettings, read_first_frame

    first = read_first_frame(flags, config_file=config_file)  # invalid TOML: a ConfigError now
    if first is None:
        return None

    def load() -> Any:
        from codhechat.config import load_settings

        return load_settings(flags, config_file=config_file)

    return DeferredSettings(first, load)


def warn(warnings: list[str]) -> None:
    from codhechat.textsafe import visible

    for warning in warnings:
        print(f"codhechat: warning: {visible(warning)}", file=sys.stderr)


def print_config(settings: Any, config_file: Path | None) -> int:
    from codhechat.config import effective_settings
    from codhechat.textsafe import visible

    rows = effective_settings(settings)
    width = max(len(name) for name, _, _ in rows)
    for name, value, description in rows:
        print(f"{name:<{width}}  {visible(value)}")
        print(f"{'':<{width}}  # {description}")
    config = config_file or paths.config_file()
    print()
    print(f"config file  {config}{'' if config.exists() else '  (not created yet)'}")
    env = Path(".env").resolve()
    print(f".env         {env}{'' if env.exists() else '  (none)'}")
    print(f"database     {settings.database_path}")
    print(f"ui state     {paths.state_dir()}")
    return EXIT_OK


def account_main(args: argparse.Namespace, settings: Any) -> int:
    """`codhechat login` / `logout`: the password is read with getpass, never echoed or logged."""
    import asyncio

    from codhechat.backends.remote import ServerApi, normalize_server
    from codhechat.errors import ConfigError

    server = args.login_server or settings.server
    if not server:
        raise ConfigError("Which server?", f"Use: codhechat {args.command} --server https://chat.example.org")
    server = normalize_server(server)
    if args.command == "logout":
        from codhechat.backends.remote import TokenStore

        forgot = TokenStore(server).clear()
        print(f"Forgot the token for {server}." if forgot else f"No token was kept for {server}.")
        return EXIT_OK

    import getpass

    username = args.username or input("Username: ").strip()
    password = getpass.getpass("Password: ")
    if args.register and getpass.getpass("Repeat the password: ") != password:
        raise ConfigError("The two passwords differ.", "Run the command again.")

    async def sign_in() -> str:
        api = ServerApi(server, timeout=settings.request_timeout)
        try:
            await api.login(username, password, register=args.register)
            return str(api.store.path)
        finally:
            await api.aclose()

    where = asyncio.run(sign_in())
    created = "Created the account and signed" if args.register else "Signed"
    print(f"{created} in to {server} as {username}.")
    print(f"The token is kept in {where} (readable by you only). Chat with: codhechat --server {server}")
    return EXIT_OK


def run_app(settings: Any, *, theme: str | None, resume: int | str | None = None) -> int:
    from codhechat import startup_gc

    startup_gc.pause()  # until the first page is drawn (ChatScreen resumes it)
    try:
        from codhechat.ui import graphics

        app = build_app(settings, theme=theme, resume=resume)
        app.catch_early_signals()
        graphics.prepare(app.graphics)  # before Textual reads the keyboard (only where images are drawn)
        app.run()
    finally:
        startup_gc.resume()
    if app.config_error is not None:  # found once the first frame was drawn (first_settings.py)
        raise app.config_error
    return app.return_code or EXIT_OK


def build_app(settings: Any, *, theme: str | None = None, resume: int | str | None = None) -> Any:
    """The app as `codhechat` runs it, over the backend the settings name (the tests and
    the benchmarks build theirs here too, so they drive what a user gets)."""
    from codhechat.first_settings import DeferredSettings
    from codhechat.ui import graphics
    from codhechat.ui.app import CodheChatApp
    from codhechat.ui.stream_pace import StreamPace

    backend: Any
    if isinstance(settings, DeferredSettings):  # local mode, the rest of the settings after the first frame
        from codhechat.backends.local import LocalBackend
        from codhechat.store import Store

        first = settings.first
        backend = LocalBackend(settings, Store.open(first.database_path))

        async def settings_later() -> tuple[list[str], StreamPace]:
            warnings = await backend.load_settings()
            full = backend.settings
            return warnings, StreamPace(full.stream_refresh_hz, full.stream_jump_lines)

        return CodheChatApp(
            backend,
            theme=theme,
            default_theme=first.theme,
            needs_api_key=first.needs_api_key,
            resume=resume,  # type: ignore[arg-type]
            graphics=graphics.detect(first.thumbnails, os.environ),
            settings_later=settings_later,
        )
    if settings.server:
        from codhechat.backends.remote import RemoteBackend

        backend = RemoteBackend(settings.server, http_timeout=settings.request_timeout)
    else:
        from codhechat.backends.local import LocalBackend
        from codhechat.store import Store

        backend = LocalBackend(settings, Store.open(settings.database_path))
    return CodheChatApp(
        backend,
        theme=theme,
        default_theme=settings.theme,
        needs_api_key=settings.needs_api_key,
        warnings=settings.warnings,
        resume=resume,  # type: ignore[arg-type]
        stream_pace=StreamPace(settings.stream_refresh_hz, settings.stream_jump_lines),
        graphics=graphics.detect(settings.thumbnails, os.environ),
        settings_later=None,
    )
