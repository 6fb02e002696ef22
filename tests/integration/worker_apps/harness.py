"""Running real `relay worker` processes from tests, and waiting on what they record."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
APP = "tests.integration.worker_apps.app:registry"
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the forked child
_started: list[WorkerProcess] = []


def _die_with_parent() -> None:
    """In the child: Linux sends it SIGKILL when the test process dies, however it dies."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@pytest.fixture(autouse=True)
def stop_stray_workers() -> Iterator[None]:
    """Kill every worker a test started and did not stop (a failed test must not leak one)."""
    yield
    while _started:
        _started.pop().kill()


@dataclass
class WorkerProcess:
    """One `python -m relay worker` process; its log goes to a file we can read."""

    proc: subprocess.Popen[bytes]
    log: Path
    args: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        redis_url: str,
        *queues: str,
        app: str = APP,
        concurrency: int = 8,
        visibility: str = "30s",
        grace: str = "30s",
        extra: tuple[str, ...] = (),
    ) -> WorkerProcess:
        fd, name = tempfile.mkstemp(prefix="relay-worker-", suffix=".log")
        args = [sys.executable, "-m", "relay", "worker", "--app", app, "-c", str(concurrency)]
        args += ["--visibility", visibility, "--shutdown-grace", grace, *extra]
        for q in queues:
            args += ["--queue", q]
        env = {**os.environ, "RELAY_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=ROOT,
            stdout=fd,
            stderr=fd,
            # Only a prctl() call between fork and exec, nothing that takes a lock.
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        os.close(fd)
        worker = cls(proc=proc, log=Path(name), args=args)
        _started.append(worker)
        return worker

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def started(self, within: float = 15.0) -> WorkerProcess:
        """Wait until the worker logged that it runs."""
        await eventually(lambda: _true("worker started" in self.output()), within, self.output)
        return self

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    async def exited(self, within: float = 15.0) -> int:
        deadline = time.monotonic() + within
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"worker still running after {within}s:\n{self.output()}")
            await asyncio.sleep(0.02)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def _true(value: bool) -> bool:
    return value


async def eventually(
    check: Callable[[], Awaitable[bool]],
    within: float = 10.0,
    explain: Callable[[], Any] | None = None,
) -> None:
    """Poll `check` every 20 ms until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            detail = f"\n{explain()}" if explain else ""
            raise AssertionError(f"condition not met within {within}s{detail}")
        await asyncio.sleep(0.02)


def parse_log(entries: list[bytes]) -> list[tuple[str, str, int, int]]:
    """(event, job id, attempt, pid) per entry a handler recorded."""
    out = []
    for e in entries:
        event, job_id, attempt, pid = e.decode().split(":")
        out.append((event, job_id, int(attempt), int(pid)))
    return out
