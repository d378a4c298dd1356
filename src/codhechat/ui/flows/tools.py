"""Tools… (the palette): the MCP servers, their state and their tools, each switched on
or off for the open conversation (Enter toggles the one under the cursor; Esc closes).
The backend keeps the switches (codhechat.backends TOOLS); servers start on opening it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.screen import Screen

from codhechat.backends import TOOLS, supports
from codhechat.errors import CodheError
from codhechat.textsafe import visible
from codhechat.ui.screens.dialogs import PickOne
from codhechat.ui.session import ChatSession


async def choose_tools(screen: Screen[Any], session: ChatSession) -> None:
    backend = session.backend
    if not supports(backend, TOOLS):
        screen.notify("No MCP servers are configured: see “Tools (MCP)” in the README.")
        return
    conversation = session.conversation(session.conversation_id)
    if conversation is None:
        screen.notify("Send a first message, then choose this conversation's tools.")
        return
    try:
        states = await backend.tool_servers()
    except CodheError as exc:
        screen.notify(str(exc), title="Tools", severity="error")
        return
    off = conversation.tools_off
    while True:
        rows: list[Text | str] = []
        names: list[str] = []
        for state in states:
            mark = "○ off" if state.name in off else "● on "
            rows.append(Text.assemble((f"{mark} {visible(state.name)}", "bold"),
                                      (f"  {visible(state.status)} · {visible(state.where)}", "dim")))  # fmt: skip
            names.append(state.name)
            for tool in state.tools:
                rows.append(f"    {'○ off' if tool in off or state.name in off else '● on '} {visible(tool)}")
                names.append(tool)
        picked = await screen.app.push_screen_wait(
            PickOne("Tools for this conversation: Enter switches one on or off, Esc closes", rows)
        )
        if picked is None:
            return
        try:
            changed = await backend.switch_tool(conversation.id, names[picked], names[picked] in off)
        except CodheError as exc:
            screen.notify(str(exc), title="Tools", severity="error")
            return
        if changed is None:
            return
        session.upsert(changed)
        off = changed.tools_off
