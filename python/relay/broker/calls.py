"""The calls of the four faces over Redis, each a sans-I/O operation (see relay.broker.ops).

`Producer` and `SyncProducer` offer exactly these (plus enqueue, enqueue_many and job), each a
one-line method that runs the generator here on its transport; `relay.http.calls` has the same
calls for `Client` and `AsyncClient`. They answer as the HTTP API does, so a service can move
between HTTP and direct Redis by changing one constructor: a call on a queue that never had a
job raises JobNotFound (the HTTP 404), and the calls that change a queue return its stats.
"""

from __future__ import annotations

import msgspec

from relay.broker import flows, lifecycle, ops
from relay.broker import groups as group_ops
from relay.broker.browse import list_reply, list_step
from relay.broker.browse_plans import bulk_plan, check_bulk, one_plan
from relay.broker.ops import Command, Steps
from relay.browse import DEFAULT_LIMIT, JobPage, check_job_id
from relay.config import BrokerSettings
from relay.errors import JobNotFound, RelayError
from relay.flows import Flow, FlowResult, FlowTree
from relay.job import JsonValue
from relay.keys import QUEUES_KEY, validate_group_name, validate_queue_name
from relay.results import check_wait_ms
from relay.schedules import steps as schedule_steps
from relay.schedules.model import Schedule, ScheduleInfo
from relay.wire import (
    CancelOutcome,
    DeadPage,
    EnqueueResult,
    GroupLimits,
    GroupPage,
    GroupStats,
    JobInfo,
    QueueStats,
    check_dead_page,
    check_group_limits,
    check_group_page,
    check_rate_limit,
)


def known(s: BrokerSettings, queue: str) -> Steps[str]:
    """`queue`, when it names a queue that has had a job; else JobNotFound (HTTP's 404)."""
    if not (yield from has_queue(s, queue)):
        raise JobNotFound(f"no queue named {queue!r}")
    return queue


def has_queue(s: BrokerSettings, queue: str) -> Steps[bool]:
    """Whether `queue` is registered; a queue whose registration was lost (a Redis restart
    without persistence, a failover, FLUSHALL) but which has jobs or counters in Redis is
    registered again, so the registry heals on lookup."""
    validate_queue_name(queue)
    if (yield Command("queues", ("SISMEMBER", QUEUES_KEY, queue))):
        return True
    k = ops.keysets(queue).keys
    if not (yield Command("queues", ("EXISTS", k.stats, k.jobs))):
        return False
    yield Command("register", ("SADD", QUEUES_KEY, queue))
    return True


def get_job(
    s: BrokerSettings, queue: str, job_id: str, wait_ms: int | None = None
) -> Steps[JobInfo]:
    if wait_ms is None:
        info = yield from ops.job_info(s, queue, job_id)
    else:
        info = yield from lifecycle.wait_job(s, queue, job_id, check_wait_ms(wait_ms))
    kids = yield from flows.children(s, queue, job_id)
    return info if kids is None else msgspec.structs.replace(info, children=kids)


# -- workflows (relay.broker.flows, decision 0050) --------------------------------------------


def enqueue_flow(s: BrokerSettings, flow: Flow) -> Steps[FlowResult]:
    return (yield from flows.enqueue_flow(s, flow))


def get_flow(s: BrokerSettings, queue: str, job_id: str) -> Steps[FlowTree]:
    validate_queue_name(queue)
    return (yield from flows.flow_tree(s, queue, check_job_id(job_id)))


# -- end of workflows -------------------------------------------------------------------------


# -- results and cancellation (relay.broker.lifecycle) ---------------------------------------


def result(
    s: BrokerSettings, queue: str, job_id: str, timeout: float | None = None
) -> Steps[JsonValue]:
    validate_queue_name(queue)
    return (yield from lifecycle.job_result(s, queue, check_job_id(job_id), timeout))


def cancel(s: BrokerSettings, queue: str, job_id: str) -> Steps[CancelOutcome]:
    validate_queue_name(queue)
    out = yield from lifecycle.cancel_job(s, queue, check_job_id(job_id))
    if out.state == "cancelled":  # flows: a parent's unfinished children go too; its parent learns
        yield from flows.cancel_children(s, queue, job_id)
        yield from flows.settle(s, queue)
    return out


# -- end of results and cancellation ---------------------------------------------------------


def stats(s: BrokerSettings, queue: str) -> Steps[QueueStats]:
    return (yield from ops.queue_stats(s, (yield from known(s, queue))))


def queues(s: BrokerSettings) -> Steps[list[QueueStats]]:
    out = []
    for queue in (yield from ops.queue_names(s)):
        out.append((yield from ops.queue_stats(s, queue)))
    return out


def dead_jobs(
    s: BrokerSettings, queue: str, limit: int = 50, cursor: str | None = None
) -> Steps[DeadPage]:
    check_dead_page(limit, cursor)
    return (yield from ops.dead_page(s, (yield from known(s, queue)), limit, cursor))


def requeue(s: BrokerSettings, queue: str, job_id: str | None = None) -> Steps[int]:
    if not job_id:  # every dead job: the queue must exist, as over HTTP
        queue = yield from known(s, queue)
    return (yield from ops.requeue_dead(s, queue, job_id))


