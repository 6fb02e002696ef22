"""relay: a distributed job queue for Python on Redis, with a Rust core on the hot path.

`import relay` is cheap: the errors load now, every other name on first use (PEP 562), so a
service that only enqueues over HTTP never imports redis-py, the worker or the server.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from relay._core import __version__
from relay.errors import (
    CodecError,
    ConfigError,
    Fail,
    FlowIdConflict,
    IdempotencyConflict,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobNotFound,
    JobStateConflict,
    PayloadTooLarge,
    QueueFull,
    RedisUnavailable,
    RelayError,
    ReplicationTimeout,
    Retry,
    ScheduleNotFound,
    ScriptError,
)

if TYPE_CHECKING:
    from relay.broker import Broker, Nack, NackMode
    from relay.client import AsyncClient, Client
    from relay.config import BrokerSettings
    from relay.flows import Flow, FlowResult
    from relay.job import Job, JobOptions, JobState
    from relay.producer import Producer
    from relay.schedules import Cron, Every, Schedule, ScheduleInfo
    from relay.sync_producer import SyncProducer
    from relay.wire import DeadPage, EnqueueResult, JobInfo, JobSpec, QueueStats
    from relay.worker import Backoff, Registry, Worker, task

# name -> the module that defines it, imported on first access
_LAZY: dict[str, str] = {
    "Broker": "relay.broker",
    "Nack": "relay.broker",
    "NackMode": "relay.broker",
    "AsyncClient": "relay.async_client",
    "Client": "relay.client",
    "BrokerSettings": "relay.config",
    "Flow": "relay.flows",
    "FlowResult": "relay.flows",
    "Job": "relay.job",
    "JobOptions": "relay.job",
    "JobState": "relay.job",
    "DeadPage": "relay.wire",
    "EnqueueResult": "relay.wire",
    "JobInfo": "relay.wire",
    "JobSpec": "relay.wire",
    "QueueStats": "relay.wire",
    "Producer": "relay.producer",
    "Cron": "relay.schedules",
    "Every": "relay.schedules",
    "Schedule": "relay.schedules",
    "ScheduleInfo": "relay.schedules",
    "SyncProducer": "relay.sync_producer",
    "Backoff": "relay.worker",
    "Registry": "relay.worker",
    "Worker": "relay.worker",
    "task": "relay.worker",
}

__all__ = [
    "AsyncClient",
    "Backoff",
    "Broker",
    "BrokerSettings",
    "Client",
    "CodecError",
    "ConfigError",
    "Cron",
    "DeadPage",
    "EnqueueResult",
    "Every",
    "Fail",
    "Flow",
    "FlowIdConflict",
    "FlowResult",
    "IdempotencyConflict",
    "Job",
    "JobCancelled",
    "JobFailed",
    "JobFinished",
    "JobInfo",
    "JobNotFound",
    "JobOptions",
    "JobSpec",
    "JobState",
    "JobStateConflict",
    "Nack",
    "NackMode",
    "PayloadTooLarge",
    "Producer",
    "QueueFull",
    "QueueStats",
    "RedisUnavailable",
    "Registry",
    "RelayError",
    "ReplicationTimeout",
    "Retry",
    "Schedule",
    "ScheduleInfo",
    "ScheduleNotFound",
    "ScriptError",
    "SyncProducer",
    "Worker",
    "__version__",
    "task",
]


if not TYPE_CHECKING:  # type checkers see the imports above; a typo stays an error

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'relay' has no attribute {name!r}")
        value = getattr(import_module(module), name)
        globals()[name] = value  # the next access is a plain module attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
