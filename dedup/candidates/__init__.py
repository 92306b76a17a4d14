"""Candidates: which stored articles are worth an exact comparison (LSH bands in process or in
Redis, containment postings for excerpts, and the screen that orders them)."""
