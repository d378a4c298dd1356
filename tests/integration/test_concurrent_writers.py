"""Two codhechat processes writing one database at the same moment.

Two app windows share one SQLite file. The store relies on WAL, a busy
timeout, and BEGIN IMMEDIATE write transactions so that neither ever sees
"database is locked"; these tests hammer one file from two real processes,
and show the failure that BEGIN IMMEDIATE exists to prevent.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from codhechat.models import MessageStatus
from codhechat.store import Store

pytestmark = pytest.mark.timeout(60)

CONVERSATIONS = 10
MESSAGES_PER_CONVERSATION = 10  # each: add user, add assistant (partial), update assistant (complete)
WRITES = CONVERSATIONS * (1 + 3 * MESSAGES_PER_CONVERSATION)  # 310 per process

# One writer process. It says it is ready, waits for the start flag, then opens the
# store (so a fresh file is created and migrated by both at once) and writes in a tight loop.
WRITER = r"""
import json, os, sys, time, traceback
db, flag, name = sys.argv[1], sys.argv[2], sys.argv[3]
conversations, per = int(sys.argv[4]), int(sys.argv[5])
from codhechat.models import MessageStatus
from codhechat.store import Store

open(f"{flag}.{name}.ready", "w").close()
deadline = time.monotonic() + 20
while not os.path.exists(flag):
    if time.monotonic() > deadline:
        sys.exit("never got the start flag")
    time.sleep(0.0005)
started = time.time()
try:
    store = Store.open(db)
    writes, made = 0, []
    for c in range(conversations):
        conversation = store.create_conversation(f"{name} #{c}", model="m")
        writes += 1
        for i in range(per):
            store.add_message(conversation.id, "user", f"{name} q{c}.{i}")
            reply = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL)
            # update_message reads the row back and touches the conversation: read-then-write.
            store.update_message(reply.id, content=f"{name} a{c}.{i}", status=MessageStatus.COMPLETE)
            writes += 3
        made.append(conversation.id)
    store.close()
except Exception as exc:
    # StorageError hides the sqlite3 error (`from None`): show it, it says which statement failed.
    traceback.print_exception(exc.__context__ or exc)
    raise
