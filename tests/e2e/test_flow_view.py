"""The flow view in a real browser: reached from a child's job lookup, the tree with each job's
state, following the flow live over SSE as the children complete and the parent is released."""

from __future__ import annotations

import pytest
import redis
from playwright.sync_api import Page, expect

from tests.e2e.stack import Proc, Server, wait_for
from tests.e2e.test_dashboard import by_id, open_queue

pytestmark = pytest.mark.e2e
PARENT_Q, KIDS_Q = "e2e-flow", "e2e-flow-kids"


def test_the_flow_view_follows_a_fan_in_live(
    page: Page, server: Server, worker: Proc, e2e_redis: str, console_errors: list[str]
) -> None:
    kids = [{"queue": KIDS_Q, "type": "gate", "payload": {"gate": f"flow-{i}"}} for i in range(2)]
    body = {"queue": PARENT_Q, "type": "album", "payload": {"n": 1}, "children": kids}
    out = server.api("POST", "/api/flows", body)
    root, child = out["id"], out["jobs"][1]["id"]
    wait_for(lambda: server.job_state(KIDS_Q, child) == "inflight", 10, "the child to start")

    open_queue(page, server, KIDS_Q)
    by_id(page, "job-lookup").fill(child)
    by_id(page, "job-lookup-submit").click()
    link = by_id(page, "job-flow-link")
    expect(link).to_have_text("View flow (3 jobs)")
    link.click()
    expect(by_id(page, "flow-view")).to_be_visible()
    root_node = page.locator(f'[data-testid="flow-node"][data-id="{root}"]')
    expect(root_node).to_have_attribute("data-state", "waiting")
    expect(root_node.get_by_test_id("flow-node")).to_have_count(2)
    for j in out["jobs"][1:]:
        node = page.locator(f'[data-testid="flow-node"][data-id="{j["id"]}"]')
        expect(node).to_have_attribute("data-state", "inflight")

    r = redis.Redis.from_url(e2e_redis)
    try:
        r.rpush("e2e:gate:flow-0", 1)
        r.rpush("e2e:gate:flow-1", 1)
    finally:
        r.close()
    # No reload: the view follows the children's events and the parent's release by itself.
    expect(root_node).to_have_attribute("data-state", "ready", timeout=15_000)
    for j in out["jobs"][1:]:
        node = page.locator(f'[data-testid="flow-node"][data-id="{j["id"]}"]')
        expect(node).to_have_attribute("data-state", "completed")
    assert console_errors == []


def test_a_waiting_parent_is_listed_in_the_waiting_tab_until_its_children_complete(
    page: Page, server: Server, worker: Proc, e2e_redis: str, console_errors: list[str]
) -> None:
    parent_q = "e2e-flow-waiting"  # no worker serves it: the released parent stays ready
    kids = [{"queue": KIDS_Q, "type": "gate", "payload": {"gate": f"wait-{i}"}} for i in range(2)]
    body = {"queue": parent_q, "type": "album", "payload": {"n": 2}, "children": kids}
    out = server.api("POST", "/api/flows", body)
    root = out["id"]

    open_queue(page, server, parent_q)
    browser = by_id(page, "job-browser")
    expect(by_id(browser, "browse-count-waiting")).to_have_attribute("data-value", "1")
    by_id(browser, "browse-tab-waiting").click()
    expect(by_id(browser, "browse-tab-waiting")).to_have_attribute("aria-selected", "true")
    row = by_id(browser, f"browse-row-{root}")
    expect(row).to_contain_text("album")
    row.click()
    drawer = by_id(browser, "browse-drawer")
    expect(by_id(drawer, "job-state")).to_have_text("waiting")
    link = by_id(drawer, "browse-drawer-flow")
    expect(link).to_have_attribute("href", f"#/flow/{parent_q}/{root}")

    r = redis.Redis.from_url(e2e_redis)
    try:
        r.rpush("e2e:gate:wait-0", 1)
        r.rpush("e2e:gate:wait-1", 1)
    finally:
        r.close()
    # No reload: the parent leaves the Waiting tab when released, and shows up in Ready.
    expect(row).to_have_count(0, timeout=15_000)
    expect(by_id(browser, "browse-count-waiting")).to_have_attribute("data-value", "0")
    expect(by_id(browser, "browse-notice")).to_contain_text("No waiting jobs")
    expect(by_id(browser, "browse-count-ready")).to_have_attribute("data-value", "1")
    by_id(browser, "browse-tab-ready").click()
    expect(by_id(browser, f"browse-row-{root}")).to_be_visible()
    assert console_errors == []
