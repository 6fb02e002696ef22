"""What a handler's exception means for its job: retry, retry later, or the dead set."""

from __future__ import annotations

import logging
import os
import traceback

from relay.broker.types import Nack, NackMode, Undecodable
from relay.errors import Fail, JobCancelled, Retry
from relay.job import Job
from relay.worker.registry import Task

log = logging.getLogger("relay.worker")

MAX_ERROR_CHARS = 2000


class HandlerTimeout(TimeoutError):
    """The handler ran past its job's execution limit and was cancelled."""

    def __init__(self, timeout_ms: int, *, thread_left_running: bool = False) -> None:
        msg = f"handler ran past its {timeout_ms / 1000:g} s timeout and was cancelled"
        if thread_left_running:
            msg = (
                f"handler ran past its {timeout_ms / 1000:g} s timeout; its thread cannot be "
                "killed and was left running"
            )
        super().__init__(msg)


def error_text(exc: BaseException) -> str:
    """`ExcType: message [at file.py:12 in fn]`: one line, the innermost frame only."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    tb = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else None
    if tb:
        f = tb[-1]
        text += f" [at {os.path.basename(f.filename)}:{f.lineno} in {f.name}]"
    return text[:MAX_ERROR_CHARS]


def nack_for(task: Task, job: Job, exc: BaseException) -> Nack:
    """The nack for a job whose handler raised `exc`."""
    if job.cancelled or isinstance(exc, JobCancelled):  # never retried, whatever it raised
        return cancelled(job)
    if isinstance(exc, Retry):
        after = task.backoff.delay_ms(job.attempts) if exc.after is None else exc.after * 1000
        return Nack(job.id, job.token, NackMode.LATER, round(after), error_text(exc))
    if isinstance(exc, (Fail, *task.non_retryable)):
        return Nack(job.id, job.token, NackMode.DEAD, 0, error_text(exc))
    if not task.attempts_left(job):
        err = f"{error_text(exc)} (attempt {job.attempts}, none left)"
        return Nack(job.id, job.token, NackMode.DEAD, 0, err[:MAX_ERROR_CHARS])
    delay = task.backoff.delay_ms(job.attempts)
    return Nack(job.id, job.token, NackMode.FAIL, delay, error_text(exc))


def unknown_type(job: Job) -> Nack:
    """Dead at once: no handler will ever run it here (and looping it would hide the bug)."""
    return Nack(job.id, job.token, NackMode.DEAD, 0, f"no handler registered for type {job.type!r}")


def undecodable(u: Undecodable) -> Nack:
    """Dead at once: a record that cannot be decoded cannot be run."""
    return Nack(u.id, u.token, NackMode.DEAD, 0, f"undecodable job record: {u.reason}")


def cancelled(job: Job) -> Nack:
    """Cancelled: its cancel was asked for before (or while) it ran."""
    return Nack(job.id, job.token, NackMode.CANCEL, 0, "cancelled")


def release(job: Job) -> Nack:
    """Back to ready now, the attempt given back: the worker is stopping, the job never failed."""
    return Nack(job.id, job.token, NackMode.LATER, 0, "released: worker shutting down")


def log_failure(job: Job, nack: Nack, attempt_cap: int) -> None:
    """One structured line per failed job; never the payload."""
    if nack.mode is NackMode.CANCEL:
        log.info("job cancelled queue=%s type=%s id=%s", job.queue, job.type, job.id)
        return
    if nack.mode is NackMode.LATER:
        log.debug(
            "job retry queue=%s type=%s id=%s attempt=%d delay_ms=%d reason=%r",
            job.queue,
            job.type,
            job.id,
            job.attempts,
            nack.delay_ms,
            nack.error,
        )
        return
    then = "dead" if nack.mode is NackMode.DEAD else f"retry in {nack.delay_ms / 1000:.3f}s"
    log.warning(
        "job failed queue=%s type=%s id=%s attempt=%d/%d next=%s error=%r",
        job.queue,
        job.type,
        job.id,
        job.attempts,
        attempt_cap,
        then,
        nack.error,
    )
