"""Background warm-ups wait for the user to pause (codhechat.ui.idle): keys typed into the
real app keep postponing one, a pause lets it run, and it never waits longer than its cap."""

from __future__ import annotations

import asyncio
import time

from codhechat.ui.idle import WhenIdle
from tests.ui.conftest import AppFactory


async def test_a_warm_up_waits_while_the_user_types_and_runs_at_a_pause(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        ran = asyncio.Event()
        app.when_idle = WhenIdle(app, 0.5, longest=60)
        app.when_idle.add(ran.set)
        typed_until = time.monotonic() + 1.5  # three times the pause it waits for
        while time.monotonic() < typed_until:
            await pilot.press("a")  # into the prompt, which has the focus
            await asyncio.sleep(0.05)
        assert not ran.is_set()
        await asyncio.wait_for(ran.wait(), 10)  # the pause


async def test_a_warm_up_waits_no_longer_than_its_cap(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        ran = asyncio.Event()
        app.when_idle = WhenIdle(app, 0.5, longest=1.0)
        app.when_idle.add(ran.set)
        give_up = time.monotonic() + 10
        while not ran.is_set() and time.monotonic() < give_up:  # typing without a pause
            await pilot.press("a")
            await asyncio.sleep(0.05)
        assert ran.is_set()


async def test_warm_ups_run_one_at_a_time_each_after_its_own_pause(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)):
        order: list[tuple[str, float]] = []
        both = asyncio.Event()
        app.when_idle = WhenIdle(app, 0.3, longest=60)
        app.when_idle.add(lambda: order.append(("first", time.monotonic())))
        app.when_idle.add(lambda: (order.append(("second", time.monotonic())), both.set()))
        assert app.when_idle.waiting == 2
        await asyncio.wait_for(both.wait(), 10)
        assert app.when_idle.waiting == 0
        assert [name for name, _ in order] == ["first", "second"]
        assert order[1][1] - order[0][1] >= 0.3
