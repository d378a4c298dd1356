"""A bare Textual app of codhechat's shape, the yardstick for bench/startup.py.

Header, a tree of the 200 most recent conversations (read with plain sqlite3 from
the same database), a text input, a status line saying "ready" and a footer with a
"Send" key: what codhechat's first screen shows, with none of its own code.
Run as `python bench/_bare_app.py DATABASE`.
"""

from __future__ import annotations

import sqlite3
import sys

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Static, TextArea, Tree


class BareApp(App[None]):
    CSS = """
    #sidebar { width: 31; }
    #pane { height: 1fr; }
    #prompt { height: 3; }
    #status { height: 1; }
    """
    BINDINGS = [Binding("ctrl+j", "send", "Send"), Binding("ctrl+q", "quit", "Quit")]

    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal():
            tree: Tree[int] = Tree("Conversations", id="sidebar")
            tree.show_root = False
            yield tree
            with Vertical():
                yield Static("Welcome", id="pane")
                yield TextArea(id="prompt")
        yield Static("ready", id="status")
        yield Footer()

    def on_mount(self) -> None:
        conn = sqlite3.connect(self.database)
        rows = conn.execute("select id, title from conversations order by updated_at desc limit 200").fetchall()
        conn.close()
        tree = self.query_one(Tree)
        group = tree.root.add("Today", expand=True)
        for conversation_id, title in rows:
            group.add_leaf(title, data=conversation_id)
        self.query_one(TextArea).focus()

    def action_send(self) -> None:
        pass


if __name__ == "__main__":
    BareApp(sys.argv[1]).run()
