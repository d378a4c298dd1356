"""Streaming throughput and final-text latency for a long reply.

A 4,000-token reply is streamed by the loopback server (tests.fake_openai, in
its own process) as fast as it can (delay 0, one token per SSE chunk), in
three shapes: prose paragraphs, one long bullet list, one long code fence.
Its last token is the marker ZZEND. Two figures:

* rendered tokens/s: tokens / (final text on screen - first delta reaching the UI)
* final latency: final text on screen - last byte sent by the server
  (the server reports when each chunk left its socket; both processes use
  CLOCK_MONOTONIC, so the times compare)

Measured two ways:

* pilot: App.run_test(size=(120, 40)) in this process. First delta = first
  ReplyView.append(); final = the first compositor refresh of the screen after
  ReplyView.finish() (hooks on the classes, bench-only). Headless, so it leaves
  out writing escape codes to a terminal.
* pty: the installed `codhechat` in a real 120x40 pty. Final = ZZEND written
  to the terminal. The start is when the server sent the first token (the
  first rendered text is often scrolled off already, so it cannot be seen).

Also printed: the final latency in the pty when the server paces the reply at
~2,000 tokens/s (20-token chunks every 10 ms), so that no backlog builds up;
the rate of codhechat's model client alone, with no UI (its ceiling); and a
baseline: the same list reply fed into Textual's own Markdown widget through
Markdown.get_stream() (bench/_markdown_baseline.py, a child process capped at
60 s), which shows why codhechat renders in frozen pieces.

Thinking (--thinking, or part of a full run): the prose reply again, with and without
1,000 tokens of `reasoning_content` streamed before it (a reasoning model's Thinking
section, shown as it streams and folded away when the answer begins), pilot and pty,
the two printed side by side; the rate and latency are the answer's, measured as above.

Steady mode (--steady, or part of a full run): a prose reply streamed at a steady
50, 200 and 1,000 tokens/s into the installed `codhechat` in a 120x40 pty
(xterm-256color, truecolor), measuring what the stream costs while it lasts: the
app process's CPU (utime + stime from /proc/PID/stat, in cores) and the bytes it
writes to the terminal per second, from 0.5 s after the first token until the
last one is on screen. What the screen shows, not what the model sends, should
set those costs. Beside them, the same for a reasoning model's thought streaming at 200
tokens/s (its last seconds, of a 6,000-token thought shown as it streams, as the
Thinking section shows it). The reply is sent once the app is quiet (its start-up warm-ups,
~0.7 s of CPU in the first 2-3 s, done: they are not the stream's cost).

Targets: >= 2,000 tokens/s and <= 100 ms final latency, for each shape; steady,
<= 0.05 core at 50 and 200 tokens/s and <= 0.10 at 1,000, <= 32 KiB/s to the
terminal at 50 tokens/s and <= 64 KiB/s at 200 and 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    COLS,
    ROWS,
    FakeServer,
    PtyApp,
    in_process_env,
    machine_note,
    make_app,
    now,
    spawn_codhechat,
    summary,
    temp_home,
    watchdog,
    words,
)

TOKEN_RE = re.compile(r"\S+\s*|\s+")  # how tests.fake_openai splits text into tokens
KINDS = ("prose", "list", "code")
TARGET_RATE, TARGET_LATENCY_S = 2000, 0.100
STEADY_RATES = (50, 200, 1000)  # tokens/s
STEADY_TARGETS = {50: (0.05, 32), 200: (0.05, 64), 1000: (0.10, 64)}  # cores, KiB/s
SKIP_S = 0.5  # the reply view mounting is not the steady state
THOUGHT_S = 30.0  # how long the steady thought streams (6,000 tokens at 200 tokens/s)


def reply_text(kind: str, n_tokens: int) -> str:
    """Markdown of exactly `n_tokens` server tokens, the last one being ZZEND."""
    rng = random.Random(kind)
    if kind == "prose":
        head, tail = "", "ZZEND."
        body = "".join(f"{words(rng, rng.randint(40, 80))}.\n\n" for _ in range(n_tokens // 40))
    elif kind == "list":
        head, tail = "", "- ZZEND\n"
        body = "".join(f"- {words(rng, rng.randint(8, 12))}\n" for _ in range(n_tokens // 8))
    else:
        head, tail = "```python\n", "# ZZEND\n```"
        lines = (
            f"{'    ' * rng.randint(0, 2)}value_{i} = compute({words(rng, 1)}, {i})  # {words(rng, 4)}\n"
            for i in range(n_tokens // 8)
        )
        body = "".join(lines)
    budget = n_tokens - len(TOKEN_RE.findall(head)) - len(TOKEN_RE.findall(tail))
    text = head + "".join(TOKEN_RE.findall(body.lstrip())[:budget]) + tail
    assert len(TOKEN_RE.findall(text)) == n_tokens, (kind, len(TOKEN_RE.findall(text)))
    return text


def structure(text: str) -> str:
    items = sum(1 for line in text.splitlines() if line.startswith("- "))
    return f"{len(text)} chars, {text.count(chr(10))} lines, {items} list items"


async def pilot_run(home: Path, server: FakeServer, text: str, reasoning: str = "") -> tuple[float, float]:
    """(tokens/s, final latency) for one reply, in a headless app."""
    from codhechat.models import MessageStatus
    from codhechat.ui.screens.chat import ChatScreen
    from codhechat.ui.widgets.messages import ReplyView

    marks: dict[str, float] = {}
    painted = asyncio.Event()
    # Textual has no public hook for "a frame reached the terminal", and time to pixels is what
    # this measures: the bench (never the app) wraps the private _compositor_refresh.
    append, finish, refresh = ReplyView.append, ReplyView.finish, ChatScreen._compositor_refresh

    def hooked_append(self, chunk):  # type: ignore[no-untyped-def]
        marks.setdefault("first_delta", now())
        append(self, chunk)

    def hooked_finish(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        finish(self, *args, **kwargs)
        marks["finished"] = now()

    def hooked_refresh(self):  # type: ignore[no-untyped-def]
        refresh(self)
        if "finished" in marks and "painted" not in marks:
            marks["painted"] = now()
            painted.set()

    ReplyView.append, ReplyView.finish, ChatScreen._compositor_refresh = hooked_append, hooked_finish, hooked_refresh
    try:
        server.enqueue(text, reasoning=reasoning)
        app = make_app(home, server.base_url)
        async with app.run_test(size=(120, 40)) as pilot:
            # The warm-ups done, as in pty_run (each waits for a pause: the first reply of a
            # fresh process otherwise pays the Markdown renderer's imports in its stream).
            while app.when_idle.waiting:
                await asyncio.sleep(0.05)
            await app.workers.wait_for_complete()
            app.screen.query_one("#prompt").text = "stream please"
            await pilot.press("enter")
            await asyncio.wait_for(painted.wait(), 60)
            view = app.screen.query_one(ReplyView)
            assert view.status == MessageStatus.COMPLETE and "ZZEND" in view.text[-20:], (
                f"reply incomplete: {view.status}"
            )
    finally:
        ReplyView.append, ReplyView.finish, ChatScreen._compositor_refresh = append, finish, refresh
    sent = server.wait_stream()
    tokens = len(TOKEN_RE.findall(text))
    return tokens / (marks["painted"] - marks["first_delta"]), marks["painted"] - sent["last_byte"]


def pty_run(
    home: Path, server: FakeServer, text: str, reasoning: str = "", **pace: float
) -> tuple[float, float, float, float]:
    """(tokens/s, final latency, Enter-to-final, the app's CPU seconds from Enter to the
    final text) for one reply, in a real terminal."""
    with spawn_codhechat(home, base_url=server.base_url) as app:
        app.expect("Send", "ready", timeout=30)
        app.send("stream please")
        app.expect("stream please", timeout=10)
        wait_quiet(app)  # the warm-ups done, as for someone who took a second to type
        server.enqueue(text, reasoning=reasoning, **pace)  # type: ignore[arg-type]
        app.mark()
        cpu0 = cpu_seconds(app.pid)
        enter = app.send("\r")
        final = app.expect_one(b"ZZEND", timeout=60)
        cpu = cpu_seconds(app.pid) - cpu0
        app.quit()
    sent = server.wait_stream()
    tokens = len(TOKEN_RE.findall(text))
    return tokens / (final - sent["first_token"]), final - sent["last_byte"], final - enter, cpu


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` so far, in seconds (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_quiet(
    app: PtyApp, *, below: float = 0.02, step: float = 0.5, longest: float = 15.0, quiet_steps: int = 3
) -> None:
    """Wait until the app uses under `below` of a core for `quiet_steps` `step`s running: its
    warm-ups after start-up (the model client, the Markdown renderer: ~0.7 s of CPU in the
    first 2-3 s, ui/idle.py) are then done, and not counted as the stream's cost. Each
    warm-up waits for a pause of a second (IDLE_S) after the one before: three steps of
    0.5 s outlast that pause."""
    quiet, deadline = 0, now() + longest
    while quiet < quiet_steps and now() < deadline:
        before = cpu_seconds(app.pid)
        app.drain(step)
        quiet = quiet + 1 if (cpu_seconds(app.pid) - before) / step < below else 0


def pace_for(rate: int) -> dict[str, float]:
    """The server's chunking for `rate` tokens/s: one token a chunk up to 200 tokens/s,
    then chunks every 10 ms (as fast local servers batch them)."""
    per = max(1, rate // 100)
    return {"tokens_per_chunk": per, "delay": per / rate}


def typed_once_quiet(app: PtyApp, prompt: str) -> None:
    """`prompt` typed (not sent) once the app's start-up warm-ups are done."""
    app.expect("Send", "ready", timeout=30)
    wait_quiet(app)
    app.send(prompt)
    app.expect(prompt, timeout=10)
    app.drain(0.3)


