"""The browser's actions as sans-I/O operations (relay.broker.ops' shape): generators that
yield each `Eval` step and take its reply, so `Broker.perform` and `SyncProducer.perform` run
the same logic, and the faces add one line per call.

A single-job action that finds its job gone from the state reads the job (ops.job_info) and
raises JobStateConflict naming where it is now, or JobNotFound.
"""

from __future__ import annotations

from relay.broker import flows, ops
from relay.broker.ops import Command, Eval, Steps
from relay.broker.types import Code
from relay.browse import ALLOWED, DELETABLE, check_action, check_job_id, check_type_filter
from relay.config import BrokerSettings
from relay.errors import JobStateConflict
from relay.job import JobState
from relay.keys import QueueKeys

ZSET_KEYS = {
    JobState.DELAYED: "delayed",
    JobState.INFLIGHT: "inflight",
    JobState.DEAD: "dead",
    JobState.COMPLETED: "done",
    JobState.CANCELLED: "cancelled",
    JobState.WAITING: "blocked",  # flows' parents, oldest first
}


def zset_key(k: QueueKeys, state: JobState) -> str:
    """The sorted set holding `state` (every state but ready)."""
    return str(getattr(k, ZSET_KEYS[state]))


def move_args(
    s: BrokerSettings, k: QueueKeys, source: JobState, job_id: str, job_type: str, start: int
) -> Eval:
    """Move one job (or a chunk of a selection) from delayed or dead to ready."""
    kind = "promoted" if source is JobState.DELAYED else "requeued"
    keys = [*k.ready_all(), zset_key(k, source), k.jobs, k.run, k.stats, k.events, k.wake]
    return Eval("move_jobs", keys, [s.events_cap, kind, job_id, job_type, start, s.batch_limit])


def delete_args(
    s: BrokerSettings,
    k: QueueKeys,
    state: JobState,
    job_id: str,
    job_type: str,
    position: tuple[int, int],
    group: str | None = None,
) -> Eval:
    """Delete one job (or a chunk of a selection) of a deletable state; position = (list,
    index) for ready (in `group`'s lists when given), (0, rank) for the others."""
    if state is JobState.READY:
        lists = k.ready_all() if group is None else k.group_ready_all(group)
        keys = [*lists, k.jobs, k.run, k.err, k.stats, k.events]
        args: list[object] = [s.events_cap, job_id, job_type, *position, s.batch_limit]
        return Eval("delete_ready", keys, args if group is None else [*args, group])
    keys = [zset_key(k, state), k.jobs, k.run, k.err, k.stats, k.events]
    args = [s.events_cap, job_id, job_type, position[1], s.batch_limit]
    return Eval("delete_scored", keys, args)


def _tell_parents(s: BrokerSettings, queue: str, told: int) -> Steps[None]:
    """Deleted flow children are cancelled for their parents: apply the outbox entries the
    delete wrote (decision 0050)."""
    if int(told) > 0:
        yield from flows.settle(s, queue)


def _backlogged_groups(k: QueueKeys) -> Steps[list[str]]:
    """The groups with ready jobs (decision 0053: the `groups` zset holds only those)."""
    out: list[str] = []
    while True:
        chunk = yield Command("browse", ("ZRANGE", k.groups, len(out), len(out) + 999))
        out += [g.decode() for g in chunk]
        if len(chunk) < 1000:
            return out


def _state_of(s: BrokerSettings, queue: str, job_id: str) -> Steps[JobState]:
    """Where the job is now; JobNotFound when it is gone."""
    return (yield from ops.job_info(s, queue, job_id)).state


def one_plan(
    s: BrokerSettings, queue: str, action: str, job_id: str, state: str | None = None
) -> Steps[None]:
    """Promote, requeue or delete one job; `state` (delete only) says where it must be."""
    k, job_id = QueueKeys.for_queue(queue), check_job_id(job_id)
    wanted: tuple[JobState, ...]
    if action == "delete":
        if state:
            st = check_action("delete", state)  # deleting an in-flight job is a bad request
        else:
            st = yield from _state_of(s, queue, job_id)
        wanted = (st,) if state else DELETABLE
        if st in DELETABLE:
            r = yield delete_args(s, k, st, job_id, "", (0, 0))
            if int(r[0]) != Code.NOT_IN_STATE:
                yield from _tell_parents(s, queue, r[-1])
                return
    else:
        [source] = wanted = ALLOWED[action]
        r = yield move_args(s, k, source, job_id, "", 0)
        if int(r[0]) != Code.NOT_IN_STATE:
            return
    now = yield from _state_of(s, queue, job_id)
    raise JobStateConflict(job_id, now.value, tuple(w.value for w in wanted))


def check_bulk(action: str, state: str, job_type: str | None) -> tuple[JobState, str]:
    """A bulk action's state and type filter, checked (ConfigError before any I/O)."""
    return check_action(action, state), check_type_filter(job_type)


def bulk_plan(
    s: BrokerSettings, queue: str, action: str, state: str, job_type: str | None
) -> Steps[int]:
    """An action on every job of `state` (of `job_type`), chunk by chunk; how many changed.

    Chunks are addressed by position (rank, or list and index): jobs that leave the state
    meanwhile can make a walk pass over as many others (a second run catches them). Jobs of
    other types are never touched."""
    st, jt = check_bulk(action, state, job_type)
    k = QueueKeys.for_queue(queue)
    done = 0
    if st is JobState.READY:  # the plain lists, then each group's with a backlog
        for group in (None, *(yield from _backlogged_groups(k))):
            position = (1, 0)
            while position[0]:
                r = yield delete_args(s, k, st, "", jt, position, group)
                done += int(r[0])
                yield from _tell_parents(s, queue, r[3])
                position = (int(r[1]), int(r[2]))
        return done
    start = 0
    while True:
        if action == "delete":
            r = yield delete_args(s, k, st, "", jt, (0, start))
            yield from _tell_parents(s, queue, r[3])
        else:
            r = yield move_args(s, k, st, "", jt, start)
        done += int(r[0])
        start = int(r[1])
        if start >= int(r[2]):
            return done
