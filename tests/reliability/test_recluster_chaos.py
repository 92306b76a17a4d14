"""Chaos: ingest, update, delete, re-cluster and reads all at once against a real server, then every invariant.

Client threads ingest stories whose parts only a whole-corpus run can join (two overlapping halves and the
whole, published earlier, arriving late), rewrite stored URLs with other stories (founders included), delete
articles, and read listings, clusters, articles and the HTML home page, while another thread starts re-cluster
runs back to back over HTTP. SQLite runs one worker (its index is in process); PostgreSQL + Redis two workers,
so a run's write-back in one process races ingest in the other. Bounded in time: ~20 s of chaos in CI, 120 s
with DEDUP_FULL_RELIABILITY=1.

Afterwards, straight from the database and before anything repairs it: every cluster invariant holds (size =
members, the representative is the earliest member, no empty cluster, no negative id, every article in a stored
cluster, no alias shadowing a cluster); `POST /v1/admin/check` finds nothing to repair; every living article's
cluster reads (200) and lists it; and no request of any kind answered 5xx.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import httpx
import pytest

from tests.api_backends import backend_settings
from tests.reliability.harness import cluster_invariants, full, record, story, uvicorn_process, wait_ready

SECONDS = full(20, 120)
STORIES = 40


def _text(seed: int, part: int) -> tuple[str, str]:
    """Part 0/1: overlapping halves (duplicates of the whole, not of each other); 2: the whole, published a day
    earlier; 3+: reposts of the whole with an edge added."""
    whole = story(seed)
    if part == 0:
        return whole[:100], "2026-03-14"
    if part == 1:
        return whole[60:], "2026-03-14"
    if part == 2:
        return whole, "2026-03-13"
    return whole + f"（来源：第{part}家网站）", "2026-03-15"


class Chaos:
    """The shared state of the client threads: what was acknowledged, and every status seen per kind."""

    def __init__(self, base_url: str, deadline: float) -> None:
        self.base_url, self.deadline = base_url, deadline
        self.lock = threading.Lock()
        self.ids: dict[str, int] = {}            # url -> id, as last acknowledged
        self.statuses: dict[str, Counter] = {}
        self.errors: list[str] = []
        self.runs = 0

    def note(self, kind: str, response: httpx.Response) -> None:
        with self.lock:
            self.statuses.setdefault(kind, Counter())[response.status_code] += 1
            if response.status_code >= 500:
                self.errors.append(f"{kind} {response.request.method} {response.request.url}: "
                                   f"{response.status_code} {response.text[:300]}")

    def known(self, rng: random.Random) -> tuple[str, int] | None:
        with self.lock:
            if not self.ids:
                return None
            url = rng.choice(sorted(self.ids))
            return url, self.ids[url]

    def thread(self, target, seed: int) -> threading.Thread:  # type: ignore[no-untyped-def]
        def loop() -> None:
            rng = random.Random(seed)
            with httpx.Client(base_url=self.base_url, timeout=120) as http:
                while time.monotonic() < self.deadline:
                    try:
                        target(http, rng)
                    except httpx.TransportError as exc:  # a reset connection is an error too
                        with self.lock:
                            self.errors.append(f"{target.__name__}: {type(exc).__name__}: {exc}")
        return threading.Thread(target=loop, name=target.__name__, daemon=True)

    # -- the actors -----------------------------------------------------------------------------------
    def ingest(self, http: httpx.Client, rng: random.Random) -> None:
        seed, part = rng.randrange(STORIES), rng.randrange(6)
        text, published = _text(seed, part)
        item = {"url": f"https://s{seed}.example/{part}", "text": text, "published_at": published}
        if rng.random() < 0.3:
            batch = [item] + [{"url": f"https://s{s}.example/{p}", "text": _text(s, p)[0], "published_at": _text(s, p)[1]}
                              for s, p in ((rng.randrange(STORIES), rng.randrange(6)) for _ in range(2))]
            r = http.post("/v1/articles:batch", json={"articles": batch})
            self.note("ingest", r)
            if r.status_code == 200:
                for sent, outcome in zip(batch, r.json()["results"]):
                    if outcome.get("result"):
                        with self.lock:
                            self.ids[sent["url"]] = outcome["result"]["id"]
            return
        r = http.post("/v1/articles", json=item)
        self.note("ingest", r)
        if r.status_code in (200, 201):
            with self.lock:
                self.ids[item["url"]] = r.json()["id"]

    def update(self, http: httpx.Client, rng: random.Random) -> None:
        """Rewrite a stored URL with another story's text (its founder or any member)."""
        found = self.known(rng)
        if found is None:
            time.sleep(0.05)
            return
        url, _ = found
        text, published = _text(rng.randrange(STORIES, STORIES * 2), rng.randrange(6))
        r = http.post("/v1/articles", json={"url": url, "text": text, "published_at": published})
        self.note("update", r)

    def delete(self, http: httpx.Client, rng: random.Random) -> None:
        found = self.known(rng)
        if found is None or rng.random() < 0.5:
            time.sleep(0.05)
            return
        url, article_id = found
        r = http.delete(f"/v1/articles/{article_id}")
        self.note("delete", r)
        if r.status_code in (204, 404):
            with self.lock:
                if self.ids.get(url) == article_id:
                    del self.ids[url]

    def recluster(self, http: httpx.Client, rng: random.Random) -> None:
        r = http.post("/v1/admin/recluster", json={})
        self.note("recluster", r)
        if r.status_code != 202:
            time.sleep(0.2)
            return
        run_id = r.json()["run_id"]
        while True:
            runs = http.get("/v1/recluster/runs")
            self.note("read", runs)
            run = next((x for x in runs.json().get("runs", []) if x["id"] == run_id), None) \
                if runs.status_code == 200 else None
            if run is not None and run["status"] != "running":
                with self.lock:
                    self.runs += 1
                    if run["status"] != "succeeded":
                        self.errors.append(f"run {run_id}: {run['status']} {run.get('error')}")
                return
            time.sleep(0.1)

    def read(self, http: httpx.Client, rng: random.Random) -> None:
        choice = rng.random()
        if choice < 0.3:
            r = http.get("/v1/clusters", params={"min_size": 1, "limit": 50})
            self.note("read", r)
            if r.status_code == 200:
                for c in r.json()["clusters"][:5]:
                    self.note("read", http.get(f"/v1/clusters/{c['id']}"))
        elif choice < 0.6:
            found = self.known(rng)
            if found is not None:
                r = http.get(f"/v1/articles/{found[1]}")
                self.note("read", r)
                if r.status_code == 200 and r.json().get("cluster_id") is not None:
                    self.note("read", http.get(f"/v1/clusters/{r.json()['cluster_id']}"))
        elif choice < 0.8:
            self.note("read", http.get("/", params={"min_size": 1}))
        else:
            found = self.known(rng)
            if found is not None:
                self.note("read", http.get("/v1/duplicates", params={"url": found[0]}))