def steady_run(home: Path, server: FakeServer, rate: int, seconds: float) -> tuple[float, float, float]:
    """(app CPU in cores, terminal KiB/s, actual tokens/s) while a reply streams at `rate`."""
    text = reply_text("prose", max(80, int(rate * seconds)))
    with spawn_codhechat(home, base_url=server.base_url) as app:
        typed_once_quiet(app, "stream please")
        server.enqueue(text, **pace_for(rate))  # type: ignore[arg-type]
        app.mark()
        app.send("\r")
        while (status := server.status())["latest"] is None or status["latest"]["first_token"] is None:
            app.drain(0.01)
        app.drain(max(0.0, status["latest"]["first_token"] + SKIP_S - now()))
        t0, cpu0, bytes0 = now(), cpu_seconds(app.pid), app.total
        final = app.expect_one(b"ZZEND", timeout=seconds * 3 + 30)
        t1, cpu1, bytes1 = now(), cpu_seconds(app.pid), app.total
        app.quit()
    sent = server.wait_stream()
    tokens = len(TOKEN_RE.findall(text))
    window = t1 - t0
    return (cpu1 - cpu0) / window, (bytes1 - bytes0) / 1024 / window, tokens / (final - sent["first_token"])


def steady_thinking_run(home: Path, server: FakeServer, rate: int, seconds: float) -> tuple[float, float]:
    """(app CPU in cores, terminal KiB/s) while a reasoning model's thought streams at `rate`,
    its tail (the last `seconds`) of a thought of THOUGHT_S: how much a frame costs once
    the thought is long, as a reasoning model's often is."""
    thought = thinking_text(int(rate * THOUGHT_S))
    with spawn_codhechat(home, base_url=server.base_url) as app:
        typed_once_quiet(app, "think please")
        server.enqueue("Done. ZZEND", reasoning=thought, **pace_for(rate))  # type: ignore[arg-type]
        app.send("\r")
        app.drain(THOUGHT_S - seconds)
        t0, cpu0, bytes0 = now(), cpu_seconds(app.pid), app.total
        app.drain(seconds - 0.5)  # the thought still streams (the answer is not yet sent)
        t1, cpu1, bytes1 = now(), cpu_seconds(app.pid), app.total
        assert (server.status()["latest"] or {}).get("first_token") is None, "the thought ended in the window"
        app.expect_one(b"ZZEND", timeout=THOUGHT_S * 3 + 30)
        app.quit()
    server.wait_stream()
    return (cpu1 - cpu0) / (t1 - t0), (bytes1 - bytes0) / 1024 / (t1 - t0)


