"""The API's calls as data — method, path, body, result type, retry safety — shared by the
SDK's sync and async clients (relay.client), which differ only in how they send them."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import msgspec

from relay import _core, wire
from relay.browse import (
    Changed,
    JobPage,
    check_action,
    check_job_id,
    check_page,
    check_type_filter,
)
from relay.errors import ConfigError
from relay.flows import Flow, FlowResult, FlowTree, walk
from relay.http.flow_models import to_request
from relay.http.models import (
    MAX_BATCH,
    BatchRequest,
    BatchResponse,
    Deleted,
    EnqueueRequest,
    EnqueueResponse,
    Health,
    QueueList,
    RateLimitRequest,
    Requeued,
    ScheduleList,
    ScheduleRequest,
    Triggered,
)
from relay.http.sdk_errors import error_from_response
from relay.job import JsonValue, check_job_type
from relay.keys import validate_group_name, validate_queue_name
from relay.results import FINISHED, MAX_WAIT_MS, check_timeout, check_wait_ms, outcome
from relay.schedules.model import Schedule, ScheduleInfo, check_schedule_name
from relay.wire import (
    CancelOutcome,
    DeadPage,
    EnqueueResult,
    GroupLimits,
    GroupPage,
    GroupStats,
    JobInfo,
    JobSpec,
    QueueStats,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API call: what to send, what a success decodes to, and whether a retry is safe."""

    method: str
    path: str
    ok: type[T]
    body: bytes | None = None
    safe_retry: bool = True
    query: dict[str, str] = field(default_factory=dict)
    wait_s: float = 0.0  # how long the server may hold the answer: added to the client timeout

    def target(self, prefix: str) -> str:
        return prefix + self.path + (f"?{urlencode(self.query)}" if self.query else "")

    def result(self, status: int, body: bytes, retry_after: str | None) -> T:
        if status >= 400:
            raise error_from_response(status, body, retry_after)
        return msgspec.json.decode(body, type=self.ok)


def quote_segment(value: str) -> str:
    return quote(value, safe="")


def queue_path(queue: str) -> str:
    """`/api/queues/<queue>`, for a valid queue name (ConfigError, before any I/O, if not)."""
    return f"/api/queues/{quote_segment(validate_queue_name(queue))}"


def wire_job(spec: JobSpec) -> EnqueueRequest:
    o = spec.options
    return EnqueueRequest(
        type=spec.type,
        payload=msgspec.Raw(spec.payload),
        priority=o.priority,
        delay_ms=o.delay_ms,
        run_at=None if o.run_at_ms is None else o.run_at_ms / 1000,
        max_attempts=o.max_attempts,
        timeout_ms=o.timeout_ms,
        idempotency_key=o.idempotency_key,
        group=o.group,
    )


def replicas_query(wait_replicas: int | None) -> dict[str, str]:
    if wait_replicas is None:
        return {}
    return {"wait_replicas": str(wire.check_wait_replicas(wait_replicas))}


def enqueue_call(
    queue: str, spec: JobSpec, wait_replicas: int | None = None
) -> Call[EnqueueResponse]:
    check_job_type(spec.type)
    return Call(
        "POST",
        f"{queue_path(queue)}/jobs",
        EnqueueResponse,
        msgspec.json.encode(wire_job(spec)),
        safe_retry=spec.options.idempotency_key is not None,
        query=replicas_query(wait_replicas),
    )


def batch_calls(
    queue: str, specs: Sequence[JobSpec], wait_replicas: int | None = None
) -> list[Call[BatchResponse]]:
    path, query = f"{queue_path(queue)}/jobs/batch", replicas_query(wait_replicas)
    for spec in specs:
        check_job_type(spec.type)
    calls = []
    for i in range(0, len(specs), MAX_BATCH):
        chunk = specs[i : i + MAX_BATCH]
        calls.append(
            Call(
                "POST",
                path,
                BatchResponse,
                msgspec.json.encode(BatchRequest(jobs=[wire_job(s) for s in chunk])),
                safe_retry=all(s.options.idempotency_key for s in chunk),
                query=query,
            )
        )
    return calls


def job_call(queue: str, job_id: str) -> Call[JobInfo]:
    return Call("GET", f"{queue_path(queue)}/jobs/{quote_segment(job_id)}", JobInfo)


def wait_call(queue: str, job_id: str, wait_ms: int) -> Call[JobInfo]:
    """The job once finished, or after `wait_ms` (≤ 60,000) as it is then. A face's `result`
    sends these until its timeout runs out (the client's socket timeout must exceed wait_ms),
    then hands the last JobInfo to relay.results.outcome."""
    check_wait_ms(wait_ms)
    call = job_call(queue, job_id)
    query = {"wait_ms": str(wait_ms)}
    return Call(call.method, call.path, JobInfo, query=query, wait_s=wait_ms / 1000)


