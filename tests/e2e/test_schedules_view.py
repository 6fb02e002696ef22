"""The dashboard's Schedules panel in real Chromium: a ticking schedule, pause/resume, run now,
delete — against a real server, worker and Redis."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.stack import Proc, Server, wait_for
from tests.e2e.test_dashboard import by_id, open_queue

pytestmark = pytest.mark.e2e


def _schedule(server: Server, q: str, name: str) -> dict[str, object]:
    got: dict[str, object] = server.api("GET", f"/api/queues/{q}/schedules/{name}")
    return got


def test_a_schedule_ticks_on_the_page_and_is_paused_run_and_deleted_from_it(
    page: Page, server: Server, worker: Proc, console_errors: list[str]
) -> None:
    q = "e2e-sched"
    server.api("PUT", f"/api/queues/{q}/schedules/beat", {"every_ms": 1000, "type": "ok"})
    wait_for(lambda: _schedule(server, q, "beat")["last_job_id"] is not None, 10, "a first tick")
    open_queue(page, server, q)
    row = by_id(page, "schedule-beat")
    expect(row).to_contain_text("every 1 s")
    expect(by_id(page, "sched-job-beat")).to_be_visible()
    expect(by_id(page, "schedule-count")).to_have_text("1")

    by_id(page, "sched-toggle-beat").click()
    expect(by_id(page, "sched-next-beat")).to_have_text("paused")
    assert _schedule(server, q, "beat")["paused"] is True
    by_id(page, "sched-toggle-beat").click()
    expect(by_id(page, "sched-toggle-beat")).to_have_text("Pause")
    assert _schedule(server, q, "beat")["paused"] is False

    before = int(server.api("GET", f"/api/queues/{q}")["totals"]["enqueued"])
    by_id(page, "sched-trigger-beat").click()
    wait_for(
        lambda: int(server.api("GET", f"/api/queues/{q}")["totals"]["enqueued"]) > before,
        10,
        "the triggered job",
    )

    by_id(page, "sched-delete-beat").click()
    expect(by_id(page, "schedule-beat")).to_have_count(0)
    expect(page.get_by_text("No schedules")).to_be_visible()
    assert server.api("GET", f"/api/queues/{q}/schedules") == {"schedules": []}
    assert console_errors == []
