"""Learned boilerplate lines and their evidence (as in dedup/store/sql.py, see dedup.text.learned_boilerplate).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learned_boilerplate",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("line_hash", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("titles", sa.Text, nullable=False),
        sa.Column("carriers", sa.Text, nullable=False),
        sa.Column("learned_at", sa.Text),
        sa.Column("sample", sa.Text),
    )
    op.create_index("ix_learned_boilerplate_learned_at", "learned_boilerplate", ["learned_at"])


def downgrade() -> None:
    op.drop_index("ix_learned_boilerplate_learned_at", table_name="learned_boilerplate")
    op.drop_table("learned_boilerplate")
