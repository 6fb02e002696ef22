// The flow view (#/flow/<queue>/<id>): the whole workflow a job belongs to, as a tree from its
// root with each job's state. It reloads (debounced) whenever the live stream reports an event
// for one of its jobs, so a parent turning from "waiting" to "ready" shows up by itself.

import { type Api, ApiError, type FlowNode, type FlowTree, type JobEvent, type JobState } from "../api";
import { h } from "../dom";
import { errorMessage } from "../toast";
import { queueHref } from "./card";
import { emptyState, stateBadge } from "./parts";

const KNOWN_STATES: readonly string[] = ["delayed", "waiting", "ready", "inflight", "completed", "dead", "cancelled"];

export function flowHref(queue: string, id: string): string {
  return `#/flow/${encodeURIComponent(queue)}/${encodeURIComponent(id)}`;
}

/** [queue, id] from a #/flow/<queue>/<id> hash, else null. */
export function flowFromHash(hash: string): [string, string] | null {
  const m = /^#\/flow\/([^/]+)\/([^/]+)$/.exec(hash);
  if (!m || m[1] === undefined || m[2] === undefined) return null;
  try {
    return [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
  } catch {
    return null;
  }
}

export class FlowView {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private ids = new Set<string>();
  private timer: number | null = null;
  private seq = 0;

  constructor(
    private readonly api: Api,
    readonly queue: string,
    readonly id: string,
  ) {
    this.body = h("div", { class: "flow-body" }, h("p", { class: "muted small" }, "Loading the flow…"));
    this.el = h(
      "section",
      { class: "panel flow", testid: "flow-view", "aria-labelledby": "flow-title" },
      h("div", { class: "panel-head" }, h("h2", { class: "panel-title", id: "flow-title" }, "Flow"), h("a", { class: "btn btn-small", href: queueHref(queue) }, `Back to ${queue}`)),
      this.body,
    );
    void this.load();
  }

  destroy(): void {
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.seq++;
  }

  onJobEvent(e: JobEvent): void {
    if (this.timer !== null || !e.ids.some((i) => this.ids.has(i))) return;
    this.timer = window.setTimeout(() => {
      this.timer = null;
      void this.load();
    }, 250);
  }

  private async load(): Promise<void> {
    const seq = ++this.seq;
    try {
      const tree = await this.api.flow(this.queue, this.id);
      if (seq !== this.seq) return;
      if (!tree) throw new ApiError(500, "bad_response", "The server sent something that is not a flow.");
      this.ids = new Set(tree.jobs.map((j) => j.id));
      this.body.replaceChildren(this.render(tree));
    } catch (err) {
      if (seq !== this.seq) return;
      const msg = err instanceof ApiError && err.status === 404 ? `No job “${this.id}” in queue “${this.queue}”.` : `Could not load the flow: ${errorMessage(err)}`;
      this.body.replaceChildren(emptyState("No flow to show", msg));
    }
  }

  private render(tree: FlowTree): HTMLElement {
    const kids = new Map<string | null, FlowNode[]>();
    for (const j of tree.jobs) {
      const list = kids.get(j.parent) ?? [];
      list.push(j);
      kids.set(j.parent, list);
    }
    const counts = new Map<string, number>();
    for (const j of tree.jobs) counts.set(j.state, (counts.get(j.state) ?? 0) + 1);
    const summary = [...counts.entries()].map(([s, n]) => `${n} ${s}`).join(" · ");
    const node = (j: FlowNode): HTMLElement => {
      const children = kids.get(j.id) ?? [];
      const badge = KNOWN_STATES.includes(j.state) ? stateBadge(j.state as JobState) : h("span", { class: "badge state" }, j.state);
      const row = h(
        "div",
        { class: `flow-row${j.id === this.id ? " is-current" : ""}` },
        badge,
        h("span", { class: "flow-type" }, j.type ?? "?"),
        h("code", { class: "mono small" }, j.id),
        h("span", { class: "muted small" }, `in ${j.queue}`),
      );
      return h(
        "li",
        { class: "flow-node", testid: "flow-node", "data-id": j.id, "data-state": j.state, "data-queue": j.queue },
        row,
        children.length > 0 ? h("ul", { class: "flow-children" }, ...children.map(node)) : false,
      );
    };
    return h(
      "div",
      null,
      h("p", { class: "muted small", testid: "flow-summary" }, `${tree.jobs.length} jobs: ${summary}`),
      h("ul", { class: "flow-tree", testid: "flow-tree" }, ...(kids.get(null) ?? []).map(node)),
    );
  }
}
