"""codhechat's own export format (`codhechat export --format json`, and a server's
`GET /export` / `POST /import`: one definition for both): versioned JSON holding everything the store keeps
about a conversation except database ids (which belong to one database), so export ->
import -> export gives the same bytes and an import cannot clash with what is there.

    {"format": "codhechat", "version": 2, "conversations": [
      {"title", "created_at", "updated_at", "model", "pinned_at", "system_prompt",
       "generation", "current", "messages": [{"role", "content", "created_at", "status",
       "model", "error", "prompt_tokens", "completion_tokens", "finish_reason", "reasoning",
       "thinking_ms", "elapsed_ms", "parent", "next", "attachments": [{"name", "mime",
       "size", "sha256", "data": base64}], "tool_calls": [{"id", "name", "arguments"}],
       "tool_call_id", "tool_name"}]}]}

Version 2 carries the whole tree of each conversation: every branch's messages, oldest
first, each with the index (in that list) of its `parent` (null: a first message) and of
the version after it that the path last took (`next`, null: the newest), and the index of
the `current` message, the end of the path shown. A version 1 file (one path:
each message follows the one before) still imports. The tool fields are written only
when set.

Every key is one field of `ConversationRecord` / `MessageRecord`, checked by the table
below; the ones added after the first release may be missing (read as null), so older
files still import. The whole file is checked before anything is written.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codhechat.attachments import prepare
from codhechat.errors import MalformedFile, UsageError
from codhechat.import_limits import IMPORT_MAX_MB
from codhechat.models import (
    PREVIOUS,
    AttachedFile,
    Conversation,
    ConversationRecord,
    Generation,
    Message,
    MessageRecord,
    MessageStatus,
    ToolCall,
)
from codhechat.tools.calls import tool_calls_from

FORMAT_NAME = "codhechat"
FORMAT_VERSION = 2
READS = (1, 2)  # the versions this codhechat imports
ROLES = ("user", "assistant", "system", "tool")

Check = Callable[[Any], Any]  # raises ValueError with what is wrong


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
        raise ValueError("must be a whole number")
    return value


def _time(value: Any) -> str:
    try:
        return normalise_time(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: year 1 in a zone east of UTC
        raise ValueError(f"must be an ISO 8601 time, not {value!r}") from None


def _role(value: Any) -> str:
    if value not in ROLES:
        raise ValueError(f"must be one of {', '.join(ROLES)}, not {value!r}")
    return str(value)


def _status(value: Any) -> MessageStatus:
    if value not in {s.value for s in MessageStatus}:
        raise ValueError(f"{value!r} is not complete, partial or error")
    return MessageStatus(value)


def _attachments(value: Any) -> tuple[AttachedFile, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError("must be a list")
    files = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("data"), str):
            raise ValueError("must hold objects with a `name` and base64 `data`")
        try:
            data = base64.b64decode(item["data"], validate=True)
        except binascii.Error:
            raise ValueError(f"has {item['name']!r} whose `data` is not base64") from None
        try:
            file = prepare(item["name"], data, max_mb=IMPORT_MAX_MB)
        except UsageError as exc:
            raise ValueError(f"has a file that cannot be kept: {exc.message}") from None
        if item.get("sha256") not in (None, file.attachment.sha256):
            raise ValueError(f"has {item['name']!r} whose bytes do not match its sha256")
        files.append(file)
    return tuple(files)


def _dump_attachments(files: tuple[AttachedFile, ...]) -> list[dict[str, Any]]:
    return [
        {"name": f.attachment.name, "mime": f.attachment.mime, "size": f.attachment.size,
         "sha256": f.attachment.sha256, "data": base64.b64encode(f.data).decode("ascii")}
        for f in files
    ]  # fmt: skip


def _tool_calls(value: Any) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    calls = tool_calls_from(value)
    if not isinstance(value, list) or len(calls) != len(value):
        raise ValueError("must be a list of objects with a string `id`, `name` and `arguments`")
    return calls


def _generation(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("must be an object")
    return Generation.parse(value).options() or None


def _parent(value: Any) -> int | None:
    """An index, checked against the message's own place once it is known (parse_native)."""
    return value if value == PREVIOUS else _optional(_count)(value)


MESSAGE_FIELDS: dict[str, Check] = {
    "role": _role, "content": _text, "created_at": _time, "status": _status,
    "model": _optional(_text), "error": _optional(_text), "prompt_tokens": _optional(_count),
    "completion_tokens": _optional(_count), "finish_reason": _optional(_text),
    "reasoning": _optional(_text), "thinking_ms": _optional(_count), "elapsed_ms": _optional(_count),
    "parent": _parent, "next": _optional(_count), "attachments": _attachments, "tool_calls": _tool_calls,
    "tool_call_id": _optional(_text), "tool_name": _optional(_text),
}  # fmt: skip
CONVERSATION_FIELDS: dict[str, Check] = {
    "title": _text, "created_at": _time, "updated_at": _time, "model": _optional(_text),
    "pinned_at": _optional(_time), "system_prompt": _optional(_text), "generation": _generation,
    "current": _optional(_count),
}  # fmt: skip
TOOL_FIELDS = frozenset({"tool_calls", "tool_call_id", "tool_name"})  # written only when set
# A missing status: the first release wrote complete ones only; a missing parent: version 1, one path.
DEFAULTS: dict[str, Any] = {"status": "complete", "parent": PREVIOUS}
assert set(MESSAGE_FIELDS) == {f.name for f in fields(MessageRecord)}
assert set(CONVERSATION_FIELDS) | {"messages"} == {f.name for f in fields(ConversationRecord)}


