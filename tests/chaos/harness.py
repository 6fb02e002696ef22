"""Running a chaos test: profiles, worker processes, a driver that records, artifacts.

Workers run as real processes (`python -m tests.chaos.worker_main`, the `relay worker` command
with a retention flag so the checker can see every completed id) on the registry in
`tests.chaos.apps`, each appending its history to the run's history directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis

from relay import Broker, JobSpec
from relay.errors import RedisUnavailable
from relay.job import new_job_id
from tests.chaos.history import HISTORY_ENV, HistoryWriter
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "chaos"
APP = "tests.chaos.apps:registry"
T = TypeVar("T")
LONG = os.environ.get("RELAY_CHAOS_LONG") == "1"


def size(quick: T, long: T) -> T:
    """The quick-profile value, or the long one under RELAY_CHAOS_LONG=1."""
    return long if LONG else quick


def record_figures(name: str, figures: dict[str, Any]) -> Path:
    """Write a test's figures to tests/artifacts/chaos/<name>.json (and print them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.json"
    doc = {"test": name, "profile": "long" if LONG else "quick", "at": time.time(), **figures}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    print(f"\n{name}: {json.dumps(figures, sort_keys=True, default=str)}")
    return path


async def wait_for(
    check: Callable[[], Awaitable[bool]], within: float, explain: Callable[[], str] | None = None
) -> float:
    """Poll `check` every 50 ms until it holds; seconds it took. Fails after `within`."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > within:
            detail = f"\n{explain()}" if explain else ""
            raise AssertionError(f"condition not met within {within}s{detail}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def wait_while_progressing(
    progress: Callable[[], Awaitable[tuple[bool, object]]], stall_s: float
) -> None:
    """Poll `progress` (-> (done, a measure of progress)) every 50 ms until done. Fails only
    when the measure has not changed for `stall_s` seconds: a loaded box is slow, not stuck."""
    last, since = None, time.monotonic()
    while True:
        done, measure = await progress()
        if done:
            return
        if measure != last:
            last, since = measure, time.monotonic()
        elif time.monotonic() - since > stall_s:
            raise AssertionError(f"no progress for {stall_s}s, stuck at {measure!r}")
        await asyncio.sleep(0.05)


class StallWatch:
    """An outside observer of Redis' clock, for tests that measure lateness: a thread of the
    test process reads Redis TIME every 20 ms and records each gap over `threshold_ms` between
    two answers (Redis time, ms). A gap means that neither this process nor Redis ran for that
    long: the machine stalled, not relay, and lateness measured across it says nothing about
    relay. Tests report the gaps beside their figures, so that a late job can be told apart."""

    def __init__(self, url: str, threshold_ms: int = 250) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=30)
        self._threshold = threshold_ms
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-watch", daemon=True)
        self.gaps: list[tuple[int, int]] = []

    def __enter__(self) -> StallWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._client.close()

    def _now_ms(self) -> int:
        sec, usec = self._client.time()
        return int(sec) * 1000 + int(usec) // 1000

    def _watch(self) -> None:
        last = self._now_ms()
        while not self._stop.wait(0.02):
            now = self._now_ms()
            if now - last > self._threshold:
                self.gaps.append((last, now))
            last = now

    def overlap(self, start_ms: float, end_ms: float) -> int:
        """Milliseconds of recorded gaps inside [start_ms, end_ms]."""
        return int(sum(max(0.0, min(b, end_ms) - max(a, start_ms)) for a, b in self.gaps))


async def idle_waiters(broker: Broker, n: int, within: float = 20.0) -> None:
    """Wait until `n` clients are blocked in Redis (idle workers in their wake-up wait): the
    workers are connected and waiting, not merely started."""

    async def blocked() -> bool:
        info = await broker.redis.info("clients")
        return int(info.get("blocked_clients", 0)) >= n

    await wait_for(blocked, within)


def faketime_env(offset: str) -> dict[str, str]:
    """Environment that runs a process under libfaketime, its wall clock shifted by `offset`
    (e.g. "-120s"); empty when libfaketime is not installed."""
    for lib in (
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ):
        if Path(lib).exists():
            return {
                "LD_PRELOAD": lib,
                "FAKETIME": offset,
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                "FAKETIME_NO_CACHE": "1",
            }
    return {}


@dataclass
class ChaosWorker:
    """One worker process of a run."""

    proc: subprocess.Popen[bytes]
    log: Path
    name: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def is_started(self) -> bool:
        return "worker started" in self.output()

    async def started(self, within: float = 20.0) -> ChaosWorker:
        async def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.output()}")
            return "worker started" in self.output()

        await wait_for(up, within, self.output)
        return self

    def send(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    async def stop(self, within: float = 20.0) -> int:
        """SIGTERM, then wait; SIGKILL if it will not go."""
        self.send(signal.SIGCONT)
        self.send(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.proc.wait, within)
        except subprocess.TimeoutExpired:
            self.kill()
        return self.proc.returncode


@dataclass
class Run:
    """The directories, history and processes of one chaos test."""

    dir: Path
    redis_url: str
    queue: str
    workers: list[ChaosWorker] = field(default_factory=list)
    _n: int = 0

    def __post_init__(self) -> None:
        self.history_dir = self.dir / "history"
        self.history_dir.mkdir(parents=True, exist_ok=True)
        self.driver = HistoryWriter(self.history_dir / f"driver-{os.getpid()}.jsonl")

    def start_worker(
        self,
        *,
        concurrency: int = 8,
        visibility: str = "5s",
        grace: str = "5s",
        redis_url: str | None = None,
        env: dict[str, str] | None = None,
        keep_completed: int = 10_000_000,
        queues: Sequence[str] = (),
    ) -> ChaosWorker:
        self._n += 1
        name = f"w{self._n}"
        log = self.dir / f"{name}.log"
        args = [sys.executable, "-m", "tests.chaos.worker_main", "--app", APP]
        args += ["-c", str(concurrency), "--visibility", visibility, "--shutdown-grace", grace]
        args += ["--keep-completed", str(keep_completed)]
        for q in queues or (self.queue,):
            args += ["--queue", q]
        full_env = {
            **os.environ,
            "RELAY_REDIS_URL": redis_url or self.redis_url,
            "PYTHONPATH": str(ROOT),
            HISTORY_ENV: str(self.history_dir),
            **(env or {}),
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(args, env=full_env, cwd=ROOT, stdout=out, stderr=out)
        w = ChaosWorker(proc=proc, log=log, name=name)
        self.workers.append(w)
        return w

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.output()[-3000:]}" for w in self.workers)

    async def stop_all(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers if w.alive()))

    def kill_all(self) -> None:
        for w in self.workers:
            w.send(signal.SIGCONT)
            w.kill()

    def fault(self, name: str, **fields: Any) -> None:
        self.driver.emit("fault", name=name, **fields)

    def cleanup(self, keep: bool) -> None:
        self.kill_all()
        self.driver.close()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


async def enqueue_recorded(
    broker: Broker,
    run: Run,
    specs: Sequence[JobSpec],
    *,
    chunk: int = 500,
    retry_for: float = 30.0,
    pause: float = 0.05,
) -> None:
    """Enqueue `specs` (which carry fixed ids) in chunks, recording every outcome.

    A chunk whose call fails is `enqueue_unknown` (Redis may or may not have applied it) and
    is sent again with the same ids, which makes the retry a no-op for jobs that landed; once
    a call answers, its jobs are `enqueue_ok`.
    """
    for i in range(0, len(specs), chunk):
        part = specs[i : i + chunk]
        deadline = time.monotonic() + retry_for
        while True:
            try:
                got = await broker.enqueue_many(run.queue, part)
            except RedisUnavailable:
                for s in part:
                    run.driver.emit("enqueue_unknown", job=s.id)
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(pause)
                continue
            for s, r in zip(part, got, strict=True):
                assert r.id == s.id
                run.driver.emit("enqueue_ok", job=s.id, duplicate=r.duplicate)
            break


def specs_of(job_type: str, n: int, payload: Any = None, **options: Any) -> list[JobSpec]:
    """`n` specs of one type, each with a fixed, unique id (so a resend is a no-op)."""
    base = JobSpec.of(job_type, payload, **options)
    return [
        JobSpec(type=base.type, payload=base.payload, options=base.options, id=new_job_id())
        for _ in range(n)
    ]


def restart_redis(server: RedisServer, within: float = 120.0) -> None:
    """Start a killed `server` again, same port, data dir and options, and wait until it
    answers PONG: unlike `RedisServer.start`'s 10 s, this waits out a long AOF load."""
    exe = shutil.which("redis-server")
    assert exe is not None
    args = [exe, "--port", str(server.port), "--bind", "127.0.0.1", "--dir", str(server.dir)]
    args += ["--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"]
    server.proc = subprocess.Popen(
        [*args, *server.extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not come back on port {server.port} in {within}s")


def id_of(spec: JobSpec) -> str:
    """The fixed id of a spec made by `specs_of`."""
    assert spec.id is not None
    return spec.id


async def drained(broker: Broker, queue: str) -> bool:
    """Nothing ready, delayed or in flight (False while Redis does not answer)."""
    try:
        c = (await broker.stats(queue)).counts
    except RedisUnavailable:
        return False
    return c.ready + c.delayed + c.inflight == 0


def rss_kib(pid: int) -> int:
    """A process's resident set size in KiB, from /proc (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0
