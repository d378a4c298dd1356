"""The model client as it read a stream before model_chunks.py: the openai SDK's own decoding
of the body (its SSE decoder, its `AsyncStream`, each chunk left as parsed JSON), kept as the
reference the lean readers are compared with on the same loopback streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from codhechat.llm import ModelClient, _error_detail, _Request, _StreamOptionsRejected
from codhechat.stream_outcome import take_chunk
from codhechat.thinking import ThinkTags


class SdkDecodingClient(ModelClient):
    """A ModelClient whose stream is decoded by the SDK itself (codhechat.llm before it read the body)."""

    async def _stream(self, request: _Request) -> AsyncGenerator[str, None]:
        client = self._get_client()
        import openai

        model, outcome, usage = request.model, request.outcome, request.usage
        received = False
        extra: dict[str, Any] = dict(request.options)
        if usage:
            extra["stream_options"] = {"include_usage": True}
        if request.tools:
            extra["tools"] = request.tools
        tags = ThinkTags() if request.reasoning else None
        thought = False
        try:
            async with asyncio.timeout(self.timeout):
                raw = await client.chat.completions.with_raw_response.create(
                    model=model,
                    messages=list(request.messages),
                    stream=True,
                    **extra,  # type: ignore[arg-type]
                )
            async with raw.parse(to=openai.AsyncStream[object]) as stream:
                async for chunk in stream:
                    pieces, thought, got = take_chunk(chunk, outcome, tags, thought)
                    received = received or got
                    for piece in pieces:
                        yield piece
            for piece in tags.flush() if tags else ():
                yield piece
        except openai.BadRequestError as exc:
            if usage and not received and "stream_options" in _error_detail(exc):
                raise _StreamOptionsRejected from None
            raise self._translate(exc, model=model, mid_stream=received) from None
        except TimeoutError:
            raise self._timed_out() from None
        except openai.APIError as exc:
            raise self._translate(exc, model=model, mid_stream=received) from None
        except (OSError, ValueError, RuntimeError) as exc:
            raise self._broken(exc, mid_stream=received) from None
