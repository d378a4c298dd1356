"""The footer rebuilds its keys only when what it shows changes, gives each key its
compact style before the key is mounted, and start-up's paused garbage collector
resumes once the first page is drawn (the start-up costs `bench/startup.py` found)."""

from __future__ import annotations

import gc

import pytest
from textual.widgets import Footer

from codhechat import startup_gc
from codhechat.ui.widgets.footer import COMPACT_BELOW, ChatFooter
from tests.ui.conftest import AppFactory, wait_until
from tests.ui.test_chat import screen_of
from tests.ui.test_layout import footer_line


def keys_of(app) -> list[Footer]:  # type: ignore[no-untyped-def]
    """The footer's keys but the palette's, whose style Textual does not tie to the footer's."""
    footer = app.screen.query_one(ChatFooter)
    return [key for key in footer.children if getattr(key, "action", "command_palette") != "command_palette"]


async def test_a_refresh_that_changes_no_key_keeps_the_keys_and_a_change_shows(make_app: AppFactory) -> None:
    app = make_app()
    app.backend.store.create_conversation("Something to pick")
    async with app.run_test(size=(120, 40)) as pilot:
        chat = screen_of(app)
        await wait_until(pilot, lambda: chat.sidebar.conversations and "Send" in footer_line(app))
        before = keys_of(app)
        app.screen.refresh_bindings()  # as every focus change does
        await pilot.pause()
        await pilot.pause()
        assert keys_of(app) == before and all(a is b for a, b in zip(keys_of(app), before, strict=True))
        # A change the footer shows: the sidebar focused has no "Send", the prompt has.
        chat.sidebar.focus()
        await wait_until(pilot, lambda: "Send" not in footer_line(app))
        assert not any(a is b for a in keys_of(app) for b in before)
        chat.prompt.focus()
        await wait_until(pilot, lambda: "Send" in footer_line(app))


@pytest.mark.parametrize("width", [COMPACT_BELOW - 10, COMPACT_BELOW + 10])
async def test_every_key_has_the_footers_compact_style_from_the_start_and_after_a_resize(
    make_app: AppFactory, width: int
) -> None:
    app = make_app()
    async with app.run_test(size=(width, 40)) as pilot:
        await wait_until(pilot, lambda: "Send" in footer_line(app))
        footer = app.screen.query_one(ChatFooter)
        compact = width < COMPACT_BELOW
        assert footer.compact is compact
        assert {(key.compact, key.has_class("-compact")) for key in keys_of(app)} == {(compact, compact)}
        other = COMPACT_BELOW + 10 if compact else COMPACT_BELOW - 10
        await pilot.resize_terminal(other, 40)
        flipped = {(not compact, not compact)}
        await wait_until(pilot, lambda: {(key.compact, key.has_class("-compact")) for key in keys_of(app)} == flipped)
        assert footer.compact is not compact


async def test_the_collector_paused_for_start_up_resumes_once_the_first_page_is_drawn(make_app: AppFactory) -> None:
    app = make_app()
    startup_gc.pause()  # as `codhechat` does before it builds the app
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            chat = screen_of(app)
            await wait_until(pilot, lambda: gc.isenabled())
            assert chat.sidebar.display
            assert gc.get_freeze_count() > 0  # what start-up made is kept out of later passes
    finally:
        gc.enable()
        gc.unfreeze()
