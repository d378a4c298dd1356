"""The installed `codhechat` command, used in a real terminal as a person would.

The wheel is built and pip-installed into a fresh venv (see conftest.py), then
run inside tmux against the loopback fake model server: chat, quit, start
again, and find the conversation where it was left.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import Installed, TmuxTerminal, status_line, strip_styles
from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.support.env import xdg_dirs

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]  # the first test also builds and installs the wheel

PROMPT = "Tell me about zebras"
# Markdown that reads differently once rendered: no '#', no '**', bullets drawn as '•'.
REPLY = (
    "# Zebra Field Notes\n\n"
    "Stripes observed today:\n\n"
    "- **Grevy** zebras have narrow stripes\n"
    "- Plains zebras roam widely\n\n"
    "Zanzibar out."
)
SIDEBAR_WIDTH = 32


def app_env(installed: Installed, home: Path, fake: FakeOpenAI) -> dict[str, str]:
    """Everything the app sees: nothing from this machine's or this test run's environment."""
    return {
        "PATH": f"{installed.venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "tmux-256color",
        "COLORTERM": "truecolor",
        **xdg_dirs(home),
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": "sk-e2e",
        "CODHECHAT_MAX_RETRIES": "0",
    }


def test_wheel_installs_the_app_with_its_stylesheet(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
    assert "codhechat/codhechat.tcss" in names
    assert any(n.endswith(".dist-info/entry_points.txt") for n in names)

    # The venv runs its own copy, not the checkout's source.
    assert installed.package_dir.is_relative_to(installed.venv), installed.package_dir
    assert (installed.package_dir / "codhechat.tcss").is_file()
    found = subprocess.run(
        [str(installed.python), "-c", "from codhechat.ui.app import stylesheet_path; print(stylesheet_path())"],
        capture_output=True, text=True, timeout=30, cwd=installed.venv, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()) == installed.package_dir / "codhechat.tcss"

    version = subprocess.run(
        [str(installed.codhechat), "--version"], capture_output=True, text=True, timeout=30,
        cwd=installed.venv, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("codhechat ")


def sidebar(screen: str) -> str:
    return "\n".join(line[:SIDEBAR_WIDTH] for line in screen.splitlines())


def messages(screen: str) -> str:
    return "\n".join(line[SIDEBAR_WIDTH:] for line in screen.splitlines())


def assert_rendered_reply(screen: str) -> None:
    pane = messages(screen)
    assert "Zebra Field Notes" in pane
    assert "# Zebra" not in pane and "**" not in pane, "the reply was shown as source, not Markdown"
    assert re.search(r"•\s+Grevy zebras have narrow stripes", pane), pane
    assert re.search(r"•\s+Plains zebras roam widely", pane), pane
    assert "Zanzibar out." in pane


def select_in_sidebar(term: TmuxTerminal, title: str) -> None:
    """Tab into the sidebar, press Down until the title's row is highlighted, press Enter."""

    def title_row(styled: str) -> str:
        rows = [row for row in styled.splitlines() if title in strip_styles(row)[:SIDEBAR_WIDTH]]
        assert len(rows) == 1, f"{title!r} should be listed once in the sidebar"
        return rows[0]

    plain = title_row(term.screen(styles=True))  # as drawn without the cursor on it
    term.keys("Tab")
    screen = term.wait_until(lambda s: "Send" not in footer(s), "the prompt to lose focus (no 'Send' in the footer)")
    styled = term.screen(styles=True)
    for _ in range(6):
        if title_row(styled) != plain:  # the cursor is on it
            break
        term.keys("Down")
        deadline = time.monotonic() + 3
        while (now := term.screen(styles=True)) == styled:  # wait for the cursor to be drawn
            if time.monotonic() > deadline:
                term.fail(f"pressing Down changed nothing on screen before reaching {title!r}")
            time.sleep(0.03)
        styled = now
    else:
        term.fail(f"the cursor never reached {title!r}")
    assert title in sidebar(screen)
    term.keys("Enter")


