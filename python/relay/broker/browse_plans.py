"""The browser's actions as sans-I/O plans: generators that yield the scripts to run and take
their replies, so the async broker and any blocking client share one copy of the logic.

    plan = bulk_plan(settings, "emails", "delete", "ready", "spam")
    script = next(plan)                       # (name, KEYS, ARGV)
    while True:
        try: script = plan.send(run(*script))  # run: the transport's EVALSHA
        except StopIteration as done: return done.value

`relay.broker.browse.drive` is that loop for the async broker, `drive_blocking` below for a
blocking redis-py client.

A single-job action that finds its job gone from the state reads the job (get_job) and raises
JobStateConflict naming where it is now, or JobNotFound.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar, cast

from redis.exceptions import NoScriptError

from relay.broker import replies
from relay.broker.scripts import SCRIPTS
from relay.broker.types import Code
from relay.browse import check_state, check_type_filter
from relay.config import BrokerSettings
from relay.errors import ConfigError, JobNotFound, JobStateConflict
from relay.job import JobState
from relay.keys import QueueKeys

T = TypeVar("T")
Script = tuple[str, list[str], list[object]]  # script name, KEYS, ARGV
Plan = Generator[Script, Any, T]
ZSET_KEYS = {
    JobState.DELAYED: "delayed",
    JobState.INFLIGHT: "inflight",
    JobState.DEAD: "dead",
    JobState.COMPLETED: "done",
}
DELETABLE = (JobState.READY, JobState.DELAYED, JobState.DEAD)
_ALLOWED = {"promote": (JobState.DELAYED,), "requeue": (JobState.DEAD,), "delete": DELETABLE}


def zset_key(k: QueueKeys, state: JobState) -> str:
    """The sorted set holding `state` (every state but ready)."""
    return str(getattr(k, ZSET_KEYS[state]))


def check_action(action: str, state: JobState) -> None:
    """ConfigError unless `state` allows `action` (promote, requeue, delete)."""
    allowed = _ALLOWED[action]
    if state not in allowed:
        names = " or ".join(s.value for s in allowed)
        raise ConfigError(f"state must be {names} to {action} jobs, got {state.value!r}")


def move_args(
    s: BrokerSettings, k: QueueKeys, source: JobState, job_id: str, job_type: str, start: int
) -> Script:
    """Move one job (or a chunk of a selection) from delayed or dead to ready."""
    kind = "promoted" if source is JobState.DELAYED else "requeued"
    keys = [*k.ready_all(), zset_key(k, source), k.jobs, k.run, k.stats, k.events, k.wake]
    return "move_jobs", keys, [s.events_cap, kind, job_id, job_type, start, s.batch_limit]


def delete_args(
    s: BrokerSettings,
    k: QueueKeys,
    state: JobState,
    job_id: str,
    job_type: str,
    position: tuple[int, int],
) -> Script:
    """Delete one job (or a chunk of a selection) of a deletable state; position = (list,
    index) for ready, (0, rank) for the others."""
    if state is JobState.READY:
        keys = [*k.ready_all(), k.jobs, k.run, k.err, k.stats, k.events]
        args: list[object] = [s.events_cap, job_id, job_type, *position, s.batch_limit]
        return "delete_ready", keys, args
    keys = [zset_key(k, state), k.jobs, k.run, k.err, k.stats, k.events]
    return "delete_scored", keys, [s.events_cap, job_id, job_type, position[1], s.batch_limit]


def _state_of(k: QueueKeys, job_id: str) -> Plan[JobState]:
    """Where the job is now (the get_job script); JobNotFound when it is gone."""
    keys = [k.jobs, k.run, k.err, k.inflight, k.delayed, k.dead, k.done]
    r = yield "get_job", keys, [job_id]
    if not r:
        raise JobNotFound(f"no job {job_id!r} in queue {k.queue!r}")
    return replies.job_info(k.queue, job_id, *r).state


def one_plan(
    s: BrokerSettings, queue: str, action: str, job_id: str, state: str | None = None
) -> Plan[None]:
    """Promote, requeue or delete one job; `state` (delete only) says where it must be."""
    k = QueueKeys.for_queue(queue)
    wanted: tuple[JobState, ...]
    if action == "delete":
        if state:
            st = check_state(state)
            check_action("delete", st)  # deleting an in-flight job is a bad request
        else:
            st = yield from _state_of(k, job_id)
        wanted = (st,) if state else DELETABLE
        if st in DELETABLE:
            r = yield delete_args(s, k, st, job_id, "", (0, 0))
            if int(r[0]) != Code.NOT_IN_STATE:
                return
    else:
        [source] = wanted = _ALLOWED[action]
        r = yield move_args(s, k, source, job_id, "", 0)
        if int(r[0]) != Code.NOT_IN_STATE:
            return
    now = yield from _state_of(k, job_id)
    raise JobStateConflict(job_id, now.value, tuple(w.value for w in wanted))


def bulk_plan(
    s: BrokerSettings, queue: str, action: str, state: str, job_type: str | None
) -> Plan[int]:
    """An action on every job of `state` (of `job_type`), chunk by chunk; how many changed.

    Chunks are addressed by position (rank, or list and index): jobs that leave the state
    meanwhile can make a walk pass over as many others (a second run catches them). Jobs of
    other types are never touched."""
    st = check_state(state)
    check_action(action, st)
    k, jt = QueueKeys.for_queue(queue), check_type_filter(job_type)
    done = 0
    if st is JobState.READY:
        position = (1, 0)
        while True:
            r = yield delete_args(s, k, st, "", jt, position)
            done += int(r[0])
            if int(r[1]) == 0:
                return done
            position = (int(r[1]), int(r[2]))
    start = 0
    while True:
        if action == "delete":
            r = yield delete_args(s, k, st, "", jt, (0, start))
        else:
            r = yield move_args(s, k, st, "", jt, start)
        done += int(r[0])
        start = int(r[1])
        if start >= int(r[2]):
            return done


def drive_blocking(client: Any, plan: Plan[T]) -> T:
    """Run a plan on a blocking redis-py client (what SyncProducer holds); its result.

    Redis errors come out as redis-py raises them: the caller maps them (SyncProducer._call)."""
    try:
        script = next(plan)
        while True:
            name, keys, args = script
            s = SCRIPTS[name]
            try:
                reply = client.evalsha(s.sha, s.nkeys, *keys, *args)
            except NoScriptError:  # Redis restarted or flushed its scripts
                reply = client.eval(s.source, s.nkeys, *keys, *args)
            script = plan.send(reply)
    except StopIteration as done:
        return cast(T, done.value)
