"""sqlite3's failures, in words a user can act on."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from codhechat.errors import StorageError

P = ParamSpec("P")
T = TypeVar("T")


def _translated(method: Callable[P, T]) -> Callable[P, T]:
    """Turn sqlite3 failures into StorageErrors a user can act on."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    return wrapper


def storage_error(exc: sqlite3.Error) -> StorageError:
    text = str(exc)
    if "disk is full" in text or "disk I/O" in text:
        return StorageError(
            "The disk is full: the conversation could not be saved.",
            "Free some space; what is on screen stays there, and the next save retries.",
        )
    if "locked" in text or "busy" in text:
        return StorageError(
            "The database is busy (another program holds it).",
            "Close other codhechat windows that are writing, then try again.",
        )
    if "readonly" in text or "read-only" in text:
        return read_only_error()
    if "not a database" in text or "malformed" in text:
        return StorageError(
            "The conversation database is damaged or is not a codhechat database.",
            "Move it aside (see `codhechat config` for its path) to start a fresh one.",
        )
    return StorageError(f"Database error: {text}.")


def read_only_error() -> StorageError:
    return StorageError(
        "The conversation database cannot be written: the file (or its folder) is read-only.",
        "Check its permissions (`codhechat config` shows its path), or set `database` to a "
        "writable file. Reading commands (list, show, search, export) still work.",
    )