def enqueue_flow_call(flow: Flow) -> Call[FlowResult]:
    """Enqueue a workflow; checked whole first (ConfigError naming the bad node's path).
    Retried only when every job has a fixed id (a resend then writes nothing twice)."""
    nodes = walk(flow)
    body = msgspec.json.encode(to_request(flow))
    fixed = all(n.flow.id for n in nodes)
    return Call("POST", "/api/flows", FlowResult, body, safe_retry=fixed)


def get_flow_call(queue: str, job_id: str) -> Call[FlowTree]:
    """The whole flow a job belongs to."""
    return Call(
        "GET", f"{queue_path(queue)}/jobs/{quote_segment(check_job_id(job_id))}/flow", FlowTree
    )


def cancel_call(queue: str, job_id: str) -> Call[CancelOutcome]:
    """Cancel a job (idempotent: safe to retry)."""
    path = f"{queue_path(queue)}/jobs/{quote_segment(check_job_id(job_id))}/cancel"
    return Call("POST", path, CancelOutcome, b"")


# -- results: a wait longer than one call (relay.results) ------------------------------------

R = TypeVar("R")
Waits = Generator[Call[JobInfo], JobInfo, R]


def get_job_call(queue: str, job_id: str, wait_ms: int | None) -> Call[JobInfo]:
    """A face's `get_job`: a plain lookup, or with `wait_ms` one that waits for the finish."""
    return job_call(queue, job_id) if wait_ms is None else wait_call(queue, job_id, wait_ms)


def result_waits(queue: str, job_id: str, timeout: float | None) -> Waits[JsonValue]:
    """A face's `result`: `wait_call`s of at most MAX_WAIT_MS each (the server holds one
    answer no longer) until the job finishes or `timeout` seconds run out (None: no limit),
    then the job's outcome (relay.results.outcome). Checks every argument on the first step,
    before any call is sent. Driven by `drive` (Client) or `drive_async` (AsyncClient)."""
    queue_path(queue)
    check_job_id(job_id)
    limit = check_timeout(timeout)
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        left = MAX_WAIT_MS if deadline is None else (deadline - time.monotonic()) * 1000
        info = yield wait_call(queue, job_id, max(0, min(MAX_WAIT_MS, round(left))))
        if info.state in FINISHED or (deadline is not None and time.monotonic() >= deadline):
            return outcome(info)


def drive(waits: Waits[R], send: Callable[[Call[JobInfo]], JobInfo]) -> R:
    """Run `waits` with a blocking `send`; its return value."""
    try:
        call = next(waits)
        while True:
            call = waits.send(send(call))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def drive_async(waits: Waits[R], send: Callable[[Call[JobInfo]], Awaitable[JobInfo]]) -> R:
    """Run `waits` with an asyncio `send`; its return value."""
    try:
        call = next(waits)
        while True:
            call = waits.send(await send(call))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


# -- end of results --------------------------------------------------------------------------


def stats_call(queue: str) -> Call[QueueStats]:
    return Call("GET", queue_path(queue), QueueStats)


def dead_call(queue: str, limit: int, cursor: str | None) -> Call[DeadPage]:
    wire.check_dead_page(limit, cursor)
    query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
    return Call("GET", f"{queue_path(queue)}/dead", DeadPage, query=query)


def requeue_call(queue: str, job_id: str | None) -> Call[Requeued]:
    tail = f"{quote_segment(job_id)}/requeue" if job_id else "requeue"
    return Call("POST", f"{queue_path(queue)}/dead/{tail}", Requeued, b"", False)


def delete_dead_call(queue: str, job_id: str) -> Call[Deleted]:
    return Call("DELETE", f"{queue_path(queue)}/dead/{quote_segment(job_id)}", Deleted)


def jobs_call(
    queue: str,
    state: str,
    limit: int,
    cursor: str | None,
    job_type: str | None,
    group: str | None = None,
) -> Call[JobPage]:
    page = check_page(state, limit, cursor, job_type, group)
    query = {"state": page.state.value, "limit": str(page.limit)}
    query.update({"cursor": cursor} if cursor else {})
    query.update({"type": page.job_type} if page.job_type else {})
    query.update({"group": page.group} if page.group is not None else {})
    return Call("GET", f"{queue_path(queue)}/jobs", JobPage, query=query)


def job_action_call(queue: str, job_id: str, action: str) -> Call[Changed]:
    """POST .../jobs/{id}/promote or .../requeue; safe to retry (a repeat is a 409)."""
    path = f"{queue_path(queue)}/jobs/{quote_segment(check_job_id(job_id))}/{action}"
    return Call("POST", path, Changed, b"")


def delete_job_call(queue: str, job_id: str, state: str | None) -> Call[Changed]:
    query = {"state": check_action("delete", state).value} if state else {}
    path = f"{queue_path(queue)}/jobs/{quote_segment(check_job_id(job_id))}"
    return Call("DELETE", path, Changed, query=query)


