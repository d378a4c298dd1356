"""Engine, sessions and migrations. One engine per app, made in its lifespan.

Failures of the database are told apart from everything else in one place:
`is_database_failure` knows what SQLAlchemy and the drivers raise (asyncpg lets a
refused connection out as a bare OSError, which must not read as a client that left).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

log = logging.getLogger("codhechat.server.db")

MIGRATIONS = Path(__file__).with_name("migrations")


def modelled(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """For Alembic's comparisons: SQLite's full-text index (messages_fts and the tables FTS5
    makes for it, kept by triggers) belongs to the migrations, not to models.py."""
    return not (type_ == "table" and name is not None and name.startswith("messages_fts"))


_MIGRATION_LOCK = 0x636F6468  # pg advisory lock id: replicas starting together migrate one at a time


RETRY_AFTER_S = 5  # what a 503 / 1013 for an unavailable database tells the client


class DatabaseUnavailable(Exception):
    """The database cannot be reached, or stayed busy past DB_TIMEOUT: try again shortly."""


def is_database_failure(exc: BaseException) -> bool:
    """True for what the database layer raises when it is down, locked or refusing."""
    import asyncpg

    return isinstance(exc, SQLAlchemyError | asyncpg.PostgresError | asyncpg.InterfaceError | DatabaseUnavailable) or (
        isinstance(exc, OSError) and _raised_by_driver(exc)
    )


def _raised_by_driver(exc: OSError) -> bool:
    """An OSError from asyncpg's connect (its traceback runs through asyncpg or SQLAlchemy)."""
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("asyncpg", "sqlalchemy", "aiosqlite")):
            return True
        tb = tb.tb_next
    return False


def is_conflict(exc: BaseException) -> bool:
    """A constraint refused the write: a row it refers to was deleted meanwhile."""
    return isinstance(exc, IntegrityError)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 30, timeout: float = 30.0) -> AsyncEngine:
    """`hide_parameters`: a failed statement's message names no bound value (message text)."""
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": timeout}
    if url.startswith("sqlite"):
        # Writes queue on SQLite's lock for up to `timeout`, then fail (503), never hang.
        engine = create_async_engine(url, connect_args={"timeout": timeout}, hide_parameters=True, **pool)
        busy_ms = int(timeout * 1000)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives the process being killed (only a power cut may
            # lose the last ones), and commits cost no fsync each: replies are saved often.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,  # a connection that died with the server is replaced, not handed out
        hide_parameters=True,
        connect_args={"timeout": min(timeout, 10.0)},
        **pool,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (Alembic, run on the given engine)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
