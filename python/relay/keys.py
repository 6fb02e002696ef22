"""The only place Redis key strings are built; every per-queue key carries the `{queue}` tag."""

from __future__ import annotations

import re
from dataclasses import dataclass

from relay.errors import ConfigError

PRIORITIES = 10  # 0..9, 9 runs first
QUEUES_KEY = "relay:queues"  # global registry, never touched by a per-queue script
_VALID = re.compile(r"[A-Za-z0-9._\-/@+=~!$%^&*()\[\]<>?|#]{1,128}")


MAX_GROUP_LEN = 128
_GROUP = re.compile(r"[\x20-\x7e]{1,128}")


def validate_group_name(group: object, field: str = "group") -> str:
    """Return `group` if it is a valid group name (1-128 printable ASCII characters), else
    raise ConfigError naming `field`."""
    if not isinstance(group, str) or not _GROUP.fullmatch(group):
        raise ConfigError(
            f"{field}: a group name is 1-{MAX_GROUP_LEN} printable ASCII characters, got {group!r}"
        )
    return group


def validate_queue_name(queue: str) -> str:
    """Return `queue` if it is a valid queue name, else raise ConfigError."""
    if not isinstance(queue, str) or not _VALID.fullmatch(queue):
        raise ConfigError(
            f"invalid queue name {queue!r}: 1-128 printable characters, none of '{{' '}}' ':' "
            "or whitespace"
        )
    return queue


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """Redis keys of one queue; all share the `{queue}` hash tag, hence one cluster slot."""

    queue: str
    prefix: str  # "relay:{emails}:"

    @classmethod
    def for_queue(cls, queue: str) -> QueueKeys:
        validate_queue_name(queue)
        return cls(queue=queue, prefix=f"relay:{{{queue}}}:")

    def _k(self, suffix: str) -> str:
        return self.prefix + suffix

    def ready(self, priority: int) -> str:
        """The FIFO list of ready jobs at one priority level."""
        return self._k(f"ready:{priority}")

    def ready_all(self) -> list[str]:
        """Ready lists from the highest priority (9) to the lowest (0): claim order."""
        return [self.ready(p) for p in range(PRIORITIES - 1, -1, -1)]

    @property
    def delayed(self) -> str:
        return self._k("delayed")

    @property
    def inflight(self) -> str:
        return self._k("inflight")

    @property
    def dead(self) -> str:
        return self._k("dead")

    @property
    def done(self) -> str:
        return self._k("done")

    @property
    def jobs(self) -> str:
        return self._k("jobs")

    @property
    def run(self) -> str:
        return self._k("run")

    @property
    def err(self) -> str:
        return self._k("err")

    @property
    def paused(self) -> str:
        return self._k("paused")

    @property
    def bucket(self) -> str:
        return self._k("bucket")

    @property
    def conf(self) -> str:
        return self._k("conf")

    @property
    def stats(self) -> str:
        return self._k("stats")

    @property
    def events(self) -> str:
        return self._k("events")

    @property
    def wake(self) -> str:
        return self._k("wake")

    @property
    def cancelled(self) -> str:
        """Cancelled ids, score = cancelled at (ms); kept like completed jobs."""
        return self._k("cancelled")

    @property
    def results(self) -> str:
        """id -> result record of a completed job ('=' JSON or '!' why it was not kept)."""
        return self._k("res")

    @property
    def progress(self) -> str:
        """id -> the last progress a handler reported (JSON)."""
        return self._k("prog")

    @property
    def cancel(self) -> str:
        """The cancel flags: ids of in-flight jobs whose cancel was asked for."""
        return self._k("cancel")

    @property
    def waiting(self) -> str:
        """id -> number of callers blocked until the job finishes."""
        return self._k("waiting")

    def finished(self, job_id: str) -> str:
        """A per-job wake list: one token per waiter, pushed when the job finishes."""
        return self._k(f"fin:{job_id}")

    @property
    def schedules(self) -> str:
        """Schedule definitions: name -> "<timing key>\n<JSON>"."""
        return self._k("sched")

    @property
    def schedules_due(self) -> str:
        """Active schedules by next tick: name scored by next_run_at (ms, Redis TIME)."""
        return self._k("sched:due")

    @property
    def schedules_runs(self) -> str:
        """Each schedule's last run: name -> "<last_run_at ms> <last job id>"."""
        return self._k("sched:runs")

    # -- fair scheduling across groups (docs/decisions/0053-fair-groups.md). The Lua scripts
    # derive the per-group names below from the queue's prefix, as they do idem:<key>.

    def group_ready(self, priority: int, group: str) -> str:
        """The FIFO list of one group's ready jobs at one priority."""
        return self._k(f"gq:{priority}:{group}")

    def group_ready_all(self, group: str) -> list[str]:
        """One group's ready lists from priority 9 to 0 (its claim order, like ready_all)."""
        return [self.group_ready(p, group) for p in range(PRIORITIES - 1, -1, -1)]

    def group(self, group: str) -> str:
        """A group with limits: its hash of limits (w, cap, rate, burst), bucket (tokens, ts)
        and why it is out of the rings (park = cap | rate)."""
        return self._k(f"g:{group}")

    def group_ring(self, priority: int) -> str:
        """The groups with claimable ready jobs at one priority, scored by turn (a zset)."""
        return self._k(f"gring:{priority}")

    def group_rings(self) -> list[str]:
        return [self.group_ring(p) for p in range(PRIORITIES - 1, -1, -1)]

    @property
    def groups(self) -> str:
        """Groups with ready jobs, scored by how many (the backlog)."""
        return self._k("groups")

    @property
    def group_counts(self) -> str:
        """group -> jobs in flight (groups with none are absent)."""
        return self._k("gn")

    @property
    def group_conf(self) -> str:
        """The groups with limits (each has a hash `group(name)`)."""
        return self._k("gconf")

    @property
    def group_due(self) -> str:
        """Rate-limited groups out of the rings, scored by their next token (ms)."""
        return self._k("gdue")

    @property
    def group_of(self) -> str:
        """id -> group of every grouped job (deleted with the job's records)."""
        return self._k("grp")

    @property
    def group_inflight(self) -> str:
        """id -> group of every grouped job in flight: the ledger the counters reconcile with."""
        return self._k("gin")

    @property
    def group_turn(self) -> str:
        """Round-robin state per priority: c<p> = "<served> <group>" of the ring's head,
        u<p> = group turns since the ungrouped jobs' last turn."""
        return self._k("gturn")

    # -- flows (decision 0050) -------------------------------------------------------------

    @property
    def blocked(self) -> str:
        """Parents in state `waiting` (their children are not all finished), score = created."""
        return self._k("blocked")

    def flow(self, job_id: str) -> str:
        """A parent's children: "<queue> <id>" -> '' pending | outcome; '#' left; '?' policy."""
        return self._k(f"flow:{job_id}")

    @property
    def parent(self) -> str:
        """Children of this queue: id -> "<parent queue> <parent id>" until they finish."""
        return self._k("parent")

    @property
    def outbox(self) -> str:
        """Finished children whose parent was not told yet: id -> "<pq> <pid> <outcome>"."""
        return self._k("outbox")

    @property
    def intents(self) -> str:
        """Flows being written with this queue's job as root: root id -> "<ms> <plan>"."""
        return self._k("intents")

    # -- end of flows ----------------------------------------------------------------------

    def idem(self, key: str) -> str:
        return self._k(f"idem:{key}")

    def all_fixed(self) -> list[str]:
        """Every fixed key of the queue (idempotency keys excluded)."""
        return [
            *self.ready_all(),
            self.delayed,
            self.inflight,
            self.dead,
            self.done,
            self.jobs,
            self.run,
            self.err,
            self.paused,
            self.bucket,
            self.conf,
            self.stats,
            self.events,
            self.wake,
            self.cancelled,
            self.results,
            self.progress,
            self.cancel,
            self.waiting,
            self.schedules,
            self.schedules_due,
            self.schedules_runs,
            *self.group_rings(),
            self.groups,
            self.group_counts,
            self.group_conf,
            self.group_due,
            self.group_of,
            self.group_inflight,
            self.group_turn,
            self.blocked,
            self.parent,
            self.outbox,
            self.intents,
        ]
