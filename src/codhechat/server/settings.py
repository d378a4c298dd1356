"""Server settings, from the environment and `.env` (names as CoDHeChat servers use them)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from codhechat.errors import ConfigError

MIN_SECRET_BYTES = 32
SECRET_HINT = (
    "Set SECRET_KEY in the environment or in .env to a random value of at least "
    f"{MIN_SECRET_BYTES} bytes, for example:\n"
    "  export SECRET_KEY=\"$(python -c 'import secrets; print(secrets.token_urlsafe(48))')\"\n"
    "Every replica that serves the same users must share it."
)


def async_database_url(url: str) -> str:
    """Map a sync-style SQLAlchemy URL onto its asyncio driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    mapping = {
        "sqlite": "sqlite+aiosqlite",
        "sqlite+pysqlite": "sqlite+aiosqlite",
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "postgresql+psycopg2": "postgresql+asyncpg",
        "postgresql+psycopg": "postgresql+psycopg_async",
    }
    return f"{mapping.get(scheme.lower(), scheme)}://{rest}"


class ServerSettings(BaseSettings):
    """Everything an operator can configure (environment variables or `.env`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    secret_key: SecretStr = Field(description="HS256 signing key for tokens (>= 32 bytes). Required.")
    database_url: str = Field(
        default="sqlite:///./chat.db",
        description="SQLAlchemy URL; sqlite:// and postgresql:// map to aiosqlite / asyncpg.",
    )
    openai_api_key: SecretStr | None = Field(default=None, description="Key for the model endpoint.")
    openai_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint URL.")
    model_name: str = Field(default="gpt-4o-mini", description="Model used for replies.")
    system_prompt: str = Field(default="You are a helpful assistant.", description="System prompt.")
    allowed_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Models a conversation may choose besides MODEL_NAME (comma-separated or JSON list); "
        "GET /models lists them, any other is refused.",
    )
    max_import_mb: int = Field(default=32, ge=1, description="Largest POST /import body (a JSON export), in MB.")
    history_window: int = Field(default=20, ge=1, le=1000, description="Messages the model sees.")
    model_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for the model.")
    model_max_retries: int = Field(default=2, ge=0, le=10, description="Model retries on 429/5xx.")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_json: bool = Field(default=True, description="JSON log lines (false: plain text).")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        # ALLOWED_ORIGINS is the classic server's name: an existing deployment's .env carries over.
        validation_alias=AliasChoices("cors_origins", "allowed_origins"),
        description="Allowed browser origins, comma-separated or JSON list (CORS_ORIGINS or ALLOWED_ORIGINS).",
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxies whose X-Forwarded-For/-Proto are believed (addresses or networks, "
        "comma-separated; '*' for any). Default: none, so the peer address is the client's.",
    )
    access_token_expire_minutes: int = Field(default=30, ge=1, description="Access token lifetime.")
    refresh_token_expire_days: int = Field(default=30, ge=1, description="Refresh token lifetime.")
    max_ws_connections: int = Field(default=25, ge=1, description="Open sockets, all users.")
    max_ws_connections_per_user: int = Field(default=5, ge=1, description="Open sockets per user.")
    max_ws_connections_per_address: int = Field(
        default=10, ge=1, description="Open sockets per client address (behind a proxy: set FORWARDED_ALLOW_IPS)."
    )
    max_replies_per_user: int = Field(
        default=16, ge=1, description="Replies in progress at once for one user, sockets and REST together."
    )
    ws_idle_timeout: float = Field(
        default=300.0, gt=0, description="Seconds a socket may stay open with no reply in progress."
    )
    ws_send_timeout: float = Field(
        default=20.0, gt=0, description="Seconds a frame may wait for a client that does not read."
    )
    ws_chunk_interval: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Seconds between two chunk frames of one reply: the text that arrives meanwhile "
        "goes in the next frame (the first piece never waits; 0: a frame per model piece).",
    )
    ws_per_message_deflate: bool = Field(
        default=True, description="Offer WebSocket per-message compression (fewer bytes, more CPU per frame)."
    )
    ws_compressor_idle: float = Field(
        default=1.0,
        ge=0,
        description="Seconds a socket with no reply in progress keeps its per-message deflate compressor "
        "(about 38 KB): the next reply within them still refers back to the last one's frames.",
    )
    reply_save_interval: float = Field(
        default=1.0, gt=0, description="Seconds between saves of a reply while it streams."
    )
    db_pool_size: int = Field(default=10, ge=1, description="Database connections kept open.")
    db_max_overflow: int = Field(default=30, ge=0, description="Extra connections under load.")
    db_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for a pooled connection, or for SQLite's write lock, before answering 503.",
    )
    max_requests_per_socket: int = Field(default=8, ge=1, description="Replies in progress at once on one socket.")
    max_message_chars: int = Field(default=5000, ge=1, description="Longest accepted message.")
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest WS frame handled.")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest REST request body.")
    attachment_max_mb: float = Field(
        default=10, gt=0, le=1024, description="Largest file a user may upload to send with a message (MB)."
    )
    attachment_unsent_mb: float = Field(
        default=50,
        gt=0,
        description="A user's uploads not sent with a message yet, in all (MB): past it, their oldest go.",
    )
    attachment_unsent_hours: float = Field(
        default=24, gt=0, description="Uploads never sent with a message are deleted after this many hours."
    )
    auth_rate_limit: int = Field(
        default=5, ge=1, description="Requests a minute per address to /token, /auth/guest, POST /users/."
    )
    auth_rate_window: float = Field(default=60.0, gt=0, description="Rate-limit window in seconds.")
    password_min_length: int = Field(
        default=1,
        ge=1,
        description="Shortest accepted password (1 keeps classic clients working; raise it for a public server).",
    )
    migrate_on_start: bool = Field(default=True, description="Run Alembic migrations at start-up.")

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"SECRET_KEY is shorter than {MIN_SECRET_BYTES} bytes")
        return value

    @field_validator("cors_origins", "forwarded_allow_ips", "allowed_models", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @property
    def async_database_url(self) -> str:
        return async_database_url(self.database_url)

    @property
    def models(self) -> list[str]:
        """What a conversation may use: MODEL_NAME first, then ALLOWED_MODELS."""
        return list(dict.fromkeys([self.model_name, *self.allowed_models]))

    @property
    def model_configured(self) -> bool:
        return self.openai_api_key is not None or bool(self.openai_base_url)


def load_server_settings(**overrides: Any) -> ServerSettings:
    """Build the settings, turning validation failures into a ConfigError with a hint."""
    try:
        return ServerSettings(**overrides)
    except ValidationError as exc:
        problems = []
        secret = False
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]).upper() or "settings"
            if field == "SECRET_KEY":
                secret = True
                if error["type"] == "missing":
                    problems.append("SECRET_KEY is not set")
                    continue
            problems.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
        message = "The server cannot start: " + "; ".join(problems) + "."
        hint = SECRET_HINT if secret else "Fix the variable in the environment or .env."
        raise ConfigError(message, hint) from None
