"""codhechat.protocol.frames: every frame of the protocol parses to its model, everything
else is a FrameError (never another exception), and encoding keeps the legacy keys."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codhechat.protocol import (
    CancelFrame,
    CancelledFrame,
    ChatFrame,
    CompleteFrame,
    ContentChunk,
    DeltaChunk,
    ErrorFrame,
    FrameError,
    StartedFrame,
    parse_frame,
)
from codhechat.protocol.frames import FRAME_TYPES


def frame(**fields: Any) -> str:
    return json.dumps(fields)


# -- the frames of the protocol --------------------------------------------------------


def test_classic_frames_parse_to_their_models() -> None:
    chunk = parse_frame(frame(type="chunk", requestId="r1", conversationId=7, content="Hello the"))
    assert chunk == ContentChunk(request_id="r1", conversation_id=7, content="Hello the")
    complete = parse_frame(frame(type="complete", requestId="r1", conversationId=7))
    assert complete == CompleteFrame(request_id="r1", conversation_id=7)
    assert complete.message_id is None and complete.status is None  # type: ignore[union-attr]
    failed = parse_frame(frame(type="error", requestId="r1", detail="Rate limited"))
    assert failed == ErrorFrame(request_id="r1", detail="Rate limited")
    assert failed.conversation_id is None  # a classic error frame names no conversation
    invalid = parse_frame(frame(type="error", detail="Invalid payload format"))
    assert isinstance(invalid, ErrorFrame) and invalid.request_id is None


def test_extension_frames_parse_to_their_models() -> None:
    started = parse_frame(frame(type="started", requestId="r1", conversationId=7, userMessageId=41))
    assert started == StartedFrame(request_id="r1", conversation_id=7, user_message_id=41)
    delta = parse_frame(frame(type="chunk", requestId="r1", conversationId=7, delta="lo the"))
    assert delta == DeltaChunk(request_id="r1", conversation_id=7, delta="lo the")
    done = parse_frame(frame(type="complete", requestId="r1", conversationId=7, messageId=42, status="complete"))
    assert isinstance(done, CompleteFrame) and done.message_id == 42 and done.status == "complete"
    cancelled = parse_frame(frame(type="cancelled", requestId="r1", conversationId=7, messageId=None))
    assert cancelled == CancelledFrame(request_id="r1", conversation_id=7, message_id=None)
    failed = parse_frame(frame(type="error", requestId="r1", detail="x", conversationId=7, messageId=42))
    assert isinstance(failed, ErrorFrame) and (failed.conversation_id, failed.message_id) == (7, 42)


def test_a_chunk_with_a_delta_key_is_a_delta_whatever_else_it_has() -> None:
    both = parse_frame(frame(type="chunk", requestId="r", conversationId=1, content="whole", delta="new"))
    assert isinstance(both, DeltaChunk) and both.delta == "new"


def test_extra_keys_are_ignored_and_bytes_are_read_too() -> None:
    parsed = parse_frame(frame(type="chunk", requestId="r", conversationId=1, delta="x", futureField=[1]).encode())
    assert parsed == DeltaChunk(request_id="r", conversation_id=1, delta="x")


def test_legacy_frames_are_encoded_with_exactly_their_legacy_keys() -> None:
    assert json.loads(ContentChunk(request_id="r", conversation_id=7, content="Hi").encode()) == {
        "type": "chunk", "requestId": "r", "conversationId": 7, "content": "Hi"
    }  # fmt: skip
    assert json.loads(CompleteFrame(request_id="r", conversation_id=7).encode()) == {
        "type": "complete", "requestId": "r", "conversationId": 7
    }  # fmt: skip
    assert json.loads(ErrorFrame(detail="Invalid payload format").encode()) == {
        "type": "error", "detail": "Invalid payload format"
    }  # fmt: skip
    # A given null is sent: `cancelled` says "nothing was stored" with messageId null.
    assert json.loads(CancelledFrame(request_id="r", conversation_id=None, message_id=None).encode()) == {
        "type": "cancelled", "requestId": "r", "conversationId": None, "messageId": None
    }  # fmt: skip


def test_client_frames_are_encoded_as_the_protocol_spells_them() -> None:
    assert json.loads(ChatFrame(request_id="r1", message="Hello").encode()) == {
        "request_id": "r1", "message": "Hello", "conversation_id": None
    }  # fmt: skip
    assert json.loads(CancelFrame(request_id="r1").encode()) == {"type": "cancel", "request_id": "r1"}


# -- what is not of the protocol -------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason", "request_id"),
    [
        ("not json", "not JSON", None),
        ("[1, 2]", "not a JSON object", None),
        ('"chunk"', "not a JSON object", None),
        (frame(requestId="r"), "a frame without a string `type`", None),
        (frame(type=5, requestId="r"), "a frame without a string `type`", None),
        (frame(type="surprise", requestId="r"), "a frame of unknown type 'surprise'", "r"),
        (frame(type="chunk", requestId="r", conversationId=1), "a chunk without text", "r"),
        (frame(type="chunk", requestId="r", conversationId=1, content=5), "a chunk whose text is not a string", "r"),
        (frame(type="complete", requestId="r"), "a frame of type 'complete' (conversationId: field required)", "r"),
        (frame(type="chunk", requestId=5, conversationId=1, delta="x"), "a frame of type 'chunk' (requestId:", None),
    ],
)
def test_what_is_not_a_frame_is_a_frame_error_that_says_why(raw: str, reason: str, request_id: str | None) -> None:
    with pytest.raises(FrameError) as bad:
        parse_frame(raw)
    assert bad.value.reason.startswith(reason)
    assert bad.value.request_id == request_id
    assert bad.value.not_json == (reason == "not JSON")


@pytest.mark.parametrize("value", ["7", 7.0, True, None, [7]])
def test_ids_are_json_integers_not_lookalikes(value: Any) -> None:
    with pytest.raises(FrameError, match="conversationId"):
        parse_frame(frame(type="chunk", requestId="r", conversationId=value, delta="x"))


def test_deep_nesting_broken_json_and_broken_unicode_are_frame_errors() -> None:
    # json.loads reads this one (a lone surrogate, which cannot be written to a terminal)
    lone_surrogate = '{"type": "chunk", "requestId": "r", "conversationId": 1, "delta": "\\ud800"}'
    for raw in ["[" * 100_000, "{" * 100_000, lone_surrogate, '{"type": "chunk"', b"\xff\xfe{}", "\ud800", ""]:
        with pytest.raises(FrameError):
            parse_frame(raw)


def test_a_number_too_long_to_read_is_a_frame_error_or_an_id() -> None:
    for digits in (400, 5_000, 100_000):
        parse_or_frame_error(f'{{"type": "chunk", "requestId": "r", "conversationId": {"9" * digits}, "delta": "x"}}')


def test_the_reason_shows_a_hostile_type_only_short_and_escaped() -> None:
    with pytest.raises(FrameError) as bad:
        parse_frame(frame(type="\x1b[31m" + "x" * 500, requestId="r"))
    assert "\x1b" not in bad.value.reason and len(bad.value.reason) < 80


# -- properties: nothing a server sends makes parse_frame raise anything else ----------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
FIELDS = ["type", "requestId", "conversationId", "content", "delta", "detail", "messageId", "userMessageId", "status"]
frame_like = st.dictionaries(
    st.sampled_from(FIELDS), json_values | st.sampled_from(FRAME_TYPES) | st.just("r1"), max_size=len(FIELDS)
)


def parse_or_frame_error(raw: str | bytes) -> None:
    try:
        parsed = parse_frame(raw)
    except FrameError as bad:
        assert bad.reason and (bad.request_id is None or isinstance(bad.request_id, str))
        return
    assert parsed.type in FRAME_TYPES  # and it re-encodes to the same frame
    assert parse_frame(parsed.encode()) == parsed


@given(st.text())
def test_any_text_is_a_frame_or_a_frame_error(raw: str) -> None:
    parse_or_frame_error(raw)


@given(st.binary())
def test_any_bytes_are_a_frame_or_a_frame_error(raw: bytes) -> None:
    parse_or_frame_error(raw)


@given(json_values)
def test_any_json_value_is_a_frame_or_a_frame_error(value: Any) -> None:
    parse_or_frame_error(json.dumps(value))


@given(frame_like)
def test_any_object_with_the_protocol_keys_is_a_frame_or_a_frame_error(value: dict[str, Any]) -> None:
    parse_or_frame_error(json.dumps(value))


@given(st.text(), st.integers(), st.text())
def test_a_chunk_keeps_any_text_exactly(request_id: str, conversation_id: int, text: str) -> None:
    for sent in (ContentChunk(request_id=request_id, conversation_id=conversation_id, content=text),
                 DeltaChunk(request_id=request_id, conversation_id=conversation_id, delta=text)):  # fmt: skip
        assert parse_frame(sent.encode()) == sent


def test_the_protocol_package_imports_no_io_library() -> None:
    code = (
        "import sys, codhechat.protocol, codhechat.protocol.rest\n"
        "banned = ('httpx', 'websockets', 'fastapi', 'starlette', 'sqlalchemy', 'textual', 'uvicorn')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(banned)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_server_declares_its_routes_with_the_protocol_models() -> None:
    from codhechat.protocol import rest
    from codhechat.server import schemas

    for name in schemas.__all__:
        assert getattr(schemas, name) is getattr(rest, name), name
