"""Rows of the local database as the plain data the rest of the app uses."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from codhechat.models import Conversation, Generation, Message, MessageStatus
from codhechat.tools.calls import tool_calls_from

if TYPE_CHECKING:
    from sqlite_utils.db import Table


class Reads(Protocol):
    """What reading needs of a database: sqlite-utils' Database has it, and so has PlainReads."""

    def execute(self, sql: str, parameters: Any = None, /) -> sqlite3.Cursor: ...

    def query(self, sql: str, params: Any = None, /) -> Iterable[dict[str, Any]]: ...


class PlainReads:
    """Reads on the plain sqlite3 connection, rows as dicts as sqlite-utils gives them:
    opening the app and a conversation never wait for sqlite-utils to be imported."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Any = None, /) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters if parameters is not None else ())

    def query(self, sql: str, params: Any = None, /) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, params)
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _inserted_id(table: Table) -> int:
    """The id of the row `table` was just given: sqlite-utils types `last_pk` as optional
    because a table that has had no insert has none."""
    pk = table.last_pk
    assert pk is not None, "read after an insert"
    return int(pk)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _conversation(row: dict[str, Any]) -> Conversation:
    return Conversation(
        id=row["id"],
        title=row["title"],
        created_at=_parse_time(row["created_at"]),
        updated_at=_parse_time(row["updated_at"]),
        model=row.get("model"),
        pinned_at=_parse_time(row["pinned_at"]) if row.get("pinned_at") else None,
        system_prompt=row.get("system_prompt"),
        generation=Generation.parse(json.loads(row["generation"])) if row.get("generation") else Generation(),
        tools_off=_names(row.get("tools_off")),
        current_leaf=row.get("current_leaf"),
    )


def _names(text: object) -> frozenset[str]:
    try:
        value = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str)) if isinstance(value, list) else frozenset()


def _message(row: dict[str, Any]) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=row["role"],
        content=row["content"],
        created_at=_parse_time(row["created_at"]),
        status=MessageStatus(row["status"]),
        model=row.get("model"),
        error=row.get("error"),
        prompt_tokens=row.get("prompt_tokens"),
        completion_tokens=row.get("completion_tokens"),
        finish_reason=row.get("finish_reason"),
        reasoning=row.get("reasoning"),
        thinking_ms=row.get("thinking_ms"),
        elapsed_ms=row.get("elapsed_ms"),
        tool_calls=tool_calls_from(row.get("tool_calls")),
        tool_call_id=row.get("tool_call_id"),
        tool_name=row.get("tool_name"),
        parent_id=row.get("parent_id"),
        current_child=row.get("current_child"),
    )
