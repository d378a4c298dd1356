"""Opening a 2,000-message conversation, then paging back through it.

How: a temporary database gets one conversation of 2,000 messages (user
questions and assistant answers of a few Markdown paragraphs, a code block in
every third answer, a list in every fourth; the last message ends in the
marker ZZLAST), the newest, beside 30 short ones.

* open (pilot): App.run_test(size=(120, 40)); once the sidebar lists it, its
  node gets the cursor and Enter is pressed. The clock stops at the first
  compositor refresh (a bench-only hook) after which the newest message is a
  MessageView whose last line is inside the message pane, i.e. on screen.
* paging (pilot): the pane is scrolled to the top (scroll_home) again and
  again; each time an older page is loaded above. Printed per step: the load
  time, the MessageView widgets mounted (must stay <= MAX_MOUNTED) and this
  process's RSS.
* open (pty): the installed `codhechat` in a real 120x40 pty; Tab moves to the
  sidebar (landing on the newest conversation), Enter opens it; the clock runs
  from Enter until ZZLAST is written to the terminal.

* huge (pilot and pty): conversations whose last reply is one huge message: a
  2,000-line code fence, and 5,000 lines of paragraphs (both end in ZZLAST). Opened
  as above; the clock stops when the reply's last line is on screen (pilot) or ZZLAST
  is written (pty). `--whole` renders such a reply whole, as before (for comparison).
  Then PageUp ten times in the pilot: the worst time from a key to the next refresh.

Target: open to on screen <= 300 ms, with any message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    db_path,
    in_process_env,
    machine_note,
    make_app,
    now,
    rss_mb,
    seed_conversations,
    seed_long_conversation,
    spawn_codhechat,
    summary,
    temp_home,
    watchdog,
)

TARGET_S = 0.300


class RefreshWatch:
    """Calls a predicate after every compositor refresh of the chat screen; records when it first holds."""

    def __init__(self) -> None:
        from codhechat.ui.screens.chat import ChatScreen

        # Textual has no public hook for "a frame reached the terminal", and time to pixels is
        # what this measures: the bench (never the app) wraps the private _compositor_refresh.
        self.cls, self.original = ChatScreen, ChatScreen._compositor_refresh
        self.predicate, self.when, self.event = None, 0.0, asyncio.Event()

    def __enter__(self) -> RefreshWatch:
        watch = self

        def hooked(screen):  # type: ignore[no-untyped-def]
            watch.original(screen)
            if watch.predicate is not None and watch.predicate():
                watch.predicate, watch.when = None, now()
                watch.event.set()

        self.cls._compositor_refresh = hooked
        return self

    def __exit__(self, *exc: object) -> None:
        self.cls._compositor_refresh = self.original

    def arm(self, predicate) -> None:  # type: ignore[no-untyped-def]
        """Start checking `predicate`: arm before doing what should make it true."""
        self.event.clear()
        self.predicate = predicate

    async def wait(self, timeout: float = 10.0) -> float:
        await asyncio.wait_for(self.event.wait(), timeout)
        return self.when


async def pilot_run(home: Path, conversation_id: int, steps: int, settle: float) -> tuple[float, list[str]]:
    from codhechat.ui.transcript import MAX_WINDOW as MAX_MOUNTED
    from codhechat.ui.widgets.messages import MessageView

    lines = []
    app = make_app(home)
    with RefreshWatch() as watch:
        async with app.run_test(size=(120, 40)) as pilot:
            tree, pane = app.screen.query_one("#sidebar"), app.screen.query_one("#messages")

            def node():  # type: ignore[no-untyped-def]
                walk, found = [tree.root], None
                while walk and found is None:
                    current = walk.pop()
                    found = current if current.data == conversation_id else None
                    walk += current.children
                return found

            for _ in range(200):
                if node() is not None:
                    break
                await pilot.pause(0.02)
            await pilot.pause(settle)
            tree.focus()
            tree.move_cursor(node())
            await pilot.pause()
            lines.append(f"rss_before_open: {rss_mb():.0f} MB")

            def newest_on_screen() -> bool:
                views = pane.views()
                last = views[-1] if views else None
                if not isinstance(last, MessageView) or last.message.id != pane_last_id[0]:
                    return False
                return pane.region.y < last.region.bottom <= pane.region.bottom

            pane_last_id = [await newest_message_id(app, conversation_id)]
            watch.arm(newest_on_screen)
            start = now()
            await pilot.press("enter")
            opened = await watch.wait() - start

            def oldest_id() -> int | None:
                return next((w.message.id for w in pane.views() if isinstance(w, MessageView)), None)

            def mounted() -> int:
                return sum(isinstance(w, MessageView) for w in pane.views())

            lines.append(f"after_open: {mounted()} MessageViews mounted, RSS {rss_mb():.0f} MB")
            peak = mounted()
            for step in range(1, steps + 1):
                oldest = oldest_id()
                watch.arm(lambda: oldest_id() != oldest)
                begin = now()
                pane.scroll_home(animate=False)
                took = await watch.wait() - begin
                await pilot.pause(0.05)
                peak = max(peak, mounted())
                lines.append(
                    f"scroll_to_top_step_{step}: older page in {took * 1000:.0f} ms, {mounted()} MessageViews mounted "
                    f"(oldest id {oldest_id()}), RSS {rss_mb():.0f} MB"
                )
            bounded = "bounded" if peak <= MAX_MOUNTED else "NOT BOUNDED"
            lines.append(f"mounted_message_views: max {peak} over {steps} steps, MAX_MOUNTED={MAX_MOUNTED}: {bounded}")
    return opened, lines


async def newest_message_id(app, conversation_id: int) -> int:  # type: ignore[no-untyped-def]
    newest = await app.screen.backend.get_messages(conversation_id, limit=1)
    return newest[-1].id


def pty_run(home: Path, title: str) -> float:
    with spawn_codhechat(home) as app:
        app.expect("Send", "ready", title, timeout=30)
        app.send("\t")  # to the sidebar, onto the newest conversation
        app.drain(0.3)
        app.mark()
        start = app.send("\r")
        shown = app.expect_one(b"ZZLAST", timeout=20)
        app.quit()
    return shown - start


def seed_huge(home: Path) -> dict[str, tuple[int, str]]:
    """Two conversations, each ending in one huge reply; returns kind -> (id, title)."""
    from codhechat.store import Store

    store = Store.open(db_path(home))
    fence = "```python\n" + "\n".join(f"def f_{i}(x):  return x * {i}  # line {i} of the fence" for i in range(2000))
    prose = "\n\n".join(f"Line {i}: a paragraph with *some* `code` and words enough to wrap once." for i in range(5000))
    made = {}
    for kind, body in (("fence_2000_lines", fence + "\n```\n\nZZLAST"), ("message_5000_lines", prose + "\n\nZZLAST")):
        conversation = store.create_conversation(f"huge {kind}", model="gpt-4o-mini")
        store.add_message(conversation.id, "user", f"Show me {kind}")
        store.add_message(conversation.id, "assistant", body, model="gpt-4o-mini")
        made[kind] = (conversation.id, conversation.title)
    store.close()
    return made


async def huge_pilot_run(home: Path, conversation_id: int, settle: float) -> tuple[float, float]:
    """(open to the reply's last line on screen, worst PageUp to the next refresh)."""
    app = make_app(home)
    with RefreshWatch() as watch:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(settle)
            chat = app.screen_stack[0]
            pane = chat.pane

            def bottom_on_screen() -> bool:
                views = pane.views()
                last = views[-1] if views else None
                if last is None or getattr(getattr(last, "message", None), "role", None) != "assistant":
                    return False
                return pane.region.y < last.region.bottom <= pane.region.bottom

            watch.arm(bottom_on_screen)
            start = now()
            await chat.open_conversation(conversation_id)
            opened = await watch.wait() - start
            await pilot.pause(0.2)
            worst = 0.0
            for _ in range(10):
                y = pane.scroll_y
                watch.arm(lambda: pane.scroll_y != y)
                begin = now()
                pane.scroll_page_up(animate=False)
                worst = max(worst, await watch.wait() - begin)
                await pilot.pause(0.05)
    return opened, worst


def huge_main(args: argparse.Namespace) -> None:
    if args.whole:
        from codhechat.ui.widgets import long_message

        long_message.LONG_CHARS = 10**12  # every reply rendered whole, as before
    with temp_home() as home:
        seed_conversations(home, 30)
        for kind, (conversation_id, title) in seed_huge(home).items():
            opens, pages = [], []
            with in_process_env(home):
                for _ in range(args.runs):
                    opened, page = asyncio.run(huge_pilot_run(home, conversation_id, args.settle))
                    opens.append(opened)
                    pages.append(page)
            print(f"open_{kind}_pilot: {summary(opens, 'ms', 1000, 1)}")
            print(f"page_up_{kind}_pilot (worst of 10 per run): {summary(pages, 'ms', 1000, 1)}")
            if not args.whole:  # `python -m codhechat` renders as this checkout does
                runs = [huge_pty_run(home, title) for _ in range(args.runs)]
                ptys, cpus = [r[0] for r in runs], [r[1] for r in runs]
                print(
                    f"open_{kind}_pty: {summary(ptys, 'ms', 1000, 1)}; the app's CPU meanwhile {summary(cpus, 'ms', 1000, 0)}"
                )


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system, all threads) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def huge_pty_run(home: Path, title: str) -> tuple[float, float]:
    """(Enter to ZZLAST written, the app's CPU seconds meanwhile: less disturbed by other
    work on the machine). The huge conversations are the newest but for the 30 short ones
    seeded first: the sidebar lists them at the top; Tab lands on the newest, Down moves on
    when needed."""
    with spawn_codhechat(home) as app:
        app.expect("Send", "ready", title, timeout=30)
        app.send("\t")
        app.drain(0.3)
        if "fence" in title:
            app.send("\x1b[B")  # the fence conversation is the second newest
            app.drain(0.3)
        app.mark()
        cpu = process_cpu(app.pid)
        start = app.send("\r")
        shown = app.expect_one(b"ZZLAST", timeout=20)
        cpu = process_cpu(app.pid) - cpu
        app.quit()
    return shown - start, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages in the long conversation (default 2000)")
    parser.add_argument("--runs", type=int, default=3, help="timed opens, each way (default 3)")
    parser.add_argument("--steps", type=int, default=8, help="scroll-to-top steps (default 8)")
    parser.add_argument(
        "--settle", type=float, default=1.5, help="seconds the app idles after start-up before the open (default 1.5)"
    )
    parser.add_argument("--huge", action="store_true", help="only the huge-message scenario")
    parser.add_argument("--whole", action="store_true", help="with --huge: render a huge reply whole, as before")
    args = parser.parse_args()
    watchdog(60 + 15 * args.runs + 2 * args.steps)
    print(machine_note())
    if args.huge:
        huge_main(args)
        return

    with temp_home() as home:
        conversation_id, title = seed_long_conversation(home, args.messages)
        pilot_opens = []
        with in_process_env(home):
            for run in range(args.runs):
                opened, lines = asyncio.run(
                    pilot_run(home, conversation_id, args.steps if run == 0 else 0, args.settle)
                )
                pilot_opens.append(opened)
                if run == 0:
                    print("\n".join(lines))
        pty_opens = [pty_run(home, title) for _ in range(args.runs)]
    print(f"open_{args.messages}_messages_pilot: {summary(pilot_opens, 'ms', 1000, 1)}")
    print(f"open_{args.messages}_messages_pty: {summary(pty_opens, 'ms', 1000, 1)}")
    worst = max(pilot_opens + pty_opens)
    print(
        f"target open <= {TARGET_S * 1000:.0f} ms: {'met' if worst <= TARGET_S else 'MISSED'} (max {worst * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
