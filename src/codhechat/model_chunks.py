"""Reading a streamed chat completion's body: its Server-Sent Events (httpx-sse), each a JSON
chunk (orjson), into the reply's pieces and its `StreamOutcome`.

One definition for both ways codhechat streams a reply: the local client reads the body of
the openai SDK's streaming response (llm.py: the SDK still builds the request, authenticates,
retries and maps error statuses), and `codhechat serve` reads its own httpx response
(server/model_stream.py). The SDK's own reading of the body (its line decoder, a JSON parse
and a response wrapper per event) was over 90 % of the client's time on a 4,000-token
burst; this reader keeps each chunk as the parsed JSON and hands it to `take_chunk`.

Imported on the first request (httpx-sse brings httpx), never at start-up.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Protocol, cast

import orjson
from httpx_sse import EventSource

from codhechat.errors import ModelError
from codhechat.stream_outcome import StreamOutcome, take_chunk
from codhechat.thinking import ThinkTags

if TYPE_CHECKING:
    import httpx
    from httpx import Headers

__all__ = ["ChunkReader", "error_detail"]


class StreamedBody(Protocol):
    """What reading an event stream needs of a response: httpx's, or httpx2's (the openai
    SDK's transport), which has the same interface."""

    @property
    def headers(self) -> Headers: ...

    def aiter_text(self) -> Any: ...


class ChunkReader:
    """One streamed reply's body into its pieces (`pieces`) and `outcome`.

    `received` says whether anything (text or a tool call) has come yet, so that a failure
    is told as a reply cut off mid-stream rather than an endpoint that could not be reached.
    Chunks without a `finish_reason` leave it None: the caller decides that the reply was cut.
    An `error` event inside the stream raises ModelError with the endpoint's message."""

    __slots__ = ("_tags", "_thought", "outcome", "received", "where")

    def __init__(self, outcome: StreamOutcome, *, reasoning: bool, where: str) -> None:
        self.outcome = outcome
        self.where = where
        self.received = False
        self._tags = ThinkTags() if reasoning else None
        self._thought = False  # reasoning_content came: a `</think>` opening the content closes it

    async def pieces(self, response: StreamedBody) -> AsyncGenerator[str, None]:
        """The reply's text pieces, in order (Thinking ones when reasoning was asked for).

        After `[DONE]` the body is still read to its end, so the connection can be kept."""
        loads, outcome, tags, done = orjson.loads, self.outcome, self._tags, False
        try:
            async for event in EventSource(cast("httpx.Response", response)).aiter_sse():
                data = event.data
                if done or not data:
                    continue
                if data.startswith("[DONE]"):
                    done = True
                    continue
                chunk = loads(data)
                if isinstance(chunk, dict) and chunk.get("error"):  # as the SDK reads it, whatever the event's name
                    raise ModelError(f"{self.where} reported an error mid-stream: {error_detail(chunk)}")
                pieces, self._thought, got = take_chunk(chunk, outcome, tags, self._thought)
                if got:
                    self.received = True
                for piece in pieces:
                    yield piece
        except orjson.JSONDecodeError:
            raise ModelError(f"{self.where} sent a stream that could not be read (JSONDecodeError).") from None
        for piece in tags.flush() if tags else ():
            yield piece


def error_detail(body: dict[str, Any]) -> str:
    """The message in an error body (`{"error": {"message": ...}}`, `{"error": "..."}` or
    `{"message": ...}`), or "" if it has none."""
    error = body.get("error")
    message = (error.get("message") if isinstance(error, dict) else error) or body.get("message")
    return str(message) if message else ""
