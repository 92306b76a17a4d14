"""The HTTP service: a thin FastAPI layer over `dedup.engine.Engine`."""
