"""The built wheel: it carries every package and the data folders, and once installed
(not editable) into a fresh virtual environment, ``seleksi demo`` serves its login page
from the wheel's own files.

The venv has no system site-packages: a ``.pth`` file names the folders holding the
dependencies as plain paths. A ``.pth`` named that way is not itself scanned for ``.pth``
files, so the editable install of a checkout (its ``__editable__`` finder lives there) stays
inactive, and a module missing from the wheel fails instead of being found in a checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from exam.adapters import paths

REPO = paths.CHECKOUT
PACKAGES = ("exam", "itembank", "proctoring", "scoring")
DATA_FOLDERS = ("templates", "static", "migrations")
#: Not part of a source tree: build output, caches, local data.
NOT_SOURCE = (".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".venv")
NOT_SOURCE += (".pytest_cache", ".ruff_cache", "seleksi-data", "out")


def _env() -> dict[str, str]:
    """This environment, without anything pointing Python at a checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELEKSI_")}
    env.pop("PYTHONPATH", None)
    return env


def _run(command: list[str], **options) -> str:
    """Run ``command`` without a checkout on its path; its output, or a failure showing it."""
    done = subprocess.run(
        command, check=False, env=_env(), capture_output=True, text=True, timeout=180, **options
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the checkout (the build leaves build/ and egg-info
    behind, and a stale build/ must not feed the wheel). pip builds it in an isolated
    environment with the setuptools pyproject.toml asks for."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)])
    [whl] = out.glob("seleksi-*.whl")
    return whl


def test_the_wheel_carries_every_package_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = [
        init.relative_to(REPO).as_posix()
        for package in PACKAGES
        for init in (REPO / package).rglob("__init__.py")
    ]
    assert "exam/web/__init__.py" in packages
    assert [p for p in packages if p not in names] == []
    bundled = paths.BUNDLED.relative_to(REPO).as_posix()
    data = [
        f.relative_to(REPO).as_posix()
        for folder in DATA_FOLDERS
        for f in (REPO / folder).rglob("*")
        if f.is_file() and "__pycache__" not in f.parts
    ]
    assert "templates/login.html" in data
    assert "migrations/env.py" in data
    assert [f for f in data if f"{bundled}/{f}" not in names] == []


CHECK = """
import json, exam, exam.web
from exam.adapters import paths
print(json.dumps({"exam": exam.__file__, "exam.web": exam.web.__file__,
                  "templates": str(paths.TEMPLATES), "static": str(paths.STATIC),
                  "migrations": str(paths.MIGRATIONS)}))
"""


def test_the_installed_wheel_serves_the_demo(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    _run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)])
    # The dependencies, from this interpreter's site-packages, after the venv's own
    # (written after the install, so pip never sees a seleksi outside the venv).
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    purelib = purelib.strip()
    (Path(purelib) / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    empty = tmp_path / "run"
    empty.mkdir()
    located = json.loads(_run([str(python), "-c", CHECK], cwd=empty))
    assert all(Path(p).is_relative_to(venv) for p in located.values()), located

    port = _free_port()
    log = tmp_path / "demo.log"
    env = dict(_env(), SELEKSI_ARGON2_TIME_COST="1", SELEKSI_ARGON2_MEMORY_KIB="8")
    command = [str(venv / "bin" / "seleksi"), "demo", "--port", str(port), "--applicants", "1"]
    command += ["--data-dir", str(tmp_path / "data")]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=empty, env=env, stdout=out, stderr=out)
    try:
        page = _wait_for(f"http://127.0.0.1:{port}/login", server, log)
        assert 'action="/login"' in page and 'name="password"' in page, page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/app.css", timeout=5) as r:
            assert r.status == 200
            assert r.read() == (REPO / "static" / "app.css").read_bytes()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert list(empty.iterdir()) == [], "the demo wrote into its working folder"


def _wait_for(url: str, server: subprocess.Popen, log: Path, timeout: float = 45.0) -> str:
    """The body of ``url`` once it answers 200; fails when the server exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"seleksi demo exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                assert response.status == 200
                return response.read().decode()
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout} s:\n{log.read_text()}")
