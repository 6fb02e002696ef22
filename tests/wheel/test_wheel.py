"""The wheel holds everything relay needs, installs into a fresh venv, and serves the dashboard.

The wheel is `make wheel`'s (dist/) when it is newer than every source, else one built here;
RELAY_WHEEL names one to test instead. Dependencies come from PyPI, as for a user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import RedisServer, free_port

pytestmark = [pytest.mark.wheel, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "python" / "relay"
SOURCES = ("rust", "python/relay", "Cargo.toml", "Cargo.lock", "pyproject.toml")
STATIC = ("index.html", "app.js", "app.css")


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else path.rglob("*")
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts and f.suffix not in (".so", ".pyc"):
                newest = max(newest, f.stat().st_mtime)
    return newest


def _fresh_dist_wheel() -> Path | None:
    wheels = sorted((ROOT / "dist").glob("relay-*.whl"), key=lambda p: p.stat().st_mtime)
    if wheels and wheels[-1].stat().st_mtime >= _newest_source_mtime():
        return wheels[-1]
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("RELAY_WHEEL")
    if given:
        return Path(given)
    fresh = _fresh_dist_wheel()
    if fresh is not None:
        return fresh
    out = tmp_path_factory.mktemp("wheelhouse")
    maturin = Path(sys.executable).with_name("maturin")
    subprocess.run(
        [str(maturin), "build", "--release", "--quiet", "--out", str(out)],
        cwd=ROOT,
        check=True,
        timeout=840,
    )
    (built,) = out.glob("relay-*.whl")
    return built


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that points back into the source tree."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "RELAY_REDIS_URL", "RELAY_TOKEN")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the source tree with only the wheel (and its deps) installed."""
    home = tmp_path_factory.mktemp("installed")
    assert ROOT not in home.parents
    env = _clean_env()
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True, env=env)
    pip = [str(home / "venv/bin/python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", str(wheel)], check=True, cwd=home, env=env, timeout=600)
    return home / "venv"


def _run(venv: Path, *argv: str) -> str:
    done = subprocess.run(
        [str(venv / "bin" / argv[0]), *argv[1:]],
        cwd=venv.parent,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_wheel_holds_the_extension_scripts_dashboard_and_stubs(wheel: Path) -> None:
    assert "-abi3-" in wheel.name
    names = set(zipfile.ZipFile(wheel).namelist())
    lua = {f"relay/broker/lua/{p.name}" for p in (PACKAGE / "broker" / "lua").glob("*.lua")}
    assert lua
    expected = {
        "relay/_core.abi3.so",
        "relay/_core.pyi",
        "relay/py.typed",
        *lua,
        *(f"relay/http/static/{f}" for f in STATIC),
    }
    assert expected - names == set()


def test_the_installed_package_runs_outside_the_source_tree(wheel: Path, venv: Path) -> None:
    usage = _run(venv, "relay", "--help")
    assert all(command in usage for command in ("server", "worker", "demo"))
    out = _run(
        venv, "python", "-c", "import relay; print(relay.__version__); print(relay.__file__)"
    )
    version, location = out.split()
    assert wheel.name.startswith(f"relay-{version}-")
    assert Path(location).is_relative_to(venv)


@pytest.fixture
def installed_server(venv: Path) -> Iterator[str]:
    """`relay server` from the fresh venv, on a private Redis; yields its base URL."""
    redis = RedisServer().start()
    port = free_port()
    argv = [str(venv / "bin/relay"), "server", "--port", str(port), "--redis", redis.url]
    log = venv.parent / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=venv.parent, env=_clean_env(), stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{url}/healthz"):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the installed server did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        redis.stop()
        shutil.rmtree(redis.dir, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 - our loopback URL
            return bool(r.status == 200)
    except OSError:
        return False


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - our loopback URL
        return r.status, r.headers.get("Content-Type", ""), r.read()


def test_the_installed_server_serves_the_dashboard(wheel: Path, installed_server: str) -> None:
    packed = zipfile.ZipFile(wheel)
    status, ctype, index = _get(f"{installed_server}/")
    assert (status, ctype.split(";")[0]) == (200, "text/html")
    assert index == packed.read("relay/http/static/index.html")
    assert b"/static/app.js" in index
    status, ctype, script = _get(f"{installed_server}/static/app.js")
    assert status == 200
    assert ctype.split(";")[0] in ("text/javascript", "application/javascript")
    assert script == packed.read("relay/http/static/app.js")
    status, _, _ = _get(f"{installed_server}/api/queues")
    assert status == 200
