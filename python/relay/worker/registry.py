"""Handler registration: which function runs each job type, and with what limits."""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from relay import _core
from relay.errors import ConfigError
from relay.job import Job, check_job_type
from relay.schedules.model import Cron, Every, check_schedule_name

AsyncHandler = Callable[[Job], Awaitable[object]]
SyncHandler = Callable[[Job], object]
Handler = AsyncHandler | SyncHandler
H = TypeVar("H", bound=Handler)

ExcTypes = tuple[type[BaseException], ...]
BackoffPolicy = Literal["full_jitter", "exponential", "fixed"]
_SPEC_ATTR = "__relay_task__"


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long a failed job waits before its next attempt.

    Attributes:
        policy: "full_jitter" (default: a uniform random delay up to the exponential one),
            "exponential" (base * 2**(attempt - 1), capped) or "fixed" (always `base`).
        base: The first delay, in seconds.
        cap: The longest delay, in seconds.
    """

    policy: BackoffPolicy = "full_jitter"
    base: float = 1.0
    cap: float = 3600.0

    def __post_init__(self) -> None:
        if self.policy not in ("full_jitter", "exponential", "fixed"):
            raise ConfigError(f"unknown backoff policy {self.policy!r}")
        if not 0 <= self.base <= self.cap:
            raise ConfigError(f"backoff needs 0 <= base <= cap, got {self.base} and {self.cap}")

    def delay_ms(self, attempt: int) -> int:
        """The delay before the retry that follows failed attempt number `attempt` (1-based)."""
        return _core.backoff_ms(
            self.policy,
            round(self.base * 1000),
            round(self.cap * 1000),
            max(1, attempt),
            random.random(),
        )


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Per-type limits; None falls back to the registry's default, then to the job's own."""

    timeout: float | None = None  # seconds; the tighter of this and the job's timeout wins
    max_attempts: int | None = None  # the lower of this and the job's max_attempts wins
    non_retryable: ExcTypes = ()  # these dead-letter at once
    backoff: Backoff | None = None

    def __post_init__(self) -> None:
        if self.timeout is not None and not self.timeout > 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        if self.max_attempts is not None and not 1 <= self.max_attempts <= 65_535:
            raise ConfigError(f"max_attempts must be 1..65535, got {self.max_attempts!r}")
        for exc in self.non_retryable:
            if not (isinstance(exc, type) and issubclass(exc, BaseException)):
                raise ConfigError(f"non_retryable must hold exception classes, got {exc!r}")

    def over(self, defaults: TaskOptions) -> TaskOptions:
        """These options, with the unset ones taken from `defaults`."""
        return TaskOptions(
            timeout=self.timeout if self.timeout is not None else defaults.timeout,
            max_attempts=self.max_attempts
            if self.max_attempts is not None
            else defaults.max_attempts,
            non_retryable=self.non_retryable + defaults.non_retryable,
            backoff=self.backoff or defaults.backoff,
        )


@dataclass(frozen=True, slots=True)
class Task:
    """One registered job type: its handler and the limits it runs under."""

    type: str
    handler: Handler
    is_async: bool
    timeout_ms: int  # 0: no limit of its own (the job's timeout still applies)
    max_attempts: int  # 0: the job's own
    non_retryable: ExcTypes
    backoff: Backoff

    def effective_timeout_ms(self, job: Job) -> int:
        """The execution limit for `job`: the tighter of the task's and the job's (0 = none)."""
        mine, theirs = self.timeout_ms, job.timeout_ms
        if mine and theirs:
            return min(mine, theirs)
        return mine or theirs

    def attempt_cap(self, job: Job) -> int:
        """Attempts `job` gets: the lower of the task's and the job's own max_attempts."""
        return min(self.max_attempts, job.max_attempts) if self.max_attempts else job.max_attempts

    def attempts_left(self, job: Job) -> bool:
        """Whether `job` may run again after failing this attempt."""
        return job.attempts < self.attempt_cap(job)


@dataclass(frozen=True, slots=True)
class _Spec:
    """What `@relay.task` attaches to a function until a registry adds it."""

    type: str
    options: TaskOptions
    schedule: Cron | Every | None = None


def task(
    job_type: str,
    *,
    timeout: float | None = None,
    max_attempts: int | None = None,
    non_retryable: Iterable[type[BaseException]] = (),
    backoff: Backoff | None = None,
    schedule: Cron | Every | None = None,
) -> Callable[[H], H]:
    """Mark a function as the handler of `job_type`; a Registry picks it up with `add()`.

    The function is returned unchanged (it stays callable and keeps its type). Use
    `registry.task(...)` to mark and register in one step.

    Args:
        job_type: The job type this handler runs (1-255 bytes of text).
        timeout: Execution limit in seconds; past it the handler is cancelled and the job is
            nacked with a timeout error. The tighter of this and the job's own timeout wins.
        max_attempts: Attempts before dead-lettering; the lower of this and the job's wins.
        non_retryable: Exception classes that dead-letter the job at once.
        backoff: Delays between attempts (default: full jitter, 1 s base, 1 h cap).
        schedule: Run it on a schedule too (`relay.Cron(...)` or `relay.Every(ms=...)`); the
            worker creates or updates the schedule when it starts.
    """
    check_job_type(job_type)
    opts = TaskOptions(timeout, max_attempts, tuple(non_retryable), backoff)

    def mark(handler: H) -> H:
        _check_handler(handler)
        try:
            setattr(handler, _SPEC_ATTR, _Spec(job_type, opts, schedule))
        except (AttributeError, TypeError):
            raise ConfigError(
                f"cannot mark {handler!r}; use registry.register(job_type, handler)"
            ) from None
        return handler

    return mark


