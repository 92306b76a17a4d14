"""Tables of repost alerts: watches (what to follow, where to post) and the delivery outbox.

A delivery row is written in the ingest's own transaction (so an alert exists exactly when its article was
committed) and later claimed, posted and marked by `dedup.ops.alerts.AlertSender`.
"""

from __future__ import annotations

import sqlalchemy as sa

from dedup.store.sql import metadata

watches = sa.Table(
    "watches", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # Exactly one of the four is set: the followed article, cluster, source, or URL prefix.
    sa.Column("article_id", sa.Integer, index=True),
    sa.Column("cluster_id", sa.Integer, index=True),
    sa.Column("source", sa.Text),
    sa.Column("url_prefix", sa.Text),
    sa.Column("target_url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
)
alert_deliveries = sa.Table(
    "alert_deliveries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("watch_id", sa.Integer, sa.ForeignKey("watches.id", ondelete="CASCADE"), nullable=False),
    sa.Column("article_id", sa.Integer, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the exact JSON body posted (and signed)
    sa.Column("status", sa.Text, nullable=False),  # pending | delivered | dead
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Text, nullable=False),  # also the lease of a claimed delivery
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("last_attempt_at", sa.Text),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", sa.Text),
    sa.Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_alert_deliveries_watch", "watch_id", "id"),
)