def normalise_time(value: Any) -> str:
    """ISO 8601 text in UTC, as the store writes it (so it sorts as text)."""
    if not isinstance(value, str):
        raise TypeError(value)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def record_of(
    conversation: Conversation,
    messages: Sequence[Message],
    blobs: Mapping[str, bytes] | None = None,
    *,
    tree: bool = False,
) -> ConversationRecord:
    """The record of a conversation; `blobs` holds its attachments' bytes, by SHA-256.
    `tree`: `messages` are all of its branches (each with its parent_id), not one path."""

    def text(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    index = {m.id: i for i, m in enumerate(messages)}

    def record(m: Message) -> MessageRecord:
        files = tuple(AttachedFile(a, blobs[a.sha256]) for a in m.attachments if blobs and a.sha256 in blobs)
        parent = index.get(m.parent_id) if tree and m.parent_id is not None else None if tree else PREVIOUS
        chosen = index.get(m.current_child) if tree and m.current_child is not None else None
        return MessageRecord(**{name: text(getattr(m, name)) for name in MESSAGE_FIELDS
                                if name not in ("attachments", "parent", "next")},
                             attachments=files, parent=parent, next=chosen)  # fmt: skip

    return ConversationRecord(
        **{
            name: text(getattr(conversation, name))
            for name in CONVERSATION_FIELDS
            if name not in ("generation", "current")
        },
        generation=conversation.generation.options() or None,
        messages=[record(m) for m in messages],
        current=index.get(conversation.current_leaf) if tree and conversation.current_leaf is not None else None,
    )


def resolved(record: ConversationRecord) -> tuple[list[int | None], int | None]:
    """Each message's parent index (PREVIOUS spelt out), and the current message's index."""
    parents = [(i - 1 if i else None) if m.parent == PREVIOUS else m.parent for i, m in enumerate(record.messages)]
    current = record.current if record.current is not None else (len(record.messages) - 1 if record.messages else None)
    return parents, current


def dump_json(records: Sequence[ConversationRecord]) -> str:
    conversations = []
    for r in records:
        parents, current = resolved(r)
        conversations.append(
            {
                **{name: getattr(r, name) for name in CONVERSATION_FIELDS if name != "current"},
                "current": current,
                "messages": [
                    {
                        name: parent if name == "parent" else _dumped(getattr(m, name))
                        for name in MESSAGE_FIELDS
                        if name not in TOOL_FIELDS or getattr(m, name)
                    }
                    for m, parent in zip(r.messages, parents, strict=True)
                ],
            }
        )
    document = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "conversations": conversations}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _dumped(value: Any) -> Any:
    if isinstance(value, MessageStatus):
        return str(value)
    if isinstance(value, tuple) and value and isinstance(value[0], ToolCall):
        return [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in value]
    if isinstance(value, tuple):
        return _dump_attachments(value)
    return value


def parse_native(data: dict[str, Any], path: Path) -> list[ConversationRecord]:
    """Check a codhechat export completely, so that a bad file imports nothing."""
    version = data.get("version")
    if version not in READS:
        raise MalformedFile(
            f"{path} is a codhechat export of format version {version!r}; this codhechat "
            f"reads versions {READS[0]} to {READS[-1]}. Nothing was imported.",
            "Export it again with this version of codhechat, or upgrade codhechat.",
        )
    conversations = data.get("conversations")
    if not isinstance(conversations, list):
        raise _bad(path, "the file", "`conversations` must be a list")
    records = []
    for i, item in enumerate(conversations, 1):
        where = f"conversation {i}"
        messages = item.get("messages") if isinstance(item, dict) else None
        if not isinstance(messages, list):
            raise _bad(path, where, "must be an object with a `messages` list")
        parsed = []
        for j, message in enumerate(messages, 1):
            values = _checked(message, MESSAGE_FIELDS, path, f"{where}, message {j}")
            if version == 1:
                values["parent"], values["next"] = PREVIOUS, None  # one path; those keys are not ours
            elif values["parent"] not in (None, PREVIOUS) and values["parent"] >= j - 1:
                raise _bad(path, f"{where}, message {j}", "`parent` must be the index of an earlier message")
            parsed.append(MessageRecord(**values))
        parents, _ = resolved(ConversationRecord("", "", "", messages=parsed))
        for j, record in enumerate(parsed, 1):
            if record.next is not None and not (record.next < len(parsed) and parents[record.next] == j - 1):
                raise _bad(path, f"{where}, message {j}", "`next` must be the index of a message that follows it")
        conversation = _checked(item, CONVERSATION_FIELDS, path, where)
        if version == 1:
            conversation["current"] = None
        elif conversation["current"] is not None and conversation["current"] >= len(parsed):
            raise _bad(path, where, "`current` must be the index of one of its messages")
        records.append(ConversationRecord(**conversation, messages=parsed))
    return records


def _checked(item: Any, table: dict[str, Check], path: Path, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _bad(path, where, "must be an object")
    values = {}
    for name, check in table.items():
        try:
            values[name] = check(item.get(name, DEFAULTS.get(name)))
        except ValueError as exc:
            raise _bad(path, where, f"`{name}` {exc}") from None
    return values


def _bad(path: Path, where: str, problem: str) -> MalformedFile:
    return MalformedFile(
        f"{path} is malformed: {where}: {problem}. Nothing was imported.",
        "Fix that part of the file, or export it again.",
    )
