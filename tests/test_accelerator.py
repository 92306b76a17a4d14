"""Whether the compiled accelerator is in use is visible (`dedup --version`, /healthz), and without it the tests
that compare it with the numpy paths skip and say why instead of comparing numpy with itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from dedup.settings import Settings
from dedup.sketch.accelerator import native_parts

ROOT = Path(__file__).resolve().parent.parent
DEDUP = Path(sys.executable).parent / "dedup"
# Loaded first by every Python started with it on the path: makes `dedup.sketch._native` fail to import, as on an
# install without a C compiler.
HIDE_NATIVE = """import sys


class HideNative:
    def find_spec(self, name, path=None, target=None):
        if name == "dedup.sketch._native":
            raise ImportError("hidden by the test: an install without a C compiler")
        return None


sys.meta_path.insert(0, HideNative())
"""


def _without_native(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "sitecustomize.py").write_text(HIDE_NATIVE)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}


def test_version_and_healthz_say_the_compiled_accelerator_is_in_use(tmp_path):
    shown = subprocess.run([str(DEDUP), "--version"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert shown.startswith("dedup ")
    if native_parts():
        assert "compiled accelerator: in use (" in shown and "minhash" in shown
    with TestClient(create_app(Settings(database_url=str(tmp_path / "h.db"), redis_url=None))) as client:
        assert client.get("/healthz").json()["accelerator"] == {"compiled": bool(native_parts()),
                                                               "parts": native_parts()}


def test_without_the_compiled_module_version_says_so_and_the_comparisons_skip(tmp_path):
    env = _without_native(tmp_path)
    shown = subprocess.run([str(DEDUP), "--version"], capture_output=True, text=True, check=True, cwd=ROOT,
                           env=env).stdout
    assert "compiled accelerator: not built" in shown
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                          "tests/test_screen.py"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert "1 skipped" in run.stdout and "nothing to compare the numpy path with" in run.stdout, run.stdout
