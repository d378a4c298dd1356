"""Completing `@path` in the prompt as a shell completes a path on Tab.

Pure functions over the file system (no Textual), so the rules are tested on their own:
the longest common prefix of the names that match, a `/` after a single folder, dot
files only when the typed name starts with a dot, `~` for the home folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MAX_LISTED = 12  # names shown when several match and nothing more can be completed


@dataclass(frozen=True, slots=True)
class Completion:
    """What Tab makes of a typed path: the new text, and the file it names if it names one."""

    text: str
    file: Path | None = None
    choices: tuple[str, ...] = ()  # several names match: they are listed


def complete(typed: str, cwd: Path) -> Completion:
    """Complete `typed` (the text after `@`), relative to `cwd`."""
    folder_part, _, name = typed.rpartition("/")
    folder_typed = folder_part + "/" if "/" in typed else ""
    folder = Path(os.path.expanduser(folder_typed or ".")) if folder_typed.startswith("~") else cwd / folder_typed
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(name)]
    except OSError:
        return Completion(typed)
    if not name.startswith("."):
        entries = [e for e in entries if not e.name.startswith(".")]
    if not entries:
        return Completion(typed)
    if len(entries) == 1:
        entry = entries[0]
        if entry.is_dir():
            return Completion(f"{folder_typed}{entry.name}/")
        return Completion(f"{folder_typed}{entry.name}", file=Path(entry.path))
    # Names, not paths: the characters they share is what completion can add.
    common = os.path.commonprefix([e.name for e in entries])  # noqa: RUF071
    if len(common) > len(name):
        return Completion(f"{folder_typed}{common}")
    names = sorted(e.name + ("/" if e.is_dir() else "") for e in entries)
    return Completion(typed, choices=tuple(names[:MAX_LISTED]))
