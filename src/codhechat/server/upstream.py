"""What a client, and what the log, is told when the model endpoint fails.

A ModelError's message quotes the endpoint's own error text, and endpoints echo
things back: an OpenAI-style 401 body names the key it was given. A guest must
never see that, so clients get a fixed sentence chosen by what kind of failure it
was (the HTTP status, a timeout, a broken connection); the log gets the full
message with secrets masked, for the operator.

The kind is read from the SDK exception that the ModelError was raised from
(`raise ... from None` still keeps it as `__context__`), so llm.py needs no change; the
server's own stream reader (model_stream.py) puts the HTTP status on the error instead.
"""

from __future__ import annotations

from codhechat.errors import ContextExceeded, ModelError, ModelTimeout, ReplyCut
from codhechat.server.logs import mask

_BY_STATUS = {
    400: "The model endpoint refused the request (400).",
    401: "The model endpoint rejected the API key (401) configured on this server; the server's operator must fix it.",
    403: "The server's API key may not use this model (403); the server's operator must fix it.",
    404: "The server's model was not found at the model endpoint (404); the server's operator must fix it.",
    429: "Rate limited by the model endpoint (429); try again shortly.",
}
CUT_OFF = "The reply was cut off: the connection to the model endpoint broke mid-stream."
CUT_SHORT = "The reply was cut short: the model's stream ended before it said it was finished."
CANNOT_CONNECT = "The server cannot reach its model endpoint; try again later."
GENERIC = "The model endpoint failed; try again."


def _sdk_cause(exc: BaseException) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__module__.startswith("openai"):
            return current
        current = current.__cause__ or current.__context__
    return None


def public_cause(exc: ModelError, *, timeout: float) -> str:
    """A fixed, safe sentence for the client: nothing the endpoint sent is repeated."""
    if isinstance(exc, ReplyCut):
        return CUT_SHORT
    if isinstance(exc, ModelTimeout):
        return f"The model endpoint did not answer within {timeout:g} s; try again."
    if isinstance(exc, ContextExceeded):
        size = f" ({exc.window:,} tokens)" if exc.window else ""
        return f"The conversation is longer than the model's context window{size}."
    cause = _sdk_cause(exc)
    if cause is None and isinstance(status := getattr(exc, "status", None), int):
        return _for_status(status)  # the server's own reader (model_stream.StatusError)
    if cause is None:
        # Raised by llm.py itself (a stream cut short, a broken transport): its own words,
        # which name the endpoint's URL at most; that is replaced.
        if "cut off" in exc.message or "cut short" in exc.message:
            return CUT_OFF
        if exc.message.startswith("Cannot connect"):
            return CANNOT_CONNECT
        return GENERIC
    import openai

    if isinstance(cause, openai.APITimeoutError):
        return f"The model endpoint did not answer within {timeout:g} s; try again."
    if isinstance(cause, openai.APIConnectionError):
        return CUT_OFF if "cut off" in exc.message else CANNOT_CONNECT
    status = getattr(cause, "status_code", None)
    return _for_status(status) if isinstance(status, int) else GENERIC


def _for_status(status: int) -> str:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return f"The model endpoint failed with a server error ({status}); try again."
    return f"The model endpoint refused the request ({status})."


def log_detail(exc: ModelError) -> str:
    """The full message for the operator's log, secrets masked."""
    return mask(exc.message, decode=False)
