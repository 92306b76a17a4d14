"""The deployment files, checked without a Docker engine.

Static: docker-compose.yml and the Dockerfile are parsed and held to the deployment rules (services, health
checks, secrets, volumes, start-up order, non-root multi-stage image) and every command they run must exist in
this project. Dynamic: the commands compose runs (`migrate`, then `api`, then its health check) are taken from
docker-compose.yml and run here against the local PostgreSQL and Redis, each in a schema / key prefix of its own.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest
import yaml

from tests.api_backends import pg_schema, redis_prefix
from tests.conftest import ROOT, SEEDS, service_url
from tests.test_api_migrations import HEAD

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SECRETS = {"POSTGRES_PASSWORD": "pw-for-tests", "DEDUP_API_KEY": "key-for-tests"}
BIN = Path(sys.executable).parent
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class MissingVariable(ValueError):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        present = name in env and (env[name] != "" or op in ("-", "?"))
        if op in (":?", "?") and not present:
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and not present:
            return arg
        return env.get(name, "")

    return _VAR.sub(one, value)


def resolved(node: object, env: dict[str, str]) -> object:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolved(x, env) for x in node]
    if isinstance(node, dict):
        return {k: resolved(v, env) for k, v in node.items()}
    return node


def service(name: str, env: dict[str, str] | None = None) -> dict:
    return resolved(COMPOSE["services"][name], {**SECRETS, **(env or {})})  # type: ignore[return-value]


def argv(name: str, env: dict[str, str] | None = None) -> list[str]:
    """The process a service runs: its command, with `sh -c "exec ..."` unwrapped."""
    command = service(name, env)["command"]
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:2] == ["sh", "-c"]:
        words = shlex.split(words[2])
    return words[1:] if words[0] == "exec" else words


def _project_services() -> list[str]:
    return [n for n, s in COMPOSE["services"].items() if "build" in s]


# -- docker-compose.yml ----------------------------------------------------------------------------------------

def test_compose_has_the_stack_services():
    assert set(COMPOSE["services"]) == {"api", "postgres", "redis", "migrate", "scheduler"}
    assert set(_project_services()) == {"api", "migrate", "scheduler"}


@pytest.mark.parametrize("name", ["postgres", "redis", "api"])
def test_long_running_services_have_healthchecks_and_restart(name):
    s = COMPOSE["services"][name]
    assert s["healthcheck"]["test"] and s["healthcheck"]["interval"] and s["healthcheck"]["retries"] >= 3
    assert s["restart"] == "unless-stopped"


def test_postgres_and_redis_keep_their_data_in_named_volumes():
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        volume, target = COMPOSE["services"][name]["volumes"][0].split(":")
        assert target == path and volume in COMPOSE["volumes"]
    assert "--appendonly" in COMPOSE["services"]["redis"]["command"]
    assert "pg_isready" in " ".join(COMPOSE["services"]["postgres"]["healthcheck"]["test"])


def test_required_secrets_fail_loudly_when_unset():
    text = (ROOT / "docker-compose.yml").read_text()
    for var in SECRETS:
        assert re.search(r"\$\{" + var + r":\?[^}]+\}", text), f"{var} must be required with ${{{var}:?message}}"
        with pytest.raises(MissingVariable, match=var):
            resolved(COMPOSE, {k: v for k, v in SECRETS.items() if k != var})
    resolved(COMPOSE, SECRETS)  # and nothing else is required


def test_services_start_only_after_their_dependencies_are_healthy():
    healthy = {"postgres": "service_healthy", "redis": "service_healthy"}
    migrate = COMPOSE["services"]["migrate"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    for name in ("api", "scheduler"):
        depends = {k: v["condition"] for k, v in COMPOSE["services"][name]["depends_on"].items()}
        assert depends == {**healthy, "migrate": "service_completed_successfully"}, name


def test_project_services_share_one_database_and_index_configuration():
    postgres = service("postgres")["environment"]
    for name in _project_services():
        env = service(name)["environment"]
        assert env["DEDUP_DATABASE_URL"] == (f"postgresql://{postgres['POSTGRES_USER']}:"
                                             f"{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}")
        assert env["DEDUP_REDIS_URL"].startswith("redis://redis:6379/")
        assert env["DEDUP_API_KEY"] == SECRETS["DEDUP_API_KEY"]


def test_api_runs_n_workers_and_publishes_its_port():
    assert argv("api") == ["dedup", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
    assert argv("api", {"DEDUP_WORKERS": "6"})[-1] == "6"
    assert COMPOSE["services"]["api"]["ports"] == ["8000:8000"]
    assert "/readyz" in " ".join(COMPOSE["services"]["api"]["healthcheck"]["test"])


def test_settings_the_stack_uses_are_documented():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    used = set(re.findall(r"\bDEDUP_[A-Z_]+\b", DOCKERFILE))
    for name in ("api", "migrate"):
        used |= set(service(name)["environment"])
    used |= set(re.findall(r"\$\{(DEDUP_[A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    used -= {"DEDUP_RECLUSTER_CRON"}  # the scheduler's, checked in test_scheduler_command_exists
    assert {v for v in used if f"`{v}`" not in table} == set()


# -- the commands exist in this project ------------------------------------------------------------------------

def _console_scripts() -> set[str]:
    return {ep.name for ep in entry_points(group="console_scripts")}


def _dedup_commands() -> set[str]:
    from typer.main import get_command

    from dedup.cli.commands import app

    return set(get_command(app).commands)  # type: ignore[attr-defined]


def test_migrate_command_exists():
    assert argv("migrate") == ["alembic", "upgrade", "head"]
    assert "alembic" in _console_scripts()
    assert (ROOT / "alembic.ini").is_file() and (ROOT / "alembic" / "env.py").is_file()
    assert re.search(r"^COPY alembic.ini \./$", DOCKERFILE, re.M) and re.search(r"^COPY alembic \./alembic$",
                                                                                 DOCKERFILE, re.M)


def test_api_command_exists_with_its_options():
    words = argv("api")
    assert words[0] in _console_scripts() and words[1] in _dedup_commands()
    help_text = subprocess.run([str(BIN / "dedup"), "serve", "--help"], capture_output=True, text=True, check=True,
                               env={**os.environ, "COLUMNS": "200"}).stdout
    for option in (w for w in words if w.startswith("--")):
        assert option in help_text


def test_scheduler_command_exists():
    words = argv("scheduler")
    assert words[0] == "dedup" and "dedup" in _console_scripts()
    if words[1] not in _dedup_commands():
        pytest.skip("scheduler command comes with the re-cluster work")
    subprocess.run([str(BIN / "dedup"), *words[1:], "--help"], capture_output=True, check=True)
    readme = (ROOT / "README.md").read_text()
    for var in service("scheduler")["environment"]:
        assert f"`{var}`" in readme, f"{var} is not documented"


# -- Dockerfile ------------------------------------------------------------------------------------------------

def _stages() -> list[list[str]]:
    """Instructions per stage, continuation lines joined."""
    stages: list[list[str]] = []
    for line in re.sub(r"\\\n\s*", " ", DOCKERFILE).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_slim_and_runs_as_a_non_root_user():
    stages = _stages()
    assert len(stages) >= 2
    assert all(re.match(r"FROM python:3\.\d+-slim\b", s[0]) for s in stages)
    final = stages[-1]
    users = [i.split()[1] for i in final if i.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert not any(re.search(r"\b(gcc|build-essential)\b", i) for i in final), "no compiler in the runtime image"


def test_dockerfile_installs_dependencies_in_a_layer_before_the_code():
    build = _stages()[0]
    index = {name: next(i for i, line in enumerate(build) if re.search(pattern, line))
             for name, pattern in (("manifest", r"^COPY pyproject\.toml"), ("deps", r"pip wheel .*-r requirements"),
                                   ("code", r"^COPY (dedup|app) "))}
    assert index["manifest"] < index["deps"] < index["code"]
    manifest_copy = build[index["manifest"]].split()[1:-1]
    assert manifest_copy == ["pyproject.toml"], "only the dependency list may come before the dependency layer"


def test_dockerfile_requirements_step_reads_the_project_dependencies(tmp_path):
    """Run the image's own one-liner that turns pyproject.toml into requirements.txt."""
    step = next(i for i in _stages()[0] if "tomllib" in i)
    script = shlex.split(step.split("RUN ", 1)[1].split(">", 1)[0])
    assert script[:2] == ["python", "-c"]
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    out = subprocess.run([sys.executable, "-c", script[2]], cwd=tmp_path, capture_output=True, text=True, check=True)
    requirements = out.stdout.split()
    assert "jinja2>=3.1" in requirements and any(r.startswith("fastapi") for r in requirements)


