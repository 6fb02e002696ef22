"""Cancelling a job and waiting for one to finish, sans I/O (see relay.broker.ops).

Waiting never polls: `wait_job.lua` signs the caller up on the job, the scripts that finish a
job (ack, nack, reap, cancel) push one token per waiter onto its wake list, and the caller
blocks on that list with BLPOP. The BLPOP is sent in slices of at most `WAIT_SLICE_S`, below
every client's socket timeout (a cluster's is 5 s), so a wait of a minute is at most 15
blocked commands and never a read of the job's state in a loop.
"""

from __future__ import annotations

import time

from relay.broker.ops import Command, Eval, Steps, job_info, keysets
from relay.broker.types import Code
from relay.config import BrokerSettings
from relay.errors import ConfigError, JobFinished, JobNotFound
from relay.job import JobInfo, JobState, JsonValue
from relay.results import outcome
from relay.wire import CancelOutcome

WAIT_SLICE_S = 4.0
_FINISHED = (JobState.COMPLETED, JobState.DEAD, JobState.CANCELLED)


def cancel_job(s: BrokerSettings, queue: str, job_id: str) -> Steps[CancelOutcome]:
    """Cancel a job: `cancelled` when it was ready or delayed (or cancelled before),
    `cancelling` when it is running; JobFinished when completed or dead, JobNotFound when
    unknown."""
    ks = keysets(queue)
    args = [job_id, s.keep_completed, s.keep_completed_ms, s.events_cap, ks.keys.prefix]
    r = yield Eval("cancel", ks.cancel, args)
    code = int(r[0])
    if code == Code.UNKNOWN:
        raise JobNotFound(f"no job {job_id!r} in queue {queue!r}")
    if code == Code.FINISHED:
        state = r[1].decode() if isinstance(r[1], bytes) else str(r[1])
        raise JobFinished(job_id, state)
    return CancelOutcome("cancelling" if code == Code.CANCEL else "cancelled")


def wait_job(s: BrokerSettings, queue: str, job_id: str, wait_ms: int | None) -> Steps[JobInfo]:
    """The job as soon as it is completed, dead or cancelled, or after `wait_ms` as it is then
    (None: no limit; 0: at once); JobNotFound when unknown."""
    if wait_ms is not None and (
        isinstance(wait_ms, bool) or not isinstance(wait_ms, int) or wait_ms < 0
    ):
        raise ConfigError(f"wait_ms must be an integer >= 0, got {wait_ms!r}")
    ks = keysets(queue)
    wake = ks.keys.finished(job_id)
    keys = [ks.keys.jobs, ks.keys.done, ks.keys.dead, ks.keys.cancelled, ks.keys.waiting, wake]
    deadline = None if wait_ms is None else time.monotonic() + wait_ms / 1000
    while True:
        left = _left(deadline)
        if left == 0:
            break
        signed = yield Eval("wait_job", keys, [job_id, 1])
        if signed == Code.UNKNOWN:
            raise JobNotFound(f"no job {job_id!r} in queue {queue!r}")
        if signed == 0:  # finished already
            break
        if not (yield from _block(wake, deadline)):
            yield Eval("wait_job", keys, [job_id, -1])  # give the sign-up back
            break
        info = yield from job_info(s, queue, job_id)
        if info.state in _FINISHED:  # else a token left by an earlier finish: wait again
            return info
    return (yield from job_info(s, queue, job_id))


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _block(wake: str, deadline: float | None) -> Steps[bool]:
    """BLPOP the wake list in slices until a token comes (True) or the deadline (False)."""
    while True:
        left = _left(deadline)
        if left == 0:
            return False
        step = WAIT_SLICE_S if left is None else min(left, WAIT_SLICE_S)
        if (yield Command("wait", ("BLPOP", wake, round(max(step, 0.01), 3)))) is not None:
            return True


def job_result(
    s: BrokerSettings, queue: str, job_id: str, timeout: float | None = None
) -> Steps[JsonValue]:
    """What the job's handler returned, once it completed; JobFailed when it is dead (with its
    last error), JobCancelled when cancelled, TimeoutError when `timeout` seconds pass first
    (None: wait as long as it takes)."""
    if timeout is not None and not (isinstance(timeout, int | float) and timeout >= 0):
        raise ConfigError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
    wait_ms = None if timeout is None else round(timeout * 1000)
    return outcome((yield from wait_job(s, queue, job_id, wait_ms)))
