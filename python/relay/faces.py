"""What the four faces share: how a job is enqueued, whatever carries it.

`Producer` and `AsyncClient` build on `AsyncFace`, `SyncProducer` and `Client` on `SyncFace`;
each face supplies its transport's `_enqueue_one` / `_enqueue_ids` / `_list_jobs` (under
`list_jobs` and the pages of `jobs`) and `close`, and one one-line method per call of
`relay.broker.calls` (Redis) or `relay.http.calls` (HTTP). The
README's table lists the calls; tests/unit/test_faces.py holds the four faces to one signature
per call. Neutral ground: no redis-py, no aiohttp.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Self

from relay.browse import DEFAULT_LIMIT, JobPage
from relay.job import JsonValue
from relay.wire import EnqueueResult, JobSpec


class Face:
    """The part of the API that does no I/O."""

    @staticmethod
    def job(job_type: str, payload: JsonValue = None, **options: Any) -> JobSpec:
        """A JobSpec for enqueue_many, validated now (ConfigError on a bad option)."""
        return JobSpec.of(job_type, payload, **options)


class AsyncEnqueue:
    """`enqueue` for the asyncio faces and the Broker."""

    async def enqueue(
        self,
        queue: str,
        job_type: str,
        payload: JsonValue = None,
        *,
        wait_replicas: int | None = None,
        **options: Any,
    ) -> EnqueueResult:
        """Enqueue one job; options are JobOptions' (priority, delay_ms, idempotency_key, ...).

        `wait_replicas` (default: the broker's setting) > 0 returns only once that many
        replicas have the job, else raises ReplicationTimeout.
        """
        spec = JobSpec.of(job_type, payload, **options)
        return await self._enqueue_one(queue, spec, wait_replicas)

    async def _enqueue_one(
        self, queue: str, spec: JobSpec, wait_replicas: int | None
    ) -> EnqueueResult:
        raise NotImplementedError


class AsyncFace(Face, AsyncEnqueue):
    """Base of `Producer` and `AsyncClient`."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections this face made."""
        raise NotImplementedError

    async def enqueue_many(
        self, queue: str, specs: Sequence[JobSpec], *, wait_replicas: int | None = None
    ) -> list[str]:
        """Enqueue jobs atomically per chunk of 1000 (one round trip each); the ids in order."""
        return await self._enqueue_ids(queue, specs, wait_replicas)

    async def _enqueue_ids(
        self, queue: str, specs: Sequence[JobSpec], wait_replicas: int | None
    ) -> list[str]:
        raise NotImplementedError

    async def jobs(
        self,
        queue: str,
        state: str,
        *,
        limit: int = 100,
        job_type: str | None = None,
        group: str | None = None,
    ) -> AsyncIterator[JobPage]:
        """Each page of `state` in turn (see list_jobs), checked when iteration starts."""
        page = await self.list_jobs(queue, state, limit=limit, job_type=job_type, group=group)
        yield page
        while page.next_cursor is not None:
            page = await self.list_jobs(
                queue, state, limit=limit, cursor=page.next_cursor, job_type=job_type, group=group
            )
            yield page

    async def list_jobs(
        self,
        queue: str,
        state: str,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        job_type: str | None = None,
        group: str | None = None,
    ) -> JobPage:
        """A page of the jobs in `state` after `cursor`, in the state's order (see JobPage);
        JobNotFound when the queue is unknown. `group` (state ready only) lists that group's
        ready jobs; without it, ready lists the ungrouped jobs."""
        return await self._list_jobs(queue, state, limit, cursor, job_type, group)

    async def _list_jobs(
        self,
        queue: str,
        state: str,
        limit: int,
        cursor: str | None,
        job_type: str | None,
        group: str | None,
    ) -> JobPage:
        raise NotImplementedError


class SyncFace(Face):
    """Base of `SyncProducer` and `Client`: the same as `AsyncFace`, blocking."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections this face made."""
        raise NotImplementedError

    def enqueue(
        self,
        queue: str,
        job_type: str,
        payload: JsonValue = None,
        *,
        wait_replicas: int | None = None,
        **options: Any,
    ) -> EnqueueResult:
        """Enqueue one job; options are JobOptions' (priority, delay_ms, idempotency_key, ...).

        `wait_replicas` (default: the broker's setting) > 0 returns only once that many
        replicas have the job, else raises ReplicationTimeout.
        """
        return self._enqueue_one(queue, JobSpec.of(job_type, payload, **options), wait_replicas)

    def enqueue_many(
        self, queue: str, specs: Sequence[JobSpec], *, wait_replicas: int | None = None
    ) -> list[str]:
        """Enqueue jobs atomically per chunk of 1000 (one round trip each); the ids in order."""
        return self._enqueue_ids(queue, specs, wait_replicas)

    def _enqueue_one(self, queue: str, spec: JobSpec, wait_replicas: int | None) -> EnqueueResult:
        raise NotImplementedError

    def _enqueue_ids(
        self, queue: str, specs: Sequence[JobSpec], wait_replicas: int | None
    ) -> list[str]:
        raise NotImplementedError

    def jobs(
        self,
        queue: str,
        state: str,
        *,
        limit: int = 100,
        job_type: str | None = None,
        group: str | None = None,
    ) -> Iterator[JobPage]:
        """Each page of `state` in turn (see list_jobs), checked when iteration starts."""
        page = self.list_jobs(queue, state, limit=limit, job_type=job_type, group=group)
        yield page
        while page.next_cursor is not None:
            page = self.list_jobs(
                queue, state, limit=limit, cursor=page.next_cursor, job_type=job_type, group=group
            )
            yield page

    def list_jobs(
        self,
        queue: str,
        state: str,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        job_type: str | None = None,
        group: str | None = None,
    ) -> JobPage:
        """A page of the jobs in `state` after `cursor`, in the state's order (see JobPage);
        JobNotFound when the queue is unknown. `group` (state ready only) lists that group's
        ready jobs; without it, ready lists the ungrouped jobs."""
        return self._list_jobs(queue, state, limit, cursor, job_type, group)

    def _list_jobs(
        self,
        queue: str,
        state: str,
        limit: int,
        cursor: str | None,
        job_type: str | None,
        group: str | None,
    ) -> JobPage:
        raise NotImplementedError
