"""The re-cluster on PostgreSQL: the advisory lock allows one run at a time across processes."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.recluster.run import run_recluster
from dedup.recluster.run_log import _ADVISORY_KEY, RunInProgress, list_runs
from dedup.settings import Settings

from .conftest import service_url
from .test_recluster import FIRST, OTHER, SECOND, STORY, assert_consistent


@pytest.fixture
def pg_settings():
    base = service_url("DEDUP_TEST_DATABASE_URL")
    name = f"dedup_rc_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield Settings(database_url=base.rsplit("/", 1)[0] + f"/{name}", redis_url=None)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_recluster_on_postgres_merges_and_guards_the_run(pg_settings):
    engine = Engine(pg_settings)
    try:
        ids = [engine.ingest(ArticleIn(url=f"https://x.example/{k}", text=text, published_at=date)).id
               for k, (text, date) in enumerate([(FIRST, "2026-03-14"), (SECOND, "2026-03-14"),
                                                 (OTHER, "2026-03-14"), (STORY, "2026-03-13")])]
        with engine.store.engine.connect() as other_process:
            assert other_process.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _ADVISORY_KEY}).scalar()
            with pytest.raises(RunInProgress):
                run_recluster(engine, pg_settings)
            other_process.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_KEY})
        report = run_recluster(engine, pg_settings)
        assert report.merges == 1
        clusters = {engine.store.get_article(i).cluster_id for i in ids}
        assert len(clusters) == 2
        assert_consistent(engine)
        assert not run_recluster(engine, pg_settings).changed
        assert [r["status"] for r in list_runs(engine.store)] == ["succeeded", "succeeded"]
    finally:
        engine.close()
