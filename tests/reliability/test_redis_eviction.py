"""A Redis that evicts keys (maxmemory + allkeys-lru) made lookups miss silently: 488 of 500 reposts were answered
200 as new stories while /readyz said ready. The server now refuses such a Redis at start-up and /readyz reports
a policy changed afterwards. Every test runs its own redis-server, never the shared one."""

from __future__ import annotations

import pytest
import redis

from dedup.candidates.index import UnsafeIndex, open_index
from dedup.settings import Settings
from tests.reliability.harness import article, uvicorn_process, wait_ready
from tests.reliability.test_outages import own_redis

EVICTING = ("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
NO_CONFIG = ("--rename-command", "CONFIG", "")


def _index(url: str, check: bool = True):  # type: ignore[no-untyped-def]
    settings = Settings(redis_url=url)
    return open_index(settings.signature(), settings.decision().lsh_threshold, redis_url=url, prefix="evict",
                      check_eviction=check)


def test_server_refuses_to_start_on_an_evicting_redis(tmp_path):
    with own_redis(tmp_path, *EVICTING) as server:
        settings = Settings(database_url=str(tmp_path / "e.db"), redis_url=server.url, redis_prefix="evict")
        with uvicorn_process(settings, tmp_path / "server.log", DEDUP_STARTUP_WAIT="5") as (_, proc):
            status = proc.wait(timeout=120)
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert status == 4, log
    assert "start-up refused: Redis evicts keys (maxmemory-policy allkeys-lru)" in log, log
    assert "noeviction" in log and "Traceback" not in log, log


def test_readyz_reports_an_eviction_policy_set_after_start(tmp_path):
    with own_redis(tmp_path) as server:
        settings = Settings(database_url=str(tmp_path / "r.db"), redis_url=server.url, redis_prefix="evict")
        with uvicorn_process(settings, tmp_path / "server.log") as (client, proc):
            wait_ready(client, lambda: proc.poll() is None, tmp_path / "server.log")
            assert client.get("/readyz").json()["index_eviction"] == "ok"
            assert client.post("/v1/articles", json=article(1, 0)).status_code == 201
            admin = redis.Redis(port=server.port)
            admin.config_set("maxmemory-policy", "allkeys-lru")
            r = client.get("/readyz")
            assert r.status_code == 503, r.text
            error = r.json()["error"]
            assert error["code"] == "unavailable" and "maxmemory-policy allkeys-lru" in error["message"], error
            admin.config_set("maxmemory-policy", "noeviction")
            assert client.get("/readyz").status_code == 200
            admin.close()


def test_policy_is_read_from_info_when_config_is_disabled(tmp_path):
    """Managed Redis often renames CONFIG away; INFO memory still tells the policy."""
    with own_redis(tmp_path, *EVICTING, *NO_CONFIG) as server:
        with pytest.raises(UnsafeIndex, match=r"maxmemory-policy allkeys-lru"):
            _index(server.url)
    with own_redis(tmp_path, *NO_CONFIG) as server:
        assert _index(server.url).eviction_problem() is None


def test_an_unreadable_policy_is_refused_unless_the_check_is_turned_off(tmp_path):
    with own_redis(tmp_path, *NO_CONFIG, "--rename-command", "INFO", "") as server:
        with pytest.raises(UnsafeIndex, match=r"cannot read Redis's maxmemory-policy.*DEDUP_REDIS_CHECK_EVICTION"):
            _index(server.url)
        index = _index(server.url, check=False)
        assert len(index) == 0


def test_cli_commands_refuse_an_evicting_redis_with_a_message(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dedup.cli.commands import app

    with own_redis(tmp_path, *EVICTING) as server:
        monkeypatch.setenv("DEDUP_REDIS_URL", server.url)
        result = CliRunner().invoke(app, ["check", "--db", str(tmp_path / "c.db")])
    assert result.exit_code == 2, result.output
    assert "Redis evicts keys (maxmemory-policy allkeys-lru)" in " ".join(result.output.split())
