"""A user's folders, inside a temporary home: the XDG base directories codhechat reads
(platformdirs) for its config, data and state. The suite's own isolation (conftest.py),
the end-to-end runs, the README capture and the benchmarks all use this one list."""

from __future__ import annotations

from pathlib import Path

XDG_NAMES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")


def xdg_dirs(home: Path) -> dict[str, str]:
    """XDG_CONFIG_HOME and the rest, each a folder of `home` (named after the variable)."""
    return {name: str(home / name.lower()) for name in XDG_NAMES}
