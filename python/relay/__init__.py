"""relay: a distributed job queue for Python on Redis, with a Rust core on the hot path."""

from relay._core import __version__
from relay.broker import Broker, JobSpec, Nack, NackMode, QueueStats
from relay.client import AsyncClient, Client
from relay.config import BrokerSettings
from relay.errors import (
    CodecError,
    ConfigError,
    Fail,
    IdempotencyConflict,
    JobNotFound,
    PayloadTooLarge,
    QueueFull,
    RedisUnavailable,
    RelayError,
    ReplicationTimeout,
    Retry,
    ScheduleNotFound,
    ScriptError,
)
from relay.job import EnqueueResult, Job, JobInfo, JobOptions, JobState
from relay.producer import Producer
from relay.schedules import Cron, Every, Schedule, ScheduleInfo
from relay.sync_producer import SyncProducer
from relay.worker import Backoff, Registry, Worker, task

__all__ = [
    "AsyncClient",
    "Backoff",
    "Broker",
    "BrokerSettings",
    "Client",
    "CodecError",
    "ConfigError",
    "Cron",
    "EnqueueResult",
    "Every",
    "Fail",
    "IdempotencyConflict",
    "Job",
    "JobInfo",
    "JobNotFound",
    "JobOptions",
    "JobSpec",
    "JobState",
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
