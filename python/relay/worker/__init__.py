"""The worker runtime: registries of handlers, and the Worker that runs them on claimed jobs."""

from relay.worker.registry import Backoff, Registry, Task, task
from relay.worker.worker import Worker

__all__ = ["Backoff", "Registry", "Task", "Worker", "task"]