def bulk_call(queue: str, action: str, state: str, job_type: str | None) -> Call[Changed]:
    """POST .../jobs/bulk: promote, requeue or delete a selection; not retried (counts)."""
    st, jt = check_action(action, state), check_type_filter(job_type)
    body = {"action": action, "state": st.value, "type": jt or None}
    path = f"{queue_path(queue)}/jobs/bulk"
    return Call("POST", path, Changed, msgspec.json.encode(body), safe_retry=False)


def queue_op_call(method: str, queue: str, op: str, body: Any = None) -> Call[QueueStats]:
    data = msgspec.json.encode(body) if body is not None else b""
    return Call(method, f"{queue_path(queue)}/{op}", QueueStats, data)


def rate_limit_call(queue: str, rate: float, burst: int) -> Call[QueueStats]:
    wire.check_rate_limit(rate, burst)
    return queue_op_call("PUT", queue, "rate-limit", RateLimitRequest(rate=rate, burst=burst))


def _group_path(queue: str, group: str) -> str:
    return f"{queue_path(queue)}/groups/{quote_segment(validate_group_name(group))}"


def set_group_call(
    queue: str,
    group: str,
    weight: int = 1,
    max_inflight: int | None = None,
    rate: float | None = None,
    burst: int | None = None,
) -> Call[GroupStats]:
    """PUT the group's limits (safe to resend: the same body gives the same state)."""
    limits = wire.check_group_limits(
        GroupLimits(weight=weight, max_inflight=max_inflight, rate=rate, burst=burst)
    )
    return Call("PUT", _group_path(queue, group), GroupStats, msgspec.json.encode(limits))


def group_call(queue: str, group: str) -> Call[GroupStats]:
    return Call("GET", _group_path(queue, group), GroupStats)


def groups_call(queue: str, limit: int = 100) -> Call[GroupPage]:
    wire.check_group_page(limit)
    return Call("GET", f"{queue_path(queue)}/groups", GroupPage, query={"limit": str(limit)})


QUEUES: Call[QueueList] = Call("GET", "/api/queues", QueueList)
HEALTH: Call[Health] = Call("GET", "/healthz", Health)


def enqueue_result(r: EnqueueResponse) -> EnqueueResult:
    return EnqueueResult(id=r.id, duplicate=r.duplicate)


def backoff_s(attempt: int) -> float:
    return _core.backoff_ms("full_jitter", 100, 2000, attempt, random.random()) / 1000


class ClientOptions:
    """What both clients share: where the server is, headers, retry policy."""

    def __init__(self, base_url: str, token: str | None, timeout: float, retries: int) -> None:
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ConfigError(f"base_url must be http(s)://host[:port][/prefix], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"


# -- schedules (relay.schedules) -------------------------------------------------------------


def _schedule_path(queue: str, name: str, tail: str = "") -> str:
    """The schedule's path, for a valid queue and name (ConfigError, before any I/O, if not)."""
    return f"{queue_path(queue)}/schedules/{quote_segment(check_schedule_name(name))}{tail}"


def put_schedule_call(queue: str, schedule: Schedule) -> Call[ScheduleInfo]:
    """PUT the schedule (safe to resend: the same body gives the same state)."""
    s = schedule.validated()
    body = ScheduleRequest(
        cron=msgspec.UNSET if s.cron is None else s.cron,
        every_ms=msgspec.UNSET if s.every_ms is None else s.every_ms,
        timezone=s.timezone,
        type=s.type or None,
        payload=msgspec.Raw(s.payload_bytes()),
        priority=s.priority,
        max_attempts=s.max_attempts,
        timeout_ms=s.timeout_ms,
        paused=s.paused,
        misfire=s.misfire.value,
        group=s.group,
    )
    return Call("PUT", _schedule_path(queue, s.name), ScheduleInfo, msgspec.json.encode(body))


def get_schedule_call(queue: str, name: str) -> Call[ScheduleInfo]:
    return Call("GET", _schedule_path(queue, name), ScheduleInfo)


def list_schedules_call(queue: str) -> Call[ScheduleList]:
    return Call("GET", f"{queue_path(queue)}/schedules", ScheduleList)


def delete_schedule_call(queue: str, name: str) -> Call[Deleted]:
    return Call("DELETE", _schedule_path(queue, name), Deleted)


def trigger_schedule_call(queue: str, name: str) -> Call[Triggered]:
    """POST trigger: not resent on its own (each call enqueues one more job)."""
    return Call("POST", _schedule_path(queue, name, "/trigger"), Triggered, b"", False)


def pause_schedule_call(queue: str, name: str, paused: bool) -> Call[ScheduleInfo]:
    tail = "/pause" if paused else "/resume"
    return Call("POST", _schedule_path(queue, name, tail), ScheduleInfo, b"")
