"""Shared helpers for the benchmarks: a throw-away environment, database seeding,
a real terminal (pty) to drive the installed `codhechat` command, a loopback
model server in its own process, and in-process app construction for Pilot runs.

Run as a script (`python bench/_common.py serve`) it is that model server: it
serves tests.fake_openai on loopback and answers JSON commands on stdin, reporting
when the first token and the last byte of each streamed reply left the socket.
All times are time.perf_counter(), which is CLOCK_MONOTONIC on Linux and so
comparable between processes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import pty
import random
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for tests.fake_openai

from tests.support.env import xdg_dirs  # noqa: E402 (the path to the repository first)

COLS, ROWS = 120, 40
CODHECHAT = [sys.executable, "-m", "codhechat"]
now = time.perf_counter


# -- small utilities ----------------------------------------------------------


def watchdog(seconds: float) -> None:
    """Abort the whole bench (cleaning up through `with` blocks) if it runs too long."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"bench watchdog: still running after {seconds:g} s")

    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def summary(values: list[float], unit: str = "s", scale: float = 1.0, digits: int = 3) -> str:
    """'median X, max Y (n runs)' for a list of figures."""
    xs = [v * scale for v in values]
    return f"median {statistics.median(xs):.{digits}f} {unit}, max {max(xs):.{digits}f} {unit} ({len(xs)} runs)"


def percentile(values: list[float], p: float) -> float:
    xs = sorted(values)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))]


def machine_note(sample_s: float = 0.5) -> str:
    """How busy the machine is right now (CPU use over `sample_s`, from /proc/stat):
    figures taken while other work runs are slower and not comparable."""

    def busy_total() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    (b0, t0), _ = busy_total(), time.sleep(sample_s)
    b1, t1 = busy_total()
    used = (b1 - b0) / max(1, t1 - t0)
    note = "  (BUSY: other work is running, figures will be slower)" if used > 0.25 else ""
    return f"machine: {os.cpu_count()} cores, {used:.0%} CPU in use before the bench{note}"


def rss_mb() -> float:
    """This process's current resident set size, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- a throw-away home --------------------------------------------------------


@contextlib.contextmanager
def temp_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="codhechat-bench-") as tmp:
        yield Path(tmp)


def app_env(home: Path, *, base_url: str | None = None) -> dict[str, str]:
    """The environment for a codhechat run: XDG folders and database inside `home`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "CODHECHAT_", "XDG_", "TEXTUAL", "COLUMNS", "LINES"))
    }
    env |= xdg_dirs(home)
    env |= {
        "CODHECHAT_DATABASE": str(db_path(home)),
        "CODHECHAT_MAX_RETRIES": "0",
        "OPENAI_API_KEY": "sk-bench-not-a-real-key",
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
    }
    if base_url:
        env["OPENAI_BASE_URL"] = base_url
    return env


def db_path(home: Path) -> Path:
    return home / "codhechat.db"


@contextlib.contextmanager
def in_process_env(home: Path, *, base_url: str | None = None) -> Iterator[dict[str, str]]:
    """Apply app_env to this process (for Pilot runs), and chdir to `home` (no stray .env)."""
    saved, cwd = dict(os.environ), os.getcwd()
    env = app_env(home, base_url=base_url)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(home)
    try:
        yield env
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)


def make_app(home: Path, base_url: str | None = None):  # type: ignore[no-untyped-def]
    """The app exactly as `codhechat` builds it (cli.run_app), for App.run_test()."""
    from codhechat.backends.local import LocalBackend
    from codhechat.config import load_settings
    from codhechat.store import Store
    from codhechat.ui.app import CodheChatApp
    from codhechat.ui.stream_pace import StreamPace

    settings = load_settings({"database": db_path(home), "base_url": base_url}, env_file=None)
    store = Store.open(settings.database_path)
    backend = LocalBackend(settings, store)
    pace = StreamPace(settings.stream_refresh_hz, settings.stream_jump_lines)
    return CodheChatApp(backend, default_theme=settings.theme, needs_api_key=settings.needs_api_key, stream_pace=pace)


# -- seeding ------------------------------------------------------------------

WORDS = [
    "the",
    "a",
    "model",
    "reply",
    "token",
    "stream",
    "render",
    "widget",
    "terminal",
    "screen",
    "piece",
    "frame",
    "cost",
    "linear",
    "scroll",
    "history",
    "sidebar",
    "prompt",
    "latency",
    "budget",
    "python",
    "textual",
    "markdown",
    "list",
    "code",
    "fence",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "while",
    "data",
    "flows",
    "through",
    "every",
    "layer",
    "of",
    "the",
    "stack",
]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _stamp(base: datetime, i: int, step: timedelta) -> str:
    return (base + i * step).isoformat()


