"""Local conversations in SQLite (sqlite-utils): the only package that runs SQL in local mode.

database.Store is the API; migrations, search, rows and failures are its parts.
"""

from codhechat.models import SNIPPET_END, SNIPPET_START
from codhechat.store.database import BUSY_TIMEOUT_S, Store
from codhechat.store.failures import read_only_error, storage_error
from codhechat.store.migrations import FTS_TOKENIZER, MIGRATIONS, SCHEMA_VERSION
from codhechat.store.search import RANK_WINDOW, SNIPPET_TOKENS

__all__ = [
    "BUSY_TIMEOUT_S", "FTS_TOKENIZER", "MIGRATIONS", "RANK_WINDOW", "SCHEMA_VERSION", "SNIPPET_END",
    "SNIPPET_START", "SNIPPET_TOKENS", "Store", "read_only_error", "storage_error",
]  # fmt: skip
