"""The Broker's schedule methods (mixed into Broker): each runs one relay.schedules.steps
operation through `Broker.perform`, as the other faces can through theirs."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from relay.schedules import engine, steps
from relay.schedules.model import Schedule, ScheduleInfo
from relay.wire import EnqueueResult

if TYPE_CHECKING:
    from relay.broker.ops import Steps
    from relay.config import BrokerSettings

T = TypeVar("T")


class ScheduleMethods:
    """Schedules of a queue: create, replace, read, delete, trigger, and fire due ticks."""

    settings: BrokerSettings

    if TYPE_CHECKING:

        async def perform(self, steps: Steps[T]) -> T: ...

    async def upsert_schedule(
        self, queue: str, schedule: Schedule, *, if_match: str = ""
    ) -> tuple[ScheduleInfo, bool]:
        """Create or replace a schedule; (its stored view, whether it was created).

        Invalid fields raise ConfigError naming the field, and nothing is stored. Re-sending an
        unchanged schedule, or one whose timing is unchanged, keeps its planned next tick.
        """
        return await self.perform(steps.upsert(self.settings, queue, schedule, if_match))

    async def get_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """One schedule with its state; ScheduleNotFound when there is none of that name."""
        return await self.perform(steps.get(self.settings, queue, name))

    async def schedules(self, queue: str) -> list[ScheduleInfo]:
        """Every schedule of the queue with its state, sorted by name."""
        return await self.perform(steps.listing(self.settings, queue))

    async def delete_schedule(self, queue: str, name: str) -> None:
        """Delete a schedule (the jobs it enqueued stay); ScheduleNotFound when none."""
        await self.perform(steps.delete(self.settings, queue, name))

    async def pause_schedule(self, queue: str, name: str, paused: bool = True) -> ScheduleInfo:
        """Pause (or resume) a schedule; a resumed schedule goes on from now, no catch-up."""
        return await self.perform(steps.set_paused(self.settings, queue, name, paused))

    async def trigger_schedule(self, queue: str, name: str) -> EnqueueResult:
        """Enqueue the schedule's job now; the schedule and its ticks are unchanged."""
        return await self.perform(steps.trigger(self.settings, queue, name))

    async def fire_schedules(self, queue: str) -> engine.Fired:
        """Enqueue the job of every due tick of the queue, once, however many workers call.

        Workers call it from the promoter when `promote` says a tick is due (the idle cost of
        schedules is that peek inside promote, no call of its own)."""
        return await self.perform(steps.fire(self.settings, queue))
