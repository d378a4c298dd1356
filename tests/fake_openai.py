"""A scriptable OpenAI-compatible server on loopback, for tests and benchmarks.

It speaks real HTTP (Starlette + uvicorn in a background thread) so the client
under test exercises its actual transport: SSE parsing, status-code mapping,
timeouts and broken connections. Behaviours are queued per chat request::

    with FakeOpenAI() as srv:
        srv.enqueue(Reply("Hi there", delay=0.01), Fail(429), Disconnect("a b c", after_chunks=1))
        client = openai.AsyncOpenAI(api_key="x", base_url=srv.base_url, max_retries=0)

A ``Disconnect`` makes openai 3.x (httpx2 transport) raise ``openai.APIConnectionError``
caused by ``httpx2.RemoteProtocolError`` while the stream is being iterated.

Tests never race a timer against the stream: a ``Gate`` holds a reply at a chosen
chunk until the test opens it, and tells the test when the stream got there::

    gate = Gate()
    srv.enqueue(Reply("one two three", hold=gate, hold_after=1))
    ...                      # the client has "one " and the server is holding
    gate.wait_reached()      # (from a thread; `await gate.reached_async()` from async code)
    gate.open()              # the rest streams on

Run ``python -m tests.fake_openai --port 8765`` for a manual server (echo replies).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.served import Served

__all__ = [
    "Behaviour",
    "CallTools",
    "Disconnect",
    "Fail",
    "FakeOpenAI",
    "Gate",
    "Hang",
    "Recorded",
    "Reply",
    "recording",
]

_TOKEN_RE = re.compile(r"\S+\s*|\s+")
# status -> (message, type, code), modelled on real OpenAI error bodies.
_FAIL_DEFAULTS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("Country, region, or territory not supported.", "request_forbidden", "unsupported_country_region_territory"),
    404: ("The model does not exist or you do not have access to it.", "invalid_request_error", "model_not_found"),
    429: ("Rate limit reached for requests. Please try again in 1s.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


KEEP_ALIVE_S = 0.2


class Gate:
    """A point in a streamed reply where the server waits until the test opens it.

    ``reached`` is set once the stream has sent everything before the hold point, so a
    test can act while a reply is known to be mid-stream, whatever the machine's speed.
    """

    def __init__(self) -> None:
        self._open = threading.Event()
        self._reached = threading.Event()

    def open(self) -> None:
        self._open.set()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    @property
    def reached(self) -> bool:
        return self._reached.is_set()

    def wait_reached(self, timeout: float = 10.0) -> None:
        if not self._reached.wait(timeout):
            raise TimeoutError("the stream never reached its gate")

    async def reached_async(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.wait_reached, timeout)

    async def _hold(self, server: FakeOpenAI) -> AsyncIterator[bytes]:
        """Server side: mark the point reached, then wait (aborting if the server stops),
        sending an SSE comment now and then, as real servers do while a model thinks, so
        that a client's read timeout measures silence, not how long a test holds the gate."""
        self._reached.set()
        last = time.monotonic()
        while not self._open.is_set():
            await server._sleep(0.005)
            if time.monotonic() - last >= KEEP_ALIVE_S:
                last = time.monotonic()
                yield b": keep-alive\n\n"


@dataclass(frozen=True)
class Reply:
    """Stream ``text`` back, ``tokens_per_chunk`` tokens per chunk, sleeping ``delay`` s between chunks.

    With ``hold``, the stream stops after ``hold_after`` content chunks until the gate is
    opened; ``holds`` gives more such points as (chunks sent before it, gate). ``reasoning`` is
    streamed before the text as ``reasoning_content`` deltas, chunked and paced as the text. ``finish_reason`` is sent in a last chunk (``None``: no such chunk), and
    ``done=False`` leaves out ``data: [DONE]``: both together end the body cleanly but early,
    as a proxy that drops an upstream connection does.
    """

    text: str
    tokens_per_chunk: int = 1
    delay: float = 0.0
    hold: Gate | None = None
    hold_after: int = 0
    holds: tuple[tuple[int, Gate], ...] = ()
    finish_reason: str | None = "stop"
    done: bool = True
    reasoning: str = ""  # streamed first as `reasoning_content` deltas (DeepSeek, vLLM, llama.cpp)
    # Instead of the finish: an `{"error": {...}}` event with this message, as OpenAI and vLLM
    # send when generation fails mid-stream (the body then ends, status 200 already sent).
    error: str = ""

    def gates(self) -> dict[int, Gate]:
        points = dict(self.holds)
        if self.hold is not None:
            points[self.hold_after] = self.hold
        return points


