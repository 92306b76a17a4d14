"""Alembic environment: runs on a connection handed over by `dedup.store.migrate`, or on DEDUP_DATABASE_URL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from dedup.settings import Settings
from dedup.store.sql import database_url, metadata

config = context.config
target_metadata = metadata


def run_offline() -> None:
    context.configure(url=database_url(Settings().database_url), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(database_url(Settings().database_url))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