print(json.dumps({"writes": writes, "conversations": made, "started": started, "ended": time.time()}))
"""


def run_writers(db: Path, tmp_path: Path, names: list[str]) -> list[dict[str, object]]:
    flag = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(db),
                str(flag),
                name,
                str(CONVERSATIONS),
                str(MESSAGES_PER_CONVERSATION),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    try:
        deadline = time.monotonic() + 20
        while not all(Path(f"{flag}.{name}.ready").exists() for name in names):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < deadline, "the writers never got ready"
            time.sleep(0.005)
        flag.touch()  # both start at the same moment
        results = []
        for name, proc in zip(names, procs, strict=True):
            out, err = proc.communicate(timeout=40)
            assert "locked" not in err and "busy" not in err, f"{name}: {err}"
            assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{err}"
            results.append(json.loads(out))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize(
    "fresh",
    [True, False],
    ids=["fresh-file", "existing-file"],
)
def test_two_processes_write_one_database_at_once(tmp_path: Path, fresh: bool) -> None:
    db = tmp_path / "shared" / "codhechat.db"
    if not fresh:
        Store.open(db).close()

    results = run_writers(db, tmp_path, ["alpha", "beta"])

    assert [r["writes"] for r in results] == [WRITES, WRITES]
    # They really ran at the same time: each started before the other had finished.
    assert max(r["started"] for r in results) < min(r["ended"] for r in results), results  # type: ignore[type-var]
    store = Store.open(db)
    try:
        assert store.count_conversations() == 2 * CONVERSATIONS
        for name, result in zip(["alpha", "beta"], results, strict=True):
            ids = result["conversations"]
            assert isinstance(ids, list) and len(set(ids)) == CONVERSATIONS
            for c, conversation_id in enumerate(ids):
                conversation = store.get_conversation(conversation_id)
                assert conversation is not None and conversation.title == f"{name} #{c}"
                messages = store.get_messages(conversation_id, limit=1000)
                expected = []
                for i in range(MESSAGES_PER_CONVERSATION):
                    expected += [("user", f"{name} q{c}.{i}", MessageStatus.COMPLETE),
                                 ("assistant", f"{name} a{c}.{i}", MessageStatus.COMPLETE)]  # fmt: skip
                assert [(m.role, m.content, m.status) for m in messages] == expected
        total = store.db.execute("select count(*) from messages").fetchone()[0]
        assert total == 2 * CONVERSATIONS * MESSAGES_PER_CONVERSATION * 2
        assert store.db.execute("pragma integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()


# Why BEGIN IMMEDIATE: in WAL mode a deferred transaction that reads first holds a snapshot.
# If another connection commits a write meanwhile, the reader can never upgrade to a writer:
# SQLite answers SQLITE_BUSY_SNAPSHOT ("database is locked") at once, and the busy timeout
# does not help, because waiting cannot make an old snapshot current.


def _connect(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, timeout=5, isolation_level=None, check_same_thread=False)


def _shared_db(tmp_path: Path) -> tuple[Path, int]:
    db = tmp_path / "codhechat.db"
    store = Store.open(db)
    conversation = store.create_conversation("shared")
    message = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL)
    store.close()
    return db, message.id


def test_deferred_read_then_write_fails_with_database_locked(tmp_path: Path) -> None:
    db, message_id = _shared_db(tmp_path)
    first, second = _connect(db), _connect(db)
    try:
        first.execute("BEGIN")  # deferred: no lock yet
        first.execute("select content from messages where id = ?", [message_id]).fetchall()
        # Another process saves meanwhile: it can, since `first` only reads so far.
        second.execute("BEGIN")
        second.execute("update messages set content = 'theirs' where id = ?", [message_id])
        second.execute("COMMIT")
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            first.execute("update messages set content = 'mine' where id = ?", [message_id])
        assert time.monotonic() - started < 1, "failed at once, despite the 5 s busy timeout"
        first.execute("ROLLBACK")
    finally:
        first.close()
        second.close()


def test_begin_immediate_makes_the_second_writer_wait_instead(tmp_path: Path) -> None:
    db, message_id = _shared_db(tmp_path)
    first = _connect(db)
    store = Store.open(db)
    try:
        first.execute("BEGIN IMMEDIATE")  # takes the write lock before reading, as Store._write does
        first.execute("select content from messages where id = ?", [message_id]).fetchall()

        outcome: list[object] = []
        waiter = threading.Thread(
            target=lambda: outcome.append(
                store.update_message(message_id, content="second", status=MessageStatus.COMPLETE)
            )
        )
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive() and not outcome, "the second writer should queue behind the first"
        first.execute("update messages set content = 'first' where id = ?", [message_id])
        first.execute("COMMIT")
        waiter.join(5)
        assert not waiter.is_alive()
        assert len(outcome) == 1, "the queued write failed"
        assert store.get_messages(store.list_conversations()[0].id)[0].content == "second"
    finally:
        first.close()
        store.close()


def test_open_waits_while_another_process_holds_the_write_lock_on_a_new_file(tmp_path: Path) -> None:
    """Another codhechat opened the same new file a moment earlier and is still writing to it
    (switching it to WAL, creating the schema): opening must wait, not fail."""
    db = tmp_path / "codhechat.db"
    other = _connect(db)
    other.execute("BEGIN IMMEDIATE")  # the file is still in rollback-journal mode
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        started = time.monotonic()
        store = Store.open(db)
        waited = time.monotonic() - started
        try:
            assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert store.count_conversations() == 0
        finally:
            store.close()
        assert waited >= 0.2, "it should have waited for the other writer"
    finally:
        release.join()
        other.close()
