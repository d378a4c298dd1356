"""Alembic environment: runs on the connection handed over by codhechat.server.db.migrate.

For the command line (`alembic -x url=... upgrade head`), a sync URL may be given instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from codhechat.server.db import modelled
from codhechat.server.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, include_object=modelled
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    assert url is not None, "alembic needs -x url=... or sqlalchemy.url"
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(
            connection=conn, target_metadata=target_metadata, render_as_batch=True, include_object=modelled
        )
        with context.begin_transaction():
            context.run_migrations()


run()
