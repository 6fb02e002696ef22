"""Schedules, sans I/O: the scripts' keys and arguments in, their replies narrowed out.

Firing is two scripts. `due_schedules` is the one bounded read every promoter tick makes (Redis
TIME, a ZRANGEBYSCORE with LIMIT): it returns the due ticks and Redis's `now`. The caller plans
each tick here (cron and zones live in Python, not Lua) and `fire_schedules` applies the plan
with a compare-and-set on the tick and on the definition it read, so workers racing on one tick
enqueue one job: the others' sets fail and change nothing. Every instant comes from Redis.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from relay import _core
from relay.errors import ConfigError, ScheduleNotFound
from relay.keys import QueueKeys
from relay.schedules.model import (
    Misfire,
    Schedule,
    ScheduleInfo,
    check_schedule_name,
    decode_schedule,
    info,
)

log = logging.getLogger("relay.schedules")

GRACE_MS = 5_000  # a tick this late still fires as a tick; later ones are misfires
MAX_DUE = 100  # schedules fired per script call
MAX_COUNTED = 10_000  # missed ticks counted one by one at most (then the count is a floor)


class FireOutcome(IntEnum):
    """What `fire_schedules` did with one planned tick."""

    ENQUEUED = 1
    ADVANCED = 2  # a skipped misfire: no job
    LOST = 0  # another worker fired the tick first, or the schedule changed meanwhile
    QUEUE_FULL = -4


def upsert_keys(k: QueueKeys) -> list[str]:
    return [k.schedules, k.schedules_due]


def read_keys(k: QueueKeys) -> list[str]:
    """Keys of delete_schedule and list_schedules."""
    return [k.schedules, k.schedules_due, k.schedules_runs]


def due_keys(k: QueueKeys) -> list[str]:
    return [k.schedules_due, k.schedules]


def fire_keys(k: QueueKeys) -> list[str]:
    return [
        *k.ready_all(),
        k.delayed,
        k.jobs,
        k.conf,
        k.stats,
        k.events,
        k.wake,
        k.schedules,
        k.schedules_due,
        k.schedules_runs,
    ]


def record(s: Schedule) -> bytes:
    """What the definitions hash stores: the timing key, a newline, the JSON."""
    return s.timing_key().encode() + b"\n" + s.encode()


def upsert_args(s: Schedule, now_ms: int, if_match: str = "") -> list[object]:
    """upsert_schedule's ARGV: `s` validated, its first tick planned from Redis's `now_ms`."""
    s.validated()
    next_at = -1 if s.paused else s.timing().next_after(now_ms)
    return [s.name, record(s), next_at, if_match]


def upsert_reply(name: str, reply: Sequence[Any]) -> tuple[bool, int]:
    """(created, next_run_at ms; -1 paused); ConfigError when the if-match SHA1 was stale."""
    code, next_at = int(reply[0]), int(reply[1])
    if code < 0:
        raise ConfigError(f"schedule {name!r} changed meanwhile; read it again")
    return code == 1, next_at


def list_args(name: str = "", cursor: str = "0", page: int = 500) -> list[object]:
    """list_schedules' ARGV: one schedule by name, or a page of all from `cursor`."""
    if name:
        check_schedule_name(name)
    return [name, cursor, page]


def page_reply(reply: Sequence[Any]) -> tuple[list[Row], str]:
    """A page of rows and the cursor of the next ("0": done)."""
    cursor = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
    return info_rows(reply[1:]), cursor


def get_reply(queue: str, name: str, reply: Sequence[Any]) -> Row:
    """The one row asked for by name; ScheduleNotFound when there is none."""
    rows = info_rows(reply[1:])
    if not rows:
        raise ScheduleNotFound(f"no schedule {name!r} in queue {queue!r}")
    return rows[0]


def delete_args(name: str) -> list[object]:
    return [check_schedule_name(name)]


def delete_reply(queue: str, name: str, reply: Any) -> None:
    if not reply:
        raise ScheduleNotFound(f"no schedule {name!r} in queue {queue!r}")


def parse_record(rec: bytes) -> Schedule:
    return decode_schedule(rec.split(b"\n", 1)[1])


