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
