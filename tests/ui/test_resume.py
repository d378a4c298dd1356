"""Resuming at start-up: `codhechat --continue` opens the conversation last talked in (not
the first pinned one), `--conversation ID` opens that one, an unknown id is a plain error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from codhechat.ui.widgets.messages import MessageView
from tests.ui.conftest import AppFactory, wait_until
from tests.ui.test_chat import SIZE, screen_of


def seed(app) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """An old pinned conversation, the one last talked in, and an older one."""
    store, now = app.backend.store, datetime.now(UTC)
    ids = []
    for title, age in (("pinned long ago", 30), ("talked in last", 0), ("last week", 7)):
        conversation = store.create_conversation(title)
        store.add_message(conversation.id, "user", f"first message of {title}")
        store.db["conversations"].update(conversation.id, {"updated_at": (now - timedelta(days=age)).isoformat()})
        ids.append(conversation.id)
    store.set_pinned(ids[0], True)
    return ids[0], ids[1], ids[2]


def shown_texts(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [view.message.content for view in app.query(MessageView)]


async def test_continue_opens_the_conversation_last_talked_in(make_app: AppFactory) -> None:
    app = make_app(resume="latest")
    _, latest, _ = seed(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: screen_of(app).conversation_id == latest)
        await wait_until(pilot, lambda: shown_texts(app) == ["first message of talked in last"])
        assert screen_of(app).sub_title == "talked in last"
        assert screen_of(app).prompt.has_focus  # back to typing at once


async def test_continue_with_no_conversation_starts_a_new_one(make_app: AppFactory) -> None:
    app = make_app(resume="latest")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app._notifications)
        assert "no conversation to continue" in next(iter(app._notifications)).message
        assert screen_of(app).conversation_id is None and app.return_code is None


async def test_conversation_id_opens_that_one(make_app: AppFactory) -> None:
    app = make_app()
    _, _, older = seed(app)
    app.resume = older  # read when the app starts
    async with app.run_test(size=SIZE) as pilot:
        chat = screen_of(app)
        await wait_until(pilot, lambda: chat.conversation_id == older)
        await wait_until(pilot, lambda: shown_texts(app) == ["first message of last week"])
        assert chat.sub_title == "last week"
        assert chat.sidebar.current == older


async def test_an_unknown_conversation_id_ends_the_app_with_a_plain_error(make_app: AppFactory, capsys) -> None:  # type: ignore[no-untyped-def]
    app = make_app(resume=424242)
    seed(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.return_code is not None)
    assert app.return_code == 1
    said = capsys.readouterr().err  # printed once the screen is gone
    assert said.splitlines() == ["codhechat: There is no conversation 424242.", "  `codhechat list` shows the ids."]
