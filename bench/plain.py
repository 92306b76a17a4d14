"""The plain datasketch pipeline the project is measured against (as described in eval/README.md).

NFKC + OpenCC t2s + strip non-word characters, character 5-grams, datasketch MinHash
(SHA-1 per shingle, 128 permutations), MinHashLSH at 0.7, union-find over LSH hits.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata

import opencc
from datasketch import MinHash, MinHashLSH

_NON_WORD = re.compile(r"\W+")


class PlainPipeline:
    def __init__(self, db_path: str | None = None) -> None:
        self.t2s = opencc.OpenCC("t2s")
        self.lsh = MinHashLSH(threshold=0.7, num_perm=128)
        self.parent: dict[int, int] = {}
        self.db = sqlite3.connect(db_path or ":memory:")
        self.db.execute("CREATE TABLE IF NOT EXISTS verdicts (id INTEGER PRIMARY KEY, url TEXT UNIQUE, cluster INT)")
        self.next_id = 0

    def normalize(self, text: str) -> str:
        return _NON_WORD.sub("", self.t2s.convert(unicodedata.normalize("NFKC", text)))

    @staticmethod
    def signature(text: str) -> MinHash:
        shingles = {text[i:i + 5] for i in range(max(1, len(text) - 4))}
        m = MinHash(num_perm=128)
        m.update_batch([s.encode("utf-8") for s in shingles])
        return m

    def _find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def ingest(self, url: str, raw: str) -> int:
        article_id = self.next_id
        self.next_id += 1
        m = self.signature(self.normalize(raw))
        self.parent[article_id] = article_id
        for other in self.lsh.query(m):
            ra, rb = self._find(article_id), self._find(other)
            if ra != rb:
                self.parent[max(ra, rb)] = min(ra, rb)
        self.lsh.insert(article_id, m)
        return article_id

    def ingest_many(self, items: list[tuple[str, str]]) -> list[int]:
        ids = [self.ingest(url, raw) for url, raw in items]
        with self.db:
            self.db.executemany("INSERT INTO verdicts VALUES (?, ?, ?)",
                                [(i, url, self._find(i)) for i, (url, _) in zip(ids, items)])
        return ids

    def clusters(self) -> list[int]:
        return [self._find(i) for i in range(self.next_id)]
