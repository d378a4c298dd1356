"""The shape of the whole package, read from its source: no import circle anywhere in
src/, no module over 400 lines, and the layers apart (the UI touches no SQL, sockets or
model SDK; the server no UI; the wire protocol no I/O library)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import codhechat

SRC = Path(codhechat.__file__).parent
MAX_LINES = 400
FORBIDDEN = {  # package -> what none of its modules may import (their top-level names)
    "codhechat.ui": {"codhechat.store", "codhechat.server", "codhechat.backends.remote", "sqlite_utils", "sqlite3",
                     "sqlalchemy", "httpx", "websockets", "openai", "mcp"},
    "codhechat.server": {"codhechat.ui", "codhechat.commands", "textual"},
    "codhechat.protocol": {"httpx", "websockets", "fastapi", "starlette", "sqlalchemy", "sqlite_utils", "openai",
                           "codhechat.store", "codhechat.server", "codhechat.ui", "codhechat.backends"},
}  # fmt: skip


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(path: Path) -> set[str]:
    """Every module a file imports, lazily or not (TYPE_CHECKING ones too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    edges = {}
    for name, path in known.items():
        targets = {t for t in imported_names(path) if t in known and t != name}
        # A package reaching into its own parts (re-exports, lazy dispatch) is not a circle.
        is_package = path.name == "__init__.py"
        edges[name] = {t for t in targets if not (is_package and t.startswith(name + "."))}
    return edges


def test_no_import_circle_anywhere() -> None:
    edges = graph()

    def circle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            name, trail = stack.pop()
            for nxt in edges[name]:
                if nxt == start:
                    return [*trail, nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
        return None

    assert [circle for name in edges if (circle := circle_from(name))] == []


def test_no_module_over_400_lines() -> None:
    lengths = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_each_layer_imports_only_what_it_may() -> None:
    crossings = []
    for name, path in modules().items():
        for package, forbidden in FORBIDDEN.items():
            if name == package or name.startswith(package + "."):
                for target in imported_names(path):
                    if any(target == f or target.startswith(f + ".") for f in forbidden):
                        crossings.append(f"{name} imports {target}")
    assert crossings == []


def test_the_server_runs_without_loading_the_ui() -> None:
    code = "import sys, codhechat.server.app; print(sorted({m.split('.')[0] for m in sys.modules} & {'textual'}), " \
           "sorted(m for m in sys.modules if m.startswith('codhechat.ui')))"  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[] []"
