"""The few settings the first frame draws, read without pydantic; the rest after it.

Loading `Settings` (config.py) imports pydantic and pydantic-settings, 0.1-0.3 s, a large
part of start-up. The first frame of local mode needs only the database, the theme, the
model it shows, whether a key is missing and how thumbnails are drawn: `codhechat` reads
these here, from the same sources in the same order as pydantic-settings (`SOURCES`, the
one definition of the order, which `Settings.settings_customise_sources` follows, and the
environment names of `ENV_PREFIX` and `ENV_ALIASES`, which its fields use), draws, and
loads the whole `Settings` on a worker thread once the first page is shown
(`DeferredSettings`). Where this reader cannot be sure that pydantic-settings reads the
same (remote mode, a value that is not a plain string, a thumbnails value that is not one
of its four), it answers None and the settings are loaded before the app, as before.
tests/unit/test_first_settings.py checks that both agree over combinations of sources.
"""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from codhechat import paths
from codhechat.errors import ConfigError

# Precedence, first wins: command-line flags > environment > .env > config file > defaults.
SOURCES = ("flags", "environment", "dotenv", "config_file")
ENV_PREFIX = "CODHECHAT_"
ENV_FILE = ".env"
# Fields read from other names than CODHECHAT_<NAME>, in the order they are tried.
ENV_ALIASES = {
    "api_key": ("OPENAI_API_KEY", "CODHECHAT_API_KEY"),
    "base_url": ("OPENAI_BASE_URL", "CODHECHAT_BASE_URL"),
}
DEFAULT_MODEL = "gpt-4o-mini"
THUMBNAILS = ("auto", "kitty", "sixel", "off")
_UNSET = object()


def read_config_table(path: Path) -> dict[str, Any]:
    """The config file as a table ({} when there is none); invalid TOML is a ConfigError
    naming the file, before anything is drawn."""
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"The config file {path} is not valid TOML: {exc}.",
            "Fix or delete it; `codhechat config` shows what is read from where.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}.") from None


@dataclass(frozen=True, slots=True)
class FirstFrame:
    """What the first frame of local mode shows, as `Settings` would give it."""

    database: Path | None
    theme: str | None
    model: str
    model_chosen: bool  # given by some source (not the default): Settings.model_fields_set
    base_url: str | None
    api_key_set: bool
    thumbnails: str

    @classmethod
    def of(cls, settings: Any) -> FirstFrame:
        """The same, from the whole Settings (config.py)."""
        return cls(
            database=settings.database,
            theme=settings.theme,
            model=settings.model,
            model_chosen="model" in settings.model_fields_set,
            base_url=settings.base_url,
            api_key_set=settings.api_key is not None,
            thumbnails=settings.thumbnails,
        )

    @property
    def database_path(self) -> Path:
        return self.database or paths.default_database()

    @property
    def needs_api_key(self) -> bool:
        return not self.api_key_set and self.base_url is None  # local mode: no server


def _dotenv(env_file: Path | str | None) -> dict[str, str]:
    """The .env file's variables, lowercased as pydantic-settings reads them (python-dotenv)."""
    if env_file is None or not Path(env_file).is_file():
        return {}
    from dotenv import dotenv_values

    return {k.lower(): v for k, v in dotenv_values(env_file, encoding="utf-8").items() if v is not None}


def read_first_frame(
    flags: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    env_file: Path | str | None = ENV_FILE,
    environ: Mapping[str, str] | None = None,
) -> FirstFrame | None:
    """The first frame's settings, or None where only pydantic-settings can tell."""
    table = read_config_table(config_file or paths.config_file())
    env = {k.lower(): v for k, v in (os.environ if environ is None else environ).items()}
    dotenv = _dotenv(env_file)
    given = {k: v for k, v in (flags or {}).items() if v is not None}

    def env_names(name: str) -> list[str]:
        return [n.lower() for n in ENV_ALIASES.get(name, (ENV_PREFIX + name.upper(),))]

    def lookup(source: str, name: str) -> Any:
        if source == "flags":
            return given.get(name, _UNSET)
        if source == "config_file":
            keys = (name, *ENV_ALIASES.get(name, ()))
            return next((table[key] for key in keys if key in table), _UNSET)
        variables = env if source == "environment" else dotenv
        return next((variables[n] for n in env_names(name) if n in variables), _UNSET)

    def find(name: str) -> Any:
        for source in SOURCES:
            if (value := lookup(source, name)) is not _UNSET:
                return value
        return _UNSET

    found = {name: find(name) for name in ("server", "database", "theme", "model", "base_url", "api_key", "thumbnails")}
    if found["server"] is not _UNSET:
        return None  # remote mode: its first frame waits for the server anyway
    if not all(value is _UNSET or isinstance(value, str | Path) for value in found.values()):
        return None  # pydantic decides what a number or a table means here (or refuses it)
    thumbnails = "auto" if found["thumbnails"] is _UNSET else found["thumbnails"]
    if thumbnails not in THUMBNAILS or isinstance(found["model"], Path):
        return None
    database, theme, model, base_url = (found[n] for n in ("database", "theme", "model", "base_url"))
    return FirstFrame(
        database=None if database is _UNSET else Path(database),
        theme=None if theme is _UNSET else str(theme),
        model=DEFAULT_MODEL if model is _UNSET else model,
        model_chosen=model is not _UNSET,
        base_url=None if base_url is _UNSET else str(base_url),
        api_key_set=found["api_key"] is not _UNSET,
        thumbnails=thumbnails,
    )


T = TypeVar("T")


class DeferredSettings(Generic[T]):
    """The whole settings, loaded once: on a worker thread after the first frame
    (`load_in_background`), or by the first caller that needs them, whichever comes first.
    A ConfigError from loading is kept and raised to every caller."""

    def __init__(self, first: FirstFrame, load: Callable[[], T]) -> None:
        self.first = first
        self._load = load
        self._lock = threading.Lock()
        self._value: T | None = None
        self._error: ConfigError | None = None
        self._done = False

    @property
    def loaded(self) -> bool:
        return self._done

    def get(self) -> T:
        with self._lock:
            if not self._done:
                try:
                    self._value = self._load()
                except ConfigError as exc:
                    self._error = exc
                self._done = True
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value
