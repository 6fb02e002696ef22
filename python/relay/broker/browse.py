"""Browsing and operating on jobs by state: a page of any state, and the actions each allows.

Each operation is a sans-I/O generator in relay.broker.ops' shape (`list_plan` here,
`one_plan` and `bulk_plan` in browse_plans): it validates, yields each `Eval` step and narrows
the replies to types and errors, so `Broker.perform` and `SyncProducer.perform` run the same
logic. `BrowseOps` gives the Broker one method per call.

Ready jobs live in ten lists (one per priority), the other states in sorted sets, so the
listings differ: ready pages resume after an anchor id in a list, the others after a
(score, id) position found by rank. Both cost the same wherever the page is (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol, TypeVar

from relay import _core
from relay.broker.browse_plans import bulk_plan, one_plan, zset_key
from relay.broker.ops import Eval, Steps
from relay.broker.replies import parse_run, run_worker
from relay.browse import (
    PREVIEW_BYTES,
    SCAN_BUDGET,
    JobPage,
    JobRow,
    Page,
    check_page,
    encode_cursor,
)
from relay.config import BrokerSettings
from relay.errors import CodecError
from relay.job import JobState
from relay.keys import QueueKeys

T = TypeVar("T")
_ORDER = {JobState.DEAD: "desc", JobState.COMPLETED: "desc", JobState.CANCELLED: "desc"}


# -- listing ---------------------------------------------------------------------------------


def list_args(k: QueueKeys, page: Page) -> Eval:
    """The listing script for one checked page (check_page)."""
    limit, cursor, job_type = page.limit, page.cursor, page.job_type
    budget = max(limit, SCAN_BUDGET if job_type else limit)
    head: list[object] = [limit, budget, job_type, PREVIEW_BYTES]
    if page.state is JobState.READY:
        lists = k.ready_all() if page.group is None else k.group_ready_all(page.group)
        keys = [*lists, k.jobs, k.run, k.err, k.inflight, k.delayed, k.dead, k.done]
        position = [cursor[1], cursor[2], *cursor[3]] if cursor else [1, 0]
        return Eval("list_ready", keys, head + position)
    keys = [zset_key(k, page.state), k.jobs, k.run, k.err]
    after = cursor[1:3] if cursor else ["", ""]
    return Eval("list_scored", keys, [_ORDER.get(page.state, "asc"), *head, *after])


def list_step(
    queue: str,
    state: str,
    limit: int,
    cursor: str | None,
    job_type: str | None,
    group: str | None = None,
) -> tuple[Page, Eval]:
    """The checked page and its script, every argument checked (before any I/O)."""
    page = check_page(state, limit, cursor, job_type, group)
    return page, list_args(QueueKeys.for_queue(queue), page)


def list_plan(
    queue: str,
    state: str,
    limit: int,
    cursor: str | None,
    job_type: str | None,
    group: str | None = None,
) -> Steps[JobPage]:
    """One page of `state` after `cursor`: validated, one script, the reply as a JobPage."""
    page, step = list_step(queue, state, limit, cursor, job_type, group)
    return list_reply(queue, page, (yield step))


def list_reply(queue: str, page: Page, reply: Sequence[Any]) -> JobPage:
    """A listing script's reply as a JobPage."""
    state = page.state
    if state is JobState.READY:
        nxt, start = int(reply[0]), int(reply[1])
        anchors = [_text(a) for a in reply[2:5] if a]
        tag = [] if page.group is None else [page.group]
        cursor = encode_cursor(["ready", nxt, start, anchors, *tag]) if nxt else None
        rows = reply[5:]
        jobs = [_row(queue, state, rows[i : i + 5]) for i in range(0, len(rows), 5)]
        return JobPage(jobs=jobs, next_cursor=cursor)
    score, last = _text(reply[0]), _text(reply[1])
    cursor = encode_cursor([state.value, score, last]) if score else None
    rows = reply[2:]
    jobs = [_row(queue, state, rows[i : i + 6]) for i in range(0, len(rows), 6)]
    return JobPage(jobs=jobs, next_cursor=cursor)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _row(queue: str, state: JobState, fields: Sequence[Any]) -> JobRow:
    """A row from (id, envelope head, envelope length, run, err[, score])."""
    job_id, head, size, run, err = fields[:5]
    score = fields[5] if len(fields) > 5 else None
    size = int(size)
    attempts, _, started_ms, _ = parse_run(run)
    try:
        jtype, payload, prio, max_att, timeout_ms, created_ms, ikey = _core.decode_job(head)
        payload_size = size - (len(head) - len(payload))
    except CodecError as exc:
        jtype, payload, prio, max_att, timeout_ms, created_ms, ikey = (
            "<undecodable>",
            b"",
            0,
            0,
            0,
            0,
            None,
        )
        payload_size, err = 0, err or f"undecodable record: {exc}".encode()
    at = float(score) / 1000 if score else None
    return JobRow(
        id=_text(job_id),
        queue=queue,
        type=jtype,
        state=state,
        priority=prio,
        attempts=attempts,
        max_attempts=max_att,
        timeout_ms=timeout_ms,
        idempotency_key=ikey,
        last_error=_text(err) if err else None,
        created_at=created_ms / 1000,
        started_at=started_ms / 1000 if started_ms else None,
        finished_at=at
        if state in (JobState.COMPLETED, JobState.DEAD, JobState.CANCELLED)
        else None,
        run_at=at if state is JobState.DELAYED else None,
        lease_deadline=at if state is JobState.INFLIGHT else None,
        worker=run_worker(run) if state is JobState.INFLIGHT else None,
        payload_size=payload_size,
        payload_preview=payload.decode("utf-8", "ignore"),
        payload_truncated=len(payload) < payload_size,
    )


