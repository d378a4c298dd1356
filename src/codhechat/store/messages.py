"""The messages half of the local store: writing replies as they stream, editing,
paging and search. A mixin of Store (store/database.py), which owns the connection,
its lock and its write transactions; this module only runs the statements."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from codhechat.errors import StorageError
from codhechat.models import AttachedFile, Message, MessageStatus, Role, SearchHit, ToolCall
from codhechat.store.blobs import attach, blob, detach, with_attachments
from codhechat.store.failures import _translated
from codhechat.store.rows import PlainReads, _inserted_id, _message, _now
from codhechat.store.search import search
from codhechat.store.tree import (
    continuation,
    leaf_of,
    on_path,
    path_page,
    reset_leaf,
    set_leaf,
    subtree_ids,
    with_siblings,
)
from codhechat.tools.calls import tool_calls_json

if TYPE_CHECKING:
    import sqlite_utils  # imported by Store when it first needs it (not before the first frame)

LEAF = -1  # add_message's parent: the conversation's current leaf


class MessageTable:
    """Store's message operations (see Store for the connection they run on)."""

    db: sqlite_utils.Database
    reads: PlainReads
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
        parent: int | None = LEAF,
    ) -> Message:
        """Store a message (with the files attached to it, their bytes kept once) after
        `parent` (by default the end of the current path); it becomes the current leaf.
        A `tool` message names the call it answers and the tool."""
        now = _now()
        with self._write():
            if parent == LEAF:
                parent = leaf_of(self.db, conversation_id)
            table = self.db.table("messages").insert(
                {
                    "conversation_id": conversation_id,
                    "role": role,
                    "content": content,
                    "status": str(status),
                    "model": model,
                    "created_at": now,
                    "error": error,
                    "parent_id": parent,
                    **({"tool_call_id": tool_call_id, "tool_name": tool_name} if tool_call_id else {}),
                }
            )
            new = _inserted_id(table)
            self.db.table("conversations").update(conversation_id, {"updated_at": now, "current_leaf": new})
            if parent is not None:
                self.db.execute("update messages set current_child = ? where id = ?", [new, parent])
            attach(self.db, new, attachments)
            return with_siblings(self.db, with_attachments(self.db, [_message(table.get(new))]))[0]

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
            table = self.db.table("messages")
            row = _existing(table, message_id)
            table.update(message_id, values)
            row = {**row, **values}
            self.db.table("conversations").update(row["conversation_id"], {"updated_at": _now()})
            return with_siblings(self.db, [_message(row)])[0]

    @_translated
    def save_progress(self, message_id: int, content: str) -> None:
        """Store a streaming reply's text so far. Never shrinks it or touches a
        finished reply, so a save that lands late cannot undo a later one."""
        with self._write():
            self.db.execute(
                "update messages set content = ? where id = ? and status = ? and length(content) <= ?",
                [content, message_id, str(MessageStatus.PARTIAL), len(content)],
            )

    @_translated
    def delete_message(self, message_id: int) -> None:
        """Delete one message (a reply a retry replaced); what followed it follows its parent."""
        with self._write():
            row = self.db.execute(
                "select conversation_id, parent_id from messages where id = ?", [message_id]
            ).fetchone()
            if row is None:
                return
            conversation_id, parent_id = row
            detach(self.db, "id = ?", [message_id])
            self.db.execute("update messages set parent_id = ? where parent_id = ?", [parent_id, message_id])
            self.db.table("messages").delete_where("id = ?", [message_id])
            reset_leaf(self.db, conversation_id, parent_id)

    @_translated
    def edit_message(self, conversation_id: int, message_id: int, content: str) -> Message:
        """A new version of one of the user's messages, beside it (the same parent, the same
        files), which becomes the current leaf: the old version and what followed it stay,
        one branch away."""
        with self._write():
            table = self.db.table("messages")
            row = _existing(table, message_id)
            if row["conversation_id"] != conversation_id or row["role"] != "user":
                raise StorageError("Only your own messages in this conversation can be edited.")
            now = _now()
            new = _inserted_id(table.insert({"conversation_id": conversation_id, "role": "user", "content": content,
                                "status": str(MessageStatus.COMPLETE), "created_at": now, "error": None,
                                "parent_id": row["parent_id"]}))  # fmt: skip
            self.db.execute(
                "insert into attachments (message_id, position, name, mime, kind, size, sha256) "
                "select ?, position, name, mime, kind, size, sha256 from attachments where message_id = ?",
                [new, message_id],
            )
            self.db.table("conversations").update(conversation_id, {"updated_at": now})
            set_leaf(self.db, conversation_id, new)
            return with_siblings(self.db, with_attachments(self.db, [_message(table.get(new))]))[0]

    # Branches

    @_translated
    def switch_branch(self, conversation_id: int, message_id: int) -> int:
        """Make the path through `message_id` current, continued as it was when last shown
        (else to its newest message); returns its leaf. (A message already on the current
        path changes nothing.)"""
        with self._write():
            found = self.db.execute("select conversation_id from messages where id = ?", [message_id]).fetchone()
            if found is None or found[0] != conversation_id:
                raise StorageError("That message no longer exists.")
            if on_path(self.db, conversation_id, message_id):
                return leaf_of(self.db, conversation_id) or message_id
            leaf = continuation(self.db, message_id)
            set_leaf(self.db, conversation_id, leaf)
            return leaf

    @_translated
    def branch_before(self, conversation_id: int, message_id: int) -> None:
        """Make the message before `message_id` the current leaf, so that the next message
        stored (a new reply) is its sibling, not its follower."""
        with self._write():
            row = self.db.execute(
                "select conversation_id, parent_id from messages where id = ?", [message_id]
            ).fetchone()
            if row is None or row[0] != conversation_id:
                raise StorageError("That message no longer exists.")
            set_leaf(self.db, conversation_id, row[1])

    @_translated
    def delete_branch(self, conversation_id: int, message_id: int) -> int:
        """Delete a message and everything that follows it; returns how many messages went.
        If the current path went through it, the newest remaining alternative is current."""
        with self._write():
            row = self.db.execute(
                "select conversation_id, parent_id from messages where id = ?", [message_id]
            ).fetchone()
            if row is None or row[0] != conversation_id:
                raise StorageError("That message no longer exists.")
            ids = subtree_ids(self.db, message_id)
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                detach(self.db, f"id in ({marks})", part)
                self.db.execute(f"delete from messages where id in ({marks})", part)
            reset_leaf(self.db, conversation_id, row[1])
            return len(ids)

    @_translated
    def get_messages(
        self,
        conversation_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """A page of the current path, in order: the newest messages, or those before/after
        an id; each with its alternatives' ids (Message.siblings) when it has any."""
        with self._lock:
            reads = self.reads  # the plain connection: opening a conversation never waits for sqlite-utils
            rows = path_page(reads, conversation_id, before=before, after=after, limit=limit)
            return with_siblings(reads, with_attachments(reads, [_message(row) for row in rows]))

    @_translated
    def all_messages(self, conversation_id: int) -> list[Message]:
        """Every message of a conversation, every branch, oldest first (for the JSON export)."""
        with self._lock:
            rows = self.db.query("select * from messages where conversation_id = ? order by id", [conversation_id])
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


def _existing(table: sqlite_utils.db.Table, message_id: int) -> dict[str, Any]:
    """A message's row, or the StorageError that says it is gone (deleted meanwhile)."""
    from sqlite_utils.db import NotFoundError

    try:
        return dict(table.get(message_id))
    except NotFoundError:
        raise StorageError("That message no longer exists.") from None
