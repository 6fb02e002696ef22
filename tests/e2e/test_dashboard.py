"""The dashboard in a real browser, against a real server, worker and Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.stack import Proc, Server, start_server, wait_for

pytestmark = pytest.mark.e2e

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
# Chromium logs every refused request on the console; a 401 before the token is given is the
# expected way in, not a fault of the page.
EXPECTED_401 = "the server responded with a status of 401"
TOKEN = "e2e-secret-token"  # noqa: S105 - a test token for a server on loopback


def by_id(scope: Page | Locator, testid: str) -> Locator:
    return scope.get_by_test_id(testid)


def card_count(page: Page, queue: str, state: str) -> Locator:
    return by_id(by_id(page, f"queue-{queue}"), f"count-{state}")


def completed(server: Server, queue: str) -> int:
    return int(server.api("GET", f"/api/queues/{queue}")["totals"]["completed"])


def open_queue(page: Page, server: Server, queue: str) -> None:
    page.goto(f"{server.url}/#/q/{queue}")
    expect(by_id(page, "conn")).to_have_text("live")
    expect(by_id(page, "queue-view")).to_have_attribute("data-queue", queue)


def test_page_loads_live_without_console_errors(
    page: Page, server: Server, worker: Proc, console_errors: list[str]
) -> None:
    server.enqueue("e2e-load", "ok", {"n": 1})
    page.goto(f"{server.url}/")
    expect(by_id(page, "conn")).to_have_text("live")
    expect(by_id(page, "queue-e2e-load")).to_be_visible()
    expect(by_id(page, "chart-depth")).to_be_visible()
    assert console_errors == []


def test_counts_change_as_the_worker_processes_jobs(
    page: Page, server: Server, worker: Proc, console_errors: list[str]
) -> None:
    q = "e2e-counts"
    server.enqueue(q, "ok")  # the queue exists once it has had a job: then it can be paused
    wait_for(lambda: completed(server, q) == 1, 10, "the first job to complete")
    server.api("POST", f"/api/queues/{q}/pause")
    jobs = [{"type": "ok", "payload": {"n": i}} for i in range(30)]
    server.api("POST", f"/api/queues/{q}/jobs/batch", {"jobs": jobs})
    open_queue(page, server, q)
    expect(card_count(page, q, "ready")).to_have_attribute("data-value", "30")

    server.api("POST", f"/api/queues/{q}/resume")
    expect(card_count(page, q, "ready")).to_have_attribute("data-value", "0")
    wait_for(lambda: completed(server, q) == 31, 10, "every job to complete")
    assert console_errors == []


def test_pause_and_resume_from_the_page(
    page: Page, server: Server, worker: Proc, console_errors: list[str]
) -> None:
    q = "e2e-pause"
    server.enqueue(q, "ok")
    open_queue(page, server, q)

    by_id(page, "pause").click()
    expect(by_id(page, "queue-view")).to_have_attribute("data-paused", "true")
    expect(by_id(page, "resume")).to_be_visible()
    assert server.api("GET", f"/api/queues/{q}")["paused"] is True
    for _ in range(5):
        server.enqueue(q, "ok")
    expect(card_count(page, q, "ready")).to_have_attribute("data-value", "5")
    page.wait_for_timeout(1000)  # the worker is running: a paused queue keeps its jobs
    expect(card_count(page, q, "ready")).to_have_attribute("data-value", "5")

    by_id(page, "resume").click()
    expect(by_id(page, "queue-view")).to_have_attribute("data-paused", "false")
    expect(card_count(page, q, "ready")).to_have_attribute("data-value", "0")
    assert server.api("GET", f"/api/queues/{q}")["paused"] is False
    assert console_errors == []


def test_requeue_moves_a_dead_job_back(
    page: Page, server: Server, worker: Proc, console_errors: list[str]
) -> None:
    q = "e2e-requeue"
    job = server.enqueue(q, "flaky", {"order": 42})
    wait_for(lambda: server.job_state(q, job) == "dead", 10, "the flaky job to die")
    open_queue(page, server, q)
    expect(card_count(page, q, "dead")).to_have_attribute("data-value", "1")
    expect(by_id(page, f"dead-row-{job}")).to_contain_text("first run fails on purpose")

    by_id(page, f"requeue-{job}").click()
    expect(by_id(page, f"dead-row-{job}")).to_have_count(0)
    expect(card_count(page, q, "dead")).to_have_attribute("data-value", "0")
    wait_for(lambda: server.job_state(q, job) == "completed", 10, "the requeued job to complete")
    assert console_errors == []


def test_markup_in_a_payload_is_shown_as_text_and_never_runs(
    page: Page, server: Server, worker: Proc, console_errors: list[str]
) -> None:
    q = "e2e-xss"
    job = server.enqueue(q, "doomed", {"reason": XSS, "html": XSS})
    wait_for(lambda: server.job_state(q, job) == "dead", 10, "the job to die")
    open_queue(page, server, q)

    payload = by_id(page, f"payload-{job}")
    expect(payload).to_contain_text("<script>window.__pwned = 1</script>")
    expect(by_id(page, f"dead-row-{job}")).to_contain_text('onerror="window.__pwned = 2"')
    by_id(page, "job-lookup").fill(job)
    by_id(page, "job-lookup-submit").click()
    expect(by_id(page, "job-payload")).to_contain_text("<script>window.__pwned = 1</script>")
    expect(by_id(page, "job-error")).to_contain_text("<img src=x")

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("main script, main img[src=x], [data-testid=dead-set] img").count() == 0
    assert console_errors == []  # a CSP refusal of an inline script would be reported here


def test_with_a_token_the_page_asks_once_then_works(
    page: Page,
    e2e_redis: str,
    logs: Path,
    worker: Proc,
    server: Server,
    console_errors: list[str],
) -> None:
    server.enqueue("e2e-load", "ok")  # so there is a queue to show
    secured = start_server(e2e_redis, logs, token=TOKEN)
    try:
        page.goto(f"{secured.url}/")
        expect(by_id(page, "token-form")).to_be_visible()
        by_id(page, "token-input").fill(TOKEN)
        by_id(page, "token-input").press("Enter")
        expect(by_id(page, "token-form")).to_have_count(0)
        expect(by_id(page, "conn")).to_have_text("live")

        # A state change carries the token and passes the same-origin check.
        page.goto(f"{secured.url}/#/q/e2e-load")
        expect(by_id(page, "queue-view")).to_have_attribute("data-queue", "e2e-load")
        by_id(page, "pause").click()
        expect(by_id(page, "queue-view")).to_have_attribute("data-paused", "true")
        assert secured.api("GET", "/api/queues/e2e-load")["paused"] is True
        by_id(page, "resume").click()
        expect(by_id(page, "queue-view")).to_have_attribute("data-paused", "false")

        page.reload()  # kept for the tab: not asked again
        expect(by_id(page, "conn")).to_have_text("live")
        expect(by_id(page, "token-form")).to_have_count(0)
    finally:
        secured.stop()
    assert [e for e in console_errors if EXPECTED_401 not in e] == []
