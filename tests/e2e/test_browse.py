"""The job browser in a real browser: tabs per state, paging, live rows, drawer, actions."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.stack import Proc, Server, wait_for

pytestmark = pytest.mark.e2e

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def by_id(scope: Page | Locator, testid: str) -> Locator:
    return scope.get_by_test_id(testid)


def open_queue(page: Page, server: Server, queue: str) -> Locator:
    page.goto(f"{server.url}/#/q/{queue}")
    expect(by_id(page, "conn")).to_have_text("live")
    expect(by_id(page, "queue-view")).to_have_attribute("data-queue", queue)
    return by_id(page, "job-browser")


def row_ids(browser: Locator) -> list[str]:
    rows = by_id(browser, "browse-table").locator("tbody tr")
    return [str(r.get_attribute("data-id")) for r in rows.all()]


def enqueue_many(server: Server, queue: str, jobs: list[dict[str, object]]) -> list[str]:
    ids: list[str] = []
    for i in range(0, len(jobs), 1000):
        ids += server.api("POST", f"/api/queues/{queue}/jobs/batch", {"jobs": jobs[i : i + 1000]})[
            "ids"
        ]
    return ids


def test_paging_over_thousands_of_jobs_stays_put_while_jobs_move(
    page: Page, server: Server, console_errors: list[str]
) -> None:
    q = "e2e-browse-paging"  # no worker serves it: the jobs stay ready
    ids = enqueue_many(server, q, [{"type": "page", "payload": {"n": i}} for i in range(3000)])
    browser = open_queue(page, server, q)
    expect(by_id(browser, "browse-count-ready")).to_have_attribute("data-value", "3000")
    table = by_id(browser, "browse-table")
    expect(table.locator("tbody tr")).to_have_count(50)
    assert row_ids(browser) == ids[:50]

    by_id(browser, "browse-next").click()
    expect(by_id(browser, "browse-page")).to_have_text("Page 2")
    expect(table.locator("tbody tr").first).to_have_attribute("data-id", ids[50])
    # Keyboard: the table takes focus; n = next page, j / k move the selection.
    by_id(browser, "browse-table").click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    expect(by_id(browser, "browse-page")).to_have_text("Page 3")
    expect(table.locator("tbody tr").first).to_have_attribute("data-id", ids[100])
    page.keyboard.press("j")
    page.keyboard.press("j")
    selected = by_id(browser, f"browse-row-{ids[102]}")
    expect(selected).to_have_attribute("aria-selected", "true")

    # Live: jobs arrive ahead (priority 9) and one on this page is deleted. The row leaves, the
    # page and the selection stay, and the page never reloads.
    page.evaluate("window.__still_here = 1")
    enqueue_many(server, q, [{"type": "page", "priority": 9} for _ in range(20)])
    server.api("DELETE", f"/api/queues/{q}/jobs/{ids[120]}")
    expect(by_id(browser, f"browse-row-{ids[120]}")).to_have_count(0)
    expect(by_id(browser, "browse-count-ready")).to_have_attribute("data-value", "3019")
    expect(by_id(browser, "browse-page")).to_have_text("Page 3")
    expect(selected).to_have_attribute("aria-selected", "true")
    assert row_ids(browser)[:3] == ids[100:103]
    assert page.evaluate("window.__still_here") == 1

    page.keyboard.press("p")
    expect(by_id(browser, "browse-page")).to_have_text("Page 2")
    expect(table.locator("tbody tr").first).to_have_attribute("data-id", ids[50])
    assert console_errors == []


def test_a_delayed_job_promoted_from_the_drawer_runs(
    page: Page, server: Server, worker: Proc, console_errors: list[str]
) -> None:
    q = "e2e-browse-run"  # served by the worker
    later = server.enqueue(q, "ok", {"run": "me"}, delay_ms=3_600_000)
    browser = open_queue(page, server, q)
    by_id(browser, "browse-tab-delayed").click()
    row = by_id(browser, f"browse-row-{later}")
    expect(row).to_be_visible()
    row.click()
    drawer = by_id(browser, "browse-drawer")
    expect(by_id(drawer, "job-state")).to_have_text("delayed")
    by_id(drawer, "browse-drawer-promote").click()
    wait_for(lambda: server.job_state(q, later) == "completed", 15, "the promoted job to run")
    expect(row).to_have_count(0)  # it left the delayed tab by itself
    expect(by_id(drawer, "job-state")).to_have_text("completed")
    assert console_errors == []


def test_bulk_delete_by_type_leaves_other_types_alone(
    page: Page, server: Server, console_errors: list[str]
) -> None:
    q = "e2e-browse-bulk"
    jobs: list[dict[str, object]] = [
        {"type": "spam" if i % 3 == 0 else "keep", "delay_ms": 3_600_000} for i in range(300)
    ]
    enqueue_many(server, q, jobs)
    browser = open_queue(page, server, q)
    by_id(browser, "browse-tab-delayed").click()
    by_id(browser, "browse-type").fill("spam")
    by_id(browser, "browse-type").press("Enter")
    expect(by_id(browser, "browse-table").locator("tbody tr")).to_have_count(50)
    by_id(browser, "browse-bulk-delete").click()
    confirm = by_id(browser, "browse-confirm")
    expect(confirm).to_contain_text("of type “spam”")
    by_id(confirm, "browse-confirm-yes").click()
    expect(by_id(browser, "browse-notice")).to_contain_text("No delayed jobs of type “spam”")
    expect(by_id(browser, "browse-count-delayed")).to_have_attribute("data-value", "200")
    left = server.api("GET", f"/api/queues/{q}/jobs?state=delayed&limit=500")["jobs"]
    assert len(left) == 200 and {j["type"] for j in left} == {"keep"}
    assert console_errors == []


def test_an_html_payload_is_shown_as_text(
    page: Page, server: Server, console_errors: list[str]
) -> None:
    q = "e2e-browse-xss"
    job = server.enqueue(q, XSS, {"html": XSS})
    browser = open_queue(page, server, q)
    row = by_id(browser, f"browse-row-{job}")
    expect(row).to_contain_text("<script>")
    row.click()
    payload = by_id(browser, "browse-drawer-payload")
    expect(payload).to_contain_text('"html": "<script>window.__pwned = 1</script>')
    assert by_id(browser, "browse-drawer").locator("img, script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert console_errors == []


def test_a_running_job_shows_its_worker_and_is_cancelled_from_the_inflight_tab(
    page: Page, server: Server, worker: Proc, console_errors: list[str]
) -> None:
    q = "e2e-browse-run"  # served by the worker
    job = server.enqueue(q, "long")  # waits a minute, or until it is cancelled
    wait_for(lambda: server.job_state(q, job) == "inflight", 15, "the worker to claim the job")
    browser = open_queue(page, server, q)
    by_id(browser, "browse-tab-inflight").click()
    row = by_id(browser, f"browse-row-{job}")
    held_by = f"relay-worker-{worker.proc.pid}-"
    expect(by_id(row, f"browse-worker-{job}")).to_contain_text(held_by)
    row.click()
    drawer = by_id(browser, "browse-drawer")
    expect(by_id(drawer, "browse-drawer-worker")).to_contain_text(held_by)
    by_id(row, f"browse-cancel-{job}").click()
    expect(by_id(row, f"browse-cancelling-{job}")).to_be_visible()
    # Its worker learns of it from its next heartbeat (a third of the 30 s lease at most).
    expect(row).to_have_count(0, timeout=20_000)
    assert server.job_state(q, job) == "cancelled"
    by_id(browser, "browse-tab-cancelled").click()
    expect(by_id(browser, f"browse-row-{job}")).to_be_visible()
    assert console_errors == []


def test_the_cancelled_tab_counts_and_pages_newest_first(
    page: Page, server: Server, console_errors: list[str]
) -> None:
    q = "e2e-browse-cancelled"  # no worker serves it
    ids = enqueue_many(server, q, [{"type": "gone", "payload": {"n": i}} for i in range(60)])
    for job in ids:
        assert server.api("POST", f"/api/queues/{q}/jobs/{job}/cancel")["state"] == "cancelled"
    browser = open_queue(page, server, q)
    expect(by_id(browser, "browse-count-cancelled")).to_have_attribute("data-value", "60")
    by_id(browser, "browse-tab-cancelled").click()
    table = by_id(browser, "browse-table")
    expect(table.locator("tbody tr")).to_have_count(50)
    first_page = row_ids(browser)
    by_id(browser, "browse-next").click()
    expect(by_id(browser, "browse-page")).to_have_text("Page 2")
    expect(table.locator("tbody tr")).to_have_count(10)
    assert sorted(first_page + row_ids(browser)) == sorted(ids)
    expect(by_id(browser, "browse-next")).to_be_disabled()
    assert console_errors == []


def test_a_cancel_refused_with_409_shows_the_error(
    page: Page, server: Server, console_errors: list[str]
) -> None:
    """The job finishes between the listing and the click: the row's refresh is held back (the
    page's clock is paused, so its timers wait) and the click meets the 409."""
    q = "e2e-browse-cancel-409"  # no worker serves it: the test claims and acks by hand
    job = server.enqueue(q, "t")
    [held] = server.api("POST", f"/api/queues/{q}/claim", {"lease_ms": 60_000})["jobs"]
    page.clock.install()
    browser = open_queue(page, server, q)
    by_id(browser, "browse-tab-inflight").click()
    row = by_id(browser, f"browse-row-{job}")
    expect(by_id(row, f"browse-worker-{job}")).to_contain_text("http:127.0.0.1")
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)
    ack = {"jobs": [{"id": job, "token": held["token"]}]}
    acked = server.api("POST", f"/api/queues/{q}/ack", ack)["jobs"]
    assert acked[0]["outcome"] == "ok"
    by_id(row, f"browse-cancel-{job}").click()
    expect(by_id(page, "toasts")).to_contain_text("Cancel failed")
    expect(by_id(page, "toasts")).to_contain_text("completed")
    expect(by_id(row, f"browse-cancel-{job}")).to_be_enabled()
    page.clock.resume()
    expect(row).to_have_count(0)  # the refresh, let go, takes it off the in-flight tab
    assert [e for e in console_errors if "409" not in e] == []
