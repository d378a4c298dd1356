"""The one place that talks to an OpenAI-compatible Chat Completions API.

`openai` costs about 0.3 s to import, so it is imported on the first request,
never at start-up. Every failure leaves this module as a ModelError that says
what happened and what to do; the SDK's own exceptions never reach the UI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from codhechat.coalesce import coalesced
from codhechat.context import context_exceeded, known_window
from codhechat.errors import ContextExceeded, MissingApiKey, ModelError, ModelTimeout, ReplyCut
from codhechat.stream_outcome import StreamOutcome

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletionMessageParam

OPENAI_URL = "https://api.openai.com/v1"


@dataclass(frozen=True, slots=True)
class _Request:
    messages: Sequence[dict[str, Any]]
    model: str
    outcome: StreamOutcome
    usage: bool
    reasoning: bool
    options: dict[str, Any]
    tools: list[dict[str, Any]] | None = None


class _StreamOptionsRejected(Exception):
    """A 400 naming `stream_options`, before any text: the endpoint does not know it."""


class ModelClient:
    """Streams chat completions; one HTTP connection pool per client."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float = 60.0,
        max_retries: int = 2,
        provider: str | None = None,
        headers: dict[str, str] | None = None,
        models: list[str] | None = None,
    ) -> None:
        """`provider` names the endpoint in messages (a configured provider; None for the
        default one); `headers` go with every request to it and nowhere else; `models`,
        when given, is its list of models (it is then not asked)."""
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.provider = provider
        self.headers = dict(headers or {})
        self._client: AsyncOpenAI | None = None
        self._usage_supported = True  # until the endpoint rejects `stream_options`
        # GET /models: id -> what it says (configured models need no asking)
        self._catalogue: dict[str, dict[str, Any]] | None = {m: {} for m in models} if models else None
        self._windows: dict[str, int] = {}  # context windows learned from the endpoint's errors

    @property
    def endpoint(self) -> str:
        return self.base_url or OPENAI_URL

    @property
    def where(self) -> str:
        """The endpoint as messages name it: with its provider's name, if it has one."""
        return f"{self.endpoint} (provider {self.provider!r})" if self.provider else self.endpoint

    @staticmethod
    def warm_up() -> None:
        """Import the SDK and the stream reader ahead of the first request (about 0.3 s)."""
        import openai  # noqa: F401

        import codhechat.model_chunks  # noqa: F401

    def _get_client(self) -> AsyncOpenAI:
        if self._client is None:
            if self.api_key is None and self.base_url is None:
                raise MissingApiKey()
            from openai import AsyncOpenAI

            from codhechat.model_reads import paced_client

            self._client = AsyncOpenAI(
                http_client=paced_client(),  # reads the stream as often as the screen shows it
                # Local servers (Ollama, llama.cpp) ignore the key but the SDK wants one.
                api_key=self.api_key or "not-needed",
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                default_headers=self.headers or None,
            )
        return self._client

    async def stream_chat(
        self,
        messages: Sequence[dict[str, str]],
        *,
        model: str,
        outcome: StreamOutcome | None = None,
        usage: bool = False,
        reasoning: bool = False,
        options: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield the reply's text as it arrives, and fill in `outcome` (why it ended,
        token usage if reported). With `usage`, ask the endpoint to report token usage
        (`stream_options.include_usage`: on a last chunk with no choices). With
        `reasoning`, the model's thinking comes too, as `Thinking` pieces (see
        codhechat.thinking); without, it is left out. `options` are generation
        parameters for the request (temperature, top_p, max_tokens, seed, reasoning_effort).
        `tools` (OpenAI function tools) are offered; the calls the model makes are put
        together in `outcome.tool_calls`.

        Raises ReplyCut, after the text that did arrive, when the stream ends without a
        `finish_reason`."""
        outcome = outcome if outcome is not None else StreamOutcome()
        try:
            asked = usage and self._usage_supported
            request = _Request(messages, model, outcome, asked, reasoning, options or {}, tools)
            # Coalesced: a burst of tokens already received is one piece, not thousands.
            async with aclosing(coalesced(self._stream(request))) as stream:
                async for text in stream:
                    yield text
        except _StreamOptionsRejected:
            # An OpenAI-compatible server that does not know `stream_options` (and said so,
            # before any text): ask again without it, and not again at this endpoint.
            self._usage_supported = False
            request = _Request(messages, model, outcome, False, reasoning, options or {}, tools)
            async with aclosing(coalesced(self._stream(request))) as stream:
                async for text in stream:
                    yield text
        if outcome.finish_reason is None:
            raise ReplyCut(
                f"The reply was cut short: the stream from {self.where} ended before the model said it was finished.",
                "What arrived is kept. Retry for a whole reply.",
            )

    async def _stream(self, request: _Request) -> AsyncGenerator[str, None]:
        """One request's stream: sent by the SDK, its body read by `ChunkReader` (model_chunks.py).

        The SDK builds and authenticates the request, retries it and raises its status errors
        (all before its streaming response is returned); the body is read without it, since
        its per-event decoding was most of the time a burst of tokens took. The server's own
        client (server/model_stream.py) overrides this with plain httpx and the same reader."""
        client = self._get_client()
        import httpx2  # the SDK's transport: what reading its response's body raises
        import openai

        from codhechat.model_chunks import ChunkReader

        model, usage = request.model, request.usage
        extra: dict[str, Any] = dict(request.options)
        if usage:
            extra["stream_options"] = {"include_usage": True}
        if request.tools:
            extra["tools"] = request.tools
        reader = ChunkReader(request.outcome, reasoning=request.reasoning, where=self.where)
        broken: tuple[type[Exception], ...] = (
            httpx2.TransportError,
            OSError,
            ValueError,
            RuntimeError,
            *_transport_errors(),
        )
        try:
            async with AsyncExitStack() as stack:
                # request_timeout is the whole wait for the response, the SDK's retries included
                # (which would otherwise multiply it), then the longest silence mid-stream.
                async with asyncio.timeout(self.timeout):
                    response = await stack.enter_async_context(
                        client.chat.completions.with_streaming_response.create(
                            model=model,
                            # Plain dicts of the shapes the SDK's TypedDicts describe (built in tool_rounds).
                            messages=cast("list[ChatCompletionMessageParam]", list(request.messages)),
                            stream=True,
                            **extra,
                        )
                    )
                async for piece in reader.pieces(response.http_response):
                    yield piece
        except openai.BadRequestError as exc:
            if usage and not reader.received and "stream_options" in _error_detail(exc):
                raise _StreamOptionsRejected from None  # stream_chat asks again without it
            raise self._translate(exc, model=model, mid_stream=reader.received) from None
        except (TimeoutError, httpx2.TimeoutException):
            raise self._timed_out() from None
        except openai.APIError as exc:
            raise self._translate(exc, model=model, mid_stream=reader.received) from None
        except broken as exc:
            # The body broke off (a dropped connection, a broken chunked body) or was not an event stream.
            raise self._broken(exc, mid_stream=reader.received) from None

    async def list_models(self) -> list[str]:
        """The model ids the endpoint offers (`GET /models`), sorted."""
        return sorted(await self._models())

    async def _models(self) -> dict[str, dict[str, Any]]:
        """`GET /models`, once per session: each model's id and everything said about it."""
        if self._catalogue is not None:
            return self._catalogue
        client = self._get_client()
        import openai

        try:
            page = await client.models.list()
            catalogue = {model.id: model.model_dump() async for model in page}
        except openai.NotFoundError:
            raise ModelError(
                f"{self.where} does not list its models (404).", "Type the model's name instead."
            ) from None
        except openai.APIError as exc:
            raise self._translate(exc, model="", mid_stream=False) from None
        except (OSError, ValueError, RuntimeError) as exc:
            raise self._broken(exc, mid_stream=False) from None
        self._catalogue = catalogue
        return catalogue

    async def context_window(self, model: str) -> int | None:
        """The model's context in tokens: learned from an error, else what the endpoint
        lists (llama.cpp `meta.n_ctx`, vLLM `max_model_len`, OpenRouter `context_length`),
        else Ollama's `/api/show`, else a table of well-known models; None if unknown."""
        if model in self._windows:
            return self._windows[model]
        try:
            listed = (await self._models()).get(model, {})
        except ModelError:
            listed = {}
        meta = listed.get("meta")
        if not isinstance(meta, dict):
            meta = {}
        for value in (meta.get("n_ctx"), listed.get("max_model_len"), listed.get("context_length"),
                      listed.get("context_window")):  # fmt: skip
            if isinstance(value, int) and value > 0:
                return value
        ollama_like = (self.base_url or "").rstrip("/").endswith("/v1")
        if ollama_like and (window := await self._ollama_window(model)) is not None:
            return window
        return known_window(model)

    async def _ollama_window(self, model: str) -> int | None:
        """Ollama's own `POST /api/show`: the `num_ctx` it runs the model with, else the
        model's trained context length. Any other server answers 404: None."""
        import openai

        assert self.base_url is not None
        root = self.base_url.rstrip("/").removesuffix("/v1")
        try:
            client = self._get_client().with_options(base_url=root, max_retries=0, timeout=min(self.timeout, 5.0))
            shown = await client.post("/api/show", body={"model": model}, cast_to=object)
        except (openai.APIError, OSError, ValueError, RuntimeError):
            return None
        if not isinstance(shown, dict):
            return None
        for line in str(shown.get("parameters") or "").splitlines():
            name, _, value = line.partition(" ")
            if name == "num_ctx" and value.strip().isdigit():
                return int(value.strip())
        info = shown.get("model_info")
        for key, value in info.items() if isinstance(info, dict) else ():
            if key.endswith(".context_length") and isinstance(value, int) and value > 0:
                return value
        return None

    def _translate(self, exc: Any, *, model: str, mid_stream: bool) -> ModelError:
        import openai

        where = self.where
        detail = _error_detail(exc)
        if isinstance(exc, openai.APITimeoutError):
            return self._timed_out()
        if isinstance(exc, openai.APIConnectionError):
            return self._broken(exc, mid_stream=mid_stream)
        if isinstance(exc, openai.AuthenticationError):
            if self.provider:
                return ModelError(
                    f"{where} rejected the API key (401): {detail}",
                    f"Check api_key or api_key_env in [providers.{self.provider}]; "
                    "`codhechat config` shows which key is used, masked.",
                )
            return ModelError(
                f"The endpoint rejected the API key (401): {detail}",
                "Check OPENAI_API_KEY (or api_key in the config file); "
                "`codhechat config` shows which key is used, masked. Press F2 to set one.",
            )
        if isinstance(exc, openai.PermissionDeniedError):
            return ModelError(
                f"The API key may not use this model or endpoint (403) at {where}: {detail}",
                "Check the key's project and permissions, or choose another model.",
            )
        if isinstance(exc, openai.NotFoundError):
            return ModelError(
                f"Model {model!r} was not found at {where} (404): {detail}",
                "Check the model name (--model, CODHECHAT_MODEL) and OPENAI_BASE_URL.",
            )
        if isinstance(exc, openai.RateLimitError):
            return ModelError(
                f"Rate limited by the endpoint (429) at {where}: {detail}",
                "Wait a moment, then retry. If it mentions quota, check your plan.",
            )
        if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
            return ModelError(
                f"The endpoint failed with a server error ({exc.status_code}) at {where}: {detail}",
                "This is usually temporary: retry.",
            )
        if isinstance(exc, openai.APIStatusError):
            exceeded, window = context_exceeded(getattr(exc, "body", None), detail)
            if exceeded:
                if window is not None and model:
                    self._windows[model] = window  # the next try is fitted to it
                size = f" ({window:,} tokens)" if window else ""
                return ContextExceeded(
                    f"The conversation is longer than the model's context window{size}: {detail}",
                    "Retry: the next try sends fewer earlier messages. If the server's "
                    "context is larger, set context_window.",
                    window=window,
                )
            return ModelError(f"The endpoint refused the request ({exc.status_code}): {detail}")
        return self._broken(exc, mid_stream=mid_stream)

    def _timed_out(self) -> ModelError:
        return ModelTimeout(
            f"{self.where} did not answer within {self.timeout:g} s.",
            "Check that the server is up, or raise request_timeout.",
        )

    def _broken(self, exc: BaseException, *, mid_stream: bool) -> ModelError:
        if mid_stream:
            return ModelError(
                f"The reply was cut off: the connection to {self.where} broke mid-stream.",
                "What arrived is kept. Retry for a whole reply.",
            )
        return ModelError(
            f"Cannot connect to {self.where}.",
            "Is the server running and the URL right? Check OPENAI_BASE_URL (`codhechat config` shows the one in use).",
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _error_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


def _transport_errors() -> tuple[type[Exception], ...]:
    """What else reading the body raises: httpx-sse's SSEError (not an event stream, an
    httpx error) and AnyIO's end of stream (a TLS connection closed mid-read)."""
    import anyio
    import httpx

    return (httpx.TransportError, anyio.EndOfStream)
