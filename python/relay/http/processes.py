"""`relay server --workers N`: N server processes on one port (SO_REUSEPORT; decision 0048).

The parent binds nothing: it starts N children (spawned, so each has its own interpreter, event
loop and Redis pool), each running the whole app on the same host and port with SO_REUSEPORT,
and the kernel spreads connections over them. The parent forwards SIGINT/SIGTERM, waits for
every child, and stops them all when one exits (a supervisor restarts the whole server). A
child dies with its parent (PR_SET_PDEATHSIG on Linux), so a killed server leaves no orphan.

What stays correct across processes:
- `/metrics`: the HTTP counters and histograms live in prometheus_client's multiprocess files
  (a private directory the parent makes and removes), and every scrape, whichever child
  answers, sums all children; queue figures are read from Redis at scrape time as before.
- the event stream: each child reads stats once per interval for all of its subscribers (its
  StatsHub), so Redis sees one read per interval per process, not per client.
- limits that are per process: the per-token producer limit and the SSE and long-poll caps are
  enforced by each child (so up to N times the setting for a client whose connections land on
  several children).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from aiohttp import web

from relay.http.app import AccessLogger, create_app
from relay.http.settings import ServerSettings

log = logging.getLogger("relay.http")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PR_SET_PDEATHSIG = 1


def default_workers() -> int:
    """One process per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Serve:
    """What one child serves: everything `relay server` was given."""

    host: str
    port: int
    redis_url: str
    settings: ServerSettings
    log_level: int
    reuse_port: bool = True


def serve(s: Serve) -> None:
    """Run the app in this process until SIGINT/SIGTERM (one child, or the only process)."""
    app = create_app(redis_url=s.redis_url, settings=s.settings)
    web.run_app(
        app,
        host=s.host,
        port=s.port,
        access_log_class=AccessLogger,
        print=None,
        reuse_port=s.reuse_port or None,
    )


def _child(s: Serve, parent: int) -> None:  # pragma: no cover - runs in a spawned child
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died while this child was starting: no orphan
        os._exit(1)
    logging.basicConfig(
        level=s.log_level, format="%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s"
    )
    serve(s)


def serve_many(s: Serve, workers: int) -> int:
    """Run `workers` children on one port until a signal or a child's exit; the exit code."""
    metrics_dir = tempfile.mkdtemp(prefix="relay-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir  # inherited by the spawned children
    ctx = multiprocessing.get_context("spawn")
    children: list[BaseProcess] = []
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for c in children:
            if c.pid is not None and c.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(c.pid, signal.SIGTERM)

    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for i in range(workers):
            c: BaseProcess = ctx.Process(
                target=_child, args=(s, os.getpid()), name=f"relay-server-{i}", daemon=False
            )
            c.start()
            children.append(c)
        first, code = _watch(children)
        if not stopping:
            log.error("server process %s exited with %s; stopping the others", first, code)
            forward(signal.SIGTERM, None)
        for c in children:
            c.join(30)
            if c.exitcode is None:
                c.kill()
                c.join(5)
        return 0 if stopping else (code or 1)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _watch(children: list[BaseProcess]) -> tuple[int | None, int]:
    """Block until the first child exits; its pid and exit code."""
    sentinels = {c.sentinel: c for c in children}
    while True:
        ready = wait(list(sentinels))
        for r in ready:
            c = sentinels[r]  # type: ignore[index]
            c.join()
            return c.pid, c.exitcode or 0
