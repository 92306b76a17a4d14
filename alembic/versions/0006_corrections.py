"""Operator corrections: must-link / cannot-link between articles (as in dedup/store/sql.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("other_id", sa.Integer, nullable=False),
        sa.Column("cluster_id", sa.Integer),
        sa.Column("url_a", sa.Text, nullable=False),
        sa.Column("url_b", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("withdrawn_at", sa.Text),
        sa.Column("withdrawn_by", sa.Text),
    )
    op.create_index("ix_corrections_article_id", "corrections", ["article_id"])
    op.create_index("ix_corrections_other_id", "corrections", ["other_id"])


def downgrade() -> None:
    op.drop_index("ix_corrections_other_id", table_name="corrections")
    op.drop_index("ix_corrections_article_id", table_name="corrections")
    op.drop_table("corrections")
