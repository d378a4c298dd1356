"""Screen updates held while widgets mount, so that one frame shows them with what came
with them.

Why: a reply that arrives in one burst is first drawn at its end, when its pieces are
mounted, and mounting is asynchronous. What its end changed at once (the notice hidden,
the usage shown) asked for a layout that came before the mounts were done, so the first
frame after the end painted only that, and the reply's text came a layout later: at the
screen's next tick but one (Textual's refresh timer, once it has ticked, skips to its
next slot but one), 20-35 ms after the status in a pty, in four bursts of five.

Held with the app's own `batch_update` until the mounts are done (or HOLD_MAX_S, should
one never be), the screen lays out once, with everything; its refresh is then asked for
(`batch_update` ending prompts the app, not the screen).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence

from textual.widget import Widget

HOLD_MAX_S = 0.5  # a frame held longer than this is worse than a frame in two steps

_releasing: set[asyncio.Task[None]] = set()  # the tasks are kept until they are done


def hold_updates_until(widget: Widget, mounts: Sequence[Awaitable[object]]) -> None:
    """Paint nothing of `widget`'s app until `mounts` (a `mount`'s AwaitMounts) are done."""
    if not mounts:
        return
    app, screen = widget.app, widget.screen
    held = app.batch_update()
    held.__enter__()

    async def release() -> None:
        try:
            with contextlib.suppress(Exception):  # a failed mount is Textual's to report
                await asyncio.wait_for(asyncio.gather(*mounts), HOLD_MAX_S)
        finally:
            held.__exit__(None, None, None)
            screen.check_idle()

    task = asyncio.get_running_loop().create_task(release())
    _releasing.add(task)
    task.add_done_callback(_releasing.discard)
