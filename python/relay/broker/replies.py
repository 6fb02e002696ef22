"""Narrowing of raw script replies into relay's types, in one place."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from relay import _core
from relay.broker.types import Claimed, Undecodable
from relay.errors import CodecError
from relay.job import Job, JobInfo, JobState
from relay.results import read_record
from relay.wire import Counts, QueueStats, RateLimit, Totals

_TOTALS = frozenset(Totals.__struct_fields__)
_FINISHED = (JobState.COMPLETED, JobState.DEAD, JobState.CANCELLED)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def claimed(queue: str, reply: Sequence[object]) -> Claimed:
    """Turn a claim reply into jobs (decoded in Rust, in one call) and undecodable leftovers."""
    head = reply[0]
    if head == -1:
        return Claimed(paused=True)
    if head == -6:
        return Claimed(wait_ms=max(1, int(reply[1])))  # type: ignore[call-overload]
    tail = reply[2:]
    named = tail[-1] if tail and isinstance(tail[-1], list) else None  # grouped jobs' groups
    rows, bad = _core.decode_claim(tail[:-1] if named is not None else tail)  # type: ignore[arg-type]
    jobs = [Job(queue, *row) for row in rows]
    if named is not None:
        groups = {i.decode(): g.decode() for i, g in zip(named[::2], named[1::2], strict=True)}
        for j in jobs:
            j.group = groups.get(j.id)
    undecodable = [Undecodable(id=i, token=t, reason=r) for i, t, r in bad]
    return Claimed(jobs=jobs, undecodable=undecodable, now_ms=int(reply[1]))  # type: ignore[call-overload]


def parse_run(run: bytes) -> tuple[int, int, int, int]:
    """(attempts, token, started_ms, crashes) from a run record; zeros when absent.

    A record is "attempts token started_ms crashes", with the claiming worker's name as a fifth
    field when the claim named one (decision 0056); both forms are read."""
    if not run:
        return 0, 0, 0, 0
    a, t, s, c = run.split(b" ", 4)[:4]
    return int(a), int(t), int(s), int(c)


def run_worker(run: bytes) -> str | None:
    """The worker named in a run record (its fifth field); None when it names none."""
    parts = run.split(b" ", 4) if run else []
    return parts[4].decode("utf-8", "replace") if len(parts) == 5 and parts[4] else None


def job_info(
    queue: str,
    job_id: str,
    envelope: bytes,
    state: str,
    run: bytes,
    err: bytes,
    score: bytes,
    res: bytes = b"",
    prog: bytes = b"",
    flag: int = 0,
    group: bytes = b"",
) -> JobInfo:
    """A stored job as a JobInfo; a record that does not decode is reported, not hidden."""
    attempts, _, started_ms, _ = parse_run(run)
    try:
        jtype, payload, prio, max_att, timeout_ms, created_ms, ikey = _core.decode_job(envelope)
        value = msgspec.json.decode(payload) if payload else None
    except (CodecError, msgspec.DecodeError) as exc:
        jtype, value, prio, max_att, timeout_ms, created_ms, ikey = (
            "<undecodable>",
            None,
            0,
            0,
            0,
            0,
            None,
        )
        err = err or f"undecodable record: {exc}".encode()
    st = JobState(_text(state))
    at = float(score) / 1000 if score else None
    result, result_error = read_record(res)
    try:
        progress = msgspec.json.decode(prog) if prog else None
    except msgspec.DecodeError:
        progress = None
    return JobInfo(
        id=job_id,
        queue=queue,
        type=jtype,
        payload=value,
        priority=prio,
        state=st,
        attempts=attempts,
        max_attempts=max_att,
        timeout_ms=timeout_ms,
        idempotency_key=ikey,
        last_error=_text(err) if err else None,
        created_at=created_ms / 1000,
        started_at=started_ms / 1000 if started_ms else None,
        finished_at=at if st in _FINISHED else None,
        run_at=at if st is JobState.DELAYED else None,
        result=result,
        result_error=result_error,
        progress=progress,
        cancel_requested=bool(flag),
        lease_deadline=at if st is JobState.INFLIGHT else None,
        worker=run_worker(run) if st is JobState.INFLIGHT else None,
        group=_text(group) if group else None,
    )


def queue_stats(queue: str, reply: Sequence[bytes | int]) -> QueueStats:
    """A stats reply as QueueStats."""
    ready, delayed, inflight, dead, done, paused, rate, burst, max_depth, cancelled = reply[:10]
    waiting, fields = reply[10], reply[11:]
    totals = {
        name: int(v)
        for k, v in zip(fields[::2], fields[1::2], strict=True)
        if (name := _text(k)) in _TOTALS  # type: ignore[arg-type]
    }
    return QueueStats(
        name=queue,
        counts=Counts(
            ready=int(ready),
            delayed=int(delayed),
            inflight=int(inflight),
            dead=int(dead),
            completed=int(done),
            cancelled=int(cancelled),
            waiting=int(waiting),
        ),
        totals=Totals(**totals),
        paused=bool(paused),
        rate_limit=RateLimit(rate=float(rate), burst=int(burst)) if rate else None,
        max_depth=int(max_depth) if max_depth else None,
    )
