"""Every package codhechat's source imports is one pyproject.toml asks for (in the core
dependencies or an extra), so that an install that satisfies pyproject has it: a
package that only arrives as another one's dependency can go away or change with it
(`llm.py` imports httpx2, the openai SDK's transport since its 3.0)."""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SRC = Path(__file__).resolve().parents[2] / "src" / "codhechat"


def imported_top_level_modules() -> dict[str, str]:
    """Third-party top-level module -> a file importing it."""
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top != "codhechat" and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(SRC)))
    return found


def test_every_imported_package_is_declared() -> None:
    declared = {canonicalize_name(Requirement(line).name) for line in metadata.requires("codhechat") or []}
    providers = metadata.packages_distributions()
    undeclared = {
        module: (where, providers.get(module))
        for module, where in imported_top_level_modules().items()
        if not declared & {canonicalize_name(dist) for dist in providers.get(module, [module])}
    }
    assert not undeclared, f"imported but not in pyproject.toml (module: file, distributions): {undeclared}"
