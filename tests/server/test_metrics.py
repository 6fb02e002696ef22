"""GET /metrics: queue depths read from Redis at scrape time, totals, HTTP traffic by route."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from relay import Broker, JobSpec
from relay.metrics import Metrics
from tests.server.conftest import Client


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_depths_and_totals_are_read_at_scrape_time(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(3)])
    await broker.enqueue(queue, "t", delay_ms=60_000)
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    got = _samples(await resp.text())
    q = ("queue", queue)
    assert got[("relay_queue_depth", frozenset({q, ("state", "ready")}))] == 3
    assert got[("relay_queue_depth", frozenset({q, ("state", "delayed")}))] == 1
    assert got[("relay_jobs_enqueued_total", frozenset({q}))] == 4
    assert got[("relay_queue_paused", frozenset({q}))] == 0
    assert got[("relay_redis_up", frozenset())] == 1
    jobs = (await broker.claim(queue, 2, 5000)).jobs
    await broker.ack(queue, [(j.id, j.token) for j in jobs])
    got = _samples(await (await client.get("/metrics")).text())
    assert got[("relay_queue_depth", frozenset({q, ("state", "ready")}))] == 1
    assert got[("relay_queue_depth", frozenset({q, ("state", "completed")}))] == 2
    assert got[("relay_jobs_completed_total", frozenset({q}))] == 2


async def test_http_requests_are_counted_by_route_template(client: Client, queue: str) -> None:
    for _ in range(2):
        await client.post(f"/api/queues/{queue}/jobs", json={"type": "t"})
    await client.get(f"/api/queues/{queue}/jobs/nope")
    await client.get("/no/such/route")
    got = _samples(await (await client.get("/metrics")).text())
    route = ("route", "/api/queues/{queue}/jobs")
    key = frozenset({route, ("method", "POST"), ("status", "201")})
    assert got[("relay_http_requests_total", key)] >= 2
    miss = frozenset(
        {("route", "/api/queues/{queue}/jobs/{id}"), ("method", "GET"), ("status", "404")}
    )
    assert got[("relay_http_requests_total", miss)] >= 1
    unmatched = frozenset({("route", "unmatched"), ("method", "GET"), ("status", "404")})
    assert got[("relay_http_requests_total", unmatched)] >= 1
    count = frozenset({route, ("method", "POST")})
    assert got[("relay_http_request_duration_seconds_count", count)] >= 2


def test_metrics_live_on_a_registry_of_their_own() -> None:
    a, b = Metrics(), Metrics()  # two apps in one process must not collide
    a.observe_request("/x", "GET", 200, 0.01)
    assert b"relay_http_requests_total" in a.render([])
    assert 'route="/x"' not in b.render([]).decode()


async def test_group_gauges_name_only_the_busiest_groups(
    client: Client, broker: Broker, queue: str
) -> None:
    specs = [JobSpec.of("t", i, group=f"tenant{g}") for g in range(15) for i in range(g + 1)]
    await broker.enqueue_many(queue, specs)
    got = _samples(await (await client.get("/metrics")).text())
    q = ("queue", queue)
    named = {
        dict(labels)["group"]: value
        for (name, labels), value in got.items()
        if name == "relay_group_backlog" and q in labels
    }
    assert named == {f"tenant{g}": g + 1 for g in range(5, 15)}  # the top 10, by backlog
    assert got[("relay_groups", frozenset({q, ("kind", "active")}))] == 15
    assert got[("relay_group_in_flight", frozenset({q, ("group", "tenant14")}))] == 0
