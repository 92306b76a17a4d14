"""Initial schema: articles, signatures, clusters, cluster_aliases (as in dedup/store/sql.py).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False, unique=True),
        sa.Column("title", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("published_at", sa.Text),
        sa.Column("ingested_at", sa.Text, nullable=False),
        sa.Column("raw_text", sa.Text, nullable=False),
        sa.Column("norm_text", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("cluster_id", sa.Integer),
    )
    op.create_index("ix_articles_cluster_id", "articles", ["cluster_id"])
    op.create_table(
        "signatures",
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("hashvalues", sa.LargeBinary, nullable=False),
        sa.Column("shingle_count", sa.Integer, nullable=False),
    )
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("representative_id", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.Text, nullable=False),
        sa.Column("last_seen", sa.Text, nullable=False),
    )
    op.create_index("ix_clusters_recent", "clusters", ["last_seen", "id"])
    op.create_table(
        "cluster_aliases",
        sa.Column("old_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("new_id", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cluster_aliases")
    op.drop_index("ix_clusters_recent", table_name="clusters")
    op.drop_table("clusters")
    op.drop_table("signatures")
    op.drop_index("ix_articles_cluster_id", table_name="articles")
    op.drop_table("articles")
