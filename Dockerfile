# syntax=docker/dockerfile:1
# Build stage: wheels for the dependencies first (a layer that changes only with pyproject.toml),
# then the project itself with its C accelerator.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" \
        > requirements.txt \
    && pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt
COPY setup.py README.md ./
COPY dedup ./dedup
COPY app ./app
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Runtime stage: no compiler, a non-root user, only the wheels and the migration files.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 dedup
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
WORKDIR /srv/dedup
COPY alembic.ini ./
COPY alembic ./alembic
RUN mkdir -p data && chown dedup:dedup data
USER dedup
# Alone, the image runs on its embedded SQLite file and in-process index: one worker (several would each keep
# their own index). The compose stack, on PostgreSQL + Redis, sets the workers from DEDUP_WORKERS.
ENV DEDUP_DATABASE_URL=/srv/dedup/data/dedup.db \
    DEDUP_WORKERS=1 \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["sh", "-c", "exec dedup serve --host 0.0.0.0 --port 8000 --workers ${DEDUP_WORKERS}"]
