"""Tools through MCP servers in local mode: a real MCP server (tests/mcp_server.py, the
official SDK, over stdio) and the loopback model streaming `tool_calls` deltas as the
Chat Completions API does."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from codhechat.backends.local import LocalBackend
from codhechat.config import load_settings
from codhechat.models import (
    MessageStatus,
    ReplyDone,
    ReplyEvent,
    ReplyFailed,
    ReplyNotice,
    ReplyToolCall,
    ReplyToolResult,
    ToolDecision,
)
from codhechat.store import Store
from tests.fake_openai import CallTools, FakeOpenAI, Reply

SERVER = str(Path(__file__).parents[1] / "mcp_server.py")


def mcp_table(allow: list[str] | None = None, **more: Any) -> dict[str, Any]:
    return {"servers": {"test": {"command": sys.executable, "args": [SERVER], "allow": allow or [], **more}}}


def make_backend(fake_openai: FakeOpenAI, tmp_path: Path, mcp: dict[str, Any], db: str = "chat.db") -> LocalBackend:
    settings = load_settings({"base_url": fake_openai.base_url, "max_retries": 0, "mcp": mcp})
    return LocalBackend(settings, Store.open(tmp_path / db))


async def run(events: AsyncIterator[ReplyEvent], decide: ToolDecision | None = None) -> list[ReplyEvent]:
    """Every event of a turn; calls that need asking get `decide` (None: a test failure)."""
    seen = []
    async for event in events:
        seen.append(event)
        if isinstance(event, ReplyToolCall) and event.approval.needed:
            assert decide is not None, f"asked about {event.call.name}"
            event.approval.decide(decide)
    return seen


@pytest.fixture
async def backend(fake_openai: FakeOpenAI, tmp_path: Path) -> AsyncIterator[LocalBackend]:
    backend = make_backend(fake_openai, tmp_path, mcp_table(allow=["add"]))
    yield backend
    await backend.aclose()


def tool_messages(sent: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["tool_call_id"], m["content"]) for m in sent if m["role"] == "tool"]


async def test_an_allowed_tool_runs_and_the_model_answers_with_its_result(
    backend: LocalBackend, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(CallTools((("add", '{"a": 20, "b": 22}'),), text="Let me add."), Reply("It is 42."))
    events = await run(backend.stream_reply(None, "what is 20 + 22?"))
    call = next(e for e in events if isinstance(e, ReplyToolCall))
    assert not call.approval.needed and call.server == "test"
    assert (call.call.name, json.loads(call.call.arguments)) == ("add", {"a": 20, "b": 22})
    result = next(e for e in events if isinstance(e, ReplyToolResult))
    assert (result.message.content, result.failed) == ("42", False)
    assert isinstance(events[-1], ReplyDone) and events[-1].message.content == "It is 42."
    # The tools were offered as OpenAI function tools; the second request carries the round.
    first, second = (r["body"] for r in fake_openai.requests)
    assert {t["function"]["name"] for t in first["tools"]} == {"add", "echo", "fail", "die", "env", "block", "pid"}
    assistant = second["messages"][-2]
    assert assistant["tool_calls"][0]["id"] == CallTools.call_id(0) and assistant["content"] == "Let me add."
    assert tool_messages(second["messages"]) == [(CallTools.call_id(0), "42")]
    stored = await backend.get_messages(events[0].conversation.id)
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[1].tool_calls == (call.call,) and stored[1].finish_reason == "tool_calls"
    assert (stored[2].tool_call_id, stored[2].tool_name) == (CallTools.call_id(0), "add")


async def test_several_calls_in_one_turn_arguments_in_pieces(backend: LocalBackend, fake_openai: FakeOpenAI) -> None:
    calls = (("add", '{"a": 1, "b": 2}'), ("echo", '{"text": "hello there"}'))
    fake_openai.enqueue(CallTools(calls, args_per_chunk=2), Reply("Done."))
    events = await run(backend.stream_reply(None, "both"), decide="once")
    results = [e for e in events if isinstance(e, ReplyToolResult)]
    assert [r.message.content for r in results] == ["3", "echo: hello there"]
    second = fake_openai.requests[1]["body"]["messages"]
    assert tool_messages(second) == [(CallTools.call_id(0), "3"), (CallTools.call_id(1), "echo: hello there")]


async def test_a_tool_not_allowed_asks_and_always_is_remembered(backend: LocalBackend, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(CallTools((("echo", '{"text": "hi"}'),)), Reply("ok"),
                        CallTools((("echo", '{"text": "again"}'),)), Reply("ok"))  # fmt: skip
    events = await run(backend.stream_reply(None, "say hi"), decide="always")
    call = next(e for e in events if isinstance(e, ReplyToolCall))
    assert call.approval.needed
    assert next(e for e in events if isinstance(e, ReplyToolResult)).message.content == "echo: hi"
    again = await run(backend.stream_reply(events[0].conversation.id, "again"))  # not asked this time
    assert not next(e for e in again if isinstance(e, ReplyToolCall)).approval.needed


async def test_a_denied_tool_does_not_run_and_the_model_is_told(backend: LocalBackend, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(CallTools((("env", '{"name": "HOME"}'),)), Reply("Understood."))
    events = await run(backend.stream_reply(None, "where is home?"), decide="deny")
    result = next(e for e in events if isinstance(e, ReplyToolResult))
    assert result.failed and "declined" in result.message.content
    assert "declined" in tool_messages(fake_openai.requests[1]["body"]["messages"])[0][1]
    assert isinstance(events[-1], ReplyDone)


async def test_a_failing_tool_is_an_error_result_and_the_turn_goes_on(
    backend: LocalBackend, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(CallTools((("fail", '{"reason": "no disk"}'),)), Reply("Sorry."))
    events = await run(backend.stream_reply(None, "try it"), decide="once")
    result = next(e for e in events if isinstance(e, ReplyToolResult))
    assert result.failed and "no disk" in result.message.content and result.message.error
    assert isinstance(events[-1], ReplyDone) and events[-1].message.content == "Sorry."


async def test_a_server_that_dies_is_reported_once_and_the_chat_goes_on(
    backend: LocalBackend, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(CallTools((("die", "{}"),)), Reply("It died."), Reply("Still here."))
    events = await run(backend.stream_reply(None, "die"), decide="once")
    result = next(e for e in events if isinstance(e, ReplyToolResult))
    assert result.failed and "gone" in result.message.content
    notices = [e.text for e in events if isinstance(e, ReplyNotice)]
    assert len(notices) == 1 and "'test' stopped" in notices[0]
    assert isinstance(events[-1], ReplyDone)
    assert "tools" not in fake_openai.requests[1]["body"]  # its tools are no longer offered
    later = await run(backend.stream_reply(events[0].conversation.id, "hello?"))
    assert not [e for e in later if isinstance(e, ReplyNotice)] and isinstance(later[-1], ReplyDone)


async def test_a_server_that_cannot_start_is_reported_and_the_reply_comes(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    backend = make_backend(fake_openai, tmp_path, {"servers": {"gone": {"command": str(tmp_path / "nothing")}}})
    try:
        fake_openai.enqueue(Reply("Hello."))
        events = await run(backend.stream_reply(None, "hi"))
        notices = [e.text for e in events if isinstance(e, ReplyNotice)]
        assert len(notices) == 1 and "'gone' could not start" in notices[0] and "not found" in notices[0]
        assert isinstance(events[-1], ReplyDone) and "tools" not in fake_openai.requests[-1]["body"]
    finally:
        await backend.aclose()


async def test_the_loop_guard_stops_a_model_that_keeps_calling(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    backend = make_backend(fake_openai, tmp_path, {**mcp_table(allow=["add"]), "max_rounds": 2})
    try:
        fake_openai.enqueue(*[CallTools((("add", '{"a": 1, "b": 1}'),))] * 3)
        events = await run(backend.stream_reply(None, "loop"))
        assert len(fake_openai.requests) == 3  # two rounds ran; the third's calls are refused
        failed = events[-1]
        assert isinstance(failed, ReplyFailed) and "the limit is 2" in str(failed.error)
        stored = await backend.get_messages(events[0].conversation.id)
        assert stored[-1].role == "tool" and "limit of 2" in stored[-1].content
        fake_openai.enqueue(Reply("fine"))
        await run(backend.stream_reply(events[0].conversation.id, "stop now"))
        sent = fake_openai.last_messages
        ids = [c["id"] for m in sent if m["role"] == "assistant" for c in m.get("tool_calls", ())]
        assert len(ids) == len(tool_messages(sent)) == 3  # every call answered: the API accepts it
    finally:
        await backend.aclose()


async def test_a_conversation_with_tool_rounds_resumes_after_a_restart(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    first = make_backend(fake_openai, tmp_path, mcp_table(allow=["add"]))
    fake_openai.enqueue(CallTools((("add", '{"a": 2, "b": 3}'),)), Reply("Five."))
    events = await run(first.stream_reply(None, "2+3?"))
    conversation_id = events[0].conversation.id
    await first.aclose()
    again = make_backend(fake_openai, tmp_path, mcp_table(allow=["add"]))
    try:
        fake_openai.enqueue(Reply("You are welcome."))
        await run(again.stream_reply(conversation_id, "thanks"))
        sent = [(m["role"], m.get("content"), m.get("tool_call_id")) for m in fake_openai.last_messages[1:]]
        assert sent == [("user", "2+3?", None), ("assistant", None, None), ("tool", "5", CallTools.call_id(0)),
                        ("assistant", "Five.", None), ("user", "thanks", None)]  # fmt: skip
        assert fake_openai.last_messages[2]["tool_calls"][0]["function"] == {
            "name": "add",
            "arguments": '{"a": 2, "b": 3}',
        }
    finally:
        await again.aclose()


async def test_the_server_gets_only_the_environment_its_config_names(
    fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-of-the-user")
    monkeypatch.setenv("SOME_TOKEN", "also-secret")
    backend = make_backend(fake_openai, tmp_path, mcp_table(allow=["env"], env={"GIVEN": "yes"}))
    try:
        calls = tuple(("env", json.dumps({"name": n})) for n in ("OPENAI_API_KEY", "SOME_TOKEN", "GIVEN"))
        fake_openai.enqueue(CallTools(calls), Reply("ok"))
        events = await run(backend.stream_reply(None, "env?"))
        assert [e.message.content for e in events if isinstance(e, ReplyToolResult)] == ["(unset)", "(unset)", "yes"]
    finally:
        await backend.aclose()


async def test_the_mcp_sdk_is_imported_only_when_a_server_starts(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    import subprocess

    code = ("import sys; import codhechat.backends.local, codhechat.turn, codhechat.config; "
            "print('mcp' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_tool_rounds_are_searchable_and_survive_export_and_import(
    backend: LocalBackend, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    from codhechat.native_format import dump_json, parse_native, record_of

    fake_openai.enqueue(CallTools((("echo", '{"text": "zebracorn"}'),)), Reply("Echoed."))
    events = await run(backend.stream_reply(None, "echo it"), decide="once")
    conversation = events[0].conversation
    hits = await backend.search("zebracorn")
    assert any(hit.role == "tool" for hit in hits)
    messages = backend.store.all_messages(conversation.id)
    exported = dump_json([record_of(conversation, messages)])
    other = Store.open(tmp_path / "other.db")
    records = parse_native(json.loads(exported), tmp_path / "x.json")
    (imported,), _ = other.import_conversations(records)
    copied = other.all_messages(imported.id)
    assert [(m.role, m.content, m.tool_calls, m.tool_call_id, m.tool_name) for m in copied] == [
        (m.role, m.content, m.tool_calls, m.tool_call_id, m.tool_name) for m in messages
    ]
    assert dump_json([record_of(imported, copied)]) == exported
    other.close()


def test_the_readme_example_is_a_valid_config(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Tools (MCP)", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "config.toml").write_text(example)
    settings = load_settings(config_file=tmp_path / "config.toml", env_file=None)
    assert settings.mcp.servers["fetch"].allow == ["fetch"] and settings.mcp.servers["search"].url
    assert settings.mcp.max_rounds == 8 and not settings.warnings


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """tests/mcp_server.py over streamable HTTP on a free loopback port: its URL."""
    import socket
    import subprocess
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp_path / "http-server.log", "w")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, SERVER, "--http", str(port)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:  # ready once it accepts connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the MCP server did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


async def test_a_streamable_http_server_s_tools_run(fake_openai: FakeOpenAI, tmp_path: Path, http_server: str) -> None:
    mcp = {"servers": {"web": {"url": http_server, "headers": {"X-Test": "1"}, "allow": ["add"]}}}
    backend = make_backend(fake_openai, tmp_path, mcp)
    try:
        fake_openai.enqueue(CallTools((("add", '{"a": 40, "b": 2}'),)), Reply("42."))
        events = await run(backend.stream_reply(None, "over http"))
        result = next(e for e in events if isinstance(e, ReplyToolResult))
        assert (result.message.content, result.failed) == ("42", False)
        assert next(e for e in events if isinstance(e, ReplyToolCall)).server == "web"
    finally:
        await backend.aclose()


async def test_tools_of_the_same_name_on_two_servers_are_namespaced(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    server = {"command": sys.executable, "args": [SERVER]}
    backend = make_backend(fake_openai, tmp_path, {"servers": {"one": server, "two": {**server, "allow": ["add"]}}})
    try:
        fake_openai.enqueue(CallTools((("two__add", '{"a": 1, "b": 1}'),)), Reply("2"))
        events = await run(backend.stream_reply(None, "add on two"))
        names = {t["function"]["name"] for t in fake_openai.requests[0]["body"]["tools"]}
        assert {"one__add", "two__add", "one__echo", "two__echo"} <= names and "add" not in names
        call = next(e for e in events if isinstance(e, ReplyToolCall))
        assert call.server == "two" and not call.approval.needed  # `allow` names the server's own tool name
        assert next(e for e in events if isinstance(e, ReplyToolResult)).message.content == "2"
    finally:
        await backend.aclose()


def test_offered_names_are_safe_for_the_api_and_unique() -> None:
    from codhechat.tools.calls import offered_names

    names = offered_names([("a", "get weather"), ("b.c", "x"), ("d", "x"), ("e", "y" * 80)])
    assert names[("a", "get weather")] == "get_weather"
    assert (names[("b.c", "x")], names[("d", "x")]) == ("b_c__x", "d__x")
    assert len(names[("e", "y" * 80)]) == 64


def test_the_call_buffer_puts_together_interleaved_pieces() -> None:
    from codhechat.tools.calls import ToolCallBuffer

    buffer = ToolCallBuffer()
    buffer.feed([{"index": 0, "id": "c0", "type": "function", "function": {"name": "add", "arguments": ""}}])
    buffer.feed([{"index": 1, "id": "c1", "function": {"name": "echo", "arguments": '{"te'}}])
    buffer.feed(
        [{"index": 0, "function": {"arguments": '{"a": 1,'}}, {"index": 1, "function": {"arguments": 'xt": "x"}'}}]
    )
    buffer.feed([{"index": 0, "function": {"arguments": ' "b": 2}'}}])
    assert [(c.id, c.name, json.loads(c.arguments)) for c in buffer.calls()] == [
        ("c0", "add", {"a": 1, "b": 2}),
        ("c1", "echo", {"text": "x"}),
    ]


async def test_stopping_a_turn_mid_call_keeps_the_server_and_the_history_usable(
    backend: LocalBackend, fake_openai: FakeOpenAI
) -> None:
    import asyncio

    fake_openai.enqueue(CallTools((("block", "{}"),)))
    seen: list[ReplyEvent] = []
    asked = asyncio.Event()

    async def consume() -> None:
        async for event in backend.stream_reply(None, "block"):
            seen.append(event)
            if isinstance(event, ReplyToolCall):
                event.approval.decide("once")
                asked.set()

    task = asyncio.create_task(consume())
    await asked.wait()
    task.cancel()  # Escape: whether the call has reached the server yet or not, the turn ends
    with pytest.raises(asyncio.CancelledError):
        await task
    conversation_id = seen[0].conversation.id  # type: ignore[attr-defined]
    fake_openai.enqueue(CallTools((("add", '{"a": 3, "b": 4}'),)), Reply("Seven."))
    events = await run(backend.stream_reply(conversation_id, "add instead"))
    assert next(e for e in events if isinstance(e, ReplyToolResult)).message.content == "7"
    sent = fake_openai.requests[1]["body"]["messages"]
    assert ("call_fake0", "Not run: the turn was stopped.") in tool_messages(sent)


async def test_servers_stop_when_the_backend_closes(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    import os

    backend = make_backend(fake_openai, tmp_path, mcp_table(allow=["pid"]))
    fake_openai.enqueue(CallTools((("pid", "{}"),)), Reply("ok"))
    events = await run(backend.stream_reply(None, "pid?"))
    pid = int(next(e for e in events if isinstance(e, ReplyToolResult)).message.content)
    os.kill(pid, 0)  # running
    await backend.aclose()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_tools_switched_off_in_a_conversation_stay_off_after_a_restart(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    first = make_backend(fake_openai, tmp_path, mcp_table())
    events = await run(first.stream_reply(None, "hi"))
    conversation_id = events[0].conversation.id
    changed = await first.switch_tool(conversation_id, "echo", False)
    assert changed is not None and changed.tools_off == {"echo"}
    await first.aclose()
    again = make_backend(fake_openai, tmp_path, mcp_table())
    try:
        await run(again.stream_reply(conversation_id, "again"))
        offered = {t["function"]["name"] for t in fake_openai.requests[-1]["body"]["tools"]}
        assert "echo" not in offered and "add" in offered
        await again.switch_tool(conversation_id, "test", False)  # a whole server
        await run(again.stream_reply(conversation_id, "once more"))
        assert "tools" not in fake_openai.requests[-1]["body"]
        other = await run(again.stream_reply(None, "elsewhere"))  # other conversations keep theirs
        assert "echo" in {t["function"]["name"] for t in fake_openai.requests[-1]["body"]["tools"]}
        assert other[0].conversation.tools_off == frozenset()
    finally:
        await again.aclose()


async def test_a_server_s_prompts_without_arguments_are_system_prompt_presets(
    backend: LocalBackend, fake_openai: FakeOpenAI
) -> None:
    assert "test/terse" not in backend.system_prompt_presets  # the servers start on first use
    await backend.tool_servers()
    presets = backend.system_prompt_presets
    assert presets["test/terse"] == "Answer in as few words as you can."
    assert "test/about" not in presets  # it needs an argument


async def test_a_model_that_does_not_take_tools_answers_without_them(
    backend: LocalBackend, fake_openai: FakeOpenAI
) -> None:
    from tests.fake_openai import Fail

    fake_openai.enqueue(Fail(400, "registry.ollama.ai/library/gemma:2b does not support tools"), Reply("Hi."))
    events = await run(backend.stream_reply(None, "hello"))
    notices = [e.text for e in events if isinstance(e, ReplyNotice)]
    assert len(notices) == 1 and "does not take tools" in notices[0]
    assert isinstance(events[-1], ReplyDone) and events[-1].message.content == "Hi."
    first, second = (r["body"] for r in fake_openai.requests)
    assert "tools" in first and "tools" not in second
    stored = await backend.get_messages(events[0].conversation.id)
    assert [m.role for m in stored] == ["user", "assistant"]  # the refused request left nothing behind
    await run(backend.stream_reply(events[0].conversation.id, "again"))  # not offered again, not said again
    assert "tools" not in fake_openai.requests[-1]["body"]


async def test_closing_while_a_server_is_still_starting_does_not_wait_for_it(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    import asyncio
    import time

    from codhechat.tools.settings import McpSettings
    from codhechat.tools.toolbox import Toolbox

    # A "server" that never answers the handshake.
    silent = {"command": sys.executable, "args": ["-c", "import time; time.sleep(60)"]}
    toolbox = Toolbox(McpSettings.model_validate({"servers": {"silent": silent}}))
    starting = asyncio.create_task(toolbox.offered())
    await asyncio.sleep(0)  # the start has begun (or is about to): either way close must be quick
    began = time.monotonic()
    await toolbox.aclose()
    assert time.monotonic() - began < 4.5  # not the 5 s grace of a running server (the SDK may take 2 s to kill)
    starting.cancel()


def test_a_version_9_database_upgrades_to_tool_messages(tmp_path: Path) -> None:
    from codhechat.models import ToolCall
    from codhechat.store import SCHEMA_VERSION
    from tests.unit.test_store import database_at_version, old_conversation

    path = tmp_path / "v9.db"
    old = database_at_version(path, 9)
    conversation_id = old_conversation(old, "before tools")
    old["messages"].insert({"conversation_id": conversation_id, "role": "user", "content": "hi", "status": "complete",
                            "created_at": "2025-01-01T10:00:00+00:00"})  # fmt: skip
    old.conn.commit()
    old.close()
    store = Store.open(path)
    assert store.schema_version == SCHEMA_VERSION
    (message,) = store.all_messages(conversation_id)
    assert (message.tool_calls, message.tool_call_id, store.get_conversation(conversation_id).tools_off) == (
        (),
        None,
        frozenset(),
    )
    reply = store.add_message(conversation_id, "assistant", "")
    call = ToolCall("c1", "add", '{"a": 1}')
    store.update_message(reply.id, content="", status=MessageStatus.COMPLETE, tool_calls=(call,))
    store.add_message(conversation_id, "tool", "2", tool_call_id="c1", tool_name="add")
    assert [(m.role, m.tool_calls, m.tool_call_id) for m in store.history(conversation_id, 10)] == [
        ("user", (), None),
        ("assistant", (call,), None),
        ("tool", (), "c1"),
    ]  # an empty reply with calls counts
    store.close()
