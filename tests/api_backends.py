"""Backends for the API tests: a temporary SQLite file, or PostgreSQL + Redis isolated per test.

Other people run tests against the same PostgreSQL database and Redis at the same time, so each test gets
its own PostgreSQL schema (search_path in the URL) and its own Redis key prefix, both dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from dedup.settings import Settings
from dedup.store.sql import database_url
from tests.conftest import service_url

STORY = ("央视网消息（新闻联播）：国务院总理李强3月13日主持召开国务院常务会议，学习贯彻全国两会精神，讨论通过重点工作分工方案，"
         "研究建立地方财政补贴负面清单管理机制，审议通过全国农业普查条例修订草案。会议强调，要围绕全年目标任务扎实做好各项工作。")
OTHER = ("新华社北京电：我国新增4个世界最佳旅游乡村，联合国旅游组织在浙江举行颁奖仪式，公布了年度最佳旅游乡村名单，"
         "我国入选总数达到19个，这些乡村呈现了中国乡村旅游丰富多元的发展图景，为全球可持续发展贡献中国智慧。")
THIRD = ("本报讯：长江中下游地区今年入梅时间较常年偏早一周，气象部门提醒沿江城市提前做好防汛准备，"
         "水利部已向湖北、安徽、江西等七省派出工作组，检查堤防水库安全度汛措施落实情况，督促各地加强值守。")


def with_search_path(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def pg_schema(base_url: str) -> Iterator[str]:
    """A fresh schema; yields a URL whose connections use it, and drops it afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(database_url(base_url))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(base_url, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def redis_prefix(url: str) -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted afterwards."""
    import redis

    prefix = f"dedup-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
        client.close()


@contextmanager
def backend_settings(kind: str, tmp_path: Path, **overrides: object) -> Iterator[Settings]:
    if kind == "sqlite":
        yield Settings(database_url=str(tmp_path / "api.db"), redis_url=None, api_key=None, **overrides)
        return
    db = service_url("DEDUP_TEST_DATABASE_URL")
    redis_url = service_url("DEDUP_TEST_REDIS_URL")
    with pg_schema(db) as url, redis_prefix(redis_url) as prefix:
        yield Settings(database_url=url, redis_url=redis_url, redis_prefix=prefix, api_key=None, **overrides)
