"""What a /ws client sends: its token, and its frames checked (chat or cancel).

Checked by hand rather than with protocol.ChatFrame: the server answers each problem
with its own reason, echoes a request id only when it is a readable string, and takes
`requestId` for `request_id` as classic servers do.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import WebSocket

from codhechat.protocol import MAX_REQUEST_ID_CHARS
from codhechat.protocol.attachments import MAX_ATTACHMENTS_PER_MESSAGE
from codhechat.server.schemas import MAX_DB_INT
from codhechat.server.service import InvalidMessage, validate_message
from codhechat.server.settings import ServerSettings


class BadFrame(ValueError):
    def __init__(self, reason: str, request_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


def bearer(websocket: WebSocket) -> str | None:
    token = websocket.query_params.get("token")
    if token:
        return token
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def parse(raw: str, settings: ServerSettings) -> tuple[str, dict[str, Any]]:
    """("cancel", {request_id}) or (kind, {request_id, message, conversation_id, message_id, kind,
    attachments}) for a chat, regenerate or edit frame; else BadFrame."""
    if len(raw.encode(errors="replace")) > settings.max_frame_bytes:
        raise BadFrame(f"frame larger than {settings.max_frame_bytes} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadFrame("not JSON") from None
    if not isinstance(data, dict):
        raise BadFrame("not a JSON object")
    request_id = data.get("request_id", data.get("requestId"))
    if not isinstance(request_id, str) or not request_id or len(request_id) > MAX_REQUEST_ID_CHARS:
        raise BadFrame(f"request_id must be a non-empty string of at most {MAX_REQUEST_ID_CHARS} characters")
    request_id = request_id.encode("utf-8", "replace").decode()  # never echo a lone surrogate
    kind = data.get("type", "chat")
    if kind == "cancel":
        return "cancel", {"request_id": request_id}
    if kind not in ("chat", "regenerate", "edit"):  # the last two: protocol/branches.py
        raise BadFrame(f"unknown frame type {str(kind)[:40].encode('utf-8', 'replace').decode()!r}", request_id)
    text = ""
    if kind != "regenerate":
        try:
            text = validate_message(data.get("message"), limit=settings.max_message_chars)
        except InvalidMessage as exc:
            raise BadFrame(str(exc), request_id) from None
    conversation_id = _id(data, "conversation_id", request_id, required=kind != "chat")
    message_id = _id(data, "message_id", request_id, required=kind == "edit")
    files = data.get("attachments", []) if kind == "chat" else []  # extension `attachments`: ids from POST /attachments
    if (
        not isinstance(files, list)
        or len(files) > MAX_ATTACHMENTS_PER_MESSAGE
        or not all(isinstance(f, int) and not isinstance(f, bool) and 1 <= f <= MAX_DB_INT for f in files)
    ):
        raise BadFrame(
            f"attachments must be a list of at most {MAX_ATTACHMENTS_PER_MESSAGE} attachment ids", request_id
        )
    return kind, {"request_id": request_id, "message": text, "conversation_id": conversation_id,
                  "message_id": message_id, "kind": kind, "attachments": tuple(files)}  # fmt: skip


def _id(data: dict[str, Any], name: str, request_id: str, *, required: bool) -> int | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadFrame(f"{name} must be an integer" + ("" if required else " or null"), request_id)
    if not 1 <= value <= MAX_DB_INT:
        raise BadFrame(f"{name} must be between 1 and {MAX_DB_INT}", request_id)
    return value