def seed_conversations(home: Path, n: int, *, messages_each: int = 2) -> str:
    """`n` conversations (with a few messages each); returns the newest one's title."""
    from codhechat.store import Store
    from codhechat.store.tree import link_in_order

    store = Store.open(db_path(home))
    rng = random.Random(1)
    step = timedelta(minutes=10)
    base = datetime.now(UTC) - n * step
    convs, msgs = [], []
    for i in range(1, n + 1):
        at = _stamp(base, i, step)
        convs.append(
            {
                "id": i,
                "title": f"chat {i:05d} {words(rng, 3)}",
                "created_at": at,
                "updated_at": at,
                "model": "gpt-4o-mini",
            }
        )
        for j in range(messages_each):
            role = "user" if j % 2 == 0 else "assistant"
            msgs.append(
                {
                    "conversation_id": i,
                    "role": role,
                    "content": words(rng, 30),
                    "status": "complete",
                    "created_at": at,
                    "model": None,
                    "error": None,
                }
            )
    with store.db.conn:
        store.db["conversations"].insert_all(convs, batch_size=2000)
        store.db["messages"].insert_all(msgs, batch_size=2000)
        link_in_order(store.db)  # each conversation one path (as the store would write it)
    store.close()
    return f"chat {n:05d}"


def assistant_markdown(rng: random.Random, i: int) -> str:
    """A few paragraphs of Markdown, sometimes a list, sometimes a code block."""
    parts = [f"**Answer {i}.** {words(rng, 40)}.", words(rng, 50) + "."]
    if i % 3 == 0:
        parts.append(
            "```python\n"
            + "\n".join(f"def f_{i}_{k}(x):\n    return x * {k}  # {words(rng, 4)}" for k in range(4))
            + "\n```"
        )
    if i % 4 == 1:
        parts.append("\n".join(f"- {words(rng, 8)}" for _ in range(5)))
    parts.append(words(rng, 30) + ".")
    return "\n\n".join(parts)


def seed_long_conversation(home: Path, n_messages: int, *, others: int = 30, marker: str = "ZZLAST") -> tuple[int, str]:
    """One conversation of `n_messages` (the newest, its last message ends in `marker`)
    plus `others` short ones; returns (its id, its title)."""
    seed_conversations(home, others)
    from codhechat.store import Store
    from codhechat.store.tree import link_in_order

    store = Store.open(db_path(home))
    rng = random.Random(2)
    title = "long history 2k"
    start = datetime.now(UTC) - timedelta(minutes=5)
    conv = store.create_conversation(title, model="gpt-4o-mini")
    rows = []
    for i in range(n_messages):
        role = "user" if i % 2 == 0 else "assistant"
        content = f"Question {i}: {words(rng, 15)}?" if role == "user" else assistant_markdown(rng, i)
        if i == n_messages - 1:
            content += f" {marker}"
        at = (start + timedelta(milliseconds=i)).isoformat()
        rows.append(
            {
                "conversation_id": conv.id,
                "role": role,
                "content": content,
                "status": "complete",
                "created_at": at,
                "model": "gpt-4o-mini" if role == "assistant" else None,
                "error": None,
            }
        )
    with store.db.conn:
        store.db["messages"].insert_all(rows, batch_size=1000)
        store.db["conversations"].update(conv.id, {"updated_at": datetime.now(UTC).isoformat()})
        link_in_order(store.db)
    store.close()
    return conv.id, title


# -- a real terminal ----------------------------------------------------------


