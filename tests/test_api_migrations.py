"""PostgreSQL schema by Alembic: the migration matches dedup/store/sql.py exactly, and old schemas get stamped."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dedup.store.migrate import upgrade
from dedup.store.sql import database_url, metadata
from tests.api_backends import pg_schema
from tests.conftest import service_url


def _diff(url: str) -> tuple[list, str | None]:
    engine = sa.create_engine(database_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            return compare_metadata(context, metadata), context.get_current_revision()
    finally:
        engine.dispose()


def test_migrations_match_the_store_tables():
    with pg_schema(service_url("DEDUP_TEST_DATABASE_URL")) as url:
        upgrade(url)
        upgrade(url)  # a second worker starting finds nothing to do
        diff, revision = _diff(url)
        assert diff == [] and revision == "0004_watches"


def test_schema_made_by_create_all_is_stamped_not_recreated():
    with pg_schema(service_url("DEDUP_TEST_DATABASE_URL")) as url:
        engine = sa.create_engine(database_url(url))
        metadata.create_all(engine)
        engine.dispose()
        upgrade(url)
        diff, revision = _diff(url)
        assert diff == [] and revision == "0004_watches"


def test_schema_from_before_the_recluster_tables_is_upgraded():
    with pg_schema(service_url("DEDUP_TEST_DATABASE_URL")) as url:
        engine = sa.create_engine(database_url(url))
        first = [metadata.tables[name] for name in ("articles", "signatures", "clusters", "cluster_aliases")]
        metadata.create_all(engine, tables=first)
        engine.dispose()
        upgrade(url)
        diff, revision = _diff(url)
        assert diff == [] and revision == "0004_watches"