class _Performs(Protocol):
    """What BrowseOps needs of the broker it is mixed into."""

    settings: BrokerSettings

    async def perform(self, steps: Steps[T]) -> T: ...


class BrowseOps:
    """Listing and per-state actions, mixed into `Broker`."""

    async def list_jobs(
        self: _Performs,
        queue: str,
        state: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        job_type: str | None = None,
        group: str | None = None,
    ) -> JobPage:
        """One page of the jobs in `state`, in that state's order, after `cursor`.

        Orders: ready in claim order (priority, then FIFO); delayed by run_at; in flight by
        lease deadline; completed and dead newest first. A job that stays in its state is never
        skipped between consecutive pages (on a moving queue one may show twice). With
        `job_type`, a page examines at most SCAN_BUDGET jobs and may come back short (even
        empty) with a next_cursor: keep paging. Ready jobs of a group are listed only with
        `group` (state ready only); without it, ready lists the ungrouped jobs.

        Raises:
            ConfigError: an unknown state, a bad cursor, a limit outside 1..500, a bad group
                name or a group with another state than ready.
        """
        return await self.perform(list_plan(queue, state, limit, cursor, job_type, group))

    async def iter_jobs(
        self,
        queue: str,
        state: str,
        *,
        limit: int = 100,
        job_type: str | None = None,
        group: str | None = None,
    ) -> AsyncIterator[JobPage]:
        """Every page of `state`, one after another (see list_jobs)."""
        cursor: str | None = None
        while True:
            page = await self.list_jobs(  # type: ignore[misc]
                queue, state, limit=limit, cursor=cursor, job_type=job_type, group=group
            )
            yield page
            cursor = page.next_cursor
            if cursor is None:
                return

    async def promote_job(self: _Performs, queue: str, job_id: str) -> None:
        """Run a delayed job now: move it to the tail of its ready list, keeping its priority.

        Raises:
            JobStateConflict: the job is no longer delayed (409 over HTTP).
            JobNotFound: no such job.
        """
        await self.perform(one_plan(self.settings, queue, "promote", job_id))

    async def requeue_job(self: _Performs, queue: str, job_id: str) -> None:
        """Move a dead job back to ready with fresh attempts.

        Raises:
            JobStateConflict: the job is no longer dead. JobNotFound: no such job.
        """
        await self.perform(one_plan(self.settings, queue, "requeue", job_id))

    async def delete_job(
        self: _Performs, queue: str, job_id: str, state: str | None = None
    ) -> None:
        """Delete a ready, delayed or dead job for good; with `state`, only if it is there.

        Raises:
            JobStateConflict: the job is in flight or completed, or not in `state`.
            JobNotFound: no such job. ConfigError: `state` is not one a job can be deleted from.
        """
        await self.perform(one_plan(self.settings, queue, "delete", job_id, state))

    async def promote_jobs(self: _Performs, queue: str, job_type: str | None = None) -> int:
        """Run every delayed job (of `job_type`) now; how many moved. One script per 1,000."""
        return await self.perform(bulk_plan(self.settings, queue, "promote", "delayed", job_type))

    async def requeue_jobs(self: _Performs, queue: str, job_type: str | None = None) -> int:
        """Requeue every dead job (of `job_type`); how many moved. One script per 1,000."""
        return await self.perform(bulk_plan(self.settings, queue, "requeue", "dead", job_type))

    async def delete_jobs(
        self: _Performs, queue: str, state: str, job_type: str | None = None
    ) -> int:
        """Delete every ready, delayed or dead job (of `job_type`); how many went."""
        return await self.perform(bulk_plan(self.settings, queue, "delete", state, job_type))
