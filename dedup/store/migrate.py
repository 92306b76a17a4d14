"""Alembic at start-up for PostgreSQL: bring the schema to the newest revision before the store opens.

SQLite files stay on `metadata.create_all` (embedded default, nothing to coordinate). On PostgreSQL several
workers may start at once, so the upgrade runs under a session advisory lock; a schema created earlier by
`create_all` (e.g. by the CLI) is stamped as the first revision instead of being created twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dedup.store.sql import database_url

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]
# The tables each revision creates, oldest first: a schema made by `create_all` is stamped at the
# newest revision whose tables it already has, and upgraded from there.
_REVISION_TABLES = (
    ("0001", {"articles", "signatures", "clusters", "cluster_aliases"}),
    ("0002", {"recluster_runs", "pair_verdicts"}),
    ("0004", {"learned_boilerplate"}),
    ("0006", {"corrections"}),
    ("0007", {"watches", "alert_deliveries"}),
    ("0008", {"index_changes"}),
)


def _present_revision(tables: set[str]) -> str | None:
    present = None
    for revision, created in _REVISION_TABLES:
        if not created <= tables:
            break
        present = revision
    return present


def migrations_root() -> Path:
    """The checkout holding alembic.ini; installed from a wheel (the Docker image) the package sits in
    site-packages, and the migrations are in the working directory (the image's WORKDIR) instead."""
    for root in (ROOT, Path.cwd()):
        if (root / "alembic.ini").is_file() and (root / "alembic" / "env.py").is_file():
            return root
    return ROOT


def alembic_config() -> Config:
    from alembic.config import Config

    root = migrations_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    return config


def upgrade(url: str) -> None:
    """Run migrations to head on a PostgreSQL URL; does nothing for SQLite."""
    full = database_url(url)
    if full.startswith("sqlite"):
        return
    from alembic import command

    engine = sa.create_engine(full)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtext('dedup-migrate:' || "
                                 "coalesce(current_schema(), 'public')))"))
            conn.commit()
            config = alembic_config()
            config.attributes["connection"] = conn
            tables = set(sa.inspect(conn).get_table_names())
            present = _present_revision(tables)
            if present and "alembic_version" not in tables:
                command.stamp(config, present)
            command.upgrade(config, "head")
            conn.commit()
            conn.execute(sa.text("SELECT pg_advisory_unlock_all()"))
            conn.commit()
    finally:
        engine.dispose()
