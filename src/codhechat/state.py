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


class PromptHistory:
    """The prompts sent, oldest first, for Up/Down in an empty prompt; kept across runs.

    At most LIMIT entries; a prompt repeated at once is kept once, and one longer than
    MAX_CHARS (a pasted file, say) is not kept at all.
    """

    LIMIT = 200
    MAX_CHARS = 20_000

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.state_dir() / "prompt_history.json"

    def load(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(data, list):
            return []
        return [item for item in data if isinstance(item, str)][-self.LIMIT :]

    @classmethod
    def added(cls, history: list[str], prompt: str) -> list[str]:
        """`history` with `prompt` as the newest entry, capped."""
        if not prompt.strip() or len(prompt) > cls.MAX_CHARS or (history and history[-1] == prompt):
            return history
        return [*history, prompt][-cls.LIMIT :]

    def save(self, history: list[str]) -> None:
        try:
            paths.ensure_dir(self.path.parent)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(history[-self.LIMIT :]), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # history is a convenience: never interrupt the user over it