def delete_dead(s: BrokerSettings, queue: str, job_id: str) -> Steps[None]:
    yield from ops.delete_dead(s, queue, job_id)


def pause(s: BrokerSettings, queue: str) -> Steps[QueueStats]:
    yield from ops.set_paused(s, (yield from known(s, queue)), True)
    return (yield from ops.queue_stats(s, queue))


def resume(s: BrokerSettings, queue: str) -> Steps[QueueStats]:
    yield from ops.set_paused(s, (yield from known(s, queue)), False)
    return (yield from ops.queue_stats(s, queue))


def set_rate_limit(s: BrokerSettings, queue: str, rate: float, burst: int) -> Steps[QueueStats]:
    check_rate_limit(rate, burst)
    yield from ops.put_rate_limit(s, (yield from known(s, queue)), rate, burst)
    return (yield from ops.queue_stats(s, queue))


def set_group(
    s: BrokerSettings,
    queue: str,
    group: str,
    weight: int = 1,
    max_inflight: int | None = None,
    rate: float | None = None,
    burst: int | None = None,
) -> Steps[GroupStats]:
    limits = check_group_limits(
        GroupLimits(weight=weight, max_inflight=max_inflight, rate=rate, burst=burst)
    )
    yield from group_ops.put_group(s, validate_queue_name(queue), group, limits)
    return (yield from group_ops.group_stats(s, queue, group))


def group(s: BrokerSettings, queue: str, group: str) -> Steps[GroupStats]:
    validate_group_name(group)
    return (yield from group_ops.group_stats(s, (yield from known(s, queue)), group))


def groups(s: BrokerSettings, queue: str, limit: int = 100) -> Steps[GroupPage]:
    check_group_page(limit)
    return (yield from group_ops.group_page(s, (yield from known(s, queue)), limit))


def clear_rate_limit(s: BrokerSettings, queue: str) -> Steps[QueueStats]:
    yield from ops.drop_rate_limit(s, (yield from known(s, queue)))
    return (yield from ops.queue_stats(s, queue))


def list_jobs(
    s: BrokerSettings,
    queue: str,
    state: str,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    job_type: str | None = None,
    group: str | None = None,
) -> Steps[JobPage]:
    page, step = list_step(queue, state, limit, cursor, job_type, group)  # checks before I/O
    yield from known(s, queue)
    return list_reply(queue, page, (yield step))


def promote_job(s: BrokerSettings, queue: str, job_id: str) -> Steps[int]:
    yield from one_plan(s, queue, "promote", job_id)
    return 1


def requeue_job(s: BrokerSettings, queue: str, job_id: str) -> Steps[int]:
    yield from one_plan(s, queue, "requeue", job_id)
    return 1


def delete_job(s: BrokerSettings, queue: str, job_id: str, state: str | None = None) -> Steps[int]:
    yield from one_plan(s, queue, "delete", job_id, state)
    return 1


def _bulk(
    s: BrokerSettings, queue: str, action: str, state: str, job_type: str | None
) -> Steps[int]:
    check_bulk(action, state, job_type)  # before the queue's lookup, as over HTTP
    yield from known(s, queue)
    return (yield from bulk_plan(s, queue, action, state, job_type))


def promote_jobs(s: BrokerSettings, queue: str, job_type: str | None = None) -> Steps[int]:
    return (yield from _bulk(s, queue, "promote", "delayed", job_type))


def requeue_jobs(s: BrokerSettings, queue: str, job_type: str | None = None) -> Steps[int]:
    return (yield from _bulk(s, queue, "requeue", "dead", job_type))


def delete_jobs(
    s: BrokerSettings, queue: str, state: str, job_type: str | None = None
) -> Steps[int]:
    return (yield from _bulk(s, queue, "delete", state, job_type))


def upsert_schedule(s: BrokerSettings, queue: str, schedule: Schedule) -> Steps[ScheduleInfo]:
    """Create or replace; the stored view (over HTTP, 201 or 200 says which: not answered)."""
    info, _ = yield from schedule_steps.upsert(s, queue, schedule)
    return info


def get_schedule(s: BrokerSettings, queue: str, name: str) -> Steps[ScheduleInfo]:
    return (yield from schedule_steps.get(s, queue, name))


def schedules(s: BrokerSettings, queue: str) -> Steps[list[ScheduleInfo]]:
    return (yield from schedule_steps.listing(s, queue))


def delete_schedule(s: BrokerSettings, queue: str, name: str) -> Steps[None]:
    yield from schedule_steps.delete(s, queue, name)


def pause_schedule(s: BrokerSettings, queue: str, name: str) -> Steps[ScheduleInfo]:
    return (yield from schedule_steps.set_paused(s, queue, name, True))


def resume_schedule(s: BrokerSettings, queue: str, name: str) -> Steps[ScheduleInfo]:
    return (yield from schedule_steps.set_paused(s, queue, name, False))


def trigger_schedule(s: BrokerSettings, queue: str, name: str) -> Steps[EnqueueResult]:
    return (yield from schedule_steps.trigger(s, queue, name))


def health(s: BrokerSettings) -> Steps[bool]:
    """Redis answers and has relay's scripts (what the server's /healthz checks, minus the
    server itself); False, not an error, when it does not."""
    try:
        return (yield from ops.scripts_loaded(s))
    except RelayError:
        return False
