"""Start-up time: from spawning `codhechat` to a fully drawn, usable screen.

How: a database of 10,000 conversations is seeded in a temporary home; the
installed command (`python -m codhechat`) is started in a real pty of 120x40
(TERM=xterm-256color) and its output is read until the footer's "Send" key,
the status bar's "ready" and the newest conversation's title in the sidebar
have all been written. That moment, minus the spawn time, is the start-up
time. Ctrl+Q then quits it (timed too). One untimed warm-up run comes first.

Also printed: the wall time of `python -c "import codhechat.cli"` (what `--help`
costs) and of importing the whole UI stack, and whether `openai` is imported
before the screen is usable (checked by running the real command under
`python -X importtime`, whose per-module lines go to the same terminal).

The same pty also runs a bare Textual app of the same shape (bench/_bare_app.py:
header, a tree of the 200 newest conversations read with plain sqlite3, an input, a
"ready" line, a footer with "Send"), alternating with codhechat run by run, and the
ratio of the medians is printed. Each run's process CPU time is printed too (the
children's rusage), which the other agents on the machine disturb less than wall time.

Target: start-up <= 0.6 s, and within 1.2x of the bare app.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    CODHECHAT,
    PtyApp,
    app_env,
    db_path,
    machine_note,
    now,
    seed_conversations,
    spawn_codhechat,
    summary,
    temp_home,
    watchdog,
)

TARGET_S = 0.6
TARGET_RATIO = 1.2
BARE_APP = [sys.executable, str(Path(__file__).resolve().parent / "_bare_app.py")]
UI_STACK = "import codhechat.cli, codhechat.config, codhechat.store, codhechat.backends.local, codhechat.ui.app"


def time_command(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = now()
        subprocess.run(argv, check=True, timeout=30)
        times.append(now() - t)
    return times


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` so far, in seconds (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_once(home: Path, title: str, *, bare: bool = False) -> tuple[float, float, float, float]:
    """(seconds to usable, seconds to quit, CPU seconds of the whole run, the app's CPU
    seconds until usable) for one run."""
    cpu = children_cpu()
    app = PtyApp([*BARE_APP, str(db_path(home))], app_env(home), cwd=home) if bare else spawn_codhechat(home)
    with app:
        ready = app.expect("Send", "ready", title, timeout=30) - app.started
        until_usable = cpu_seconds(app.pid)
        quit_s = app.quit()
    return ready, quit_s, children_cpu() - cpu, until_usable


def imports_of(output: bytes) -> list[tuple[int, str, str]]:
    """(cumulative us, indent, module) from `python -X importtime` lines in terminal output."""
    found = re.findall(rb"import time:\s+\d+ \|\s+(\d+) \| ( *)([\w.]+)", output)
    return [(int(us), indent.decode(), name.decode()) for us, indent, name in found]


def importtime_run(home: Path, title: str, linger: float) -> tuple[list, list]:
    """Modules imported before the screen was usable, and in the `linger` seconds after."""
    argv = [CODHECHAT[0], "-X", "importtime", *CODHECHAT[1:]]
    with PtyApp(argv, app_env(home), cwd=home) as app:
        app.expect("Send", "ready", title, timeout=30)
        before = imports_of(bytes(app.buf))
        app.mark()
        app.drain(linger)
        after = imports_of(bytes(app.buf))
        app.quit()
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed start-ups of each app (default 9)")
    parser.add_argument("--conversations", type=int, default=10_000, help="conversations in the database")
    args = parser.parse_args()
    watchdog(110 + 8 * args.runs)
    print(machine_note())

    with temp_home() as home:
        title = seed_conversations(home, args.conversations)
        cold, _, _, _ = start_once(home, title)
        start_once(home, title, bare=True)  # warm-up of the bare app too
        ready, quits, cpu, cpus, bare, bare_cpu = [], [], [], [], [], []
        for _ in range(args.runs):  # alternating, so both see the same load
            r, q, c, u = start_once(home, title)
            cpus.append(u)
            ready.append(r)
            quits.append(q)
            cpu.append(c)
            r, _, c, _ = start_once(home, title, bare=True)
            bare.append(r)
            bare_cpu.append(c)
        name = (
            f"startup_{args.conversations // 1000}k_conversations"
            if args.conversations >= 1000
            else f"startup_{args.conversations}_conversations"
        )
        print(f"{name}: {summary(ready)}  (first, untimed warm-up run: {cold:.3f} s)")
        print(f"startup_app_cpu (the app's own CPU time until usable; steadier than wall time on a busy machine): "
              f"{summary(cpus)}")  # fmt: skip
        print(f"quit_after_ctrl_q: {summary(quits)}")
        print(f"bare_textual_app_same_shape: {summary(bare)}")
        ratio = statistics.median(ready) / statistics.median(bare)
        print(
            f"ratio_codhechat_to_bare (medians): {ratio:.2f}  target <= {TARGET_RATIO}: "
            f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}"
        )
        print(f"cpu_per_run codhechat: {summary(cpu)}  bare: {summary(bare_cpu)}  "
              f"ratio {statistics.median(cpu) / statistics.median(bare_cpu):.2f}")  # fmt: skip
        print(
            f"target startup <= {TARGET_S} s: {'met' if max(ready) <= TARGET_S else 'MISSED'} (max {max(ready):.3f} s)"
        )

        # What the interpreter and imports cost, outside the terminal.
        py = [sys.executable, "-c", "pass"]
        cli = [sys.executable, "-c", "import codhechat.cli"]
        stack = [sys.executable, "-c", UI_STACK]
        print(f"python_bare_startup: {summary(time_command(py, args.runs))}")
        print(f"import_codhechat_cli: {summary(time_command(cli, args.runs))}")
        print(f"import_ui_stack (cli+config+store+backend+ui.app): {summary(time_command(stack, args.runs))}")

        # Is openai imported before the screen is usable?
        before, after = importtime_run(home, title, linger=2.0)
        is_openai = lambda name: name == "openai" or name.startswith("openai.")  # noqa: E731
        heavy = sorted(
            {name.split(".")[0] for _, _, name in before}
            & {"openai", "httpx", "anyio", "pydantic", "textual", "textual_image", "PIL"}
        )
        print(
            f"openai_imported_before_usable: {'YES (problem)' if any(is_openai(n) for _, _, n in before) else 'no'}  "
            f"({len(before)} modules imported by then; of note: {', '.join(heavy)})"
        )
        late = next((us for us, indent, name in after if name == "openai"), None)
        print(
            "openai_imported_within_2s_after_usable: "
            + (f"yes, {late / 1e6:.3f} s of imports (the deliberate background warm-up)" if late else "no")
        )
        top = sorted(((us, name) for us, indent, name in before if not indent), reverse=True)[:5]
        print("slowest_top_level_imports_before_usable: " + ", ".join(f"{name} {us / 1e6:.3f} s" for us, name in top))


if __name__ == "__main__":
    main()
