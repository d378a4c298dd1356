"""`codhechat serve`: a CoDHeChat-compatible chat server (FastAPI, async SQLAlchemy).

Importing this package loads nothing heavy, so `codhechat --help` stays instant;
`create_app` is imported from `codhechat.server.app` when a server is built.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from codhechat.server.app import create_app

        return create_app
    raise AttributeError(name)
