// The groups of one queue (fair scheduling, decision 0053): ready backlog, jobs in flight and
// limits per group, busiest first. Read only; reloaded every few seconds while shown. A group's
// name opens the job browser's Ready tab on that group's ready jobs.

import { type Api, type Group, type GroupPage } from "../api";
import { h, setText } from "../dom";
import { compact, exact } from "../format";
import { Reloader, countedPanel, emptyState } from "./parts";

/** the list is reloaded at most this often */
const REFRESH_MS = 2000;
/** groups shown (the API answers the busiest first) */
const SHOWN = 50;

export function limits(g: Group): string {
  const parts: string[] = [];
  if (g.weight !== 1) parts.push(`weight ${g.weight}`);
  if (g.max_inflight !== null) parts.push(`max ${g.max_inflight} in flight`);
  if (g.rate !== null) parts.push(`${g.rate}/s, burst ${g.burst ?? g.rate}`);
  return parts.length > 0 ? parts.join(" · ") : "–";
}

function status(g: Group): string {
  if (g.capped) return "at its cap";
  if (g.limited_until !== null) return "rate limited";
  return g.backlog > 0 || g.in_flight > 0 ? "active" : "idle";
}

export class GroupList {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly countEl: HTMLElement;
  private readonly data: Reloader<GroupPage>;

  constructor(
    private readonly api: Api,
    private readonly queue: string,
    private readonly onOpen: (group: string) => void = () => undefined,
  ) {
    const panel = countedPanel({ cls: "groups", testid: "groups", id: "groups-title", title: "Groups", countTestid: "group-count", bodyCls: "groups-body" });
    ({ el: this.el, count: this.countEl, body: this.body } = panel);
    this.data = new Reloader(() => this.api.groups(this.queue, SHOWN), REFRESH_MS, () => this.render());
    this.render();
    void this.data.reload();
  }

  destroy(): void {
    this.data.stop();
  }

  /** Every second: a reload when the last one is old enough. */
  tick(): void {
    this.data.tick();
  }

  private openButton(name: string): HTMLElement {
    const b = h("button", { type: "button", class: "link-button mono", testid: `group-open-${name}`, title: `List the ready jobs of ${name}` }, name);
    b.addEventListener("click", () => this.onOpen(name));
    return b;
  }

  private render(): void {
    const page = this.data.value;
    setText(this.countEl, page && page.total > 0 ? compact(page.total) : "");
    if (!page) {
      this.body.replaceChildren(
        this.data.error ? emptyState("Could not load the groups", this.data.error) : h("p", { class: "muted loading" }, "Loading groups…"),
      );
      return;
    }
    if (page.groups.length === 0) {
      this.body.replaceChildren(
        emptyState(
          "No groups",
          "Jobs enqueued with a group (a tenant, a customer) take turns with the other groups of their priority, " +
            "so one busy group never holds up the others. Enqueue with {\"type\": …, \"group\": \"acme\"}, and set a group's " +
            "limits with:",
          h("pre", { class: "pre pre-json" }, `curl -X PUT ${location.origin}/api/queues/${encodeURIComponent(this.queue)}/groups/acme \\\n  -H 'Content-Type: application/json' \\\n  -d '{"weight": 2, "max_inflight": 4, "rate": 10, "burst": 20}'`),
        ),
      );
      return;
    }
    const head = h(
      "tr",
      null,
      h("th", { scope: "col" }, "Group"),
      h("th", { scope: "col", class: "num" }, "Backlog"),
      h("th", { scope: "col", class: "num" }, "In flight"),
      h("th", { scope: "col" }, "Limits"),
      h("th", { scope: "col" }, "State"),
    );
    const rows = page.groups.map((g) =>
      h(
        "tr",
        { testid: `group-${g.name}`, "data-group": g.name },
        h("td", { class: "mono clip" }, this.openButton(g.name)),
        h("td", { class: "num", testid: `group-backlog-${g.name}`, title: `${g.backlog} ready jobs` }, compact(g.backlog)),
        h("td", { class: "num", testid: `group-inflight-${g.name}` }, compact(g.in_flight)),
        h("td", { class: "small", testid: `group-limits-${g.name}` }, limits(g)),
        h("td", { class: `small group-state group-${status(g).replace(" ", "-")}` }, status(g)),
      ),
    );
    const more =
      page.total > page.groups.length
        ? h("p", { class: "muted small" }, `The ${page.groups.length} busiest of ${exact(page.total)} groups with jobs.`)
        : null;
    this.body.replaceChildren(
      h("div", { class: "table-wrap" }, h("table", { class: "table groups-table", testid: "groups-table" }, h("thead", null, head), h("tbody", null, ...rows))),
      ...(more ? [more] : []),
    );
  }
}