def _final_reads(http: httpx.Client) -> tuple[int, list[str]]:
    """Every living article's cluster reads and lists it."""
    problems, checked, cursor = [], 0, None
    while True:
        page = http.get("/v1/clusters", params={"min_size": 1, "limit": 500, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        for cluster in body["clusters"]:
            detail = http.get(f"/v1/clusters/{cluster['id']}")
            checked += 1
            if detail.status_code != 200:
                problems.append(f"cluster {cluster['id']}: {detail.status_code}")
                continue
            members = [m["id"] for m in detail.json()["members"]]
            if len(members) != cluster["size"] or cluster["representative"]["id"] not in members:
                problems.append(f"cluster {cluster['id']}: size {cluster['size']} members {members}")
        cursor = body.get("next_cursor")
        if not cursor:
            return checked, problems


@pytest.mark.parametrize("kind", ["sqlite", "services"])
def test_ingest_update_delete_recluster_and_reads_together(kind, tmp_path):
    workers = 1 if kind == "sqlite" else 2
    log = tmp_path / "chaos.log"
    with backend_settings(kind, tmp_path) as settings, \
            uvicorn_process(settings, log, workers=workers) as (http, proc):
        wait_ready(http, lambda: proc.poll() is None, log, timeout=180)
        chaos = Chaos(str(http.base_url), time.monotonic() + SECONDS)
        actors = [chaos.ingest, chaos.ingest, chaos.update, chaos.delete, chaos.recluster, chaos.read, chaos.read]
        threads = [chaos.thread(actor, n) for n, actor in enumerate(actors)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SECONDS + 300)
        assert not [t.name for t in threads if t.is_alive()], "a client is stuck: deadlock"
        invariants = cluster_invariants(settings.database_url)  # before anything repairs
        check = http.post("/v1/admin/check").json()
        clusters_read, problems = _final_reads(http)
        log_text = log.read_text(errors="replace")
    statuses = {kind_: dict(sorted(c.items())) for kind_, c in chaos.statuses.items()}
    record(f"recluster_chaos_{kind}", seconds=SECONDS, workers=workers, runs=chaos.runs, statuses=statuses,
           articles_left=check.get("indexed"), clusters_read=clusters_read, invariants=invariants,
           check={k: v for k, v in check.items() if v}, server_errors=len(chaos.errors))
    assert not chaos.errors, chaos.errors[:10]
    assert "Traceback" not in log_text, log_text[-4000:]
    assert not any(invariants.values()), invariants
    assert check["repaired"] == 0 and check["added"] == check["removed"] == 0, check
    assert not problems, problems[:10]
    assert chaos.runs >= 2, "the re-cluster must run during the chaos"
    assert all(statuses[k].keys() - {200, 201, 202, 204, 404, 409} == set() for k in statuses), statuses
    assert statuses.get("update", {}).get(200, 0) > 0 and statuses.get("delete", {}).get(204, 0) > 0
