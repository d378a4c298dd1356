"""`codhechat serve`: parse the flags here (cheap), import the server only when it runs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run a CoDHeChat-compatible chat server (needs the `server` extra)",
        description="Serve the CoDHeChat protocol (REST + WebSocket) for browser and terminal "
        "clients. Settings come from the environment or .env: SECRET_KEY (required), "
        "DATABASE_URL, OPENAI_API_KEY, OPENAI_BASE_URL, MODEL_NAME, LOG_LEVEL, LOG_JSON, ...",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies whose X-Forwarded-For is believed, comma-separated (default: FORWARDED_ALLOW_IPS, "
        "else none); limits per address use the client address it gives",
    )
    return parser


def serve_main(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn
    except ImportError as exc:
        print(f"codhechat: the server needs extra packages ({exc.name} is missing).", file=sys.stderr)
        print("  Install them with: pip install 'codhechat[server]'", file=sys.stderr)
        return EXIT_ERROR
    from codhechat.errors import CodheError
    from codhechat.server.app import create_app, uvicorn_options
    from codhechat.server.logs import configure_logging
    from codhechat.server.settings import load_server_settings

    overrides = {}
    if getattr(args, "forwarded_allow_ips", None) is not None:
        overrides["forwarded_allow_ips"] = args.forwarded_allow_ips
    try:
        settings = load_server_settings(**overrides)
    except CodheError as exc:
        print(f"codhechat: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  {exc.hint}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    config = uvicorn.Config(
        create_app(settings), host=args.host, port=args.port, timeout_graceful_shutdown=5,
        **uvicorn_options(settings),
    )  # fmt: skip
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        return 130
    return EXIT_OK if server.started else EXIT_ERROR


def main(argv: list[str] | None = None) -> int:
    """`python -m codhechat.server`: the same as `codhechat serve`."""
    parser = argparse.ArgumentParser(prog="codhechat serve")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(subparsers)
    return serve_main(parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)]))
