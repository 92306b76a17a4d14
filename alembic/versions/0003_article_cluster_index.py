"""A covering index of each article's cluster (as in dedup/store/sql.py).

Ingest looks up the clusters of up to `max_matches` candidates at random places in the table; read
from the article rows (several kB each, one page apart) that touches a page per id, from this index
a few small pages. `if_not_exists`: a schema made by `create_all` after this revision has it already.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_id_cluster", "articles", ["id", "cluster_id"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_articles_id_cluster", table_name="articles")