def _check_handler(handler: object) -> None:
    if not callable(handler):
        raise ConfigError(f"a handler must be callable, got {handler!r}")


@dataclass
class Registry:
    """Job type → handler. Pass it to `relay worker --app module:registry`.

    Handlers take the `relay.Job` and return nothing: `async def` ones run on the worker's event
    loop, plain `def` ones in a thread pool. Returning completes the job; raising retries it
    with backoff; `relay.Retry(after=s)` retries without counting a failure; `relay.Fail(reason)`
    or a `non_retryable` exception dead-letters it.

    The keyword arguments are defaults for every task of this registry (see `relay.task`).
    """

    timeout: float | None = None
    max_attempts: int | None = None
    non_retryable: ExcTypes = ()
    backoff: Backoff = field(default_factory=Backoff)
    _tasks: dict[str, Task] = field(default_factory=dict, init=False, repr=False)
    _schedules: dict[str, Cron | Every] = field(default_factory=dict, init=False, repr=False)
    _unscheduled: list[tuple[str | None, str]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._defaults = TaskOptions(
            self.timeout, self.max_attempts, tuple(self.non_retryable), self.backoff
        )

    def task(
        self,
        job_type: str,
        *,
        timeout: float | None = None,
        max_attempts: int | None = None,
        non_retryable: Iterable[type[BaseException]] = (),
        backoff: Backoff | None = None,
        schedule: Cron | Every | None = None,
    ) -> Callable[[H], H]:
        """Decorator: register the function as the handler of `job_type` (see `relay.task`)."""
        mark = task(
            job_type,
            timeout=timeout,
            max_attempts=max_attempts,
            non_retryable=non_retryable,
            backoff=backoff,
            schedule=schedule,
        )

        def register(handler: H) -> H:
            self.add(mark(handler))
            return handler

        return register

    def add(self, *handlers: Handler) -> None:
        """Register functions marked with `@relay.task`."""
        for handler in handlers:
            spec = getattr(handler, _SPEC_ATTR, None)
            if not isinstance(spec, _Spec):
                raise ConfigError(
                    f"{handler!r} is not marked with @relay.task; "
                    "use registry.register(job_type, handler) instead"
                )
            self._put(spec.type, handler, spec.options)
            if spec.schedule is not None:
                self._schedules[spec.type] = spec.schedule

    def unschedule(self, name: str, queue: str | None = None) -> None:
        """Delete schedule `name` (of `queue`, default the worker's first) when a worker starts.

        Declared schedules are only ever created or updated; one taken out of the code stays
        in Redis until the app says so here."""
        self._unscheduled.append((queue, check_schedule_name(name)))

    @property
    def schedules(self) -> list[tuple[str, Cron | Every]]:
        """(job type, schedule) of every task declared with `schedule=`."""
        return list(self._schedules.items())

    @property
    def unscheduled(self) -> list[tuple[str | None, str]]:
        """(queue, name) of every schedule the app asked to delete."""
        return list(self._unscheduled)

    def register(
        self,
        job_type: str,
        handler: Handler,
        *,
        timeout: float | None = None,
        max_attempts: int | None = None,
        non_retryable: Iterable[type[BaseException]] = (),
        backoff: Backoff | None = None,
    ) -> Task:
        """Register `handler` for `job_type`; returns the resulting Task."""
        check_job_type(job_type)
        _check_handler(handler)
        opts = TaskOptions(timeout, max_attempts, tuple(non_retryable), backoff)
        return self._put(job_type, handler, opts)

    def _put(self, job_type: str, handler: Handler, options: TaskOptions) -> Task:
        if job_type in self._tasks:
            raise ConfigError(f"job type {job_type!r} already has a handler")
        o = options.over(self._defaults)
        t = Task(
            type=job_type,
            handler=handler,
            is_async=_is_async(handler),
            timeout_ms=round(o.timeout * 1000) if o.timeout else 0,
            max_attempts=o.max_attempts or 0,
            non_retryable=o.non_retryable,
            backoff=o.backoff or Backoff(),
        )
        self._tasks[job_type] = t
        return t

    def get(self, job_type: str) -> Task | None:
        """The task registered for `job_type`, or None."""
        return self._tasks.get(job_type)

    @property
    def by_type(self) -> Mapping[str, Task]:
        """Every task by job type (a live view: the worker's per-job lookup)."""
        return self._tasks

    def __contains__(self, job_type: object) -> bool:
        return job_type in self._tasks

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)


def _is_async(handler: object) -> bool:
    call = getattr(handler, "__call__", None)  # noqa: B004 - an object with async __call__
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)