def steady(home: Path, server: FakeServer, runs: int, seconds: float) -> list[str]:
    """Print the steady-rate figures; returns the targets missed."""
    missed = []
    for rate in STEADY_RATES:
        cores, kib, actual = zip(*(steady_run(home, server, rate, seconds) for _ in range(runs)), strict=True)
        max_cores, max_kib = STEADY_TARGETS[rate]
        print(f"  steady_{rate}_tokens_per_s: app CPU {', '.join(f'{c:.3f}' for c in cores)} cores; "
              f"to the terminal {', '.join(f'{k:.1f}' for k in kib)} KiB/s "
              f"(actual rate {', '.join(f'{a:,.0f}' for a in actual)} tokens/s; {runs} runs)")  # fmt: skip
        if max(cores) > max_cores:
            missed.append(f"steady {rate} CPU (max {max(cores):.3f} cores)")
        if max(kib) > max_kib:
            missed.append(f"steady {rate} bytes (max {max(kib):.1f} KiB/s)")
    cores, kib = zip(*(steady_thinking_run(home, server, 200, seconds) for _ in range(runs)), strict=True)
    print(f"  steady_thinking_200_tokens_per_s ({seconds - 0.5:g} s near the end of a {THOUGHT_S:g} s thought, shown as it streams): "
          f"app CPU {', '.join(f'{c:.3f}' for c in cores)} cores; to the terminal {', '.join(f'{k:.1f}' for k in kib)} KiB/s")  # fmt: skip
    return missed