def test_dockerfile_healthcheck_and_command():
    final = _stages()[-1]
    health = next(i for i in final if i.startswith("HEALTHCHECK"))
    assert "--interval" in health and "/healthz" in health
    env = " ".join(i for i in final if i.startswith("ENV "))
    database = re.search(r"DEDUP_DATABASE_URL=(\S+)", env).group(1)
    workers = int(re.search(r"DEDUP_WORKERS=(\d+)", env).group(1))
    if not database.startswith("postgresql"):
        assert workers == 1, "on SQLite and an in-process index, each extra worker would keep its own index"
    cmd = next(i for i in final if i.startswith("CMD "))
    image_cmd = yaml.safe_load(cmd[4:])  # the exec form is a JSON list
    compose_cmd = COMPOSE["services"]["api"]["command"]
    assert image_cmd[:2] == compose_cmd[:2] == ["sh", "-c"]
    assert image_cmd[2].replace("${DEDUP_WORKERS}", "${DEDUP_WORKERS:-2}") == compose_cmd[2]


def test_dockerfile_copies_only_files_that_exist():
    for line in (i for stage in _stages() for i in stage if i.startswith("COPY ") and "--from" not in i):
        for source in line.split()[1:-1]:
            assert (ROOT / source).exists(), line
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored, "keep the build context small"


