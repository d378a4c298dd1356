"""Server addresses: what the user types, the REST base, the /ws URL, the name shown."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from codhechat.backends.remote.errors import FatalRemoteError, RemoteError

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def normalize_server(url: str) -> str:
    """`chat.example.org` -> `https://chat.example.org`; loopback hosts default to http."""
    text = url.strip()
    if not text:
        raise RemoteError("No server address was given.", "Use --server https://chat.example.org.")
    if "://" not in text:
        host = text.split("/")[0].rsplit(":", 1)[0].strip("[]")
        text = f"{'http' if host in LOOPBACK else 'https'}://{text}"
    try:
        parts = urlsplit(text)
        _ = parts.port  # reading it validates the port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise FatalRemoteError(
            f"{url!r} is not a server address.",
            "Give the server's http:// or https:// URL, for example https://chat.example.org.",
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def ws_url(server: str, **query: str) -> str:
    """The server's /ws (wss:// for an https:// server), with `query` as its parameters."""
    parts = urlsplit(server)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + "/ws", urlencode(query), ""))


def display_name(server: str) -> str:
    parts = urlsplit(server)
    return parts.netloc + parts.path