async def client_only_rate(server: FakeServer, text: str) -> tuple[float, float, int]:
    """codhechat's model client alone (openai SDK), with no UI at all, draining a burst:
    (tokens/s from the server's first token to the last piece received, seconds from the
    last byte sent to the last piece received, pieces the tokens came in)."""
    from codhechat.llm import ModelClient

    server.enqueue(text)
    client = ModelClient(api_key="x", base_url=server.base_url, max_retries=0)
    pieces = 0
    async for _ in client.stream_chat([{"role": "user", "content": "go"}], model="gpt-4o-mini"):
        pieces += 1
    done = now()
    await client.aclose()
    sent = server.wait_stream()
    return sent["chunks"] / (done - sent["first_token"]), done - sent["last_byte"], pieces


def baseline(server: FakeServer, text: str, cap: float) -> str:
    server.enqueue(text)
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_markdown_baseline.py")), server.base_url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        out, _ = child.communicate(text, timeout=cap)
    except subprocess.TimeoutExpired:
        child.kill()
        out, _ = child.communicate()
        progress = [json.loads(line)["rendered_chars"] for line in out.splitlines() if "rendered_chars" in line]
        shown = len(TOKEN_RE.findall(text[: progress[-1]])) if progress else 0
        return (
            f"did not finish in {cap:g} s (about {shown:,} of {len(TOKEN_RE.findall(text)):,} tokens rendered by then)"
        )
    marks = json.loads(out.splitlines()[-1])
    sent = server.wait_stream()
    tokens = len(TOKEN_RE.findall(text))
    return f"{tokens / (marks['done'] - marks['first']):,.0f} tokens/s, final latency {(marks['done'] - sent['last_byte']) * 1000:,.0f} ms"


