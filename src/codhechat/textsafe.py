"""Text from elsewhere, made safe to show on a terminal.

A model, a server, an import file or a pasted prompt can hold terminal control
sequences: `ESC ] 0 ; title BEL` retitles the window, `ESC ] 52 ; c ; …` writes
the clipboard, `ESC [ 2 J` clears the screen, and the 8-bit C1 controls (U+009B
is CSI) do the same on terminals that honour them. Written raw, such text would
let whoever wrote it drive the user's terminal.

So every string shown on a terminal goes through `visible()`: each C0 control
other than newline and tab, DEL and each C1 control is replaced by its `cat -v`
spelling (`^[`, `^G`, `^?`, `M-^[`), which shows that something was there without
acting on it. A carriage return is dropped, as Rich drops it (a CRLF line ending
is just a line ending). The stored text is never changed: this is for display only.
"""

from __future__ import annotations

import re

_KEEP = {"\n", "\t"}


def _spelling(code: int) -> str:
    if code == 0x0D:
        return ""
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return "M-^" + chr(code - 0x80 + 0x40)  # C1: 0x80-0x9f, as `cat -v` shows them


_TABLE = {code: _spelling(code) for code in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if chr(code) not in _KEEP}
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """`text` with every control character a terminal could act on spelled out."""
    if CONTROL.search(text) is None:
        return text  # the common case costs one scan
    return text.translate(_TABLE)


def has_controls(text: str) -> bool:
    return CONTROL.search(text) is not None
