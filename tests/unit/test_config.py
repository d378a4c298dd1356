"""Settings precedence, validation messages, masking, and the config file's mode."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from codhechat import paths
from codhechat.config import effective_settings, load_settings, save_to_config_file
from codhechat.errors import ConfigError


def write_config(text: str) -> Path:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = load_settings()
    assert settings.model == "gpt-4o-mini"
    assert settings.system_prompt == "You are a helpful assistant."
    assert settings.history_window == 20
    assert settings.database_path == paths.data_dir() / "codhechat.db"
    assert settings.needs_api_key


def test_precedence_flags_env_dotenv_file(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('model = "from-file"\nhistory_window = 5\nsystem_prompt = "file"\ntheme = "light"\n')
    Path(".env").write_text("CODHECHAT_MODEL=from-dotenv\nCODHECHAT_HISTORY_WINDOW=7\n")
    monkeypatch.setenv("CODHECHAT_MODEL", "from-env")

    settings = load_settings()
    assert settings.model == "from-env"  # env beats .env and the file
    assert settings.history_window == 7  # .env beats the file
    assert settings.system_prompt == "file"  # the file beats the defaults
    assert settings.theme == "light"
    assert load_settings({"model": "from-flag", "history_window": None}).model == "from-flag"


def test_openai_variables_are_read_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1234567890")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    settings = load_settings()
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "sk-test-1234567890"
    assert settings.base_url == "http://127.0.0.1:11434/v1"
    assert not settings.needs_api_key


def test_a_local_endpoint_needs_no_key() -> None:
    assert not load_settings({"base_url": "http://127.0.0.1:8080/v1"}).needs_api_key


def test_corrupt_config_file_names_the_file() -> None:
    path = write_config("model = [unclosed\n")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(path) in error.value.message
    assert "not valid TOML" in error.value.message


def test_invalid_value_names_the_key() -> None:
    write_config('history_window = "lots"\n')
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "history_window" in error.value.message
    assert str(paths.config_file()) in error.value.hint


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-abcdefghijklmnop")
    rows = {name: value for name, value, _ in effective_settings(load_settings())}
    assert "abcdefghijklmnop" not in rows["api_key"]
    assert rows["api_key"].startswith("sk-...mnop")


def test_saved_key_is_private_and_read_back() -> None:
    write_config('model = "kept"\n')
    path = save_to_config_file("api_key", "sk-saved-123456789")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = load_settings()
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "sk-saved-123456789"
    assert settings.model == "kept"  # the rest of the file survives


def test_presets_come_from_a_table_in_the_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().presets == {}
    write_config('model = "m"\n\n[presets]\ncoder = "You write terse code."\nfrench = "Answer in French."\n')
    settings = load_settings()
    assert settings.presets == {"coder": "You write terse code.", "french": "Answer in French."}
    assert settings.model == "m"  # the flat keys still read
    shown = {name: value for name, value, _ in effective_settings(settings)}
    assert shown["presets"] == "coder, french"
    # The environment (JSON) adds presets, and replaces one of the same name.
    monkeypatch.setenv("CODHECHAT_PRESETS", '{"poet": "Rhyme.", "coder": "Rust only."}')
    assert load_settings().presets == {"coder": "Rust only.", "french": "Answer in French.", "poet": "Rhyme."}
    monkeypatch.setenv("CODHECHAT_PRESETS", "not json")
    with pytest.raises(ConfigError):
        load_settings()


def test_an_unknown_key_is_named_with_the_closest_known_one() -> None:
    path = write_config('modle = "x"\nhistroy_window = 3\nfrobnicate = 1\n')
    warnings = load_settings().warnings
    assert f"{path}: unknown setting `modle` (did you mean `model`?); it is ignored." in warnings
    assert any("`histroy_window` (did you mean `history_window`?)" in w for w in warnings)
    assert any("`frobnicate`;" in w for w in warnings)
    assert load_settings().model == "gpt-4o-mini"


def test_a_key_file_others_can_read_is_warned_about_with_the_chmod() -> None:
    path = write_config('api_key = "sk-readable-by-all-0123456789"\n')
    path.chmod(0o644)
    [warning] = load_settings().warnings
    assert "other users can read it" in warning and f"chmod 600 {path}" in warning
    assert "sk-readable" not in warning
    path.chmod(0o600)
    assert load_settings().warnings == []


@pytest.mark.parametrize(
    ("key", "shown"),
    [("sk-proj-abcdefghijklmnopqrstuvwxyz", "sk-...wxyz (34 characters)"), ("sk-short-12", "...12 (11 characters)"),
     ("abc", "**** (3 characters)")],
)  # fmt: skip
def test_a_masked_key_shows_enough_to_tell_which_it_is_and_never_all_of_it(
    monkeypatch: pytest.MonkeyPatch, key: str, shown: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", key)
    rows = {name: value for name, value, _ in effective_settings(load_settings())}
    assert rows["api_key"] == shown
