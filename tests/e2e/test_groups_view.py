"""The dashboard's Groups panel in real Chromium (decision 0053): backlog, in flight and limits
per group, busiest first, against a real server and Redis."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.stack import Server
from tests.e2e.test_dashboard import by_id, open_queue

pytestmark = pytest.mark.e2e


def test_the_groups_panel_shows_the_busiest_group_first_with_its_limits(
    page: Page, server: Server, console_errors: list[str]
) -> None:
    q = "e2e-groups"
    jobs = [{"type": "ok", "group": "small"}] + [{"type": "ok", "group": "big"}] * 5
    server.api("POST", f"/api/queues/{q}/jobs/batch", {"jobs": jobs})
    server.api("PUT", f"/api/queues/{q}/groups/small", {"max_inflight": 2, "rate": 5, "burst": 3})
    open_queue(page, server, q)
    panel = by_id(page, "groups")
    expect(by_id(panel, "group-count")).to_have_text("2")
    rows = by_id(panel, "groups-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-group", "big")
    expect(by_id(panel, "group-backlog-big")).to_have_text("5")
    expect(by_id(panel, "group-limits-small")).to_have_text("max 2 in flight · 5/s, burst 3")
    server.api(
        "POST", f"/api/queues/{q}/jobs/batch", {"jobs": [{"type": "ok", "group": "small"}] * 9}
    )
    expect(rows.nth(0)).to_have_attribute("data-group", "small")  # reloads on its own
    expect(by_id(panel, "group-backlog-small")).to_have_text("10")
    assert console_errors == []


def test_a_group_name_opens_the_browser_on_that_groups_ready_jobs(
    page: Page, server: Server, console_errors: list[str]
) -> None:
    q = "e2e-groups-browse"  # no worker serves it: the jobs stay ready
    jobs = [{"type": "ok", "group": "acme", "payload": i} for i in range(3)]
    acme = server.api("POST", f"/api/queues/{q}/jobs/batch", {"jobs": jobs})["ids"]
    [plain] = server.api("POST", f"/api/queues/{q}/jobs/batch", {"jobs": [{"type": "ok"}]})["ids"]
    open_queue(page, server, q)
    browser = by_id(page, "job-browser")
    rows = by_id(browser, "browse-table").locator("tbody tr")
    expect(rows).to_have_count(1)  # the Ready tab: ungrouped jobs
    expect(rows.first).to_have_attribute("data-id", plain)
    expect(by_id(browser, "browse-notice")).to_be_hidden()
    by_id(page, "group-open-acme").click()
    expect(by_id(browser, "browse-group-name")).to_have_text("acme")
    expect(by_id(browser, "browse-tab-ready")).to_have_attribute("aria-selected", "true")
    expect(rows).to_have_count(3)
    assert [r.get_attribute("data-id") for r in rows.all()] == acme
    expect(by_id(browser, "browse-bulk-delete")).to_have_count(0)  # the bulk delete skips groups
    rows.first.click()
    by_id(browser, "browse-drawer-delete").click()  # a grouped ready job can be deleted
    expect(rows).to_have_count(2)
    expect(by_id(page, "group-backlog-acme")).to_have_text("2")
    by_id(browser, "browse-group-clear").click()
    expect(by_id(browser, "browse-group")).to_be_hidden()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", plain)
    # The drawer reloads the job it just deleted: Chromium logs that GET's 404, nothing else.
    assert all("404 (Not Found)" in e for e in console_errors), console_errors