def footer(screen: str) -> str:
    lines = screen.rstrip("\n").splitlines()
    return lines[-1] if lines else ""


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: this test drives the app in tmux")
def test_chat_quit_and_find_it_again(installed: Installed, fake_openai: FakeOpenAI, terminal: TmuxTerminal,
                                     tmp_path: Path) -> None:  # fmt: skip
    gate = Gate()  # the reply is held after its heading until the test has seen it streaming
    fake_openai.enqueue(Reply(REPLY, hold=gate, hold_after=5))
    home = tmp_path / "user"
    home.mkdir()
    terminal.start(installed.codhechat, app_env(installed, home, fake_openai))

    # First run: an empty app, ready for a prompt.
    screen = terminal.wait_ready(timeout=20)
    assert "Start a conversation" in screen
    assert "Quit" in footer(screen) and "Send" in footer(screen)  # the prompt has focus

    terminal.type(PROMPT)
    terminal.wait_for(PROMPT)
    terminal.keys("Enter")

    # The reply streams: part of it is on screen while the status says "generating…".
    streaming = terminal.wait_until(
        lambda s: "Zebra Field Notes" in s and "Zanzibar out." not in s and "generating" in status_line(s),
        "part of the reply on screen while it is still generating",
    )
    assert PROMPT in messages(streaming)
    gate.open()
    done = terminal.wait_until(
        lambda s: "Zanzibar out." in s and status_line(s).endswith("ready"), "the whole reply, and ready"
    )
    assert_rendered_reply(done)
    assert PROMPT in sidebar(done), "the new conversation should be listed, titled by its first message"
    sent = fake_openai.requests[0]["body"]
    assert sent["stream"] is True
    assert sent["messages"][-1] == {"role": "user", "content": PROMPT}

    terminal.keys("C-q")
    assert terminal.wait_exit(timeout=10) == 0
    assert "Traceback" not in terminal.screen(history=True)
    assert (Path(xdg_dirs(home)["XDG_DATA_HOME"]) / "codhechat" / "codhechat.db").is_file()

    # Second run: the conversation is in the sidebar; opening it shows the earlier reply.
    terminal.restart()
    screen = terminal.wait_ready(timeout=20)
    screen = terminal.wait_until(lambda s: PROMPT in sidebar(s), "the earlier conversation in the sidebar")
    assert "Zanzibar out." not in screen  # a new run starts on a new conversation
    select_in_sidebar(terminal, PROMPT)
    opened = terminal.wait_until(lambda s: "Zanzibar out." in messages(s), "the earlier reply in the message pane")
    assert_rendered_reply(opened)
    assert PROMPT in messages(opened)
    assert "Stopped" not in opened  # it was stored complete
    assert len(fake_openai.requests) == 1, "opening a conversation must not ask the model again"

    terminal.keys("C-q")
    assert terminal.wait_exit(timeout=10) == 0
    assert "Traceback" not in terminal.screen(history=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: this test drives the app in tmux")
def test_attach_through_the_picker_and_through_at_path(installed: Installed, fake_openai: FakeOpenAI,
                                                       terminal: TmuxTerminal,
                                                       tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    (terminal.workdir / "zebra-facts.txt").write_text("Zebras are black with white stripes.\n")
    (terminal.workdir / "stripes.md").write_text("# Stripes\nThey deter flies.\n")
    home = tmp_path_factory.mktemp("user")  # not in the working folder, which the picker shows
    terminal.start(installed.codhechat, app_env(installed, home, fake_openai))
    terminal.wait_ready(timeout=20)

    # The picker: F10, walk the working folder's tree to the file, Enter.
    terminal.keys("F10")
    terminal.wait_for("Attach a file from")
    picked = terminal.wait_for("zebra-facts.txt")
    rows = [line for line in picked.splitlines() if "stripes.md" in line or "zebra-facts.txt" in line]
    assert len(rows) == 2 and "zebra-facts.txt" in rows[1]  # sorted: stripes.md first
    terminal.keys("Down", "Down", "Enter")
    terminal.wait_until(lambda s: "📎 zebra-facts.txt" in s and "Attach a file from" not in s, "the file's chip")

    # @path and Tab: completed as a shell would, and attached too.
    terminal.type("compare with @str")
    terminal.keys("Tab")
    terminal.wait_until(lambda s: "@stripes.md" in s and "📎 stripes.md" in s, "the completed path and its chip")
    terminal.keys("Enter")
    terminal.wait_until(lambda s: status_line(s).endswith("ready") and "Echo" in s, "the reply")
    parts = fake_openai.requests[-1]["body"]["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "compare with @stripes.md"}
    assert [p["text"].splitlines()[0] for p in parts[1:]] == ["File zebra-facts.txt:", "File stripes.md:"]
    terminal.keys("C-q")
    assert terminal.wait_exit(timeout=10) == 0
    assert "Traceback" not in terminal.screen(history=True)
