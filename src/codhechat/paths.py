"""Where codhechat keeps things, per platform (platformdirs).

Folders are created on first use, never at import, so `--help` touches nothing.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import PlatformDirs

APP_NAME = "codhechat"

_dirs = PlatformDirs(APP_NAME, appauthor=False)


def config_dir() -> Path:
    return Path(_dirs.user_config_dir)


def config_file() -> Path:
    return config_dir() / "config.toml"


def data_dir() -> Path:
    return Path(_dirs.user_data_dir)


def default_database() -> Path:
    return data_dir() / "codhechat.db"


def state_dir() -> Path:
    return Path(_dirs.user_state_dir)


def ensure_dir(path: Path, mode: int = 0o700) -> Path:
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    return path