@dataclass(frozen=True)
class CallTools:
    """The model asks to run tools, streamed as the Chat Completions API does: ``text``
    first (if any), then per call a delta with its index, id, type and name (arguments
    ""), then its arguments in pieces of ``args_per_chunk`` characters; the last chunk
    says ``finish_reason: "tool_calls"``. ``calls`` are (name, arguments as JSON text)."""

    calls: tuple[tuple[str, str], ...]
    text: str = ""
    args_per_chunk: int = 5
    finish_reason: str | None = "tool_calls"

    @staticmethod
    def call_id(index: int) -> str:
        return f"call_fake{index}"


@dataclass(frozen=True)
class Fail:
    """Answer with an HTTP error and an OpenAI error body. Empty fields take the per-status default."""

    status: int
    message: str = ""
    type: str = ""
    code: str | None = ""
    retry_after: float = 1.0  # only sent on 429, as `retry-after` / `retry-after-ms`
    echo_auth: bool = False  # append the request's Authorization header, as some endpoints' 401s do

    def __post_init__(self) -> None:
        message, type_, code = _FAIL_DEFAULTS.get(self.status, (f"Fake error {self.status}.", "api_error", None))
        object.__setattr__(self, "message", self.message or message)
        object.__setattr__(self, "type", self.type or type_)
        object.__setattr__(self, "code", code if self.code == "" else self.code)


@dataclass(frozen=True)
class Disconnect:
    """Send the first ``after_chunks`` content chunks of ``text``, then drop the socket mid-body.

    With ``hold``, wait at the gate (after those chunks) before dropping.
    """

    text: str
    after_chunks: int
    delay: float = 0.0
    hold: Gate | None = None

    def gates(self) -> dict[int, Gate]:
        return {self.after_chunks: self.hold} if self.hold is not None else {}


@dataclass(frozen=True)
class Hang:
    """Sleep ``seconds`` before answering (then echo), to trigger client timeouts. ``stop()`` cuts it short."""

    seconds: float


FIXTURES = Path(__file__).with_name("fixtures")


@dataclass(frozen=True)
class Recording:
    """One HTTP exchange recorded byte for byte from a real server (tests/fixtures/*/*.http).

    The file format (see tests/fixtures/llama.cpp/README.md): `> ` lines are the request,
    `< ` lines the response's status line and headers, then a blank line and the body."""

    request: dict[str, Any]
    status: int
    headers: dict[str, str]
    body: bytes

    def events(self) -> list[bytes]:
        """A streamed body as the server sent it: one Server-Sent Event at a time."""
        return [event + b"\n\n" for event in self.body.split(b"\n\n") if event.strip()]


def recording(name: str) -> Recording:
    raw = (FIXTURES / name).read_bytes()
    head, _, body = raw.partition(b"\n\n")
    request: dict[str, Any] = {}
    status, headers = 0, {}
    for line in head.decode().splitlines():
        if line.startswith("> {"):
            request = json.loads(line[2:])
        elif line.startswith("< HTTP/"):
            status = int(line.split()[2])  # "< HTTP/1.1 200 OK"
        elif line.startswith("< ") and ":" in line:
            key, _, value = line[2:].partition(":")
            headers[key.strip().lower()] = value.strip()
    for hop_by_hop in ("content-length", "transfer-encoding", "connection"):
        headers.pop(hop_by_hop, None)  # the server here frames the body itself
    return Recording(request, status, headers, body)


