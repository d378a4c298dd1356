"""Local conversations in SQLite, through sqlite-utils.

The only module that runs SQL in local mode. It is synchronous and
thread-safe (one connection behind a lock): the backend calls it from worker
threads so the UI never waits on the disk. Two app instances may share a file:
WAL lets readers run beside a writer, a busy timeout lets writers queue, and
every write transaction takes the write lock up front (BEGIN IMMEDIATE), so a
read-then-write transaction can never deadlock into "database is locked".
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlite_utils

from codhechat import __version__
from codhechat.errors import StorageError, UsageError
from codhechat.models import (
    SNIPPET_END,
    SNIPPET_START,
    Conversation,
    ConversationRecord,
    Generation,
    MessageRecord,
    Message,
    MessageStatus,
    Role,
    SearchHit,
)

BUSY_TIMEOUT_S = 10.0

P = ParamSpec("P")
T = TypeVar("T")


def _migrate_1(db: sqlite_utils.Database) -> None:
    """The first release's schema."""
    db["conversations"].create(
        {"id": int, "title": str, "created_at": str, "updated_at": str}, pk="id"
    )
    db["messages"].create(
        {
            "id": int,
            "conversation_id": int,
            "role": str,
            "content": str,
            "status": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id")],
    )


def _migrate_2(db: sqlite_utils.Database) -> None:
    """Record the model per conversation and message, a failed reply's error,
    and index what the sidebar and the message pane sort by."""
    db["conversations"].add_column("model", str)
    db["messages"].add_column("model", str)
    db["messages"].add_column("error", str)
    db["conversations"].create_index(["updated_at"], index_name="idx_conversations_updated")
    db["messages"].create_index(["conversation_id", "id"], index_name="idx_messages_conv_id")


def _migrate_3(db: sqlite_utils.Database) -> None:
    """Full-text search over every message: an FTS5 index on `messages.content`
    kept current by triggers. Laid out as sqlite-utils' `enable_fts` would
    (`messages_fts`, external content, `messages_ai/_ad/_au`) so its tools work
    on the file, but written statement by statement: `enable_fts` runs
    `executescript`, which would commit this migration's transaction half-way."""
    db.execute(
        "CREATE VIRTUAL TABLE messages_fts USING FTS5 "
        f"([content], tokenize='{FTS_TOKENIZER}', prefix='2 3', content=[messages])"
    )
    db.execute("INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages")
    db.execute(
        "CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN "
        "INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END"
    )
    db.execute(
        "CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, content) "
        "VALUES ('delete', old.id, old.content); END"
    )
    db.execute(
        "CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, content) "
        "VALUES ('delete', old.id, old.content); "
        "INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END"
    )


def _migrate_4(db: sqlite_utils.Database) -> None:
    """Pinned conversations (the app lists them first), and the token counts an
    endpoint reports for a reply."""
    db["conversations"].add_column("pinned_at", str)
    db["messages"].add_column("prompt_tokens", int)
    db["messages"].add_column("completion_tokens", int)


def _migrate_5(db: sqlite_utils.Database) -> None:
    """A system prompt per conversation (NULL: the configured one)."""
    db["conversations"].add_column("system_prompt", str)


def _migrate_6(db: sqlite_utils.Database) -> None:
    """Facts about the file itself: `written_by` is the codhechat that last migrated it,
    so that an older codhechat can name the release a database needs."""
    db["meta"].create({"key": str, "value": str}, pk="key")


def _migrate_7(db: sqlite_utils.Database) -> None:
    """Why each reply ended: the endpoint's finish_reason (stop, length, content_filter,
    tool_calls), or ours: `cut` (the stream ended without one), `stopped` (by the user)."""
    db["messages"].add_column("finish_reason", str)


def _migrate_8(db: sqlite_utils.Database) -> None:
    """A reasoning model's thinking, kept apart from its answer (never sent back as
    history), how long it thought and how long the whole reply took; a conversation's
    generation parameters (JSON: temperature, top_p, max_tokens, seed, reasoning_effort)."""
    db["messages"].add_column("reasoning", str)
    db["messages"].add_column("thinking_ms", int)
    db["messages"].add_column("elapsed_ms", int)
    db["conversations"].add_column("generation", str)


# Stemmed (`reviews` finds `review`), case- and accent-insensitive.
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migrate_1, _migrate_2, _migrate_3, _migrate_4, _migrate_5, _migrate_6, _migrate_7, _migrate_8,
]
SCHEMA_VERSION = len(MIGRATIONS)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _translated(method: Callable[P, T]) -> Callable[P, T]:
    """Turn sqlite3 failures into StorageErrors a user can act on."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    return wrapper


def storage_error(exc: sqlite3.Error) -> StorageError:
    text = str(exc)
    if "disk is full" in text or "disk I/O" in text:
        return StorageError(
            "The disk is full: the conversation could not be saved.",
            "Free some space; what is on screen stays there, and the next save retries.",
        )
    if "locked" in text or "busy" in text:
        return StorageError(
            "The database is busy (another program holds it).",
            "Close other codhechat windows that are writing, then try again.",
        )
    if "readonly" in text or "read-only" in text:
        return read_only_error()
    if "not a database" in text or "malformed" in text:
        return StorageError(
            "The conversation database is damaged or is not a codhechat database.",
            "Move it aside (see `codhechat config` for its path) to start a fresh one.",
        )
    return StorageError(f"Database error: {text}.")


def read_only_error() -> StorageError:
    return StorageError(
        "The conversation database cannot be written: the file (or its folder) is read-only.",
        "Check its permissions (`codhechat config` shows its path), or set `database` to a "
        "writable file. Reading commands (list, show, search, export) still work.",
    )


class Store:
    """Conversations and messages in one SQLite file."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path | str, *, readonly: bool = False) -> Store:
        """Open (and create, and migrate) the database; `readonly` only reads it, which
        works on a read-only file or folder and on a database from a newer codhechat."""
        path = Path(path)
        if readonly:
            return cls._open_readonly(path)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        except OSError as exc:
            raise StorageError(
                f"Cannot create the database at {path}: {exc.strerror}.",
                "Set `database` in the config, or CODHECHAT_DATABASE, to a writable path.",
            ) from None
        except sqlite3.Error as exc:
            raise StorageError(
                f"Cannot open the database at {path}: {exc}.",
                "Set `database` in the config, or CODHECHAT_DATABASE, to a writable path.",
            ) from None
        try:
            store = cls(sqlite_utils.Database(conn), path)
            store._refuse_newer()
            store._prepare()
        except sqlite3.Error as exc:
            conn.close()
            if "unable to open" in str(exc) and path.exists():
                raise read_only_error() from None  # its folder refuses the -wal and -shm files
            raise storage_error(exc) from None
        except StorageError:
            conn.close()
            raise
        return store

    @classmethod
    def empty(cls) -> Store:
        """A database with nothing in it, in memory: what reading commands see where
        no database has been made yet (they must not create one)."""
        store = cls(sqlite_utils.Database(sqlite3.connect(":memory:", check_same_thread=False)))
        store.migrate()
        return store

    @classmethod
    def _open_readonly(cls, path: Path) -> Store:
        if not path.exists():
            raise StorageError(
                f"There is no conversation database at {path} yet.",
                "Start one with `codhechat` or `codhechat ask \"...\"`.",
            )
        # A WAL database needs its -shm file, which a read-only folder cannot get: then
        # read the file as immutable (nobody can be writing to a folder nobody may write).
        for query in ("mode=ro", "immutable=1"):
            try:
                conn = sqlite3.connect(
                    f"{path.resolve().as_uri()}?{query}", uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
                )
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                break
            except sqlite3.Error as exc:
                error = exc
        else:
            raise storage_error(error)
        store = cls(sqlite_utils.Database(conn), path)
        if version < SCHEMA_VERSION:
            conn.close()
            raise StorageError(
                f"The conversation database at {path} is from an older codhechat and needs "
                "upgrading, which needs write access to it.",
                "Run `codhechat` once where the file can be written, or check its permissions.",
            )
        return store

    def _refuse_newer(self) -> None:
        """A newer codhechat's database may hold what this one would corrupt: never write it."""
        version = self.schema_version
        if version <= SCHEMA_VERSION:
            return
        written_by = None
        try:
            row = self.db.execute("select value from meta where key = 'written_by'").fetchone()
            written_by = row[0] if row else None
        except sqlite3.Error:
            pass
        who = f"codhechat {written_by}" if written_by else "a newer codhechat"
        raise StorageError(
            f"The conversation database at {self.path} was written by {who} (schema version "
            f"{version}); this codhechat ({__version__}) knows schema {SCHEMA_VERSION} and will "
            "not write to it.",
            "Upgrade codhechat (e.g. `pipx upgrade codhechat`). Reading commands (list, show, "
            "search, export) still work.",
        )

    def _prepare(self) -> None:
        self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self.db.execute("PRAGMA foreign_keys = ON")
        self._enable_wal()
        self.db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; no fsync per commit
        self.migrate()

    def _enable_wal(self) -> None:
        """Switch to WAL, waiting for a concurrent opener: SQLite answers this
        PRAGMA with SQLITE_BUSY at once instead of honouring the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self, target: int = SCHEMA_VERSION) -> None:
        """Bring the schema up to `target`, each step in its own transaction."""
        with self._lock:
            while (version := self.schema_version) < target:
                with self._write():
                    if self.schema_version != version:
                        continue  # another process migrated meanwhile
                    MIGRATIONS[version](self.db)
                    self.db.execute(f"PRAGMA user_version = {version + 1}")
                    if version + 1 >= 6:
                        self.db["meta"].upsert({"key": "written_by", "value": __version__}, pk="key")

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock:
            self.db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.rollback()
                raise
            self.db.conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # Conversations

    @_translated
    def list_conversations(self, *, limit: int = 200, offset: int = 0) -> list[Conversation]:
        with self._lock:
            rows = self.db.query(
                "select * from conversations "
                "order by pinned_at is null, pinned_at desc, updated_at desc, id desc "
                "limit ? offset ?",
                [limit, offset],
            )
            return [_conversation(row) for row in rows]

    @_translated
    def count_conversations(self) -> int:
        with self._lock:
            return self.db["conversations"].count

    @_translated
    def get_conversation(self, conversation_id: int) -> Conversation | None:
        with self._lock:
            rows = list(self.db.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def create_conversation(self, title: str, *, model: str | None = None) -> Conversation:
        now = _now()
        with self._write():
            table = self.db["conversations"].insert(
                {"title": title, "created_at": now, "updated_at": now, "model": model}
            )
            return _conversation(table.get(table.last_pk))

    @_translated
    def rename_conversation(self, conversation_id: int, title: str) -> Conversation | None:
        """Retitle a conversation; None if there is no such conversation. Its
        place in the list (last activity) does not change."""
        with self._write():
            self.db.execute(
                "update conversations set title = ? where id = ?", [title, conversation_id]
            )
            rows = list(self.db.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def set_pinned(self, conversation_id: int, pinned: bool) -> Conversation | None:
        """Pin a conversation to the top of the list, or unpin it; None if there is
        no such conversation. Its last activity does not change."""
        with self._write():
            self.db.execute(
                "update conversations set pinned_at = ? where id = ?",
                [_now() if pinned else None, conversation_id],
            )
            rows = list(self.db.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def set_conversation_options(
        self, conversation_id: int, *, model: str | None, system_prompt: str | None
    ) -> Conversation | None:
        """Set the model and system prompt a conversation's replies use (None: the
        configured ones); None if there is no such conversation."""
        with self._write():
            self.db.execute(
                "update conversations set model = ?, system_prompt = ? where id = ?",
                [model, system_prompt, conversation_id],
            )
            rows = list(self.db.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def set_generation(self, conversation_id: int, generation: Generation) -> Conversation | None:
        """Set a conversation's generation parameters; None if there is no such conversation."""
        value = json.dumps(generation.options()) if generation.options() else None
        with self._write():
            self.db.execute("update conversations set generation = ? where id = ?", [value, conversation_id])
            rows = list(self.db.query("select * from conversations where id = ?", [conversation_id]))
            return _conversation(rows[0]) if rows else None

    @_translated
    def conversation_tokens(self, conversation_id: int) -> int | None:
        """Every token the endpoint reported for this conversation's replies (prompt and
        completion), or None when it reported none."""
        with self._lock:
            row = self.db.execute(
                "select sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)), "
                "count(prompt_tokens) + count(completion_tokens) "
                "from messages where conversation_id = ?",
                [conversation_id],
            ).fetchone()
            return int(row[0]) if row and row[1] else None

    @_translated
    def delete_conversation(self, conversation_id: int) -> int | None:
        """Delete a conversation and its messages (and their search entries);
        returns how many messages went, or None if there was no such conversation."""
        with self._write():
            if not self.db.execute(
                "select 1 from conversations where id = ?", [conversation_id]
            ).fetchone():
                return None
            deleted = self.db.execute(
                "delete from messages where conversation_id = ?", [conversation_id]
            ).rowcount
            self.db.execute("delete from conversations where id = ?", [conversation_id])
            return deleted

    @_translated
    def import_conversations(
        self, records: Sequence[ConversationRecord]
    ) -> tuple[list[Conversation], list[ConversationRecord]]:
        """Add whole conversations, timestamps as given, in one transaction: all
        or nothing. A record whose conversation is already here (same title and
        creation time, as after importing a file twice) is skipped; returns
        (imported, skipped)."""
        imported: list[Conversation] = []
        skipped: list[ConversationRecord] = []
        with self._write():
            for record in records:
                if self.db.execute(
                    "select 1 from conversations where created_at = ? and title = ?",
                    [record.created_at, record.title],
                ).fetchone():
                    skipped.append(record)
                    continue
                conversation = {f.name: getattr(record, f.name) for f in fields(record) if f.name != "messages"}
                conversation["generation"] = json.dumps(record.generation) if record.generation else None
                conversations = self.db["conversations"].insert(conversation)
                conversation_id = conversations.last_pk
                self.db["messages"].insert_all(
                    ({**{f.name: getattr(m, f.name) for f in fields(m)}, "status": str(m.status),
                      "conversation_id": conversation_id} for m in record.messages),
                    batch_size=500,
                )  # fmt: skip
                imported.append(_conversation(conversations.get(conversation_id)))
        return imported, skipped

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
    ) -> Message:
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
                    "error": None,
                }
            )
            self.db["conversations"].update(conversation_id, {"updated_at": now})
            return _message(table.get(table.last_pk))

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
    ) -> Message:
        """`usage` is (prompt_tokens, completion_tokens), when the endpoint reported them;
        `model`, when given, is the model that answered (as the endpoint named it)."""
        values: dict[str, Any] = {"content": content, "status": str(status), "error": error,
                                  "finish_reason": finish_reason}  # fmt: skip
        if model:
            values["model"] = model
        values |= {"reasoning": reasoning or None, "thinking_ms": thinking_ms, "elapsed_ms": elapsed_ms}
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
            rows = [_message(row) for row in self.db.query(sql, params)]
        return rows if after is not None else rows[::-1]

    @_translated
    def all_messages(self, conversation_id: int) -> list[Message]:
        """Every message of a conversation, oldest first (for show and export)."""
        with self._lock:
            rows = self.db.query(
                "select * from messages where conversation_id = ? order by id", [conversation_id]
            )
            return [_message(row) for row in rows]

    # Search

    @_translated
    def search(
        self, query: str, *, limit: int = 20, newest_first: bool = False, syntax: bool = False
    ) -> list[SearchHit]:
        """Messages matching `query`, best match first (or newest first), each
        with a snippet whose matches are wrapped in SNIPPET_START / SNIPPET_END.

        By default every word must occur (stemmed, any case), and characters
        FTS5 would read as syntax are taken literally; `syntax=True` passes
        FTS5 query syntax through (OR, NOT, "phrases", prefix*).

        "Newest" is the order messages were stored in (the FTS index's rowid
        order, which SQLite walks backwards and stops after `limit`). "Best" is
        bm25, ranked among the RANK_WINDOW most recently stored matches: bm25
        costs ~1 µs per matching message, so a word found in all of 100,000
        messages would take ~90 ms to rank fully, and the best of the latest
        5,000 matches is what a person searching their chats wants anyway."""
        match = query.strip() if syntax else self.db.quote_fts(query)
        if not match:
            return []
        select = (
            "select m.id, m.conversation_id, m.role, m.created_at, c.title, "
            f"snippet(messages_fts, 0, '{SNIPPET_START}', '{SNIPPET_END}', '…', {SNIPPET_TOKENS}) "
            "from messages_fts "
            "join messages m on m.id = messages_fts.rowid "
            "join conversations c on c.id = m.conversation_id "
            "where messages_fts match :match "
        )
        if newest_first:
            sql = select + "order by messages_fts.rowid desc limit :limit"
        else:
            sql = select + (
                "and messages_fts.rowid >= coalesce((select rowid from messages_fts "
                "where messages_fts match :match order by rowid desc limit 1 offset :window), 0) "
                "order by messages_fts.rank limit :limit"
            )
        params = {"match": match, "limit": limit, "window": RANK_WINDOW - 1}
        try:
            with self._lock:
                rows = self.db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if syntax and ("fts5" in str(exc) or "syntax" in str(exc)):
                raise UsageError(
                    f"Not a valid search query: {exc}.",
                    "See https://www.sqlite.org/fts5.html#full_text_query_syntax, "
                    "or search without --syntax to match the words as typed.",
                ) from None
            raise
        return [
            SearchHit(
                message_id=row[0], conversation_id=row[1], role=row[2],
                created_at=_parse_time(row[3]), title=row[4], snippet=row[5],
            )  # fmt: skip
            for row in rows
        ]

    def history(self, conversation_id: int, window: int) -> list[Message]:
        """What the model sees: the last `window` messages that have text."""
        messages = self.get_messages(conversation_id, limit=window * 2)
        return [m for m in messages if m.content][-window:]


SNIPPET_TOKENS = 16
RANK_WINDOW = 5_000  # see Store.search


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
    )


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
    )
