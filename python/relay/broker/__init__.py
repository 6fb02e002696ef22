"""The broker: every operation on Redis, each one atomic Lua script."""

from relay.broker.broker import Broker
from relay.broker.types import (
    Claimed,
    Code,
    Nack,
    NackMode,
    NackOutcome,
    Promoted,
    Reaped,
    Undecodable,
)
from relay.wire import Counts, DeadPage, JobSpec, QueueStats, RateLimit, Totals

__all__ = [
    "Broker",
    "Claimed",
    "Code",
    "Counts",
    "DeadPage",
    "JobSpec",
    "Nack",
    "NackMode",
    "NackOutcome",
    "Promoted",
    "QueueStats",
    "RateLimit",
    "Reaped",
    "Totals",
    "Undecodable",
]
