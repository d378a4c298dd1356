"""What the shell commands share: error reporting and terminal-aware styling.

Colour is used only when the stream is a terminal (and NO_COLOR is unset), so
`codhechat list | grep x` and `> file` get plain text; errors always go to
stderr as `codhechat: message` plus a hint, never a traceback.

Stored text (titles, messages, error texts from a server) is shown with its
control characters spelled out (`textsafe.visible`), on a terminal or not: only
`ask` and `export` into a pipe or a file write the bytes as they are, since
that is what the user asked for.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from typing import IO, Any

from codhechat.errors import CodheError
from codhechat.textsafe import visible

# json.dumps escapes C0 controls but, with ensure_ascii=False, leaves DEL and the C1
# controls raw, and a terminal may act on those (U+009B is CSI).
_JSON_C1 = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def report(exc: CodheError, stream: IO[str] | None = None) -> None:
    stream = stream or sys.stderr
    style = Style(stream)
    print(f"codhechat: {style.red(visible(exc.message))}", file=stream)
    if exc.hint:
        print(f"  {visible(exc.hint)}", file=stream)
    stream.flush()


def json_line(row: dict[str, Any]) -> str:
    """One JSON object on a line, with no control character left raw."""
    return json.dumps(row, ensure_ascii=False).translate(_JSON_C1) + "\n"


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def open_store(settings: Any, *, readonly: bool = False) -> Any:
    """The database; reading commands open it read-only, so that they work on a
    read-only file or folder and on a database from a newer codhechat, and do not
    create one where there is none (they see an empty one)."""
    from codhechat.store import Store

    path = settings.database_path
    if readonly and not path.exists():
        return Store.empty()
    return Store.open(path, readonly=readonly)


def not_found(conversation_id: int) -> CodheError:
    return CodheError(
        f"There is no conversation {conversation_id}.",
        "`codhechat list` shows the ids; `codhechat search WORDS` finds one by its text.",
    )


def local_time(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


class Style:
    """ANSI styling that turns itself off when the stream is not a terminal."""

    def __init__(self, stream: IO[str]) -> None:
        self.enabled = is_terminal(stream) and "NO_COLOR" not in os.environ

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled and text else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def cyan(self, text: str) -> str:
        return self._wrap("36", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def highlight(self, text: str) -> str:
        return self._wrap("1;33", text)


def is_terminal(stream: IO[str] | None) -> bool:
    if stream is None or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
