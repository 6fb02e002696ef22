"""One run of `relay demo`: start Redis, the server and workers, drive load, stop it all."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from relay.broker import Broker
from relay.broker.health import check_health
from relay.config import redact_url
from relay.demo.load import ALBUM_EVERY_S, ALBUM_SIZE, DELAYED_RATE, POISON_RATE, QUEUES, Load
from relay.demo.processes import Child, claim_port, spawn, start_redis, stop
from relay.errors import ConfigError, RelayError

HOST = "127.0.0.1"
APP = "relay.demo.tasks:registry"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SERVER_START_S = 30.0
WORKER_GRACE = "5s"  # running jobs get this long to finish when the demo stops
STOP_GRACE_S = 8.0  # then whatever still runs is killed
REPORT_EVERY_S = 10.0


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What `relay demo` was asked to do."""

    jobs: int = 500
    workers: int = 2
    concurrency: int = 4
    port: int = 8080
    redis_url: str | None = None  # None: a private redis-server
    rate: float = 5.0  # trickle, jobs per second on average


class DemoFailed(Exception):
    """A process of the demo died; the message says which and shows its last output."""


class Demo:
    """Owns every process it starts; `run()` always stops them before returning."""

    def __init__(self, options: DemoOptions, out: TextIO | None = None) -> None:
        self.opts = options
        self.out = out or sys.stdout
        self.workdir = Path(tempfile.mkdtemp(prefix="relay-demo-"))
        self.redis: Child | None = None
        self.server: Child | None = None
        self.workers: list[Child] = []
        self.keep_logs = False

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def run(self) -> int:
        """Run until Ctrl-C / SIGTERM (exit 0) or until a process dies (exit 1)."""
        with _signals_interrupt():
            try:
                port = claim_port(HOST, self.opts.port)
                url = self._redis()
                self._start(url, port)
                self._banner(url, port)
                return asyncio.run(self._drive(url))
            except KeyboardInterrupt:
                return 0
            except DemoFailed as exc:
                self.keep_logs = True
                print(f"relay demo: {exc}", file=sys.stderr, flush=True)
                return 1
            finally:
                self._shutdown()

    # -- starting --------------------------------------------------------------------------

    def _redis(self) -> str:
        if self.opts.redis_url is not None:
            url = self.opts.redis_url
            if not asyncio.run(_reachable(url)):
                raise ConfigError(f"cannot reach Redis at {redact_url(url)}")
            return url
        self.redis, url = start_redis(self.workdir)
        return url

    def _start(self, url: str, port: int) -> None:
        env = {**os.environ, "RELAY_REDIS_URL": url, "PYTHONUNBUFFERED": "1"}
        relay = [sys.executable, "-m", "relay"]
        self.server = spawn(
            "server",
            [*relay, "server", "--host", HOST, "--port", str(port), "--workers", "1"],
            self.workdir / "server.log",
            env,
        )
        queues = ",".join(QUEUES)
        for i in range(1, self.opts.workers + 1):
            argv = [
                *relay,
                "worker",
                "--app",
                APP,
                "--queue",
                queues,
                "--concurrency",
                str(self.opts.concurrency),
                "--shutdown-grace",
                WORKER_GRACE,
            ]
            self.workers.append(spawn(f"worker-{i}", argv, self.workdir / f"worker-{i}.log", env))
        self._wait_ready(self.server, f"http://{HOST}:{port}/healthz")

    def _wait_ready(self, server: Child, health_url: str) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if not server.alive():
                raise DemoFailed(_died(server))
            if _answers(health_url):
                return
            time.sleep(0.1)
        raise DemoFailed(f"the server did not answer {health_url} within {SERVER_START_S:g} s")

    def _banner(self, url: str, port: int) -> None:
        redis = "private, stops with the demo" if self.redis else "given"
        pids = ", ".join(str(w.pid) for w in self.workers)
        auth = "  (auth on: RELAY_TOKEN is set)" if os.environ.get("RELAY_TOKEN") else ""
        assert self.server is not None
        self.say("relay demo: Redis, the HTTP server, workers and a load generator\n")
        self.say(f"  Redis     {redact_url(url)}  ({redis})")
        self.say(f"  server    http://{HOST}:{port}  (pid {self.server.pid}){auth}")
        self.say(
            f"  workers   {len(self.workers)} (pids {pids or '-'}), "
            f"{self.opts.concurrency} jobs at a time each"
        )
        self.say(f"  queues    {', '.join(QUEUES)}")
        self.say("  schedules report.digest every 10 s, report.rollup every minute (cron)")
        self.say(f"  logs      {self.workdir}/")
        self.say()
        self.say(f"  ==>  Dashboard:  http://{HOST}:{port}/")
        self.say()

    # -- running ---------------------------------------------------------------------------

    async def _drive(self, url: str) -> int:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stopping.set)
        broker = Broker.from_url(url)
        load = Load(broker)
        try:
            await load.set_limits()
            await load.enqueue(self.opts.jobs)
            album = await load.album()
            self.say(
                f"Enqueued {self.opts.jobs} jobs ({POISON_RATE:.0%} doomed to fail, "
                f"{DELAYED_RATE:.0%} delayed; emails from 5 tenants, acme capped at 4 in "
                f"flight: see Groups); now about {self.opts.rate:g} a second. "
                f"Every {ALBUM_EVERY_S:g} s an album flow: {ALBUM_SIZE} thumbnails, then a "
                f"build that waits for them (look up reports/{album}, then View flow). "
                "Press Ctrl-C to stop everything."
            )
            return await _first_of(
                stopping.wait(),
                self._watch_children(),
                load.trickle(self.opts.rate),
                self._report(broker),
            )
        except RelayError as exc:
            raise DemoFailed(f"the load generator stopped: {exc}") from exc
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)
                signal.signal(sig, _interrupt)  # the loop's removal left the default action
            await broker.close()

    async def _watch_children(self) -> None:
        while True:
            for child in self._children():
                if not child.alive():
                    raise DemoFailed(_died(child))
            await asyncio.sleep(0.5)

    async def _report(self, broker: Broker) -> None:
        """A line every few seconds, for those who watch the terminal rather than the page."""
        started = last_t = time.monotonic()
        last_done: int | None = None
        while True:
            with contextlib.suppress(RelayError):
                stats = [await broker.stats(q) for q in QUEUES]
                now = time.monotonic()
                done = sum(s.totals.completed for s in stats)
                if last_done is not None:
                    c = [s.counts for s in stats]
                    self.say(
                        f"[{_clock(now - started)}] completed {done}, retried "
                        f"{sum(s.totals.retried for s in stats)}, dead {sum(x.dead for x in c)}"
                        f" | ready {sum(x.ready for x in c)}, delayed "
                        f"{sum(x.delayed for x in c)}, in flight {sum(x.inflight for x in c)}"
                        f" | {(done - last_done) / (now - last_t):.1f} jobs/s"
                    )
                last_done, last_t = done, now
            await asyncio.sleep(REPORT_EVERY_S)

    # -- stopping --------------------------------------------------------------------------

    def _children(self) -> Iterator[Child]:
        if self.server:
            yield self.server
        yield from self.workers

    def _shutdown(self) -> None:
        """Workers and server first (they need Redis to finish cleanly), then Redis."""
        hurried = False

        def hurry(signum: int, frame: FrameType | None) -> None:
            nonlocal hurried
            hurried = True

        with _handling(STOP_SIGNALS, hurry):
            apps = list(self._children())
            if apps or self.redis:
                self.say("\nStopping (Ctrl-C again to kill at once)...")
            stop(apps, STOP_GRACE_S, lambda: hurried)
            if self.redis:
                stop([self.redis], STOP_GRACE_S, lambda: hurried)
            if apps or self.redis:
                self.say(f"Stopped {len(apps) + bool(self.redis)} processes; none left running.")
        if self.keep_logs:
            self.say(f"Logs kept in {self.workdir}/")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 - our own http:// URL
            return bool(r.status == 200)
    except OSError:
        return False


async def _reachable(url: str) -> bool:
    broker = Broker.from_url(url)
    try:
        up, _ = await check_health(broker.redis)
        return up
    finally:
        await broker.close()


async def _first_of(*aws: Awaitable[object]) -> int:
    """Run these until one ends: 0, or the exception it raised. The others are cancelled."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        next(iter(done)).result()
        return 0
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _died(child: Child) -> str:
    code = child.proc.returncode
    how = f"exited with code {code}"
    if code < 0:
        with contextlib.suppress(ValueError):  # a signal without a name keeps the number
            how = f"was killed by {signal.Signals(-code).name}"
    return f"the {child.name} process {how}; the end of its log:\n{child.tail()}"


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:02d}:{s:02d}"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _handling(
    signals: tuple[signal.Signals, ...], handler: Callable[[int, FrameType | None], None]
) -> Iterator[None]:
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _signals_interrupt() -> contextlib.AbstractContextManager[None]:
    """SIGTERM and SIGHUP stop the demo the way Ctrl-C does (with KeyboardInterrupt)."""
    return _handling(STOP_SIGNALS, _interrupt)
