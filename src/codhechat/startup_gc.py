"""The cyclic garbage collector around start-up: paused while the app starts, and kept
off what start-up and the warm-ups loaded.

Start-up makes a few hundred thousand objects that live as long as the app does
(modules, classes, widgets, their styles), and the collector scans them again and
again while they are made: 44-61 ms of a 0.45 s start in a pty, one full collection
alone 16-25 ms (measured with `gc.callbacks`, `bench/startup.py`'s set-up). Nothing
start-up makes is garbage worth collecting, so the collector waits until the first
page is drawn; then what exists is frozen (`gc.freeze`: moved where collections never
scan it again) and collection resumes as usual.
"""

from __future__ import annotations

import gc


def pause() -> None:
    """Stop automatic collection (the app's start; `resume` undoes it)."""
    gc.disable()


def resume() -> None:
    """Freeze what start-up made and collect as usual again (idempotent)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def freeze_warmed_up() -> None:
    """Once the background warm-ups (the model client, the settings) have loaded: what
    they made lives as long as the app too, so it is collected once and frozen, out of
    the full passes that would otherwise stall typing for ~60 ms."""
    gc.collect()
    gc.freeze()
