"""Browser-test fixtures: a private Redis, a real server and worker, and headless Chromium.

Chromium is Debian's (`apt-get install chromium`), driven by Playwright for Python without any
browser download. Fixtures are package-scoped so the browser is gone before the async suites
that follow run on their event loop. The Redis is private (not the session one) so the
dashboard shows only the queues these tests make.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.e2e.stack import Proc, Server, start_server, start_worker
from tests.support.redis_server import RedisServer

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in a container; the sandbox needs user namespaces
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: real-browser tests (Chromium via Playwright)")


@pytest.fixture(scope="package")
def e2e_redis() -> Iterator[str]:
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="package")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="package")
def server(e2e_redis: str, logs: Path) -> Iterator[Server]:
    """A `relay server` without auth."""
    s = start_server(e2e_redis, logs)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="package")
def worker(e2e_redis: str, logs: Path) -> Iterator[Proc]:
    w = start_worker(e2e_redis, logs)
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium (Debian's build)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    expect.set_options(timeout=10_000)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught exceptions of the test's page, filled in as they happen."""
    return []


@pytest.fixture
def page(browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    """A fresh tab (own storage) at 1280x800 that records its console errors."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    p = context.new_page()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            console_errors.append(msg.text)

    def on_error(err: Error) -> None:
        console_errors.append(f"uncaught: {err.message}")

    p.on("console", on_console)
    p.on("pageerror", on_error)
    try:
        yield p
    finally:
        context.close()
