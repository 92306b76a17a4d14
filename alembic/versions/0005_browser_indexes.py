"""Indexes for the cluster browser: clusters by size, articles by source (as in dedup/store/sql.py).

The clusters list sorts by size and filters by source; without these both scan a whole table on each page.
`if_not_exists`: a schema made by `create_all` after this revision has them already.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_clusters_size", "clusters", ["size", "id"], if_not_exists=True)
    op.create_index("ix_articles_source_cluster", "articles", ["source", "cluster_id"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_articles_source_cluster", table_name="articles")
    op.drop_index("ix_clusters_size", table_name="clusters")
