"""One error vocabulary for the whole app.

Every failure a user can meet is translated once, where it happens, into a
`CodheError` with a plain message and an actionable hint; the UI and the CLI
only ever show these, never a traceback.
"""

from __future__ import annotations


class CodheError(Exception):
    """An error a user can read: what went wrong, and what to do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigError(CodheError):
    """The configuration (a file, a flag, a variable) cannot be used."""


class UsageError(CodheError):
    """A command was given something it cannot work with (an unknown id, an
    empty prompt, a bad query): the user must change the command."""


class StorageError(CodheError):
    """The local database cannot be read or written."""


class ModelError(CodheError):
    """The model endpoint failed; `retryable` says whether trying again may help."""

    def __init__(self, message: str, hint: str = "", *, retryable: bool = True) -> None:
        super().__init__(message, hint)
        self.retryable = retryable


class ModelTimeout(ModelError):
    """The endpoint did not answer (or went silent) within the request timeout."""


class ReplyCut(ModelError):
    """The stream ended without the model saying it was finished: what arrived is partial."""


class ContextExceeded(ModelError):
    """The prompt did not fit the model's context; `window` is its size when the endpoint said."""

    def __init__(self, message: str, hint: str = "", *, window: int | None = None) -> None:
        super().__init__(message, hint)
        self.window = window


class MissingApiKey(ModelError):
    """No API key for an endpoint that needs one."""

    def __init__(self) -> None:
        super().__init__(
            "No API key is set for OpenAI.",
            "Set OPENAI_API_KEY in your environment or .env, press F2 to store "
            "one in your config file, or point OPENAI_BASE_URL at a local server "
            "such as Ollama, which needs no key.",
        )


class MalformedFile(CodheError):
    """An import file that is not what it claims to be; nothing was imported."""
