"""The job view in a real browser: a result, progress, and the Cancel button."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.stack import Proc, Server, wait_for
from tests.e2e.test_dashboard import by_id, open_queue

pytestmark = pytest.mark.e2e
Q = "e2e-lifecycle"


def _look_up(page: Page, job: str) -> None:
    by_id(page, "job-lookup").fill(job)
    by_id(page, "job-lookup-submit").click()


def test_a_completed_job_shows_its_result(
    page: Page, server: Server, worker: Proc, console_errors: list[str]
) -> None:
    job = server.enqueue(Q, "answer")
    wait_for(lambda: server.job_state(Q, job) == "completed", 10, "the job to complete")
    open_queue(page, server, Q)
    _look_up(page, job)
    expect(by_id(page, "job-output")).to_contain_text('"answer": 42')
    expect(by_id(page, "job-cancel")).to_have_count(0)
    assert console_errors == []


def test_progress_then_cancel_from_the_job_view(
    page: Page, server: Server, worker: Proc, console_errors: list[str]
) -> None:
    job = server.enqueue(Q, "long")

    def reported() -> bool:
        return bool(server.api("GET", f"/api/queues/{Q}/jobs/{job}").get("progress") == 40)

    wait_for(reported, 15, "the job to report progress")
    open_queue(page, server, Q)
    _look_up(page, job)
    expect(by_id(page, "job-progress")).to_have_attribute("data-value", "40")
    by_id(page, "job-cancel").click()
    expect(by_id(page, "job-cancelling")).to_be_visible()
    # The worker learns it from its next heartbeat (a third of the 30 s lease at most); the
    # view follows the job's events by itself.
    expect(by_id(page, "job-result")).to_have_attribute("data-state", "cancelled", timeout=20_000)
    assert server.job_state(Q, job) == "cancelled"
    assert console_errors == []
