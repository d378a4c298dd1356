"""The UI package's shape: small modules, no import circles, the session free of Textual,
and Textual's private methods used only where Textual has no public way (app.py's crash
handling, which says why)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import codhechat.ui

UI = Path(codhechat.ui.__file__).parent
MAX_LINES, CHAT_SCREEN_MAX = 400, 350
# Textual privates the UI once reached into; only the crash handling keeps two (no public hook).
PRIVATES = re.compile(r"\b(_handle_exception|_fatal_error|_on_key|_replace_via_keyboard|_compositor_refresh"
                      r"|_tree_nodes|_exit_renderables|_close_messages_no_wait)\b")  # fmt: skip


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(UI.rglob("*.py")):
        parts = path.relative_to(UI.parent.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The codhechat.ui modules a module imports (TYPE_CHECKING ones too: a circle is a circle)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names
            }
    return {name for name in found if name in known}


def test_no_module_is_long_and_the_chat_screen_is_short() -> None:
    lengths = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}
    assert lengths["codhechat.ui.screens.chat"] < CHAT_SCREEN_MAX


def test_no_import_circle_in_the_ui() -> None:
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}

    def circle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            name, trail = stack.pop()
            for nxt in graph[name]:
                if nxt == start:
                    return [*trail, nxt]
                if nxt not in trail:
                    stack.append((nxt, [*trail, nxt]))
        return None

    assert [circle for name in graph if (circle := circle_from(name))] == []


def test_the_session_is_plain_and_nothing_below_the_chat_screen_imports_it() -> None:
    known = modules()
    assert not {name for name in known if name.startswith("codhechat.ui.flows") or name == "codhechat.ui.session"
                if "codhechat.ui.screens.chat" in imports(known[name], known)}  # fmt: skip
    for plain in ("codhechat.ui.session", "codhechat.ui.transcript"):
        tree = ast.parse(known[plain].read_text())
        imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {name for name in imported if name.split(".")[0] in ("textual", "rich")}, plain


def test_textual_privates_only_where_there_is_no_public_way() -> None:
    uses = {
        f"{path.relative_to(UI)}:{number}: {line.strip()}"
        for path in modules().values()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATES.search(line) and not line.lstrip().startswith("#")
    }
    # app.py overrides the crash hooks (see there); a frame timer's error goes where a Textual
    # Timer's goes (Timer._tick): Textual has no public way to hand the app an error raised
    # outside its message handling.
    allowed = {
        ("app.py:", "def _handle_exception(self"),
        ("app.py:", "super()._handle_exception(error)"),
        ("app.py:", "def _fatal_error(self"),
        ("frame_timer.py:", "widget.app._handle_exception(error)"),
    }
    assert {use for use in uses if not any(use.startswith(where) and what in use for where, what in allowed)} == set()
