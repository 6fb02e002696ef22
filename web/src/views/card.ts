// One card per queue in the sidebar: the four counts, the current rates and two sparklines.

import { DEPTH_STATES, type DepthState } from "../api";
import { Sparkline, cssVar } from "../charts";
import { h, setAttr, setText } from "../dom";
import { compact, exact, rate } from "../format";
import type { QueueEntry } from "../store";

export function queueHref(name: string): string {
  return `#/q/${encodeURIComponent(name)}`;
}

const LABELS: Record<DepthState, string> = {
  ready: "ready",
  delayed: "delayed",
  inflight: "in flight",
  dead: "dead",
};

export class QueueCard {
  readonly el: HTMLAnchorElement;
  private readonly values: Record<DepthState, HTMLElement>;
  private readonly badges: HTMLElement;
  private readonly done: HTMLElement;
  private readonly failed: HTMLElement;
  private readonly depthSpark = new Sparkline("backlog over time");
  private readonly rateSpark = new Sparkline("throughput over time");

  constructor(readonly name: string) {
    const cells = DEPTH_STATES.map((state) => {
      const value = h("span", { class: "count-value", testid: `count-${state}`, "data-value": "0" }, "0");
      return {
        state,
        value,
        el: h("div", { class: `count count-${state}` }, value, h("span", { class: "count-label" }, LABELS[state])),
      };
    });
    this.values = Object.fromEntries(cells.map((c) => [c.state, c.value])) as Record<DepthState, HTMLElement>;
    this.badges = h("span", { class: "badges" });
    this.done = h("span", { class: "rate-value" }, "–/s");
    this.failed = h("span", { class: "rate-value" }, "–/s");
    this.el = h(
      "a",
      { class: "qcard", href: queueHref(name), testid: `queue-${name}` },
      h("div", { class: "qcard-head" }, h("span", { class: "qcard-name", title: name }, name), this.badges),
      h("div", { class: "counts" }, ...cells.map((c) => c.el)),
      h(
        "div",
        { class: "qcard-foot" },
        h(
          "div",
          { class: "qcard-rates" },
          h("span", { class: "rate rate-completed", title: "completed per second (5 s average)" }, h("span", { class: "dot" }), this.done, " done"),
          h("span", { class: "rate rate-failed", title: "failed attempts per second (5 s average)" }, h("span", { class: "dot" }), this.failed, " failed"),
        ),
        h("div", { class: "sparks" }, this.depthSpark.canvas, this.rateSpark.canvas),
      ),
    );
  }

  update(entry: QueueEntry, selected: boolean, now: number, windowSeconds: number): void {
    const { stats, history } = entry;
    setAttr(this.el, "aria-current", selected ? "page" : null);
    this.el.classList.toggle("is-selected", selected);
    this.el.classList.toggle("is-paused", stats.paused);
    for (const state of DEPTH_STATES) {
      const el = this.values[state];
      const n = stats.counts[state];
      setText(el, compact(n));
      setAttr(el, "data-value", String(n));
      setAttr(el, "title", `${exact(n)} ${LABELS[state]}`);
      el.classList.toggle("is-zero", n === 0);
    }
    const badgeText = [stats.paused ? "paused" : "", stats.rate_limit ? `≤ ${rate(stats.rate_limit.rate)}` : ""].join("|");
    if (this.badges.dataset["key"] !== badgeText) {
      this.badges.dataset["key"] = badgeText;
      this.badges.replaceChildren();
      if (stats.paused) this.badges.appendChild(h("span", { class: "badge badge-paused" }, "paused"));
      if (stats.rate_limit) {
        this.badges.appendChild(
          h(
            "span",
            { class: "badge badge-limit", title: `rate limit ${stats.rate_limit.rate}/s, burst ${stats.rate_limit.burst}` },
            `≤ ${rate(stats.rate_limit.rate)}`,
          ),
        );
      }
    }
    const r = history.rates();
    setText(this.done, rate(r.completed));
    setText(this.failed, rate(r.failed));
    this.failed.parentElement?.classList.toggle("is-active", (r.failed ?? 0) > 0);

    const from = now - windowSeconds;
    const i = history.indexFrom(from);
    const ts = history.ts.slice(i);
    this.depthSpark.draw(ts, [{ values: history.ready.slice(i), color: cssVar("--c-ready"), fill: true }], from, now);
    this.rateSpark.draw(
      ts,
      [
        { values: history.completedRate.slice(i), color: cssVar("--c-completed"), fill: true },
        { values: history.failedRate.slice(i), color: cssVar("--c-failed"), fill: false },
      ],
      from,
      now,
    );
  }
}
