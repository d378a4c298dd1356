"""How the main screen looks, in the dark and the light theme (pytest-textual-snapshot).

Update after an intended change with `pytest tests/ui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from codhechat.store import Store
from codhechat.ui.app import CodheChatApp
from codhechat.ui.screens.chat import ChatScreen
from codhechat.ui.widgets.prompt import PromptInput
from tests.ui.conftest import AppFactory

ANSWER = """\
## Borrowing in short

A reference must never outlive the value it points to:

- `&T` shares, `&mut T` excludes
- lifetimes name how long a borrow lasts

```rust
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() > b.len() { a } else { b }
}
```

| rule | checked |
|------|---------|
| one `&mut` | compile time |
"""


def seed(store: Store) -> int:
    now = datetime.now(UTC)
    older = store.create_conversation("Trip ideas for the weekend")
    store.add_message(older.id, "user", "Trip ideas?")
    yesterday = store.create_conversation("Fix a flaky pytest fixture")
    conversation = store.create_conversation("Explain Rust lifetimes")
    store.add_message(conversation.id, "user", "Explain Rust lifetimes with an example.")
    store.add_message(conversation.id, "assistant", ANSWER, model="gpt-4o-mini")
    for conv, when in ((older, now - timedelta(days=20)), (yesterday, now - timedelta(days=1))):
        store.db["conversations"].update(conv.id, {"updated_at": when.isoformat()})
    return conversation.id


def snapshot_app(make_app: AppFactory, theme: str) -> tuple[CodheChatApp, int]:
    app = make_app(theme=theme)
    return app, seed(app.backend.store)


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_main_screen(snap_compare, make_app: AppFactory, theme: str) -> None:  # type: ignore[no-untyped-def]
    app, conversation_id = snapshot_app(make_app, theme)

    async def open_it(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        screen = app.screen_stack[0]
        assert isinstance(screen, ChatScreen)
        app.query_one(PromptInput).cursor_blink = False
        await screen.open_conversation(conversation_id)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(110, 36), run_before=open_it)


def test_welcome_without_a_key(snap_compare, make_app: AppFactory) -> None:  # type: ignore[no-untyped-def]
    app = make_app(base_url=None)

    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        app.query_one(PromptInput).cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=settle)


@pytest.mark.parametrize("size", [(40, 15), (60, 20)])
def test_main_screen_narrow(snap_compare, make_app: AppFactory, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """The sidebar hidden, the chat and a footer of the keys that lead to the rest."""
    app, conversation_id = snapshot_app(make_app, "dark")

    async def open_it(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        app.query_one(PromptInput).cursor_blink = False
        await app.screen_stack[0].open_conversation(conversation_id)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_it)


def test_sidebar_over_a_narrow_chat(snap_compare, make_app: AppFactory) -> None:  # type: ignore[no-untyped-def]
    app, conversation_id = snapshot_app(make_app, "dark")
    app.backend.store.rename_conversation(conversation_id, "Explain Rust lifetimes, with an example that compiles")

    async def open_sidebar(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        app.query_one(PromptInput).cursor_blink = False
        await app.screen_stack[0].open_conversation(conversation_id)
        await pilot.press("ctrl+b")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(40, 15), run_before=open_sidebar)


@pytest.mark.parametrize("size", [(120, 35), (40, 15)])
def test_help_screen(snap_compare, make_app: AppFactory, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """F1: the app's commands first, grouped, each with its key."""
    app = make_app()

    async def open_help(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        app.query_one(PromptInput).cursor_blink = False
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_help)
