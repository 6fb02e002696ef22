"""relay: a distributed job queue for Python on Redis, with a Rust core on the hot path."""

from relay._core import __version__
from relay.broker import Broker, JobSpec, Nack, NackMode, QueueStats
from relay.config import BrokerSettings
from relay.errors import (
    CodecError,
    ConfigError,
    IdempotencyConflict,
    JobNotFound,
    PayloadTooLarge,
    QueueFull,
    RedisUnavailable,
    RelayError,
    ScriptError,
)
from relay.job import EnqueueResult, Job, JobInfo, JobOptions, JobState

__all__ = [
    "Broker",
    "BrokerSettings",
    "CodecError",
    "ConfigError",
    "EnqueueResult",
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
    "QueueFull",
    "QueueStats",
    "RedisUnavailable",
    "RelayError",
    "ScriptError",
    "__version__",
]
