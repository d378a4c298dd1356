"""The messages half of the local store: writing replies as they stream, editing,
paging and search. A mixin of Store (store/database.py), which owns the connection,
its lock and its write transactions; this module only runs the statements."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Callable

import sqlite_utils

from codhechat.errors import StorageError
from codhechat.models import AttachedFile, Message, MessageStatus, Role, SearchHit, ToolCall
from codhechat.store.blobs import attach, blob, detach, with_attachments
from codhechat.store.failures import _translated
from codhechat.store.rows import _message, _now
from codhechat.tools.calls import tool_calls_json
from codhechat.store.search import search


class MessageTable:
    """Store's message operations (see Store for the connection they run on)."""

    db: sqlite_utils.Database
    _lock: threading.RLock
    _write: Callable[[], AbstractContextManager[None]]

    # Messages

    @_translated
    def add_message(
        self,
        conversation_id: int,
        role: Role,
        content: str,
        *,
        status: MessageStatus = MessageStatus.COMPLETE,
        model: str | None = None,
        attachments: Sequence[AttachedFile] = (),
        tool_call_id: str | None = None,
        tool_name: str | None = None,
        error: str | None = None,
    ) -> Message:
        """Store a message (with the files attached to it, their bytes kept once); a `tool`
        message names the call it answers and the tool."""
        now = _now()
        with self._write():
            table = self.db["messages"].insert(
                {
                    "conversation_id": conversation_id,
                    "role": role,
                    "content": content,
                    "status": str(status),
                    "model": model,
                    "created_at": now,
                    "error": error,
                    **({"tool_call_id": tool_call_id, "tool_name": tool_name} if tool_call_id else {}),
                }
            )
            self.db["conversations"].update(conversation_id, {"updated_at": now})
            attach(self.db, table.last_pk, attachments)
            return with_attachments(self.db, [_message(table.get(table.last_pk))])[0]

    @_translated
    def attachment_data(self, sha256: str) -> bytes | None:
        """The bytes of an attached file, by its SHA-256."""
        with self._lock:
            return blob(self.db, sha256)

    @_translated
    def update_message(
        self,
        message_id: int,
        *,
        content: str,
        status: MessageStatus,
        error: str | None = None,
        usage: tuple[int, int] | None = None,
        finish_reason: str | None = None,
        model: str | None = None,
        reasoning: str | None = None,
        thinking_ms: int | None = None,
        elapsed_ms: int | None = None,
        tool_calls: tuple[ToolCall, ...] = (),
    ) -> Message:
        """`usage` is (prompt_tokens, completion_tokens), when the endpoint reported them;
        `model`, when given, is the model that answered (as the endpoint named it)."""
        values: dict[str, Any] = {"content": content, "status": str(status), "error": error,
                                  "finish_reason": finish_reason}  # fmt: skip
        if model:
            values["model"] = model
        values |= {"reasoning": reasoning or None, "thinking_ms": thinking_ms, "elapsed_ms": elapsed_ms,
                   "tool_calls": tool_calls_json(tool_calls)}  # fmt: skip
        if usage is not None:
            values["prompt_tokens"], values["completion_tokens"] = usage
        with self._write():
            table = self.db["messages"]
            try:
                row = table.get(message_id)
            except sqlite_utils.db.NotFoundError:
                raise StorageError("That message no longer exists.") from None
            table.update(message_id, values)
            row = {**row, **values}
            self.db["conversations"].update(row["conversation_id"], {"updated_at": _now()})
            return _message(row)

    @_translated
    def save_progress(self, message_id: int, content: str) -> None:
        """Store a streaming reply's text so far. Never shrinks it or touches a
        finished reply, so a save that lands late cannot undo a later one."""
        with self._write():
            self.db.execute(
                "update messages set content = ? where id = ? and status = ? "
                "and length(content) <= ?",
                [content, message_id, str(MessageStatus.PARTIAL), len(content)],
            )

    @_translated
    def delete_message(self, message_id: int) -> None:
        with self._write():
            detach(self.db, "id = ?", [message_id])
            self.db["messages"].delete_where("id = ?", [message_id])

    @_translated
    def edit_message(self, conversation_id: int, message_id: int, content: str) -> tuple[Message, int]:
        """Replace the text of one of the user's messages and delete every later message
        of its conversation, in one transaction; returns the edited message and how many
        were deleted."""
        with self._write():
            table = self.db["messages"]
            try:
                row = table.get(message_id)
            except sqlite_utils.db.NotFoundError:
                raise StorageError("That message no longer exists.") from None
            if row["conversation_id"] != conversation_id or row["role"] != "user":
                raise StorageError("Only your own messages in this conversation can be edited.")
            detach(self.db, "conversation_id = ? and id > ?", [row["conversation_id"], message_id])
            deleted = self.db.execute(
                "delete from messages where conversation_id = ? and id > ?",
                [row["conversation_id"], message_id],
            ).rowcount
            table.update(message_id, {"content": content, "status": str(MessageStatus.COMPLETE), "error": None})
            self.db["conversations"].update(row["conversation_id"], {"updated_at": _now()})
            return _message(table.get(message_id)), deleted

    @_translated
    def get_messages(
        self,
        conversation_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """A page of messages in id order: the newest, or those before/after an id."""
        if after is not None:
            sql = "select * from messages where conversation_id = ? and id > ? order by id limit ?"
            params: list[Any] = [conversation_id, after, limit]
        else:
            sql = "select * from messages where conversation_id = ? and id < ? order by id desc limit ?"
            params = [conversation_id, before if before is not None else 2**62, limit]
        with self._lock:
            rows = with_attachments(self.db, [_message(row) for row in self.db.query(sql, params)])
        return rows if after is not None else rows[::-1]

    @_translated
    def all_messages(self, conversation_id: int) -> list[Message]:
        """Every message of a conversation, oldest first (for show and export)."""
        with self._lock:
            rows = self.db.query(
                "select * from messages where conversation_id = ? order by id", [conversation_id]
            )
            return with_attachments(self.db, [_message(row) for row in rows])

    # Search

    @_translated
    def search(
        self, query: str, *, limit: int = 20, newest_first: bool = False, syntax: bool = False
    ) -> list[SearchHit]:
        """Messages matching `query` (see store.search.search)."""
        with self._lock:
            return search(self.db, query, limit=limit, newest_first=newest_first, syntax=syntax)

    def history(self, conversation_id: int, window: int) -> list[Message]:
        """What the model sees: the last `window` messages that have text (or tool calls;
        tool results are sent whatever they say)."""
        messages = self.get_messages(conversation_id, limit=window * 2)
        return [m for m in messages if m.content or m.tool_calls or m.role == "tool"][-window:]
