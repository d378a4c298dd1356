"""Settings: command-line flags > environment > .env > config.toml > defaults.

One flat table keeps environment variable names short (`CODHECHAT_MODEL`) and
maps one-to-one onto the TOML file; `OPENAI_API_KEY` and `OPENAI_BASE_URL` are
read as they are, so an existing OpenAI or Ollama setup works unchanged.
"""

from __future__ import annotations

import difflib
import os
import stat
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from codhechat import paths
from codhechat.errors import ConfigError
from codhechat.first_settings import (
    DEFAULT_MODEL,
    ENV_ALIASES,
    ENV_FILE,
    ENV_PREFIX,
    SOURCES,
    read_config_table,
)
from codhechat.tools.settings import McpSettings

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

# The TOML file to read for the Settings being built right now; a parameter
# channel into settings_customise_sources, which gets no instance arguments.
_toml_file: ContextVar[Path | None] = ContextVar("_toml_file", default=None)


class ProviderSettings(BaseModel):
    """One more OpenAI-compatible endpoint: a `[providers.NAME]` table in the config file.

    Its models are named `NAME/MODEL`; requests to them go to `base_url` with this
    provider's key and headers only."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The endpoint, e.g. http://localhost:11434/v1")
    api_key: SecretStr | None = Field(default=None, description="Its API key (or api_key_env).")
    api_key_env: str | None = Field(default=None, description="The environment variable holding its key.")
    models: list[str] | None = Field(default=None, description="Its models, instead of asking /v1/models.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers sent to it.")

    def key(self) -> tuple[str | None, str]:
        """(the key, where it came from)."""
        if self.api_key is not None:
            return self.api_key.get_secret_value(), "api_key in the config file"
        if self.api_key_env:
            value = os.environ.get(self.api_key_env)
            return (value or None), f"${self.api_key_env}" + ("" if value else " (not set)")
        return None, "no key"


class Settings(BaseSettings):
    """Everything a user can configure."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        extra="ignore",
        populate_by_name=True,
        validate_default=False,
    )

    api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(*ENV_ALIASES["api_key"]),
        description="API key for the model endpoint (not needed by most local servers).",
    )
    base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(*ENV_ALIASES["base_url"]),
        description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 for Ollama.",
    )
    server: str | None = Field(
        default=None,
        description="CoDHeChat server URL for remote mode, e.g. https://chat.example.org "
        "(conversations and the model then live on the server).",
    )
    model: str = Field(default=DEFAULT_MODEL, description="Model used for new replies.")
    system_prompt: str = Field(default=DEFAULT_SYSTEM_PROMPT, description="System prompt the model sees first.")
    presets: dict[str, str] = Field(
        default_factory=dict,
        description='Named system prompts to choose from in the app ([presets] table: name = "prompt").',
    )
    providers: dict[str, ProviderSettings] = Field(
        default_factory=dict,
        description="More endpoints, [providers.NAME] tables; their models are named NAME/MODEL.",
    )
    mcp: McpSettings = Field(
        default_factory=McpSettings,
        description="Tools from MCP servers: [mcp.servers.NAME] tables (see the README).",
    )
    history_window: int = Field(
        default=20, ge=1, le=10_000, description="How many earlier messages the model sees, at most."
    )
    context_window: int | None = Field(
        default=None,
        ge=256,
        description="The model's context in tokens, when the endpoint does not "
        "say (the history sent is fitted to it, leaving room for the reply).",
    )
    database: Path | None = Field(default=None, description="SQLite database file (default: the platform data folder).")
    theme: str | None = Field(
        default=None,
        description="Start-up theme: dark, light or a Textual theme (nord, gruvbox, …); the last one "
        "chosen in the app is remembered.",
    )
    attachment_max_mb: float = Field(
        default=10.0, gt=0, le=512, description="Largest file that may be attached to a message, in MB."
    )
    thumbnails: Literal["auto", "kitty", "sixel", "off"] = Field(
        default="auto",
        description="Attached images as thumbnails: auto (where the terminal can draw them), kitty or sixel "
        "(force a protocol), off (labelled chips only).",
    )
    request_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for the endpoint before giving up.")
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries on connection errors, 429 and 5xx.")
    stream_refresh_hz: float = Field(
        default=10.0,
        ge=1,
        le=60,
        description="How often a streaming reply is re-rendered, per second, "
        "at most (lower costs less CPU and fewer bytes over SSH).",
    )
    stream_jump_lines: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Lines of room made below a streaming reply at a time: "
        "the conversation scrolls once per that many lines (1: line by line).",
    )
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @field_validator("providers")
    @classmethod
    def _provider_names(cls, providers: dict[str, ProviderSettings]) -> dict[str, ProviderSettings]:
        for name in providers:
            if not name or "/" in name or name != name.strip():
                raise ValueError(f"provider name {name!r} must be a word without '/'")
        return providers

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_toml_file.get())
        # In the order first_settings.SOURCES gives, which the first frame's reader follows too.
        by_name = {"flags": init_settings, "environment": env_settings, "dotenv": dotenv_settings, "config_file": toml}
        return tuple(by_name[source] for source in SOURCES)

    @property
    def database_path(self) -> Path:
        return self.database or paths.default_database()

    @property
    def warnings(self) -> list[str]:
        """What is wrong with the configuration but does not stop it (an unknown key,
        a key file others can read): said once, on stderr or in the app."""
        return self._warnings

    @property
    def needs_api_key(self) -> bool:
        """Only OpenAI itself needs a key; Ollama, vLLM and llama.cpp do not."""
        return self.server is None and self.api_key is None and self.base_url is None


