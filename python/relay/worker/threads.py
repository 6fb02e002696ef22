"""Daemon threads that run sync handlers and hand results back to the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
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
                _settle(loop, fut, None, exc)
            else:
                _settle(loop, fut, result, None)
            del loop, fut, fn, job
            self._idle.release()


def _settle(
    loop: asyncio.AbstractEventLoop,
    fut: asyncio.Future[object],
    result: object,
    exc: BaseException | None,
) -> None:
    def settle() -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop closed: the worker has already exited
        loop.call_soon_threadsafe(settle)