def sha1(rec: bytes) -> str:
    return hashlib.sha1(rec, usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class Row:
    """One stored schedule: its view, its definition and the SHA1 of its record."""

    info: ScheduleInfo
    schedule: Schedule
    sha: str


def info_rows(reply: Sequence[Any]) -> list[Row]:
    """list_schedules' rows, sorted by name."""
    out = []
    for i in range(0, len(reply), 4):
        rec, score, last = reply[i + 1], int(float(reply[i + 2])), reply[i + 3]
        last_ms, _, job = last.decode().partition(" ") if last else ("", "", "")
        s = parse_record(rec)
        row = info(s, None if score < 0 else score, int(last_ms) if last_ms else None, job or None)
        out.append(Row(row, s, sha1(rec)))
    return sorted(out, key=lambda r: r.info.name)


@dataclass(frozen=True, slots=True)
class Tick:
    """One due schedule as due_schedules read it."""

    name: str
    tick_ms: int
    record: bytes


@dataclass(frozen=True, slots=True)
class Due:
    now_ms: int
    wait_ms: int  # until the next tick after these: -1 none, 0 more due now
    ticks: list[Tick]


def due_reply(reply: Sequence[Any]) -> Due:
    rows = reply[2:]
    ticks = [
        Tick(rows[i].decode(), int(float(rows[i + 1])), rows[i + 2]) for i in range(0, len(rows), 3)
    ]
    return Due(int(reply[0]), int(reply[1]), ticks)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with one due tick: the job to enqueue (if any) and the next tick."""

    name: str
    tick_ms: int
    sha: str
    next_ms: int
    job_id: str  # "" = no job
    envelope: bytes
    missed: int  # ticks that will get no job of their own
    group: str = ""  # the job's group ("" none, decision 0053)


def tick_job_id(name: str, tick_ms: int) -> str:
    """The id of a tick's job: the same from every worker, sorting by the tick's time."""
    digest = hashlib.blake2b(f"{name}\0{tick_ms}".encode(), digest_size=7).digest()
    return _core.job_ids(tick_ms, digest)[0]


def envelope(s: Schedule, created_ms: int) -> bytes:
    return _core.encode_job(
        s.job_type, s.payload_bytes(), s.priority, s.max_attempts, s.timeout_ms, created_ms, None
    )


def plan(tick: Tick, now_ms: int) -> Plan | None:
    """The plan for one due tick, or None when its record is unreadable (logged)."""
    try:
        s = parse_record(tick.record)
        timing = s.timing()
    except (ConfigError, IndexError):
        log.exception("schedule %r is unreadable, not fired", tick.name)
        return None
    sha, g = sha1(tick.record), s.group or ""
    after = timing.next_after(tick.tick_ms)
    if now_ms - tick.tick_ms <= GRACE_MS:  # on time (or catching up a few seconds): this tick
        job = tick_job_id(s.name, tick.tick_ms)
        return Plan(s.name, tick.tick_ms, sha, after, job, envelope(s, tick.tick_ms), 0, g)
    missed = 1
    while after <= now_ms and missed < MAX_COUNTED:
        missed += 1
        after = timing.next_after(after)
    resume = timing.next_after(now_ms)
    if s.misfire == Misfire.SKIP:
        return Plan(s.name, tick.tick_ms, sha, resume, "", b"", missed)
    job = tick_job_id(s.name, tick.tick_ms)  # a job's created_ms is always the tick it stands for
    env = envelope(s, tick.tick_ms)
    return Plan(s.name, tick.tick_ms, sha, resume, job, env, missed - 1, g)


def fire_args(events_cap: int, plans: Sequence[Plan]) -> list[object]:
    args: list[object] = [events_cap]
    for p in plans:
        args += [p.name, p.tick_ms, p.sha, p.next_ms, p.job_id, p.envelope, p.group]
    return args


@dataclass(slots=True)
class Fired:
    """What one firing round did on one queue."""

    enqueued: int = 0
    missed: int = 0
    lost: int = 0  # ticks another worker fired first
    wait_ms: int = -1  # until the next tick: -1 none, 0 more due now


def fire_reply(queue: str, plans: Sequence[Plan], reply: Sequence[Any], into: Fired) -> None:
    """Count what fire_schedules did; a malformed envelope is a bug, raised."""
    if reply and isinstance(reply[0], int) and reply[0] == -5 and len(reply) == 2:
        raise ConfigError(f"schedule job {reply[1]} of the batch is malformed")
    for p, code in zip(plans, reply, strict=True):
        outcome = FireOutcome(int(code))
        if outcome == FireOutcome.LOST:
            into.lost += 1
            continue
        into.missed += p.missed
        if outcome == FireOutcome.ENQUEUED:
            into.enqueued += 1
        elif outcome == FireOutcome.QUEUE_FULL:
            into.missed += 1
            log.warning("queue %s is full: schedule %s skipped a tick", queue, p.name)
        if p.missed:
            log.warning(
                "schedule %s of queue %s missed %d tick(s) (no worker ran); misfire=%s",
                p.name,
                queue,
                p.missed,
                "once" if p.job_id else "skip",
            )
