"""The Broker's schedule methods (mixed into Broker): each runs one script via the engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from relay.errors import ConfigError, ScheduleNotFound
from relay.job import EnqueueResult, JobOptions
from relay.keys import QueueKeys
from relay.schedules import engine
from relay.schedules.model import Schedule, ScheduleInfo, info

if TYPE_CHECKING:
    from relay.broker.broker import JobSpec
    from relay.config import BrokerSettings

PAGE = 500  # HSCAN COUNT hint when listing


class ScheduleMethods:
    """Schedules of a queue: create, replace, read, delete, trigger, and fire due ticks."""

    settings: BrokerSettings
    redis: Any

    if TYPE_CHECKING:

        async def _run(self, name: str, keys: Sequence[str], args: Sequence[object]) -> Any: ...

        async def _retrying(self, name: str, op: Callable[[], Awaitable[Any]]) -> Any: ...

        async def enqueue_many(
            self, queue: str, specs: Sequence[JobSpec], *, wait_replicas: int | None = None
        ) -> list[EnqueueResult]: ...

        async def _register(self, queue: str) -> None: ...

    async def redis_time_ms(self) -> int:
        """Redis's clock (the one every worker shares), in unix ms."""
        sec, usec = await self._retrying("time", self.redis.time)
        return int(sec) * 1000 + int(usec) // 1000

    async def upsert_schedule(
        self, queue: str, schedule: Schedule, *, if_match: str = ""
    ) -> tuple[ScheduleInfo, bool]:
        """Create or replace a schedule; (its stored view, whether it was created).

        Invalid fields raise ConfigError naming the field, and nothing is stored. Re-sending an
        unchanged schedule, or one whose timing is unchanged, keeps its planned next tick.
        """
        k = QueueKeys.for_queue(queue)
        schedule.validated()
        args = engine.upsert_args(schedule, await self.redis_time_ms(), if_match)
        await self._register(queue)
        reply = await self._run("upsert_schedule", engine.upsert_keys(k), args)
        created, next_at = engine.upsert_reply(schedule.name, reply)
        try:
            got = await self.get_schedule(queue, schedule.name)
        except ScheduleNotFound:  # deleted meanwhile: answer what was written
            got = info(schedule, None if next_at < 0 else next_at, None, None)
        return got, created

    async def get_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """One schedule with its state; ScheduleNotFound when there is none of that name."""
        return (await self._schedule_row(queue, name)).info

    async def _schedule_row(self, queue: str, name: str) -> engine.Row:
        keys = engine.read_keys(QueueKeys.for_queue(queue))
        reply = await self._run("list_schedules", keys, engine.list_args(name))
        return engine.get_reply(queue, name, reply)

    async def schedules(self, queue: str) -> list[ScheduleInfo]:
        """Every schedule of the queue with its state, sorted by name."""
        keys = engine.read_keys(QueueKeys.for_queue(queue))
        unique: dict[str, ScheduleInfo] = {}  # HSCAN may return a name twice
        cursor = "0"
        while True:
            reply = await self._run("list_schedules", keys, engine.list_args("", cursor, PAGE))
            rows, cursor = engine.page_reply(reply)
            unique.update((r.info.name, r.info) for r in rows)
            if cursor == "0":
                return [unique[n] for n in sorted(unique)]

    async def delete_schedule(self, queue: str, name: str) -> None:
        """Delete a schedule (the jobs it enqueued stay); ScheduleNotFound when none."""
        keys = engine.read_keys(QueueKeys.for_queue(queue))
        reply = await self._run("delete_schedule", keys, engine.delete_args(name))
        engine.delete_reply(queue, name, reply)

    async def pause_schedule(self, queue: str, name: str, paused: bool = True) -> ScheduleInfo:
        """Pause (or resume) a schedule; a resumed schedule goes on from now, no catch-up."""
        for _ in range(10):
            row = await self._schedule_row(queue, name)
            if row.schedule.paused == paused:
                return row.info
            try:
                got, _ = await self.upsert_schedule(
                    queue, msgspec.structs.replace(row.schedule, paused=paused), if_match=row.sha
                )
            except ConfigError:
                continue  # changed between our read and write: read again
            else:
                return got
        raise ConfigError(f"schedule {name!r} keeps changing; try again")

    async def trigger_schedule(self, queue: str, name: str) -> EnqueueResult:
        """Enqueue the schedule's job now; the schedule and its ticks are unchanged."""
        from relay.broker.broker import JobSpec  # noqa: PLC0415 (broker imports this module)

        s = (await self._schedule_row(queue, name)).schedule
        opts = JobOptions(priority=s.priority, max_attempts=s.max_attempts, timeout_ms=s.timeout_ms)
        spec = JobSpec(type=s.job_type, payload=s.payload_bytes(), options=opts)
        return (await self.enqueue_many(queue, [spec]))[0]

    async def fire_schedules(self, queue: str) -> engine.Fired:
        """Enqueue the job of every due tick of the queue, once, however many workers call.

        One bounded read when nothing is due (the idle cost); a second call when something is.
        """
        k = QueueKeys.for_queue(queue)
        due = engine.due_reply(
            await self._run("due_schedules", engine.due_keys(k), [engine.MAX_DUE])
        )
        out = engine.Fired(wait_ms=due.wait_ms)
        plans = [p for t in due.ticks if (p := engine.plan(t, due.now_ms)) is not None]
        if plans:
            args = engine.fire_args(self.settings.events_cap, plans)
            reply = await self._run("fire_schedules", engine.fire_keys(k), args)
            engine.fire_reply(queue, plans, reply, out)
            out.wait_ms = 0  # a tick fired may be followed by another one already due
        return out