SECRET_FIELDS = frozenset({"api_key"})


def load_settings(
    flags: dict[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    env_file: Path | str | None = ENV_FILE,
) -> Settings:
    """Build Settings, turning every way a source can be wrong into a ConfigError."""
    path = config_file or paths.config_file()
    table = read_config_table(path)
    token = _toml_file.set(path)
    try:
        settings = Settings(_env_file=env_file, **{k: v for k, v in (flags or {}).items() if v is not None})
        settings.warnings.extend(file_warnings(path, table))
        return settings
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"Invalid setting ({problems}).",
            f"Check your flags, CODHECHAT_* variables, .env and {path}.",
        ) from None
    except SettingsError as exc:
        # A complex setting (presets) given in the environment that is not valid JSON.
        raise ConfigError(
            f"Invalid setting ({exc}).",
            'Give it as JSON, e.g. CODHECHAT_PRESETS=\'{"coder": "You write terse code."}\', '
            f"or use a [presets] table in {path}.",
        ) from None
    finally:
        _toml_file.reset(token)


def file_warnings(path: Path, table: dict[str, Any]) -> list[str]:
    """Unknown keys (a typo is otherwise silently ignored), and an API key that other
    users of the machine can read."""
    known = list(Settings.model_fields)
    warnings = []
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            guess = f" (did you mean `{close[0]}`?)" if close else ""
            warnings.append(f"{path}: unknown setting `{key}`{guess}; it is ignored.")
    if "api_key" in table:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = 0
        if mode & 0o077:
            warnings.append(
                f"{path} holds your API key and other users can read it (mode {mode:o}). "
                f"Make it yours only: chmod 600 {path}"
            )
    return warnings


def effective_settings(settings: Settings) -> list[tuple[str, str, str]]:
    """(name, value with secrets masked, description) for `codhechat config`."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if name in SECRET_FIELDS:
            shown = "(not set)" if value is None else mask(value.get_secret_value())
        elif name in ("presets", "providers"):
            shown = ", ".join(sorted(value)) or "(none)"
        elif name == "mcp":
            shown = ", ".join(sorted(value.servers)) or "(none)"
        elif name == "database":
            shown = str(settings.database_path)
        else:
            shown = "(not set)" if value is None else str(value)
        rows.append((name, shown, field.description or ""))
    for provider, config in sorted(settings.providers.items()):
        key, source = config.key()
        shown_key = f"{mask(key)} from {source}" if key else source
        rows.append((f"providers.{provider}", f"{config.base_url}  key: {shown_key}",
                     f"models named {provider}/MODEL"))  # fmt: skip
    for server, server_config in sorted(settings.mcp.servers.items()):
        allowed = ", ".join(server_config.allow) or "none"
        rows.append((f"mcp.servers.{server}", server_config.where, f"tools run without asking: {allowed}"))
    return rows


def mask(secret: str) -> str:
    """Enough of a key to tell which one is in use, never more than a third of it."""
    if len(secret) >= 21:
        shown = f"{secret[:3]}...{secret[-4:]}"
    elif len(secret) >= 6:
        shown = f"...{secret[-2:]}"
    else:
        shown = "****"
    return f"{shown} ({len(secret)} characters)"


def save_to_config_file(key: str, value: str, *, config_file: Path | None = None) -> Path:
    """Set one key in the TOML file, creating it readable by the user only."""
    import tomli_w

    path = config_file or paths.config_file()
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from None
    data[key] = value
    paths.ensure_dir(path.parent)
    tmp = path.with_suffix(".toml.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        tomli_w.dump(data, handle)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