class PtyApp:
    """A command running in a pty of COLS x ROWS; reads its output with timeouts everywhere."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, size: tuple[int, int] = (COLS, ROWS)) -> None:
        self.started = now()
        pid, fd = pty.fork()
        if pid == 0:  # child: set the window size, then become the command
            try:
                cols, rows = size
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.buf = bytearray()  # output since the last mark()
        self.total = 0
        self.exit_status: int | None = None

    def mark(self) -> None:
        """Forget output so far: later expects only see what comes after this point."""
        self.buf.clear()

    def send(self, data: bytes | str) -> float:
        if isinstance(data, str):
            data = data.encode()
        t = now()
        os.write(self.fd, data)
        return t

    def _read(self, timeout: float) -> bool:
        """Read what is available within `timeout`; False once the child has closed the pty."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return True
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError as exc:
            if exc.errno == errno.EIO:
                return False
            raise
        if not data:
            return False
        self.buf += data
        self.total += len(data)
        return True

    def expect(self, *needles: bytes | str, timeout: float = 10.0) -> float:
        """Wait until every needle has appeared in the output since mark(); returns when."""
        wanted = [n.encode() if isinstance(n, str) else n for n in needles]
        deadline = now() + timeout
        while True:
            if all(n in self.buf for n in wanted):
                return now()
            if now() > deadline:
                missing = [n for n in wanted if n not in self.buf]
                raise TimeoutError(f"no {missing!r} on screen after {timeout:g} s ({len(self.buf)} bytes read)")
            if not self._read(min(0.5, deadline - now())):
                raise RuntimeError(f"codhechat exited before showing {wanted!r}: {self.tail()!r}")

    def expect_one(self, needle: bytes, *, timeout: float) -> float:
        """Like expect, for one needle, scanning each byte only once (cheap on long output)."""
        deadline, pos = now() + timeout, 0
        while True:
            if self.buf.find(needle, pos) >= 0:
                return now()
            pos = max(0, len(self.buf) - len(needle) + 1)
            if now() > deadline:
                raise TimeoutError(f"no {needle!r} on screen after {timeout:g} s")
            if not self._read(min(0.5, deadline - now())):
                raise RuntimeError(f"codhechat exited: {self.tail()!r}")

    def drain(self, seconds: float) -> None:
        """Keep reading (so the app never blocks on a full pty) for `seconds`."""
        deadline = now() + seconds
        while (left := deadline - now()) > 0:
            if not self._read(left):
                return

    def tail(self, n: int = 400) -> str:
        return self.buf[-n:].decode(errors="replace")

    def wait_exit(self, timeout: float) -> bool:
        deadline = now() + timeout
        while now() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_status = status
                return True
            self._read(0.02)
        return False

    def quit(self, timeout: float = 5.0) -> float:
        """Ctrl+Q, then wait for the exit; returns seconds taken (kills it if it hangs)."""
        t = self.send(b"\x11")
        if not self.wait_exit(timeout):
            self.close()
            raise TimeoutError(f"codhechat did not quit within {timeout:g} s of Ctrl+Q")
        return now() - t

    def close(self) -> None:
        """Make sure the child is gone and the pty closed."""
        if self.exit_status is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, sig)
                if self.wait_exit(2.0):
                    break
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def __enter__(self) -> PtyApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spawn_codhechat(home: Path, *, base_url: str | None = None) -> PtyApp:
    return PtyApp(CODHECHAT, app_env(home, base_url=base_url), cwd=home)


# -- a model server in its own process ---------------------------------------


class FakeServer:
    """tests.fake_openai.FakeOpenAI in a child process (so it never competes with the
    app under test for the GIL), scripted over a pipe."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve"], cwd=REPO, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        self.base_url = self._call(None)["base_url"]
        self.enqueued = 0

    def _call(self, command: dict | None) -> dict:
        assert self.proc.stdin and self.proc.stdout
        if command is not None:
            self.proc.stdin.write(json.dumps(command) + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake model server died")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def enqueue(self, text: str, *, tokens_per_chunk: int = 1, delay: float = 0.0, reasoning: str = "") -> None:
        """`reasoning` is streamed first, as `reasoning_content` (a model that thinks)."""
        reply = {"text": text, "tokens_per_chunk": tokens_per_chunk, "delay": delay}
        self._call({"enqueue": reply | ({"reasoning": reasoning} if reasoning else {})})
        self.enqueued += 1

    def wait_stream(self, n: int | None = None, timeout: float = 60.0) -> dict:
        """When the n-th streamed reply (1-based; default: the last one enqueued) sent its
        first token and its last byte: {"first_token": t, "last_byte": t, "chunks": n}."""
        return self._call({"wait": n or self.enqueued, "timeout": timeout})

    def status(self) -> dict:
        """{"finished": replies streamed to the end, "latest": the newest reply's live record, "now": t}."""
        return self._call({"status": True})

    def close(self) -> None:
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve() -> None:
    from tests.fake_openai import FakeOpenAI, Reply

    srv = FakeOpenAI()
    done = threading.Condition()
    timings: list[dict] = []
    live: list[dict] = []
    inner = srv.app

    async def timed(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            return await inner(scope, receive, send)
        rec: dict = {"first_token": None, "last_byte": None, "chunks": 0}
        live.append(rec)

        async def timed_send(message):  # type: ignore[no-untyped-def]
            await send(message)  # returns once the bytes are handed to the socket
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                rec["last_byte"] = now()
                if rec["first_token"] is None and b'"content":"' in body and b'"content":""' not in body:
                    rec["first_token"] = rec["last_byte"]
                rec["chunks"] += body.count(b"data: ")

        await inner(scope, receive, timed_send)
        with done:
            timings.append(rec)
            done.notify_all()

    srv.app = timed
    srv.start()

    def answer(obj: dict) -> None:
        print(json.dumps(obj), flush=True)

    answer({"base_url": srv.base_url})
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if "enqueue" in command:
                srv.enqueue(Reply(**command["enqueue"]))
                answer({"ok": True})
            elif "status" in command:
                answer({"finished": len(timings), "latest": live[-1] if live else None, "now": now()})
            elif "wait" in command:
                n = command["wait"]
                with done:
                    if done.wait_for(lambda: len(timings) >= n, command.get("timeout", 60)):
                        answer(timings[n - 1])
                    else:
                        answer({"error": f"reply {n} not finished after {command.get('timeout')} s"})
    finally:
        srv.stop()


if __name__ == "__main__" and sys.argv[1:] == ["serve"]:
    _serve()
