"""What a user sees of an unexpected error: one plain line, never a traceback (whose
local variables can hold an API key); the traceback, without locals, goes to crash.log."""

from __future__ import annotations

import traceback

from rich.text import Text
from textual.worker import WorkerFailed

from codhechat import paths
from codhechat.textsafe import visible


def report(error: BaseException | None) -> Text:
    """Append the traceback of `error` to crash.log; the line to show the user."""
    if isinstance(error, WorkerFailed):
        error = error.error
    path = paths.state_dir() / "crash.log"
    try:
        paths.ensure_dir(path.parent)
        with path.open("a", encoding="utf-8") as log:
            log.write("".join(traceback.format_exception(error)) if error else "unknown error\n")
        where = f"Details are in {path}."
    except OSError:
        where = ""
    return Text(
        visible(
            f"codhechat stopped on an unexpected error: {type(error).__name__}: {error}\n"
            f"Your conversations are saved. {where}"
        )
    )
