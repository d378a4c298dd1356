"""Tool calls in the app: the call is shown and asked about (keys y, a, n), the result
folds under it, Escape stops the whole turn; against the real MCP test server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from codhechat.models import MessageStatus
from codhechat.ui.widgets.messages import ReplyView
from codhechat.ui.widgets.tool_call import NoticeView, ToolCallView
from tests.fake_openai import CallTools, FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until

SIZE = (110, 36)
SERVER = str(Path(__file__).parents[1] / "mcp_server.py")
MCP = {"servers": {"test": {"command": sys.executable, "args": [SERVER], "allow": ["add"]}}}


def tool_views(app) -> list[ToolCallView]:  # type: ignore[no-untyped-def]
    return list(app.query(ToolCallView))


def replies(app) -> list[ReplyView]:  # type: ignore[no-untyped-def]
    return list(app.query(ReplyView))


async def test_a_call_is_asked_about_and_y_runs_it(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(CallTools((("echo", '{"text": "from the tool"}'),), text="Calling."), Reply("Said it."))
    app = make_app(mcp=MCP)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "echo something")
        await pilot.press("enter")
        await wait_until(pilot, lambda: tool_views(app) and tool_views(app)[0].asking, timeout=20)
        view = tool_views(app)[0]
        await wait_until(pilot, lambda: app.focused is view)  # it takes the focus: the prompt is empty
        assert "from the tool" in str(view.query_one(".tool-arguments").render())
        await pilot.press("y")
        await wait_until(pilot, lambda: len(replies(app)) == 2 and replies(app)[-1].status == MessageStatus.COMPLETE,
                         timeout=20)  # fmt: skip
        assert replies(app)[0].text == "Calling." and replies(app)[-1].text == "Said it."
        assert view.live is not None and view.live.result == "echo: from the tool"
        assert [m["content"] for m in fake_openai.last_messages if m["role"] == "tool"] == ["echo: from the tool"]


async def test_n_denies_and_an_allowed_tool_is_not_asked(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(CallTools((("add", '{"a": 1, "b": 2}'), ("env", '{"name": "HOME"}'))), Reply("ok"))
    app = make_app(mcp=MCP)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(tool_views(app)) == 2 and tool_views(app)[1].asking, timeout=20)
        await wait_until(pilot, lambda: app.focused is tool_views(app)[1])
        first = tool_views(app)[0]
        assert not first.asking and first.live is not None and first.live.result == "3"
        await pilot.press("n")
        await wait_until(pilot, lambda: replies(app)[-1].status == MessageStatus.COMPLETE and len(replies(app)) == 2,
                         timeout=20)  # fmt: skip
        second = tool_views(app)[1]
        assert second.live is not None and second.live.failed and "declined" in (second.live.result or "")


async def test_escape_while_asking_stops_the_whole_turn(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(CallTools((("echo", '{"text": "x"}'),)))
    app = make_app(mcp=MCP)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: tool_views(app) and tool_views(app)[0].asking, timeout=20)
        await pilot.press("escape")
        view = tool_views(app)[0]
        await wait_until(pilot, lambda: view.live is not None and view.live.stopped, timeout=10)
        assert not view.asking and len(fake_openai.requests) == 1


async def test_a_server_that_cannot_start_is_said_once(make_app: AppFactory, fake_openai: FakeOpenAI,
                                                       tmp_path: Path) -> None:  # fmt: skip
    app = make_app(mcp={"servers": {"gone": {"command": str(tmp_path / "missing")}}})
    async with app.run_test(size=SIZE) as pilot:
        for n, prompt in enumerate(("one", "two"), 1):
            await type_text(pilot, prompt)
            await pilot.press("enter")
            await wait_until(
                pilot, lambda: len(replies(app)) == n and replies(app)[-1].status == MessageStatus.COMPLETE
            )
        notices = list(app.query(NoticeView))
        assert len(notices) == 1 and "'gone' could not start" in str(notices[0].render())


async def test_the_tools_command_switches_a_tool_off_for_the_conversation(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    from textual.widgets import OptionList

    from codhechat.ui.screens.dialogs import PickOne
    from tests.ui.conftest import palette_titles

    app = make_app(mcp=MCP)
    async with app.run_test(size=SIZE) as pilot:
        assert "Tools…" in await palette_titles(app)
        await type_text(pilot, "hi")
        await pilot.press("enter")
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status == MessageStatus.COMPLETE, timeout=20)
        assert "echo" in {t["function"]["name"] for t in fake_openai.requests[-1]["body"]["tools"]}
        app.action_choose_tools()
        await wait_until(pilot, lambda: isinstance(app.screen, PickOne), timeout=20)
        options = app.screen.query_one(OptionList)
        rows = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert "running" in rows[0] and any(row.endswith(" echo") for row in rows)
        options.highlighted = next(i for i, row in enumerate(rows) if row.endswith(" echo"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PickOne) and "off" in str(
            app.screen.query_one(OptionList).get_option_at_index(options.highlighted or 0).prompt))  # fmt: skip
        await pilot.press("escape")
        await type_text(pilot, "again")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(fake_openai.requests) == 2 and len(replies(app)) == 2
                         and replies(app)[-1].status == MessageStatus.COMPLETE, timeout=20)  # fmt: skip
        offered = {t["function"]["name"] for t in fake_openai.requests[-1]["body"]["tools"]}
        assert "echo" not in offered and "add" in offered


async def test_without_mcp_servers_there_is_no_tools_command(make_app: AppFactory) -> None:
    from tests.ui.conftest import palette_titles

    app = make_app()
    async with app.run_test(size=SIZE):
        titles = await palette_titles(app)
        assert "Tools…" not in titles and "Attach an MCP resource…" not in titles


async def test_an_mcp_resource_is_attached_and_sent(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    from codhechat.ui.screens.dialogs import PickOne
    from codhechat.ui.widgets.attachment_bar import AttachmentChip
    from tests.ui.conftest import palette_titles

    fake_openai.enqueue(Reply("Read it."))
    app = make_app(mcp=MCP)
    async with app.run_test(size=SIZE) as pilot:
        assert "Attach an MCP resource…" in await palette_titles(app)
        app.screen.action_attach_resource()
        await wait_until(pilot, lambda: isinstance(app.screen, PickOne), timeout=30)  # the server starts first
        await pilot.press("enter")
        await wait_until(pilot, lambda: [c.file.attachment.name for c in app.query(AttachmentChip)] == ["hello"])
        await type_text(pilot, "summarise")
        await pilot.press("enter")
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status is not None)
        parts = fake_openai.requests[-1]["body"]["messages"][-1]["content"]
        assert parts[0] == {"type": "text", "text": "summarise"}
        assert parts[1]["text"] == "File hello:\n\n# Hello\n\nFrom a resource."


async def test_a_call_still_asking_is_shown_again_when_its_conversation_is_reopened(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(CallTools((("add", '{"a": 1, "b": 1}'), ("echo", '{"text": "back"}'))), Reply("Both done."))
    app = make_app(mcp=MCP)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(tool_views(app)) == 2 and tool_views(app)[1].asking, timeout=20)
        screen = app.screen_stack[0]
        conversation_id = screen.conversation_id
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: not tool_views(app))
        await screen.open_conversation(conversation_id)
        await wait_until(pilot, lambda: len(tool_views(app)) == 2 and tool_views(app)[1].asking)
        assert tool_views(app)[0].message is not None and tool_views(app)[0].message.content == "2"  # stored
        assert len([m for m in app.query(".message.assistant")]) == 1  # the round's reply, once
        tool_views(app)[1].focus()
        await pilot.press("y")
        await wait_until(pilot, lambda: any(r.text == "Both done." and r.status == MessageStatus.COMPLETE
                                            for r in replies(app)), timeout=20)  # fmt: skip


async def test_a_call_does_not_take_the_focus_from_a_prompt_being_typed(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    from codhechat.ui.widgets.prompt import PromptInput

    fake_openai.enqueue(CallTools((("echo", '{"text": "x"}'),)), Reply("ok"))
    app = make_app(mcp=MCP)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await type_text(pilot, "and yes")  # typed while the servers start
        await wait_until(pilot, lambda: tool_views(app) and tool_views(app)[0].asking, timeout=20)
        await type_text(pilot, "y")
        assert isinstance(app.focused, PromptInput) and app.focused.text == "and yesy"
        assert tool_views(app)[0].asking  # the `y` went to the prompt, not to the question
        tool_views(app)[0].focus()
        await pilot.press("n")
        await wait_until(pilot, lambda: replies(app)[-1].status == MessageStatus.COMPLETE and len(replies(app)) == 2,
                         timeout=20)  # fmt: skip


async def test_arguments_and_results_are_text_never_markup_or_escapes(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    from textual.widgets import Collapsible, Static

    hostile = "[bold red]boom[/] [/INST] \x1b]0;pwned\x07"
    fake_openai.enqueue(CallTools((("echo", json.dumps({"text": hostile})),)), Reply("ok"))
    app = make_app(mcp=MCP)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: tool_views(app) and tool_views(app)[0].asking, timeout=20)
        await wait_until(pilot, lambda: app.focused is tool_views(app)[0])
        view = tool_views(app)[0]
        arguments = view.query_one(".tool-arguments", Static).visual
        assert "[bold red]boom[/] [/INST]" in arguments.plain and "\x1b" not in arguments.plain  # type: ignore[union-attr]
        await pilot.press("y")
        await wait_until(pilot, lambda: view.live is not None and view.live.result is not None, timeout=20)
        view.query_one(Collapsible).collapsed = False
        await pilot.pause()
        result = view.query_one(".tool-result-text", Static).visual
        assert "echo: [bold red]boom[/] [/INST]" in result.plain and "\x1b" not in result.plain  # type: ignore[union-attr]


async def test_regenerating_into_a_round_of_tool_calls_replaces_the_old_reply(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Reply("First answer."), CallTools((("add", '{"a": 2, "b": 2}'),)), Reply("Four."))
    app = make_app(mcp=MCP)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "2+2")
        await pilot.press("enter")
        await wait_until(pilot, lambda: replies(app) and replies(app)[-1].status == MessageStatus.COMPLETE, timeout=20)
        await app.screen_stack[0].session.regenerate(app.screen_stack[0].session.window.entries[-1])
        await wait_until(pilot, lambda: any(r.text == "Four." and r.status == MessageStatus.COMPLETE
                                            for r in replies(app)), timeout=20)  # fmt: skip
        assert "First answer." not in [r.text for r in replies(app)]
