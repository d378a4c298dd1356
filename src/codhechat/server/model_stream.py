"""The server's model-stream reader: httpx + httpx-sse + orjson instead of the openai SDK.

Relaying a stream through the SDK cost about half the server's CPU per token (its SSE
decoder, its response wrappers and retries around every read). `codhechat serve` only
ever streams chat completions, so it reads them itself: one shared `httpx.AsyncClient`
(a pool of keep-alive connections to the endpoint, on plain asyncio sockets: model_net.py),
and the body read by `model_chunks.ChunkReader` (httpx-sse for the events, orjson for each
chunk), the same reader the local client uses on the SDK's response. Everything else (the turn engine's pieces, `StreamOutcome`, the cut-short
rule, the `stream_options` fallback, listing models) is `ModelClient`'s, unchanged; local
mode keeps the SDK for sending the request.

Failures leave as the same ModelErrors `ModelClient` raises, and an HTTP status rides on
the error as `status`, so `upstream.public_cause` picks the same fixed sentence by kind.
Retries follow the SDK's rules: up to `max_retries` more tries for a connection failure, a
timeout, 408, 409, 429 and 5xx (an `x-should-retry` header decides when present), waiting
`retry-after(-ms)` when it is 0-60 s, else 0.5 s doubling up to 8 s, less up to 25 % jitter.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import orjson

from codhechat.context import context_exceeded
from codhechat.errors import ContextExceeded, MissingApiKey, ModelError
from codhechat.llm import ModelClient, _Request, _StreamOptionsRejected
from codhechat.model_chunks import ChunkReader, error_detail
from codhechat.server import model_net

__all__ = ["LeanModelClient", "StatusError"]

_RETRY_STATUSES = frozenset({408, 409, 429})
_MAX_RETRY_WAIT_S = 8.0


class StatusError(ModelError):
    """The endpoint answered with an HTTP error; `status` says which (upstream.py reads it)."""

    def __init__(self, message: str, hint: str = "", *, status: int) -> None:
        super().__init__(message, hint)
        self.status = status


class _Failed(Exception):
    """An error response, read whole: its status, parsed body and the message in it."""

    def __init__(self, status: int, body: object, detail: str) -> None:
        super().__init__(detail)
        self.status, self.body, self.detail = status, body, detail


class LeanModelClient(ModelClient):
    """A ModelClient whose chat streams are read without the SDK (see the module's doc)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http: httpx.AsyncClient | None = None

    def _get_http(self) -> httpx.AsyncClient:
        if self._http is None:
            if self.api_key is None and self.base_url is None:
                raise MissingApiKey()
            headers = {"Authorization": f"Bearer {self.api_key or 'not-needed'}", "Content-Type": "application/json",
                       "Accept": "text/event-stream", **self.headers}  # fmt: skip
            self._http = httpx.AsyncClient(
                headers=headers,
                timeout=httpx.Timeout(self.timeout),  # connect, write, and each read mid-stream
                # Every reply in progress holds one connection; idle ones are kept for the next.
                transport=model_net.transport(max_keepalive=1000, keepalive_expiry=30.0),
            )
        return self._http

    async def _stream(self, request: _Request) -> AsyncGenerator[str, None]:
        http = self._get_http()
        usage = request.usage
        payload: dict[str, Any] = {"model": request.model, "messages": list(request.messages), "stream": True,
                                   **request.options}  # fmt: skip
        if usage:
            payload["stream_options"] = {"include_usage": True}
        if request.tools:
            payload["tools"] = request.tools
        body = orjson.dumps(payload)
        url = self.endpoint.rstrip("/") + "/chat/completions"
        reader = ChunkReader(request.outcome, reasoning=request.reasoning, where=self.where)
        try:
            try:
                async with asyncio.timeout(self.timeout):  # the whole wait for an answer, retries included
                    response = await self._send(http, url, body)
            except _Failed as failed:
                if failed.status == 400 and usage and "stream_options" in failed.detail:
                    raise _StreamOptionsRejected from None
                raise self._status_error(failed, model=request.model) from None
            try:
                async for piece in reader.pieces(response):
                    yield piece
            finally:
                await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise self._timed_out() from None
        except (httpx.TransportError, OSError) as exc:
            raise self._broken(exc, mid_stream=reader.received) from None
        except httpx.HTTPError as exc:
            raise ModelError(f"{self.where} sent a stream that could not be read ({type(exc).__name__}).") from None

    async def _send(self, http: httpx.AsyncClient, url: str, body: bytes) -> httpx.Response:
        """POST the request and return the streaming response, retrying as the SDK would."""
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = await http.send(http.build_request("POST", url, content=body), stream=True)
            except (httpx.TimeoutException, httpx.TransportError):
                if last:
                    raise
                await asyncio.sleep(_backoff(attempt, None))
                continue
            if response.status_code < 400:
                return response
            failed = await _read_failure(response)
            if last or not _should_retry(response):
                raise failed
            await asyncio.sleep(_backoff(attempt, response.headers))
        raise AssertionError("unreachable")  # pragma: no cover

    def _status_error(self, failed: _Failed, *, model: str) -> ModelError:
        """The same words `ModelClient._translate` has for each status, for the operator's log."""
        status, detail, where = failed.status, failed.detail, self.where
        messages = {
            401: (f"The endpoint rejected the API key (401): {detail}", "Check OPENAI_API_KEY on the server."),
            403: (f"The API key may not use this model or endpoint (403) at {where}: {detail}", ""),
            404: (f"Model {model!r} was not found at {where} (404): {detail}", "Check MODEL_NAME and OPENAI_BASE_URL."),
            429: (f"Rate limited by the endpoint (429) at {where}: {detail}", "Wait a moment, then retry."),
        }
        if status in messages:
            return StatusError(*messages[status], status=status)
        if status >= 500:
            return StatusError(f"The endpoint failed with a server error ({status}) at {where}: {detail}",
                               "This is usually temporary: retry.", status=status)  # fmt: skip
        exceeded, window = context_exceeded(failed.body, detail)
        if exceeded:
            if window is not None and model:
                self._windows[model] = window
            size = f" ({window:,} tokens)" if window else ""
            return ContextExceeded(f"The conversation is longer than the model's context window{size}: {detail}",
                                   window=window)  # fmt: skip
        return StatusError(f"The endpoint refused the request ({status}): {detail}", status=status)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await super().aclose()


async def _read_failure(response: httpx.Response) -> _Failed:
    try:
        raw = await response.aread()
    finally:
        await response.aclose()
    try:
        body: object = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    detail = error_detail(body) if isinstance(body, dict) else ""
    return _Failed(
        response.status_code, body, detail or raw[:200].decode("utf-8", "replace") or f"{response.status_code}"
    )


def _should_retry(response: httpx.Response) -> bool:
    told = response.headers.get("x-should-retry")
    if told in ("true", "false"):
        return told == "true"
    return response.status_code in _RETRY_STATUSES or response.status_code >= 500


def _backoff(attempt: int, headers: httpx.Headers | None) -> float:
    """How long to wait before try `attempt + 2`: the endpoint's word if reasonable, else exponential."""
    if headers is not None:
        asked: float | None = None
        try:
            if (ms := headers.get("retry-after-ms")) is not None:
                asked = float(ms) / 1000
            elif (seconds := headers.get("retry-after")) is not None:
                try:
                    asked = float(seconds)
                except ValueError:
                    when = email.utils.parsedate_to_datetime(seconds)
                    asked = when.timestamp() - time.time()
        except (ValueError, TypeError):
            asked = None
        if asked is not None and 0 < asked <= 60:
            return asked
    return min(0.5 * 2.0**attempt, _MAX_RETRY_WAIT_S) * (1 - 0.25 * random.random())
