"""The README's second capture: a file attached with `@path` + Tab, and a reasoning
model's reply with its Thinking section folded. Run from the checkout, after the README's
set-up: `.venv/bin/python -m tests.support.readme_capture` prints the screen as tmux
shows it (the real app, against the test suite's loopback model server)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.fake_openai import FakeOpenAI, Reply
from tests.support.env import xdg_dirs
from tests.support.tmux import TmuxTerminal, status_line

NOTES = "# Release checklist\n\n- bump the version\n- tag it\n- write the notes\n"
THOUGHT = "The user wants the checklist in order. Three steps; the notes come last."
ANSWER = "Your checklist, in order:\n\n1. Bump the version\n2. Tag the release\n3. Write the notes"


def main() -> None:
    program = Path(".venv/bin/codhechat").resolve()
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI() as model:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        (work / "checklist.md").write_text(NOTES)
        model.enqueue(Reply(ANSWER, reasoning=THOUGHT))
        terminal = TmuxTerminal(work)
        env = {
            "PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TERM": "tmux-256color",
            **xdg_dirs(home), "OPENAI_BASE_URL": model.base_url,
            "OPENAI_API_KEY": "sk-readme", "CODHECHAT_MODEL": "deepseek-r1",
        }  # fmt: skip
        try:
            terminal.start(program, env)
            terminal.wait_ready(timeout=20)
            terminal.type("@check")
            terminal.keys("Tab")
            terminal.wait_for("📎 checklist.md")
            terminal.type(" put these in order")
            terminal.keys("Enter")
            terminal.wait_until(lambda s: "Write the notes" in s and "context" in status_line(s), "the reply")
            print(terminal.screen())
        finally:
            terminal.close()


if __name__ == "__main__":
    main()
