"""UI state remembered across runs (the theme), kept apart from the user's config.

A user's config file is theirs to edit; toggling a theme must not rewrite it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from codhechat import paths


class UiState:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.state_dir() / "ui.json"

    def load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # missing or corrupt: start from defaults, rewrite on next save
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> str | None:
        value = self.load().get(key)
        return value if isinstance(value, str) else None

    def set(self, key: str, value: str) -> None:
        data = self.load()
        data[key] = value
        try:
            paths.ensure_dir(self.path.parent)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # losing a theme preference is not worth interrupting the user
