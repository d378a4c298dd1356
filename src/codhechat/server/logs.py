"""Logging: JSON lines (or plain text), with secrets masked wherever they appear.

Uvicorn logs an accepted WebSocket's path with its query string (`/ws?token=...`),
and access lines carry it too, so a filter on uvicorn's loggers rewrites them. The
query is percent-decoded before it is masked (`/ws?tok%65n=...` is `token=`), and
anything shaped like a JWT, a bearer credential or an API key is masked in every
field of every line, whatever its key is called; the formatters mask the finished
line once more, so an exception's text gets the same treatment.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

_SECRET_RE = re.compile(r"((?:access_|refresh_|api_|id_)?(?:token|key|password|secret)=)[^&\s\"']+", re.IGNORECASE)
_BEARER_RE = re.compile(r"((?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# A JWT is three base64url parts, the first a JSON object (so it starts with "eyJ").
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
# OpenAI-style keys (sk-..., sk-proj-...) and the like, as echoed in upstream error bodies.
_API_KEY_RE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}")
_URL_PASSWORD_RE = re.compile(r"(://[^/\s:@]+:)[^/\s@]+@")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}
_extra_secrets: set[str] = set()


def add_secret(value: str | None) -> None:
    """Mask this exact value (the server's model key, say) in every line from now on."""
    if value and len(value) >= 6:
        _extra_secrets.add(value)


def mask(text: str, *, decode: bool = True) -> str:
    """The text with tokens, keys and bearer credentials replaced by `***`.

    `decode` percent-decodes first (for paths and queries); a finished JSON line is
    masked without it, so that `%22` cannot turn into a quote that breaks the line."""
    if decode and "%" in text:
        for _ in range(3):  # `%2565` hides `%65` hides `e`: decode until nothing changes
            decoded = unquote(text, errors="replace")
            if decoded == text:
                break
            text = decoded
    for secret in _extra_secrets:
        if secret in text:
            text = text.replace(secret, "***")
    text = _SECRET_RE.sub(r"\1***", text)
    text = _BEARER_RE.sub(r"\1***", text)
    text = _JWT_RE.sub("***", text)
    text = _URL_PASSWORD_RE.sub(r"\1***@", text)
    return _API_KEY_RE.sub("***", text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, tuple | list):
        return type(value)(_masked(v) for v in value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


class MaskTokens(logging.Filter):
    """Rewrite a record's message, arguments and extra fields so no secret survives."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        if isinstance(record.args, tuple | dict):
            record.args = _masked(record.args)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str | tuple | list | dict):
                setattr(record, key, _masked(value))
        return True


MASK = MaskTokens()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return mask(json.dumps(entry, default=str), decode=False)


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        return mask(line + "".join(f" {k}={v}" for k, v in extra.items()), decode=False)


def mask_uvicorn_logs() -> None:
    """Idempotent: put the mask on the loggers uvicorn writes paths to."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if MASK not in logger.filters:
            logger.addFilter(MASK)


def configure_logging(*, level: str, json_lines: bool) -> None:
    """For `codhechat serve`: one stderr handler on the root logger; uvicorn's propagate to it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter())
    handler.addFilter(MASK)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    for noisy in ("httpx", "httpx2", "openai", "httpcore", "aiosqlite", "asyncio", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    mask_uvicorn_logs()
