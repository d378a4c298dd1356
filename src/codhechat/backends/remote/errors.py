"""Remote-mode failures, in words: what went wrong and what to do.

Every failure of the REST calls and of the socket is translated here, once, into a
`RemoteError` (a CodheError, which the UI shows with its hint). Server text that ends up
in a message (an HTTP `detail`) is untrusted: the UI shows it as plain text.
"""

from __future__ import annotations

import socket
import ssl
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import TypeAdapter, ValidationError
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

from codhechat.errors import CodheError
from codhechat.protocol import POLICY_VIOLATION, TRY_AGAIN_LATER

T = TypeVar("T")


class RemoteError(CodheError):
    """The server cannot be reached or answered something we cannot use."""


class FatalRemoteError(RemoteError):
    """Trying again will not help (a TLS failure, not a CoDHeChat server): stop reconnecting."""


class AuthError(FatalRemoteError):
    """The server refused the sign-in."""


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def connect_error(server: str, exc: BaseException) -> RemoteError:
    """A failure to open a connection, in words: TLS, DNS, refused, timed out."""
    causes = _causes(exc)
    text = " ".join(str(c) for c in causes)
    if any(isinstance(c, ssl.SSLError) for c in causes) or "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        reason = next((str(c) for c in causes if isinstance(c, ssl.SSLError)), text)
        return FatalRemoteError(
            f"The secure (TLS) connection to {server} failed: {reason}.",
            "Check that the address is right and its certificate is valid; an http:// server "
            "must not be given as https://. Set SSL_CERT_FILE to trust a private CA.",
        )
    if any(isinstance(c, socket.gaierror) for c in causes):
        return RemoteError(
            f"Cannot find the server {urlsplit(server).hostname}.",
            "Check the address in --server (or `server` in the config) and your network.",
        )
    if any(isinstance(c, TimeoutError | httpx.TimeoutException) for c in causes):
        return RemoteError(f"{server} did not answer in time.", "Check your network, or try again shortly.")
    return RemoteError(
        f"Cannot connect to {server}.",
        "Check the address and port, and that the server is running.",
    )


def handshake_error(server: str, exc: Exception) -> RemoteError:
    """A WebSocket handshake that failed, in words."""
    if isinstance(exc, InvalidURI):
        return FatalRemoteError(f"{server} is not a usable address.")
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 403):
            return AuthError(f"{server} refused the WebSocket sign-in ({status}).")
        if status == 404:
            return FatalRemoteError(
                f"{server} has no /ws (404): it does not look like a CoDHeChat server.",
                "Check the address: give the server's root URL.",
            )
        return RemoteError(f"{server} refused the WebSocket connection (HTTP {status}).")
    if isinstance(exc, InvalidHandshake):
        return RemoteError(f"{server} did not open a WebSocket: {exc}.")
    return connect_error(server, exc)


def dropped_error(server: str, code: int | None, reason: str) -> RemoteError:
    """What a reply in progress is told when its socket closes."""
    if code == POLICY_VIOLATION:
        return AuthError(f"{server} refused the sign-in (close code 1008).", "Retry.")
    if code == TRY_AGAIN_LATER:
        return RemoteError(f"The server cannot chat right now: {reason or 'try again later'} (close code 1013).",
                           "Retry later.")  # fmt: skip
    return RemoteError(
        "The connection to the server dropped mid-reply: the reply is incomplete.",
        "What arrived is kept; retry once the status line says connected.",
    )


def detail_of(response: httpx.Response) -> str:
    """The `detail` of an error response, as text (FastAPI's 422 lists are joined)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or f"HTTP {response.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # a 422 from pydantic
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return str(detail) if detail else f"HTTP {response.status_code}"


def status_error(server: str, response: httpx.Response, *, not_found: str | None = None) -> RemoteError:
    """An HTTP error status, in words."""
    code = response.status_code
    if code == 401:
        return AuthError(f"{server} refused the sign-in (401): {detail_of(response)}.")
    if code == 429:
        wait = response.headers.get("Retry-After")
        return RemoteError(
            f"The server is rate limiting requests from this address (429): {detail_of(response)}",
            f"Wait {wait} s and try again." if wait else "Wait a minute and try again.",
        )
    if code == 404:
        if not_found:
            return RemoteError(not_found)
        return FatalRemoteError(
            f"{server} has no {response.request.url.path} (404): it does not look like a CoDHeChat server.",
            "Check the address: give the server's root URL, e.g. https://chat.example.org.",
        )
    if code >= 500:
        return RemoteError(f"The server failed ({code}): {detail_of(response)}.", "Try again shortly.")
    return RemoteError(f"The server refused the request ({code}): {detail_of(response)}.")


def not_protocol(server: str, what: str) -> FatalRemoteError:
    return FatalRemoteError(
        f"{server} answered {what} with something that is not of the CoDHeChat protocol.",
        "Check the address: it must be a CoDHeChat server (codhechat serve or compatible).",
    )


def body_of(server: str, response: httpx.Response, shape: TypeAdapter[T], what: str) -> T:
    """A response body read as a protocol model, or `not_protocol`: bodies are untrusted."""
    try:
        return shape.validate_json(response.content)
    except (ValidationError, ValueError):
        raise not_protocol(server, what) from None
