"""The index change log (as in dedup/store/sql.py), and cluster times by publication.

`index_changes` lets an in-process index catch up with what other processes wrote. Clusters' `first_seen` and
`last_seen` now span their members' publication times (ingestion time for an article without one): the stored
rows are recomputed once here, as `dedup.clusters.upkeep` computes them from now on.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The same statement runs on SQLite files when they get the table (dedup.store.sql.SqlStore).
RECOMPUTE_CLUSTER_TIMES = (
    "UPDATE clusters SET "
    "first_seen = COALESCE((SELECT MIN(COALESCE(a.published_at, a.ingested_at)) FROM articles a "
    "WHERE a.cluster_id = clusters.id), first_seen), "
    "last_seen = COALESCE((SELECT MAX(COALESCE(a.published_at, a.ingested_at)) FROM articles a "
    "WHERE a.cluster_id = clusters.id), last_seen)")


def upgrade() -> None:
    if "index_changes" in sa.inspect(op.get_bind()).get_table_names():  # made by `create_all` (the CLI) already
        op.execute(RECOMPUTE_CLUSTER_TIMES)
        return
    op.create_table(
        "index_changes",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.Integer, nullable=False),
    )
    op.execute(RECOMPUTE_CLUSTER_TIMES)


def downgrade() -> None:
    op.drop_table("index_changes")