@dataclass(frozen=True)
class Recorded:
    """Answer a chat request with a recorded real response (`recording(name)`): its status,
    headers and body exactly, a streamed body one event at a time, so that tests check what a
    real server sends rather than what we believe it sends. ``hold`` waits at a gate after
    ``hold_after`` events."""

    name: str
    hold: Gate | None = None
    hold_after: int = 0

    def gates(self) -> dict[int, Gate]:
        return {self.hold_after: self.hold} if self.hold is not None else {}


Behaviour = CallTools | Reply | Fail | Disconnect | Hang | Recorded


class _Abort(Exception):
    """Raised inside a response so uvicorn closes the connection without finishing the body."""


class _QuietAbort(logging.Filter):
    """Drop uvicorn's 'Exception in ASGI application' tracebacks caused by a deliberate _Abort."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, _Abort) or (isinstance(exc, BaseExceptionGroup) and exc.subgroup(_Abort) is not None):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


_QUIET_ABORT = _QuietAbort()


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def _text_of(content: Any) -> str:
    if isinstance(content, list):  # multimodal parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


_HEADERS = {"x-request-id": "req_fake", "openai-processing-ms": "1"}


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _sse(obj: Any) -> bytes:
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()


class FakeOpenAI:
    """OpenAI Chat Completions look-alike served by uvicorn on its own thread and event loop."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] = ("gpt-4o-mini", "gpt-4o"),
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.models = list(dict.fromkeys(["gpt-4o-mini", *models]))
        self._initial_models = list(self.models)
        self.models_recording: str | None = None  # e.g. "llama.cpp/models.http": GET /v1/models replayed
        self._want_port = port
        self._lock = threading.Condition()
        self._queue: deque[Behaviour] = deque()
        self._gates: list[Gate] = []  # opened by reset(), so no stream is held past its test
        self._requests: list[dict[str, Any]] = []
        self._served: Served | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    # -- lifecycle -------------------------------------------------------
    def start(self) -> FakeOpenAI:
        """Bind, start serving, and return once the listener is accepting connections."""
        if self._served is not None:
            return self
        logging.getLogger("uvicorn.error").addFilter(_QUIET_ABORT)

        def on_loop(loop: asyncio.AbstractEventLoop) -> None:
            self._loop, self._stopping = loop, asyncio.Event()

        self._served = Served(self.app, name="fake-openai", host=self.host, port=self._want_port, on_loop=on_loop,
                              start_timeout=10, access_log=False, http="h11", server_header=False).start()  # fmt: skip
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Shut down promptly: no graceful drain, and in-flight sleeps (Hang, delays) are woken."""
        if self._loop is not None and self._stopping is not None:
            try:
                self._loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:  # loop already closed
                pass
        if self._served is not None:
            self._served.stop(force=True, timeout=timeout)
        self._served = self._loop = self._stopping = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._served is None:
            raise RuntimeError("server not started")
        return self._served.port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- scripting & recording -------------------------------------------
    def enqueue(self, *behaviours: Behaviour) -> None:
        """Queue behaviours; each chat request consumes one (FIFO), then falls back to echo."""
        with self._lock:
            self._queue.extend(behaviours)
            self._gates += [
                g for b in behaviours if isinstance(b, Reply | Disconnect | Recorded) for g in b.gates().values()
            ]

    def reset(self) -> None:
        """Forget the script and the record, so one server can serve many tests."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            for gate in self._gates:
                gate.open()
            self._gates.clear()
            self.models = list(self._initial_models)
            self.models_recording = None

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Snapshot of recorded chat requests: ``{"body": ..., "headers": {...}}``."""
        with self._lock:
            return list(self._requests)

    @property
    def last_messages(self) -> list[dict[str, Any]]:
        reqs = self.requests
        if not reqs:
            raise LookupError("no chat request recorded yet")
        return list(reqs[-1]["body"].get("messages", []))

    def wait_for_requests(self, n: int, timeout: float = 5) -> list[dict[str, Any]]:
        """Block until ``n`` chat requests arrived (use ``asyncio.to_thread`` from async code)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"expected {n} requests, got {len(self._requests)}")
            return list(self._requests)

    # -- handlers -----------------------------------------------------------
    async def _models(self, request: Request) -> Response:
        if self.models_recording is not None:
            recorded = recording(self.models_recording)
            return Response(recorded.body, status_code=recorded.status, headers=recorded.headers)
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "openai"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _chat(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._error(Fail(400, "We could not parse the JSON body of your request."))
        with self._lock:
            self._requests.append({"body": body, "headers": {k.lower(): v for k, v in request.headers.items()}})
            self._lock.notify_all()
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(Fail(401))  # rejected requests don't consume a scripted behaviour
        with self._lock:
            behaviour = self._queue.popleft() if self._queue else None
        if isinstance(behaviour, Hang):
            await self._sleep(behaviour.seconds)
            behaviour = None
        if isinstance(behaviour, Fail):
            if behaviour.echo_auth:
                echoed = f"{behaviour.message} You sent: {request.headers.get('authorization', '')}"
                behaviour = replace(behaviour, message=echoed, echo_auth=False)
            return self._error(behaviour)
        if isinstance(behaviour, Recorded):
            return self._replay(behaviour)
        if isinstance(behaviour, CallTools):
            events = self._tool_calls(behaviour, body)
            return StreamingResponse(events, media_type="text/event-stream", headers=_HEADERS)
        if behaviour is None:
            last_user = next((m for m in reversed(body.get("messages", [])) if m.get("role") == "user"), {})
            behaviour = Reply(f"Echo: {_text_of(last_user.get('content'))}")
        prompt_tokens = sum(len(_tokens(_text_of(m.get("content")))) for m in body.get("messages", []))
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "", "created": int(time.time()),
                "model": body.get("model"), "system_fingerprint": "fp_fake"}  # fmt: skip
        if body.get("stream"):
            return StreamingResponse(
                self._stream(behaviour, meta, prompt_tokens, body), media_type="text/event-stream", headers=_HEADERS
            )
        return self._complete(behaviour, meta, prompt_tokens)

    def _replay(self, recorded: Recorded) -> Response:
        exchange = recording(recorded.name)
        if not exchange.headers.get("content-type", "").startswith("text/event-stream"):
            return Response(exchange.body, status_code=exchange.status, headers=exchange.headers)
        gates = recorded.gates()

        async def events() -> AsyncIterator[bytes]:
            for i, event in enumerate(exchange.events()):
                if i in gates:
                    async for ping in gates[i]._hold(self):
                        yield ping
                await self._sleep(0)
                yield event

        return StreamingResponse(events(), status_code=exchange.status, headers=exchange.headers)

    def _error(self, fail: Fail) -> Response:
        headers = dict(_HEADERS)
        if fail.status == 429:
            headers |= {"retry-after": str(max(1, round(fail.retry_after))),
                        "retry-after-ms": str(int(fail.retry_after * 1000))}  # fmt: skip
        error = {"message": fail.message, "type": fail.type, "param": None, "code": fail.code}
        return JSONResponse({"error": error}, status_code=fail.status, headers=headers)

    def _complete(self, b: Reply | Disconnect, meta: dict[str, Any], prompt_tokens: int) -> Response:
        """Non-streaming reply; a Disconnect sends half of a Content-Length body, then drops."""
        message = {"role": "assistant", "content": b.text, "refusal": None, "annotations": []}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        usage = _usage(prompt_tokens, len(_tokens(b.text)))
        payload = json.dumps({**meta, "object": "chat.completion", "choices": [choice], "usage": usage}).encode()
        if isinstance(b, Reply):
            return Response(payload, media_type="application/json", headers=_HEADERS)

        async def truncated() -> AsyncIterator[bytes]:
            yield payload[: len(payload) // 2]
            raise _Abort

        headers = {**_HEADERS, "content-length": str(len(payload))}
        return StreamingResponse(truncated(), media_type="application/json", headers=headers)

    async def _stream(
        self, b: Reply | Disconnect, meta: dict[str, Any], prompt_tokens: int, body: dict[str, Any]
    ) -> AsyncIterator[bytes]:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        extra = {"usage": None} if include_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _sse({**meta, "object": "chat.completion.chunk", "choices": [choice], **extra})

        tokens = _tokens(b.text)
        per = b.tokens_per_chunk if isinstance(b, Reply) else 1
        pieces = ["".join(tokens[i : i + per]) for i in range(0, len(tokens), max(1, per))]
        gates = b.gates()
        yield chunk({"role": "assistant", "content": "", "refusal": None})
        thoughts = _tokens(b.reasoning) if isinstance(b, Reply) else []
        for i in range(0, len(thoughts), max(1, per)):  # paced as the text is
            if i:
                await self._sleep(b.delay)
            yield chunk({"reasoning_content": "".join(thoughts[i : i + per])})
        for i, piece in enumerate(pieces):  # `delay` also separates the role chunk from the first token
            if i in gates:
                async for ping in gates[i]._hold(self):
                    yield ping
            if isinstance(b, Disconnect) and i >= b.after_chunks:
                raise _Abort
            await self._sleep(b.delay)
            yield chunk({"content": piece})
        for at in sorted(gates):
            if at >= len(pieces):
                async for ping in gates[at]._hold(self):
                    yield ping
        if isinstance(b, Disconnect):
            raise _Abort
        if b.error:
            yield _sse({"error": {"message": b.error, "type": "server_error", "param": None, "code": None}})
            return
        if b.finish_reason is not None:
            yield chunk({}, b.finish_reason)
        if include_usage and b.finish_reason is not None:
            usage = _usage(prompt_tokens, len(tokens))
            yield _sse({**meta, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        if b.done:
            yield b"data: [DONE]\n\n"

    async def _tool_calls(self, b: CallTools, body: dict[str, Any]) -> AsyncIterator[bytes]:
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model"), "system_fingerprint": "fp_fake"}  # fmt: skip
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        extra = {"usage": None} if include_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _sse({**meta, "choices": [choice], **extra})

        yield chunk({"role": "assistant", "content": None if not b.text else "", "refusal": None})
        for token in _tokens(b.text):
            await self._sleep(0)
            yield chunk({"content": token})
        for index, (name, arguments) in enumerate(b.calls):
            start = {"index": index, "id": CallTools.call_id(index), "type": "function",
                     "function": {"name": name, "arguments": ""}}  # fmt: skip
            yield chunk({"tool_calls": [start]})
            step = max(1, b.args_per_chunk)
            for at in range(0, len(arguments), step):
                await self._sleep(0)
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[at : at + step]}}]})
        if b.finish_reason is not None:
            yield chunk({}, b.finish_reason)
            if include_usage:
                yield _sse({**meta, "choices": [], "usage": _usage(10, 5)})
        yield b"data: [DONE]\n\n"

    async def _sleep(self, seconds: float) -> None:
        """Sleep that always yields to the loop and aborts the response if the server is stopping."""
        stopping = self._stopping
        if stopping is None or stopping.is_set():
            raise _Abort
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        try:
            await asyncio.wait_for(stopping.wait(), seconds)
        except TimeoutError:
            return
        raise _Abort


def main(argv: Sequence[str] | None = None) -> None:
    """Serve echo replies until Ctrl+C: ``python -m tests.fake_openai --port 8765``."""
    # Ctrl+C stops it even when started from a background job, which inherits SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with FakeOpenAI(args.api_key, host=args.host, port=args.port) as srv:
        print(srv.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
