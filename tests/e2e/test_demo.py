"""`relay demo` as a newcomer runs it: a live dashboard, then Ctrl-C, and nothing left running."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.stack import wait_for
from tests.support.redis_server import free_port

pytestmark = pytest.mark.e2e

DEMO_QUEUES = ("emails", "thumbnails", "reports")


def _env() -> dict[str, str]:
    """The environment of someone with no Redis configured: the demo starts its own."""
    return {k: v for k, v in os.environ.items() if k not in ("RELAY_REDIS_URL", "RELAY_TOKEN")}


def _children(pid: int) -> set[int]:
    """Every descendant of `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.mark.timeout(240)  # start, a dead job, stop: each has its own bound below
def test_demo_shows_a_live_dashboard_and_ctrl_c_leaves_nothing_behind(
    page: Page, tmp_path: Path, console_errors: list[str]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    out = tmp_path / "demo.out"
    argv = [sys.executable, "-m", "relay", "demo", "--port", str(port), "--jobs", "300"]
    with out.open("wb") as f:
        demo = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=_env())
    children: set[int] = set()
    try:
        wait_for(
            lambda: "Enqueued 300 jobs" in out.read_text() or demo.poll() is not None,
            45,
            "the demo to start",
        )
        assert demo.poll() is None, out.read_text()
        assert f"Dashboard:  {url}" in out.read_text()
        children = _children(demo.pid)
        assert len(children) == 4, out.read_text()  # redis-server, server, two workers

        page.goto(url)
        expect(page.get_by_test_id("conn")).to_have_text("live")
        for q in DEMO_QUEUES:
            expect(page.get_by_test_id(f"queue-{q}")).to_be_visible()
        expect(page.get_by_test_id("queue-view")).to_have_attribute("data-queue", "emails")
        # Doomed emails reach the dead set after a few quick retries.
        dead = page.get_by_test_id("queue-emails").get_by_test_id("count-dead")
        expect(dead).not_to_have_attribute("data-value", "0", timeout=30_000)
        # The album flow: its build waits for its thumbnails, then completes.
        album = re.search(r"look up reports/(\S+), then View flow", out.read_text())
        assert album is not None, out.read_text()
        page.goto(f"{url}#/flow/reports/{album.group(1)}")
        root = page.locator(f'[data-testid="flow-node"][data-id="{album.group(1)}"]')
        expect(root).to_have_attribute("data-state", "completed", timeout=30_000)
        expect(root.get_by_test_id("flow-node")).to_have_count(4)
        page.goto(url)
        expect(page.get_by_test_id("conn")).to_have_text("live")
        page.wait_for_timeout(3000)  # a few more seconds of history in the charts
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "dashboard.png")
        page.screenshot(path=ARTIFACTS / "dashboard-full.png", full_page=True)
        assert console_errors == []
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = demo.wait(30)

    text = out.read_text()
    assert code == 0, text
    assert "none left running" in text
    assert [pid for pid in children if _running(pid)] == []


def test_demo_refuses_a_port_in_use_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "relay", "demo", "--port", str(port)]
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, env=_env(), timeout=60
        )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