def shape_runs(home: Path, server: FakeServer, kind: str, text: str, reasoning: str, runs: int,
               ways: tuple[str, ...]) -> list[str]:  # fmt: skip
    """Print one shape's figures, each way; returns the targets missed."""
    missed = []
    for way in ways:
        rates, latencies, totals = [], [], []
        for _ in range(runs):
            if way == "pilot":
                with in_process_env(home, base_url=server.base_url):
                    rate, latency = asyncio.run(pilot_run(home, server, text, reasoning))
            else:
                pace = {"tokens_per_chunk": 20, "delay": 0.01} if way == "pty_paced" else {}
                rate, latency, total, _cpu = pty_run(home, server, text, reasoning, **pace)
                totals.append(total)
            rates.append(rate)
            latencies.append(latency)
        if way == "pty_paced":  # the server sets the rate here: only the latency means anything
            print(
                f"  {way}_{kind}_final_latency (server at ~2,000 tokens/s, 20-token chunks): {summary(latencies, 'ms', 1000, 1)}"
            )
            continue
        print(
            f"  {way}_{kind}_rendered_rate: median {statistics.median(rates):,.0f} tokens/s, min {min(rates):,.0f} tokens/s ({len(rates)} runs)"
        )
        print(f"  {way}_{kind}_final_latency: {summary(latencies, 'ms', 1000, 1)}")
        if totals:
            print(f"  {way}_{kind}_enter_to_final_text: {summary(totals)}")
        if min(rates) < TARGET_RATE:
            missed.append(f"{way} {kind} rate (min {min(rates):,.0f} tokens/s)")
        if max(latencies) > TARGET_LATENCY_S:
            missed.append(f"{way} {kind} latency (max {max(latencies) * 1000:,.0f} ms)")
    return missed


