"""The checker: from a history and the final Redis state, what was lost, doubled or stale.

Modelled on Jepsen's total-queue checker. What each figure means:

- **lost**: jobs whose enqueue was acknowledged (`enqueue_ok`) that, once faults stop and the
  workers drain, are neither completed nor dead; plus completed jobs no handler ever finished
  (a completion without a successful execution is lost work too). Must be 0.
- **unexpected**: executions of, or job records for, ids no enqueue ever tried (or only tried
  with a definite failure). Must be 0.
- **stale acks accepted**: completions whose claim token was no longer current. Three
  witnesses, each sufficient: (a) an `ack_ok` for token t while the history shows a later claim
  of the same job (token > t) - tokens only grow, and a completed job is never claimed again,
  so either that claim preceded the ack (the ack was stale) or a completed job ran again;
  (b) two `ack_ok` for one job; (c) a job completed in Redis whose final run token (the last
  claim's) belongs to no execution that returned successfully: some other, older token's ack
  completed it. Must be 0.
- **duplicates**: executions beyond the first per job that no handler failure explains
  (redeliveries after a lost lease). Allowed, at-least-once; bounded by the jobs in flight at
  each fault, which the tests check.
- **unknown enqueues**: calls that failed without telling whether Redis applied them; such a
  job may exist or not, and counts neither as lost nor as unexpected.

Completed jobs are read from Redis (tests keep them all with a large `keep_completed`); a job
trimmed from retention counts as completed when the history holds its `ack_ok`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from relay.keys import QueueKeys
from tests.chaos.history import Event
from tests.support.invariant import check_invariant, states_of

SAMPLE = 10  # job ids shown per figure


@dataclass
class FinalState:
    """What Redis holds for one queue once the run is over."""

    states: dict[str, set[str]]
    records: set[str]
    run_tokens: dict[str, int]
    invariant_error: str = ""

    def ids(self, state: str) -> set[str]:
        return self.states.get(state, set())


async def final_state(redis: Any, queue: str) -> FinalState:
    """Read every job's state, its record and last claim token; check the invariant."""
    error = ""
    try:
        await check_invariant(redis, queue)
    except AssertionError as exc:
        error = str(exc)
    states = {k: set(v) for k, v in (await states_of(redis, queue)).items()}
    k = QueueKeys.for_queue(queue)
    records = {i.decode() for i in await redis.hkeys(k.jobs)}
    runs: dict[bytes, bytes] = await redis.hgetall(k.run)
    tokens = {i.decode(): int(r.split()[1]) for i, r in runs.items()}
    return FinalState(states=states, records=records, run_tokens=tokens, invariant_error=error)


@dataclass
class Report:
    """The checker's figures, with the job ids behind each."""

    enqueued: int = 0
    unknown: int = 0
    executions: int = 0
    completed: int = 0
    dead: int = 0
    lost: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    stale_acks_accepted: list[str] = field(default_factory=list)
    stale_acks_refused: int = 0
    duplicates: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    left_inflight: int = 0
    left_waiting: int = 0
    invariant_error: str = ""

    def figures(self) -> dict[str, Any]:
        """The numbers, and a sample of ids behind each non-zero correctness figure."""
        out: dict[str, Any] = {
            "enqueued": self.enqueued,
            "unknown_enqueues": self.unknown,
            "executions": self.executions,
            "completed": self.completed,
            "dead": self.dead,
            "lost": len(self.lost),
            "unexpected": len(self.unexpected),
            "stale_acks_accepted": len(self.stale_acks_accepted),
            "stale_acks_refused": self.stale_acks_refused,
            "duplicates": self.duplicates,
            "left_inflight": self.left_inflight,
            "left_waiting": self.left_waiting,
            "invariant_ok": not self.invariant_error,
        }
        for name in ("lost", "unexpected", "stale_acks_accepted", "duplicate_ids"):
            ids = getattr(self, name)
            if ids:
                out[f"{name}_sample"] = sorted(ids)[:SAMPLE]
        if self.invariant_error:
            out["invariant_error"] = self.invariant_error
        return out

    def assert_correct(self) -> None:
        """lost, unexpected and stale acks accepted are 0; the invariant holds; all drained."""
        f = self.figures()
        bad = {
            k: f[k]
            for k in ("lost", "unexpected", "stale_acks_accepted", "left_inflight", "left_waiting")
        }
        assert not any(bad.values()) and not self.invariant_error, f"checker: {f}"


def check(events: list[Event], final: FinalState) -> Report:
    """Compute every figure of one queue's run."""
    by_kind: defaultdict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_kind[e.kind].append(e)
    ok_ids = {e.job for e in by_kind["enqueue_ok"]}
    maybe = {e.job for e in by_kind["enqueue_unknown"]} - ok_ids
    r = Report(enqueued=len(ok_ids), unknown=len(maybe), executions=len(by_kind["exec_start"]))
    acked = Counter(e.job for e in by_kind["ack_ok"])
    completed = final.ids("completed") | {i for i in acked if i not in final.records}
    dead = final.ids("dead")
    r.completed, r.dead = len(completed), len(dead)
    r.left_inflight = len(final.ids("inflight"))
    r.left_waiting = len(final.ids("ready")) + len(final.ids("delayed"))
    r.invariant_error = final.invariant_error

    good_runs = {(e.job, e.token) for e in by_kind["exec_end"] if e.ok}
    finished = {j for j, _ in good_runs}
    r.lost = sorted(i for i in ok_ids if i not in completed and i not in dead)
    r.lost += sorted(i for i in completed if i not in finished)

    known = ok_ids | maybe
    executed = {e.job for e in by_kind["exec_start"]}
    r.unexpected = sorted((executed | final.records) - known)

    last_claim: dict[str, int] = {}
    for e in by_kind["claim"]:
        last_claim[e.job] = max(last_claim.get(e.job, 0), e.token)
    stale = {e.job for e in by_kind["ack_ok"] if last_claim.get(e.job, 0) > e.token}
    stale |= {i for i, n in acked.items() if n > 1}
    stale |= {
        i
        for i in final.ids("completed")
        if i in final.run_tokens and (i, final.run_tokens[i]) not in good_runs
    }
    r.stale_acks_accepted = sorted(stale)
    r.stale_acks_refused = len(by_kind["ack_stale"])

    r.duplicates, r.duplicate_ids = _redeliveries(by_kind["exec_start"], by_kind["exec_end"])
    return r


def _redeliveries(starts: list[Event], ends: list[Event]) -> tuple[int, list[str]]:
    """Executions after the first per job, except those that follow a failed execution."""
    failed = {(e.job, e.token) for e in ends if not e.ok}
    runs: defaultdict[str, list[int]] = defaultdict(list)
    for e in starts:
        runs[e.job].append(e.token)
    count, ids = 0, []
    for job, tokens in runs.items():
        tokens.sort()
        extra = sum(1 for prev in tokens[:-1] if (job, prev) not in failed)
        if extra:
            count += extra
            ids.append(job)
    return count, ids
