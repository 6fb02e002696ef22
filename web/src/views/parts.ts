// Small pieces shared by the views.

import type { JobState } from "../api";
import { h } from "../dom";
import { bytes, clip } from "../format";
import { errorMessage } from "../toast";

export interface ExpandableOptions {
  testid?: string;
  cls?: string;
  maxLines: number;
  maxChars: number;
  /** what to show while closed, if not simply the head of the text (e.g. a traceback's last line) */
  summary?: string;
  /** remembers the open/closed state across re-renders of the same item */
  expanded?: boolean;
  onToggle?: (expanded: boolean) => void;
}

/**
 * Preformatted text shown clipped, with a button to see all of it. Always set as TEXT: the
 * content comes from job payloads and error messages.
 */
export function expandableText(text: string, opts: ExpandableOptions): HTMLElement {
  const pre = h("pre", { class: `pre ${opts.cls ?? ""}`.trim(), ...(opts.testid ? { testid: opts.testid } : {}) });
  const c = clip(opts.summary ?? text, opts.maxLines, opts.maxChars);
  const wrap = h("div", { class: "expandable" }, pre);
  const closed = c.clipped ? c.text : (opts.summary ?? text);
  if (closed === text) {
    pre.textContent = text;
    return wrap;
  }
  let open = opts.expanded === true;
  const lines = text.split("\n").length;
  const size = lines > 1 ? `${lines} lines` : bytes(new TextEncoder().encode(text).length);
  const btn = h("button", { type: "button", class: "link-btn", "aria-expanded": "false" });
  const render = (): void => {
    pre.textContent = open ? text : closed;
    pre.classList.toggle("is-open", open);
    btn.textContent = open ? "Show less" : `Show all (${size})`;
    btn.setAttribute("aria-expanded", String(open));
  };
  btn.addEventListener("click", (ev) => {
    ev.preventDefault();
    open = !open;
    render();
    opts.onToggle?.(open);
  });
  render();
  wrap.appendChild(btn);
  return wrap;
}

export function stateBadge(state: JobState): HTMLElement {
  return h("span", { class: `badge state state-${state}`, testid: "job-state" }, state === "inflight" ? "in flight" : state);
}

export function emptyState(title: string, ...body: (Node | string)[]): HTMLElement {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title), ...body.map((b) => (typeof b === "string" ? h("p", { class: "muted" }, b) : b)));
}

/** A panel with a title, a count beside it and a body (the queue page's list panels). */
export function countedPanel(o: { cls: string; testid: string; id: string; title: string; countTestid: string; bodyCls: string }): {
  el: HTMLElement;
  count: HTMLElement;
  body: HTMLElement;
} {
  const count = h("span", { class: "panel-count", testid: o.countTestid }, "");
  const body = h("div", { class: o.bodyCls });
  const el = h(
    "section",
    { class: `panel ${o.cls}`, testid: o.testid, "aria-labelledby": o.id },
    h("div", { class: "panel-head" }, h("h2", { class: "panel-title", id: o.id }, o.title, count)),
    body,
  );
  return { el, count, body };
}

/**
 * A panel's data, loaded by `load` at most every `everyMs` (on `tick`, once a second) or at
 * once (`reload`); one load at a time, none after `stop`. `changed` redraws after each load.
 */
export class Reloader<T> {
  value: T | null = null;
  error: string | null = null;
  private last = 0;
  private inFlight = false;
  private stopped = false;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly everyMs: number,
    private readonly changed: () => void,
  ) {}

  stop(): void {
    this.stopped = true;
  }

  tick(): void {
    if (Date.now() - this.last >= this.everyMs) void this.reload();
  }

  async reload(): Promise<void> {
    if (this.inFlight || this.stopped) return;
    this.inFlight = true;
    this.last = Date.now();
    try {
      const got = await this.load();
      if (this.stopped) return;
      this.value = got;
      this.error = null;
    } catch (err) {
      if (this.stopped) return;
      this.error = errorMessage(err);
    } finally {
      this.inFlight = false;
    }
    this.changed();
  }
}
