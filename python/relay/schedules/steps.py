"""Every schedule operation once, sans I/O, in relay.broker.ops's shape: a generator of steps.

`Broker.perform` (asyncio) and `SyncProducer.perform` (blocking) drive the same generators, so
each face offers a schedule call by running one of these. The steps' keys, arguments and reply
narrowing live in relay.schedules.engine. Every instant comes from Redis TIME.
"""

from __future__ import annotations

import msgspec

from relay.broker.ops import Command, Eval, Steps, enqueue_args, enqueue_reply, keysets
from relay.config import BrokerSettings
from relay.errors import ConfigError, PayloadTooLarge, ScheduleNotFound
from relay.keys import QUEUES_KEY, QueueKeys
from relay.schedules import engine
from relay.schedules.model import Schedule, ScheduleInfo, check_schedule_name, info
from relay.wire import EnqueueResult, JobSpec

PAGE = 500  # HSCAN COUNT hint when listing
PAUSE_TRIES = 10


def redis_ms(reply: list[bytes]) -> int:
    """A TIME reply in unix ms."""
    return int(reply[0]) * 1000 + int(reply[1]) // 1000


def upsert(
    s: BrokerSettings, queue: str, schedule: Schedule, if_match: str = ""
) -> Steps[tuple[ScheduleInfo, bool]]:
    """Create or replace a schedule: (its stored view, whether it was created)."""
    k = QueueKeys.for_queue(queue)
    schedule.validated()
    size = len(schedule.payload_bytes())  # its jobs could never be enqueued: as over HTTP
    if size > s.max_payload_bytes:
        raise PayloadTooLarge(
            f"payload of {size} bytes is over the limit of {s.max_payload_bytes} bytes; "
            "nothing was written"
        )
    now = redis_ms((yield Command("time", ("TIME",))))
    args = engine.upsert_args(schedule, now, if_match)
    yield Command("register", ("SADD", QUEUES_KEY, queue))
    reply = yield Eval("upsert_schedule", engine.upsert_keys(k), args)
    created, next_at = engine.upsert_reply(schedule.name, reply)
    try:
        row = yield from get_row(s, queue, schedule.name)
    except ScheduleNotFound:  # deleted meanwhile: answer what was written
        return info(schedule, None if next_at < 0 else next_at, None, None), created
    return row.info, created


def get_row(s: BrokerSettings, queue: str, name: str) -> Steps[engine.Row]:
    """One stored schedule (view, definition, SHA1); ScheduleNotFound when none."""
    keys = engine.read_keys(QueueKeys.for_queue(queue))
    check_schedule_name(name)  # before any I/O, as over HTTP
    reply = yield Eval("list_schedules", keys, engine.list_args(name))
    return engine.get_reply(queue, name, reply)


def get(s: BrokerSettings, queue: str, name: str) -> Steps[ScheduleInfo]:
    return (yield from get_row(s, queue, name)).info


def listing(s: BrokerSettings, queue: str) -> Steps[list[ScheduleInfo]]:
    """Every schedule of the queue with its state, sorted by name."""
    keys = engine.read_keys(QueueKeys.for_queue(queue))
    unique: dict[str, ScheduleInfo] = {}  # HSCAN may return a name twice
    cursor = "0"
    while True:
        reply = yield Eval("list_schedules", keys, engine.list_args("", cursor, PAGE))
        rows, cursor = engine.page_reply(reply)
        unique.update((r.info.name, r.info) for r in rows)
        if cursor == "0":
            return [unique[n] for n in sorted(unique)]


def delete(s: BrokerSettings, queue: str, name: str) -> Steps[None]:
    keys = engine.read_keys(QueueKeys.for_queue(queue))
    check_schedule_name(name)
    args = engine.delete_args(name)
    engine.delete_reply(queue, name, (yield Eval("delete_schedule", keys, args)))


def set_paused(s: BrokerSettings, queue: str, name: str, paused: bool) -> Steps[ScheduleInfo]:
    """Pause or resume; a resumed schedule goes on from now. Read, then write if unchanged."""
    for _ in range(PAUSE_TRIES):
        row = yield from get_row(s, queue, name)
        if row.schedule.paused == paused:
            return row.info
        changed = msgspec.structs.replace(row.schedule, paused=paused)
        try:
            got, _ = yield from upsert(s, queue, changed, if_match=row.sha)
        except ConfigError:
            continue  # changed between our read and our write: read again
        return got
    raise ConfigError(f"schedule {name!r} keeps changing; try again")


def trigger(s: BrokerSettings, queue: str, name: str) -> Steps[EnqueueResult]:
    """Enqueue the schedule's job now; the schedule and its ticks are unchanged."""
    d = (yield from get_row(s, queue, name)).schedule
    specs = [JobSpec(type=d.job_type, payload=d.payload_bytes(), options=d.options())]
    ks = keysets(queue)
    reply = yield Eval("enqueue", ks.enqueue, enqueue_args(s, ks.keys.prefix, specs))
    return enqueue_reply(queue, specs, 0, reply)[0]


def fire(s: BrokerSettings, queue: str) -> Steps[engine.Fired]:
    """Enqueue the job of every due tick once, however many workers run this at once."""
    k = QueueKeys.for_queue(queue)
    due = engine.due_reply((yield Eval("due_schedules", engine.due_keys(k), [engine.MAX_DUE])))
    out = engine.Fired(wait_ms=due.wait_ms)
    plans = [p for t in due.ticks if (p := engine.plan(t, due.now_ms)) is not None]
    if plans:
        args = engine.fire_args(s.events_cap, plans)
        engine.fire_reply(
            queue, plans, (yield Eval("fire_schedules", engine.fire_keys(k), args)), out
        )
        out.wait_ms = 0  # a tick fired may be followed by another one already due
    return out