def thinking_text(n_tokens: int) -> str:
    """A model's thinking of about `n_tokens` server tokens (plain prose, no marker)."""
    rng = random.Random("thinking")
    return "".join(TOKEN_RE.findall(" ".join(words(rng, 50) + "." for _ in range(n_tokens // 50 + 1)))[:n_tokens])


def thinking_runs(home: Path, server: FakeServer, args: argparse.Namespace) -> list[str]:
    """The prose reply with a Thinking section streamed first (`reasoning_content`), its
    figures printed beside the same reply without one; the two alternate, run for run, so
    that other work on the machine weighs on both alike. The rate and latency are the
    answer's, from its first token, as for the other shapes."""
    text, thought = reply_text("prose", args.tokens), thinking_text(args.thinking_tokens)
    print(f"prose reply with a Thinking section: {args.thinking_tokens} thinking tokens first, then the same answer")
    missed = []
    variants = (("prose", ""), ("prose_thinking", thought))
    for way in ("pilot", "pty", "pty_paced"):
        rates: dict[str, list[float]] = {label: [] for label, _ in variants}
        latencies: dict[str, list[float]] = {label: [] for label, _ in variants}
        cpus: dict[str, list[float]] = {label: [] for label, _ in variants}
        for _ in range(args.runs):
            for label, reasoning in variants:
                if way == "pilot":
                    with in_process_env(home, base_url=server.base_url):
                        rate, latency = asyncio.run(pilot_run(home, server, text, reasoning))
                else:
                    pace = {"tokens_per_chunk": 20, "delay": 0.01} if way == "pty_paced" else {}
                    rate, latency, _total, cpu = pty_run(home, server, text, reasoning, **pace)
                    cpus[label].append(cpu)
                rates[label].append(rate)
                latencies[label].append(latency)
        for label, _ in variants:
            if way != "pty_paced":  # paced, the server sets the rate: only the latency means anything
                print(f"  {way}_{label}_rendered_rate: median {statistics.median(rates[label]):,.0f} tokens/s, "
                      f"min {min(rates[label]):,.0f} tokens/s ({args.runs} runs)")  # fmt: skip
                if min(rates[label]) < TARGET_RATE:
                    missed.append(f"{way} {label} rate (min {min(rates[label]):,.0f} tokens/s)")
            print(f"  {way}_{label}_final_latency: {summary(latencies[label], 'ms', 1000, 1)}")
            if cpus[label]:  # what the machine's other work does not change much: the app's own CPU
                print(f"  {way}_{label}_app_cpu_per_reply: {summary(cpus[label], 's')}")
            if max(latencies[label]) > TARGET_LATENCY_S:
                missed.append(f"{way} {label} latency (max {max(latencies[label]) * 1000:,.0f} ms)")
    return missed


def ab(home: Path, server: FakeServer, runs: int, tokens: int) -> None:
    """The burst's final latency in the pilot with the model client's coalescing and
    without it (each token handed on by itself, as before), runs alternating."""
    import codhechat.llm

    coalesced = codhechat.llm.coalesced
    for kind in KINDS:
        text = reply_text(kind, tokens)
        got: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(runs):
            for on in (True, False):
                codhechat.llm.coalesced = coalesced if on else (lambda source: source)  # type: ignore[assignment]
                try:
                    with in_process_env(home, base_url=server.base_url):
                        got[on].append(asyncio.run(pilot_run(home, server, text))[1])
                finally:
                    codhechat.llm.coalesced = coalesced
        print(
            f"  pilot_{kind}_burst_final_latency: coalesced {summary(got[True], 'ms', 1000, 1)}; "
            f"one by one (before) {summary(got[False], 'ms', 1000, 1)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4000, help="tokens per reply (default 4000)")
    parser.add_argument("--runs", type=int, default=2, help="runs per shape and way (default 2)")
    parser.add_argument("--baseline-cap", type=float, default=60.0, help="seconds before the baseline is given up")
    parser.add_argument("--no-baseline", action="store_true", help="skip the Markdown.get_stream() baseline")
    parser.add_argument("--steady", action="store_true", help="only the steady-rate CPU and terminal-bytes figures")
    parser.add_argument("--burst", action="store_true", help="skip the steady-rate figures (burst and paced only)")
    parser.add_argument(
        "--ab", action="store_true", help="only the burst in the pilot, coalesced and not (as before), alternating"
    )
    parser.add_argument("--steady-seconds", type=float, default=6.0, help="seconds each steady reply lasts (default 6)")
    parser.add_argument(
        "--thinking", action="store_true", help="only the prose reply with and without a Thinking section, side by side"
    )
    parser.add_argument("--thinking-tokens", type=int, default=1000, help="thinking tokens before the answer (1000)")
    args = parser.parse_args()
    steady_budget = (
        0.0 if args.burst or args.ab else (len(STEADY_RATES) * (args.steady_seconds + 15) + THOUGHT_S + 30) * args.runs
    )
    watchdog(steady_budget + (0 if args.steady else 60 + args.baseline_cap + 20 * args.runs * (len(KINDS) + 4)))
    print(machine_note())

    missed = []
    with temp_home() as home, FakeServer() as server:
        if args.thinking:
            missed += thinking_runs(home, server, args)
            print(f"targets >= {TARGET_RATE} tokens/s and <= {TARGET_LATENCY_S * 1000:.0f} ms: "
                  + ("met" if not missed else "MISSED: " + "; ".join(missed)))  # fmt: skip
            return
        if args.ab:
            ab(home, server, args.runs, args.tokens)
            return
        if not args.burst:
            print(
                f"steady prose reply in a {COLS}x{ROWS} pty, {args.steady_seconds:g} s each, measured from {SKIP_S:g} s after the first token:"
            )
            missed += steady(home, server, args.runs, args.steady_seconds)
        if args.steady:
            print("steady targets: " + ("met" if not missed else "MISSED: " + "; ".join(missed)))
            return
        for kind in KINDS:
            text = reply_text(kind, args.tokens)
            print(f"{kind} reply: {args.tokens} tokens, {structure(text)}")
            missed += shape_runs(home, server, kind, text, "", args.runs, ("pilot", "pty", "pty_paced"))
        missed += thinking_runs(home, server, args)
        for _ in range(args.runs):
            rate, after, pieces = asyncio.run(client_only_rate(server, reply_text("list", args.tokens)))
            print(
                f"client_only (model client draining the burst, no UI): {rate:,.0f} tokens/s, "
                f"last piece {after * 1000:,.0f} ms after the last byte, {pieces} pieces"
            )
        if not args.no_baseline:
            result = baseline(server, reply_text("list", args.tokens), args.baseline_cap)
            print(f"baseline_textual_markdown_get_stream_list: {result}")
    print(
        f"targets >= {TARGET_RATE} tokens/s and <= {TARGET_LATENCY_S * 1000:.0f} ms: "
        + ("met" if not missed else "MISSED: " + "; ".join(missed))
    )


if __name__ == "__main__":
    main()
