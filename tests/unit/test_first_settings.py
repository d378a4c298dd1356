"""The first frame's settings (first_settings.py, read without pydantic) are what
load_settings() gives, over combinations of flags, environment, .env and config file,
and the reader declines (None) where it cannot be sure."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codhechat import paths
from codhechat.config import load_settings
from codhechat.errors import ConfigError
from codhechat.first_settings import DeferredSettings, FirstFrame, read_first_frame

# (field, flag name or None, the environment names it may be given by)
FIELDS = [
    ("model", "model", ["CODHECHAT_MODEL", "codhechat_model"]),
    ("database", "database", ["CODHECHAT_DATABASE"]),
    ("theme", None, ["CODHECHAT_THEME"]),
    ("base_url", "base_url", ["OPENAI_BASE_URL", "CODHECHAT_BASE_URL"]),
    ("api_key", None, ["OPENAI_API_KEY", "CODHECHAT_API_KEY"]),
    ("thumbnails", None, ["CODHECHAT_THUMBNAILS"]),
]
VALUES = {"thumbnails": ["auto", "kitty", "sixel", "off"]}


def expected(flags: dict[str, object]) -> FirstFrame:
    """What the first frame shows, from the whole Settings (the mapping the app checks it by)."""
    return FirstFrame.of(load_settings(flags))


def value_for(field: str, where: str) -> str:
    choices = VALUES.get(field)
    if choices:
        return choices[hash(where) % len(choices)]
    return str(Path(os.getcwd()) / f"{where}.db") if field == "database" else f"{field}-from-{where}"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    choice=st.lists(
        st.tuples(
            st.sampled_from(range(len(FIELDS))), st.sampled_from(["flag", "env", "dotenv", "file"]), st.integers(0, 1)
        ),
        max_size=8,
    )
)
def test_the_first_frame_reads_what_settings_read(
    choice: list[tuple[int, str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    flags: dict[str, object] = {}
    env: dict[str, str] = {}
    dotenv: list[str] = []
    table: dict[str, str] = {}
    for index, where, name_index in choice:
        field, flag, names = FIELDS[index]
        value = value_for(field, f"{where}{name_index}")
        name = names[name_index % len(names)]
        if where == "flag" and flag is not None:
            flags[flag] = Path(value) if field == "database" else value
        elif where == "env":
            env[name] = value
        elif where == "dotenv":
            dotenv.append(f"{name}={value}")
        else:
            table[field] = f'{field} = "{value}"'
    with monkeypatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        Path(".env").write_text("\n".join(dotenv) + "\n")
        config = paths.config_file()
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("\n".join(table.values()) + "\n")
        assert read_first_frame(flags) == expected(flags)


def test_every_source_in_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pair of sources, for the model: the one pydantic-settings prefers wins here too."""
    order = ["flag", "env", "dotenv", "file"]
    for first, second in itertools.combinations(order, 2):
        monkeypatch.delenv("CODHECHAT_MODEL", raising=False)
        Path(".env").write_text("")
        paths.config_file().parent.mkdir(parents=True, exist_ok=True)
        paths.config_file().write_text("")
        flags = {}
        for where in (first, second):
            if where == "flag":
                flags["model"] = "flag"
            elif where == "env":
                monkeypatch.setenv("CODHECHAT_MODEL", "env")
            elif where == "dotenv":
                Path(".env").write_text("CODHECHAT_MODEL=dotenv\n")
            else:
                paths.config_file().write_text('model = "file"\n')
        shown = read_first_frame(flags)
        assert shown is not None and shown.model == load_settings(flags).model == first


@pytest.mark.parametrize(
    "config",
    ['server = "https://chat.example.org"', "model = 5", 'thumbnails = "maybe"', "theme = 3"],
)
def test_declines_where_only_pydantic_can_tell(config: str) -> None:
    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text(config + "\n")
    assert read_first_frame({}) is None


def test_a_server_in_the_environment_is_remote_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODHECHAT_SERVER", "https://chat.example.org")
    assert read_first_frame({}) is None


def test_invalid_toml_is_the_same_clear_error_before_anything_is_drawn() -> None:
    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text("model = [unclosed\n")
    with pytest.raises(ConfigError) as error:
        read_first_frame({})
    assert "not valid TOML" in error.value.message and str(paths.config_file()) in error.value.message


def test_deferred_settings_load_once_and_keep_their_error() -> None:
    calls: list[int] = []
    first = read_first_frame({})
    assert first is not None

    def load() -> str:
        calls.append(1)
        return "settings"

    deferred = DeferredSettings(first, load)
    assert not deferred.loaded
    threads = [threading.Thread(target=deferred.get) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert deferred.get() == "settings" and calls == [1] and deferred.loaded

    def broken() -> str:
        raise ConfigError("Invalid setting (history_window: not a number).")

    failing = DeferredSettings(first, broken)
    for _ in range(2):
        with pytest.raises(ConfigError, match="history_window"):
            failing.get()
