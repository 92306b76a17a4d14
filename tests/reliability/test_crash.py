"""Crash safety: batch ingests stream into a real server that is SIGKILLed at random moments, then restarted.

After every kill the server restarts and the client re-sends the batch that was in flight (same URLs, same
content: `created` if the kill came before the commit, `unchanged` after). At the end a fresh uvicorn process
serves the database and the test checks, as a user would: every acknowledged article is there with its id,
its acknowledged cluster still resolves (through merge aliases) to the cluster holding it, each story is one
cluster, nothing is half-written, and the index agrees with the database (`dedup check` / admin check).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tests.api_backends import backend_settings
from tests.reliability.harness import (
    ROOT,
    article,
    full,
    integrity,
    launcher,
    record,
    server_env,
    stored_count,
    story_of,
    uvicorn_process,
    wait_ready,
)

BATCH = 20
STORIES_PER_BLOCK = 40  # a block is 40 stories x 5 variants; a story's variants land in different batches
VARIANTS = 5


def item(n: int) -> dict:
    """The n-th article of the stream: reposts of one story are spread over several batches."""
    block, pos = divmod(n, STORIES_PER_BLOCK * VARIANTS)
    variant, offset = divmod(pos, STORIES_PER_BLOCK)
    return article(block * STORIES_PER_BLOCK + offset, variant)


class Stream:
    """Sends batch after batch until the server goes away; remembers what was acknowledged."""

    def __init__(self) -> None:
        self.next = 0
        self.acked: dict[str, tuple[int, int]] = {}
        self.statuses: dict[int, int] = defaultdict(int)
        self.errors: list[str] = []

    def run(self, client: httpx.Client, stop: threading.Event) -> None:
        while not stop.is_set():
            batch = [item(n) for n in range(self.next, self.next + BATCH)]
            try:
                response = client.post("/v1/articles:batch", json={"articles": batch})
            except httpx.TransportError:
                return  # killed mid-request: this batch is re-sent after the restart
            if response.status_code != 200:
                self.errors.append(f"batch {self.next}: {response.status_code} {response.text[:300]}")
                return
            self._acknowledge(batch, response.json()["results"])
            self.next += BATCH

    def _acknowledge(self, batch: list[dict], results: list[dict]) -> None:
        for sent, out in zip(batch, results):
            self.statuses[out["status"]] += 1
            if out["status"] not in (200, 201) or out["result"]["status"] == "updated":
                self.errors.append(f"{sent['url']}: {out}")
                continue
            self.acked[sent["url"]] = (out["result"]["id"], out["result"]["cluster_id"])


def _kill_cycles(server, stream: Stream, kills: int, rng: random.Random, slow: float) -> list[float]:
    """Start, stream for a random while (longer on the slower shared index), SIGKILL; `kills` times.
    Returns the restart times."""
    starts = []
    for _ in range(kills):
        starts.append(server.start())
        stop = threading.Event()
        sender = threading.Thread(target=stream.run, args=(server.client, stop))
        sender.start()
        time.sleep(rng.uniform(0.05, 0.4) + slow)
        server.kill()
        stop.set()
        sender.join(timeout=60)
        assert not stream.errors, stream.errors[:5]
    return starts


def _check_cli(settings) -> list[dict]:
    """`dedup check` twice: the first may repair what a kill left behind, the second must find nothing."""
    reports = []
    for _ in range(2):
        run = subprocess.run([str(Path(sys.executable).with_name("dedup")), "check"], cwd=ROOT, capture_output=True,
                             text=True, env=server_env(settings), timeout=300)
        assert run.returncode == 0, run.stderr
        reports.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return reports


def _verify(client: httpx.Client, stream: Stream) -> int:
    """Every acknowledged article is in the cluster its acknowledged cluster id resolves to (merged ids
    resolve through aliases); each story is exactly one cluster. One request per acknowledged cluster."""
    by_cluster: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for url, (article_id, cluster_id) in stream.acked.items():
        by_cluster[cluster_id].append((url, article_id))
    clusters_of_story: dict[int, set[int]] = defaultdict(set)
    found = 0
    for acked_cluster, expected in by_cluster.items():
        got = client.get(f"/v1/clusters/{acked_cluster}")
        assert got.status_code == 200, (acked_cluster, got.status_code, got.text)
        members = {m["url"]: m["id"] for m in got.json()["members"]}
        for url, article_id in expected:
            assert members.get(url) == article_id, (url, article_id, acked_cluster, sorted(members))
            clusters_of_story[story_of(url)].add(got.json()["id"])
            found += 1
    assert all(len(ids) == 1 for ids in clusters_of_story.values()), "a story was split over clusters"
    all_ids = [next(iter(ids)) for ids in clusters_of_story.values()]
    assert len(set(all_ids)) == len(all_ids), "two stories share a cluster"
    return found


@pytest.mark.parametrize("kind", ["sqlite", "services"])
def test_sigkill_during_batch_ingest(kind, tmp_path):
    kills = full(20, 100)
    rng = random.Random(20260601)
    with backend_settings(kind, tmp_path) as settings:
        stream = Stream()
        with launcher(settings, tmp_path / "server.log") as server:
            starts = _kill_cycles(server, stream, kills, rng, 0.5 if kind == "services" else 0.0)
        reports = _check_cli(settings) if kind == "services" else []
        with uvicorn_process(settings, tmp_path / "final.log") as (client, proc):
            wait_ready(client, lambda: proc.poll() is None, tmp_path / "final.log")
            found = _verify(client, stream)
            check = client.post("/v1/admin/check").json()
        assert check["added"] == check["removed"] == check["repaired"] == 0, check
        assert check["indexed"] == stored_count(settings.database_url)
        if reports:
            assert reports[-1]["added"] == reports[-1]["removed"] == 0, reports
        damage = integrity(settings.database_url)
        assert not any(damage.values()), damage
        assert found == len(stream.acked) > 0
        record(f"crash_sigkill_{kind}", kills=kills, acknowledged=len(stream.acked), found=found,
               stored=stored_count(settings.database_url), statuses=dict(stream.statuses),
               dedup_check_first=reports[0] if reports else None, admin_check=check,
               median_restart_s=round(sorted(starts)[len(starts) // 2], 2), half_written=sum(damage.values()))
