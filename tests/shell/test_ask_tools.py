"""`codhechat ask` with MCP tools: allowed ones run, others are refused unless
--allow-tool NAME or --allow-all-tools says otherwise (there is no one to ask in a pipe)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codhechat import paths
from tests.fake_openai import CallTools, FakeOpenAI, Reply
from tests.shell.conftest import no_traceback

SERVER = Path(__file__).parents[1] / "mcp_server.py"


@pytest.fixture(autouse=True)
def config_file() -> Path:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[mcp.servers.test]\ncommand = "{sys.executable}"\nargs = ["{SERVER}"]\nallow = ["add"]\n', encoding="utf-8"
    )
    return path


def tool_results(fake_openai: FakeOpenAI) -> list[str]:
    return [m["content"] for m in fake_openai.requests[1]["body"]["messages"] if m["role"] == "tool"]


def test_an_allowed_tool_runs(cli, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(CallTools((("add", '{"a": 4, "b": 5}'),)), Reply("Nine."))
    result = cli("ask", "4+5?")
    no_traceback(result)
    assert result.returncode == 0 and result.stdout == "Nine.\n"
    assert tool_results(fake_openai) == ["9"] and "running tool add" in result.stderr


def test_a_tool_not_allowed_is_refused_and_stderr_says_how_to_allow_it(cli, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(CallTools((("echo", '{"text": "x"}'),)), Reply("Refused, then."))
    result = cli("ask", "echo x")
    assert result.returncode == 0 and result.stdout == "Refused, then.\n"
    assert "declined" in tool_results(fake_openai)[0]
    assert "--allow-tool echo" in result.stderr


@pytest.mark.parametrize("flags", [("--allow-tool", "echo"), ("--allow-all-tools",)])
def test_allow_tool_flags_let_it_run(cli, fake_openai: FakeOpenAI, flags: tuple[str, ...]) -> None:
    fake_openai.enqueue(CallTools((("echo", '{"text": "x"}'),)), Reply("Done."))
    result = cli("ask", *flags, "echo x")
    assert result.returncode == 0 and tool_results(fake_openai) == ["echo: x"]


def test_a_resource_is_attached(cli, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("Read it."))
    result = cli("ask", "--resource", "test:note://hello", "summarise")
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    parts = fake_openai.requests[0]["body"]["messages"][-1]["content"]
    assert any("From a resource." in (part.get("text") or "") for part in parts)


def test_a_resource_that_is_not_there_is_a_clear_error(cli, fake_openai: FakeOpenAI) -> None:
    result = cli("ask", "--resource", "test:note://nothing", "summarise")
    no_traceback(result)
    assert result.returncode != 0 and "could not give note://nothing" in result.stderr
    assert fake_openai.requests == []
