"""Daemon threads that run sync handlers and hand results back to the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable

from relay.job import Job

_Item = tuple[asyncio.AbstractEventLoop, "asyncio.Future[object]", Callable[[Job], object], Job]


class HandlerThreads:
    """Up to `size` threads, started on demand, each running one sync handler at a time.

    Unlike ThreadPoolExecutor's, these threads are daemons: a sync handler that ran past its
    timeout cannot be killed, and it must not keep a stopping worker process alive.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._work: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        # Results wait here and reach the loop in bunches: one wake-up of the loop (a write to
        # its self-pipe) for all the results that arrived meanwhile, not one per job.
        self._results: deque[tuple[asyncio.Future[object], object, BaseException | None]]
        self._results = deque()
        self._wake_pending = False

    def submit(self, fn: Callable[[Job], object], job: Job) -> asyncio.Future[object]:
        """Run `fn(job)` on a thread; the future resolves on the calling loop."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[object] = loop.create_future()
        self._work.put((loop, fut, fn, job))
        if not self._idle.acquire(blocking=False) and len(self._threads) < self._size:
            t = threading.Thread(
                target=self._serve, name=f"relay-handler-{len(self._threads)}", daemon=True
            )
            t.start()
            self._threads.append(t)
        return fut

    def close(self) -> None:
        """Let idle threads exit; busy ones end when their handler returns."""
        for _ in self._threads:
            self._work.put(None)

    def _serve(self) -> None:
        while (item := self._work.get()) is not None:
            loop, fut, fn, job = item
            del item
            try:
                result = fn(job)
            except BaseException as exc:  # handed to the loop, which decides what it means
                self._results.append((fut, None, exc))
            else:
                self._results.append((fut, result, None))
            if not self._wake_pending:
                self._wake_pending = True
                with contextlib.suppress(RuntimeError):  # the loop closed: the worker exited
                    loop.call_soon_threadsafe(self._deliver)
            del loop, fut, fn, job
            self._idle.release()

    def _deliver(self) -> None:
        """On the loop: settle every result that has arrived."""
        self._wake_pending = False  # before draining: a result appended later wakes us again
        results = self._results
        while results:
            fut, result, exc = results.popleft()
            if fut.done():
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)