def test_the_installed_wheel_finds_the_migrations_in_the_image_workdir(tmp_path):
    """The image installs a wheel (code in site-packages) and puts alembic.ini + alembic/ in its WORKDIR; the
    start-up upgrade must find them there."""
    wheel = tmp_path / "wheel"
    subprocess.run([str(BIN / "pip"), "wheel", "-q", "--no-deps", "-w", str(wheel), str(ROOT)], check=True,
                   capture_output=True)
    site = tmp_path / "site"
    subprocess.run([str(BIN / "pip"), "install", "-q", "--no-deps", "--target", str(site),
                    *map(str, wheel.glob("*.whl"))], check=True, capture_output=True)
    assert (site / "app" / "templates" / "compare.html").is_file() and (site / "app" / "static" / "style.css").is_file()
    for asset in ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css", "redoc/redoc.standalone.js",
                  "swagger-ui/LICENSE", "redoc/LICENSE"):  # the API docs' vendored assets (app/static/VENDORED.md)
        assert (site / "app" / "static" / asset).is_file(), asset
    workdir = tmp_path / "srv"
    workdir.mkdir()
    (workdir / "alembic.ini").write_text((ROOT / "alembic.ini").read_text())
    subprocess.run(["cp", "-r", str(ROOT / "alembic"), str(workdir / "alembic")], check=True)
    probe = ("import sys; from dedup.store import migrate; from alembic.script import ScriptDirectory; "
             "assert migrate.__file__.startswith(sys.argv[1]), migrate.__file__; "
             "print(ScriptDirectory.from_config(migrate.alembic_config()).get_current_head())")
    out = subprocess.run([sys.executable, "-c", probe, str(site)], cwd=workdir, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == HEAD


# -- the start-up sequence, outside Docker ---------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _schema_revision(url: str) -> str | None:
    import sqlalchemy as sa

    from dedup.store.sql import database_url

    engine = sa.create_engine(database_url(url))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def _local_env(name: str, database_url: str, redis_url: str, prefix: str) -> dict[str, str]:
    """The service's compose environment with the service hostnames swapped for the local servers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUP_")}
    env.update(service(name)["environment"])
    env.update(DEDUP_DATABASE_URL=database_url, DEDUP_REDIS_URL=redis_url, DEDUP_REDIS_PREFIX=prefix,
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return env


def _local(words: list[str], port: int) -> list[str]:
    """Loopback instead of 0.0.0.0 and a free port instead of 8000: the only changes made to compose's command."""
    out = [str(BIN / words[0]), *words[1:]]
    out[out.index("--host") + 1] = "127.0.0.1"
    out[out.index("--port") + 1] = str(port)
    return out


@contextmanager
def _running(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group of the server this test started, workers included
            proc.wait()


def _healthcheck(test: list[str], port: int, env: dict[str, str]) -> int:
    """Compose's health check command, pointed at the local port."""
    words = [w.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for w in test[1:]]
    return subprocess.run([sys.executable, *words[1:]] if words[0] == "python" else words, env=env,
                          capture_output=True, timeout=30).returncode


def _wait_healthy(proc: subprocess.Popen, port: int, env: dict[str, str], log: Path) -> None:
    test = COMPOSE["services"]["api"]["healthcheck"]["test"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"api exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        if _healthcheck(test, port, env) == 0:
            return
        time.sleep(0.5)
    pytest.fail(f"api not healthy in 90 s:\n{log.read_text(errors='replace')}")


def test_startup_sequence_runs_the_compose_commands_without_docker(tmp_path):
    base_db = service_url("DEDUP_TEST_DATABASE_URL")
    redis_url = service_url("DEDUP_TEST_REDIS_URL")
    with pg_schema(base_db) as db, redis_prefix(redis_url) as prefix:
        migrate = subprocess.run([str(BIN / argv("migrate")[0]), *argv("migrate")[1:]], cwd=ROOT,
                                 env=_local_env("migrate", db, redis_url, prefix), capture_output=True, text=True)
        assert migrate.returncode == 0, migrate.stderr
        assert _schema_revision(db) == HEAD

        port, log = _free_port(), tmp_path / "api.log"
        env = _local_env("api", db, redis_url, prefix)
        with _running(_local(argv("api"), port), env, log) as proc:
            _wait_healthy(proc, port, env, log)
            _exercise(f"http://127.0.0.1:{port}", env["DEDUP_API_KEY"])
        _check_logs(log.read_text(errors="replace"))


def _exercise(base: str, key: str) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        seeds = sorted(SEEDS.glob("*.txt"))
        body = {"url": "https://site.example/0", "text": seeds[0].read_text()}
        assert client.post("/v1/articles", json=body).status_code == 401  # compose sets the API key
        auth = {"Authorization": f"Bearer {key}"}
        for path in seeds:
            r = client.post("/v1/articles", json={"url": f"https://site.example/{path.stem}",
                                                  "text": path.read_text()}, headers=auth)
            assert r.status_code == 201, r.text
        found = client.post("/v1/duplicates/search", json={"text": seeds[1].read_text()}).json()["matches"]
        assert sorted(m["url"].rsplit("/", 1)[-1] for m in found) == [seeds[0].stem, seeds[1].stem]
        clusters = client.get("/v1/clusters", params={"min_size": 2}).json()["clusters"]
        assert [c["size"] for c in clusters] == [2]
        page = client.get("/", headers={"X-Request-ID": "startup-test-1"})
        assert page.status_code == 200 and "双鸭山" in page.text
        assert page.headers["x-request-id"] == "startup-test-1"


def _check_logs(text: str) -> None:
    """Structured logs from the real server: JSON lines with the request id, route, status and duration."""
    import json

    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "dedup.access"]
    page = next(line for line in access if line["request_id"] == "startup-test-1")
    assert page["route"] == "/" and page["status"] == 200 and page["duration_ms"] > 0
    assert {line["status"] for line in access if line["route"] == "/v1/articles"} == {201, 401}
    assert "key-for-tests" not in text
