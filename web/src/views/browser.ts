// The job browser of one queue: a tab per state with its count, a paged table that stays live
// (rows leave and arrive as the stream reports changes, updated in place: no reload, no flicker,
// the page and the selected row are kept), a type filter, a drawer with the whole job, keyboard
// navigation, and the actions each state allows (bulk ones after a confirm). In-flight rows name
// the worker holding the job and have a Cancel button (its worker stops it: "cancelling…").
// The Ready tab lists the ungrouped jobs, or one group's (showGroup, from the Groups panel).
// The Waiting tab lists flows' parents waiting for their children; the drawer links to the flow.

import type { Api, Counts, JobEvent, JobState } from "../api";
import { BROWSE_STATES, BrowseApi, type BulkAction, type JobRow, keyTime } from "../browse-api";
import { h, setAttr, setText } from "../dom";
import { compact, exact, relative, timestamp } from "../format";
import { errorMessage, toast } from "../toast";
import { JobDrawer } from "./drawer";

const PAGE = 50;
const REFRESH_GAP_MS = 1000; // live refreshes are at least this far apart
const PREVIEW_CHARS = 80;

interface Row {
  tr: HTMLTableRowElement;
  cells: HTMLElement[];
  time: HTMLElement;
  ts: number;
}

export class JobBrowser {
  readonly el: HTMLElement;
  private readonly browse: BrowseApi;
  private readonly tabs = new Map<JobState, { btn: HTMLButtonElement; count: HTMLElement }>();
  private readonly typeInput: HTMLInputElement;
  private readonly tools: HTMLElement;
  private readonly groupChip: HTMLElement;
  private readonly confirmBar: HTMLElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly tableWrap: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly pageLabel: HTMLElement;
  private readonly prevBtn: HTMLButtonElement;
  private readonly nextBtn: HTMLButtonElement;
  private readonly timeHead: HTMLElement;
  /** the in-flight tab's own columns: the worker holding the job, and its Cancel button */
  private readonly flightHeads: HTMLElement[];
  /** in-flight ids whose cancel was accepted (202): shown "cancelling…" until they leave */
  private readonly cancelling = new Set<string>();
  private readonly drawer: JobDrawer;

  private state: JobState = "ready";
  private type = "";
  /** ready jobs of this group ("" the ungrouped ones): decision 0053 */
  private group = "";
  private cursors: Array<string | null> = [null];
  private page = 0;
  private nextCursor: string | null = null;
  /** ids shown on the page before this one: a moving queue may list one twice; show it once */
  private before = new Set<string>();
  private order: string[] = [];
  private readonly rows = new Map<string, Row>();
  private selected: string | null = null;
  private counts: Counts | null = null;
  private seq = 0;
  private lastLoad = 0;
  private timer: number | null = null;
  private destroyed = false;

  constructor(
    api: Api,
    private readonly queue: string,
    private readonly now: () => number,
  ) {
    this.browse = new BrowseApi(api);
    this.drawer = new JobDrawer(api, this.browse, queue, now, () => this.schedule(0));

    const tablist = h("div", { class: "browse-tabs", role: "tablist", "aria-label": "Job states" });
    for (const [state, label] of BROWSE_STATES) {
      const count = h("span", { class: "tab-count", testid: `browse-count-${state}` }, "");
      const btn = h("button", { type: "button", class: "tab", role: "tab", testid: `browse-tab-${state}`, "aria-selected": String(state === this.state) }, label, count);
      btn.addEventListener("click", () => this.setState(state));
      this.tabs.set(state, { btn, count });
      tablist.append(btn);
    }
    this.typeInput = h("input", { type: "search", class: "input", testid: "browse-type", placeholder: "Filter by type", "aria-label": "Filter by job type", autocomplete: "off", spellcheck: "false" });
    const filter = h("form", { class: "inline-form browse-filter", role: "search" }, this.typeInput);
    filter.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.setType(this.typeInput.value.trim());
    });
    this.typeInput.addEventListener("search", () => this.setType(this.typeInput.value.trim()));
    this.groupChip = h("span", { class: "browse-group", testid: "browse-group", hidden: true });
    this.tools = h("div", { class: "browse-tools" });
    this.confirmBar = h("div", { class: "browse-confirm", testid: "browse-confirm", hidden: true, role: "alertdialog" });

    this.timeHead = h("th", { scope: "col" }, "Enqueued");
    this.flightHeads = [h("th", { scope: "col", class: "col-worker", hidden: true }, "Worker"), h("th", { scope: "col", class: "col-act", hidden: true }, h("span", { class: "sr-only" }, "Actions"))];
    this.tbody = h("tbody");
    const table = h(
      "table",
      { class: "table browse-table", testid: "browse-table" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Id"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col", class: "num", title: "Priority: 9 runs first" }, "Pri"), h("th", { scope: "col", class: "num", title: "Attempts used / allowed" }, "Tries"), this.timeHead, h("th", { scope: "col" }, "Payload"), ...this.flightHeads)),
      this.tbody,
    );
    this.notice = h("p", { class: "muted browse-notice", testid: "browse-notice" }, "Loading…");
    this.tableWrap = h("div", { class: "table-wrap browse-wrap", tabindex: "0", "aria-label": "Jobs; arrow keys or j/k select, Enter opens, n/p change page" }, table, this.notice);
    this.tableWrap.addEventListener("keydown", (ev) => this.onKey(ev));
    this.tbody.addEventListener("click", (ev) => {
      if ((ev.target as Element).closest("button")) return; // a row's own button (Cancel)
      const tr = (ev.target as Element).closest("tr");
      const id = tr?.getAttribute("data-id");
      if (id) {
        this.select(id);
        void this.drawer.open(id);
      }
    });

    this.prevBtn = h("button", { type: "button", class: "btn btn-small", testid: "browse-prev" }, "‹ Previous");
    this.nextBtn = h("button", { type: "button", class: "btn btn-small", testid: "browse-next" }, "Next ›");
    this.prevBtn.addEventListener("click", () => this.go(-1));
    this.nextBtn.addEventListener("click", () => this.go(1));
    this.pageLabel = h("span", { class: "muted small", testid: "browse-page" }, "");
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

    this.el = h(
      "section",
      { class: "panel browse", testid: "job-browser", "aria-labelledby": "browse-title" },
      h("div", { class: "panel-head" }, h("h2", { class: "panel-title", id: "browse-title" }, "Jobs"), h("span", { class: "muted small" }, `times in ${zone}`)),
      tablist,
      h("div", { class: "browse-bar" }, filter, this.groupChip, this.tools),
      this.confirmBar,
      h("div", { class: "browse-main" }, this.tableWrap, this.drawer.el),
      h("div", { class: "browse-pager" }, this.prevBtn, this.pageLabel, this.nextBtn),
    );
    this.renderTools();
    void this.load();
  }

  destroy(): void {
    this.destroyed = true;
    if (this.timer !== null) window.clearTimeout(this.timer);
  }

  /** From each stats snapshot: tab counts; a changed count for the open tab refreshes it. */
  setCounts(c: Counts): void {
    const moved = this.counts !== null && this.counts[this.state] !== c[this.state];
    this.counts = c;
    for (const [state, tab] of this.tabs) {
      setText(tab.count, compact(c[state]));
      setAttr(tab.count, "data-value", String(c[state]));
      setAttr(tab.count, "title", `${exact(c[state])} ${state} jobs`);
    }
    if (moved) this.schedule();
  }

  onJobEvent(e: JobEvent): void {
    if (e.queue !== this.queue) return;
    this.schedule();
    if (this.drawer.id !== null && e.ids.includes(this.drawer.id)) void this.drawer.reload();
  }

  tick(): void {
    const now = this.now();
    for (const row of this.rows.values()) setText(row.time, relative(row.ts, now));
    this.drawer.tick();
  }

  // -- navigation ------------------------------------------------------------------------------

  private setState(state: JobState): void {
    if (state === this.state) return;
    this.state = state;
    for (const [s, tab] of this.tabs) setAttr(tab.btn, "aria-selected", String(s === state));
    if (state !== "ready") this.group = ""; // only ready jobs are listed by group
    this.restart();
  }

  /** The Ready tab, listing `group`'s ready jobs ("" back to the ungrouped ones). */
  showGroup(group: string): void {
    const same = this.state === "ready" && this.group === group;
    this.group = group;
    this.state = "ready";
    for (const [s, tab] of this.tabs) setAttr(tab.btn, "aria-selected", String(s === "ready"));
    if (!same) this.restart();
    if (group !== "") this.el.scrollIntoView({ block: "start" });
  }

  private renderGroup(): void {
    this.groupChip.hidden = this.group === "";
    if (this.group === "") return;
    const clear = h("button", { type: "button", class: "btn btn-small", testid: "browse-group-clear", title: "List the ungrouped ready jobs", "aria-label": `Stop filtering by group ${this.group}` }, "×");
    clear.addEventListener("click", () => this.showGroup(""));
    this.groupChip.replaceChildren(h("span", { class: "muted small" }, "Group "), h("span", { class: "mono", testid: "browse-group-name" }, this.group), clear);
  }

  private setType(type: string): void {
    if (type === this.type) return;
    this.type = type;
    this.restart();
  }

  private restart(): void {
    this.cursors = [null];
    this.page = 0;
    this.before = new Set();
    this.selected = null;
    this.drawer.close();
    this.confirmBar.hidden = true;
    this.clearRows();
    this.renderGroup();
    this.renderTools();
    void this.load();
  }

  private go(step: number): void {
    if (step > 0 && this.nextCursor === null) return;
    if (step < 0 && this.page === 0) return;
    if (step > 0) {
      this.cursors[this.page + 1] = this.nextCursor;
      this.before = new Set(this.order);
    } else {
      this.before = new Set();
    }
    this.page += step;
    this.selected = null;
    void this.load().then(() => {
      const first = this.order[0];
      if (first !== undefined) this.select(first);
    });
  }

  private onKey(ev: KeyboardEvent): void {
    const i = this.selected === null ? -1 : this.order.indexOf(this.selected);
    const pick = (j: number): void => {
      const id = this.order[Math.max(0, Math.min(this.order.length - 1, j))];
      if (id !== undefined) this.select(id);
    };
    const key = ev.key;
    if (key === "ArrowDown" || key === "j") pick(i + 1);
    else if (key === "ArrowUp" || key === "k") pick(i - 1);
    else if ((key === "Enter" || key === "o") && this.selected !== null) void this.drawer.open(this.selected);
    else if (key === "Escape") this.drawer.close();
    else if (key === "n" || key === "ArrowRight") this.go(1);
    else if (key === "p" || key === "ArrowLeft") this.go(-1);
    else return;
    ev.preventDefault();
  }

  private select(id: string): void {
    this.selected = id;
    for (const [rid, row] of this.rows) {
      const on = rid === id;
      row.tr.classList.toggle("is-selected", on);
      setAttr(row.tr, "aria-selected", String(on));
      if (on) row.tr.scrollIntoView({ block: "nearest" });
    }
  }

  // -- loading ---------------------------------------------------------------------------------

  private schedule(delay?: number): void {
    if (this.destroyed || this.timer !== null) return;
    const wait = delay ?? Math.max(0, this.lastLoad + REFRESH_GAP_MS - Date.now());
    this.timer = window.setTimeout(() => {
      this.timer = null;
      void this.load();
    }, wait);
  }

  private async load(): Promise<void> {
    const seq = ++this.seq;
    this.lastLoad = Date.now();
    const state = this.state;
    try {
      const got = await this.browse.list(this.queue, state, PAGE, this.cursors[this.page] ?? null, this.type, this.group);
      if (seq !== this.seq || this.destroyed) return;
      this.nextCursor = got.next_cursor;
      this.show(got.jobs.filter((j) => !this.before.has(j.id)));
    } catch (err) {
      if (seq !== this.seq || this.destroyed) return;
      this.notice.hidden = false;
      setText(this.notice, `Could not list ${state} jobs: ${errorMessage(err)}`);
    }
  }

  /** Updates the table in place: rows are kept by id, moved, added or removed; none rebuilt. */
  private show(jobs: JobRow[]): void {
    setText(this.timeHead, keyTime({ state: this.state } as JobRow).label.replace(/^./, (c) => c.toUpperCase()));
    for (const th of this.flightHeads) th.hidden = this.state !== "inflight";
    this.tbody.parentElement?.classList.toggle("is-inflight", this.state === "inflight");
    const keep = new Set(jobs.map((j) => j.id));
    for (const id of this.cancelling) if (!keep.has(id)) this.cancelling.delete(id);
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    let prev: Element | null = null;
    for (const job of jobs) {
      let row = this.rows.get(job.id);
      if (!row) {
        row = this.makeRow(job.id);
        this.rows.set(job.id, row);
      }
      this.fill(row, job);
      const expected: ChildNode | null = prev ? prev.nextSibling : this.tbody.firstChild;
      if (expected !== row.tr) this.tbody.insertBefore(row.tr, expected);
      prev = row.tr;
    }
    this.order = jobs.map((j) => j.id);
    if (this.selected !== null && !keep.has(this.selected)) this.selected = null;
    if (this.selected !== null) this.select(this.selected);
    const grouped = this.state === "ready" ? (this.group !== "" ? ` of group “${this.group}”` : " without a group") : "";
    const filtered = `${this.type !== "" ? ` of type “${this.type}”` : ""}${grouped}`;
    this.notice.hidden = jobs.length > 0;
    const more = this.nextCursor !== null ? " on this page; there are more on the next" : "";
    setText(this.notice, `No ${this.state === "inflight" ? "in-flight" : this.state} jobs${filtered}${more}.`);
    setText(this.pageLabel, `Page ${this.page + 1}`);
    this.prevBtn.disabled = this.page === 0;
    this.nextBtn.disabled = this.nextCursor === null;
  }

  private makeRow(id: string): Row {
    const cells = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => h("td", i === 2 || i === 3 ? { class: "num" } : null));
    const tr = h("tr", { testid: `browse-row-${id}`, "data-id": id, "aria-selected": "false" }, ...cells);
    const time = h("span", null, "");
    return { tr, cells, time, ts: 0 };
  }

  private fill(row: Row, job: JobRow): void {
    const [idCell, typeCell, prioCell, attCell, timeCell, payloadCell] = row.cells;
    if (!idCell || !typeCell || !prioCell || !attCell || !timeCell || !payloadCell) return;
    setText(idCell, job.id);
    idCell.className = "mono clip";
    setText(typeCell, job.type);
    setText(prioCell, String(job.priority));
    setText(attCell, `${job.attempts}/${job.max_attempts}`);
    const { ts } = keyTime(job);
    row.ts = ts;
    setText(row.time, relative(ts, this.now()));
    setAttr(timeCell, "title", timestamp(ts));
    if (row.time.parentNode !== timeCell) timeCell.replaceChildren(row.time);
    const preview = job.payload_preview.length > PREVIEW_CHARS || job.payload_truncated ? `${job.payload_preview.slice(0, PREVIEW_CHARS)}…` : job.payload_preview;
    setText(payloadCell, preview);
    payloadCell.className = "mono clip muted";
    setAttr(payloadCell, "title", job.last_error ?? `${job.payload_size} bytes`);
    this.fillFlight(row, job);
  }

  /** The in-flight columns: who holds the job, and Cancel (or "cancelling…" once asked). */
  private fillFlight(row: Row, job: JobRow): void {
    const [workerCell, actCell] = row.cells.slice(6);
    if (!workerCell || !actCell) return;
    const flying = job.state === "inflight";
    workerCell.hidden = actCell.hidden = !flying;
    if (!flying) return;
    setText(workerCell, job.worker ?? "—");
    workerCell.className = "mono clip";
    setAttr(workerCell, "title", job.worker ?? "claimed by a worker that did not name itself");
    setAttr(workerCell, "data-testid", `browse-worker-${job.id}`);
    const mode = this.cancelling.has(job.id) ? "cancelling" : "button";
    if (actCell.dataset["mode"] === mode) return;
    actCell.dataset["mode"] = mode;
    if (mode === "cancelling") {
      actCell.replaceChildren(h("span", { class: "muted small", testid: `browse-cancelling-${job.id}` }, "cancelling…"));
      return;
    }
    const btn = h("button", { type: "button", class: "btn btn-small btn-danger", testid: `browse-cancel-${job.id}`, title: "Cancel: its worker is told to stop it" }, "Cancel");
    btn.addEventListener("click", () => void this.cancel(row, job, btn));
    actCell.replaceChildren(btn);
  }

  private async cancel(row: Row, job: JobRow, btn: HTMLButtonElement): Promise<void> {
    btn.disabled = true;
    try {
      const state = await this.browse.cancel(this.queue, job.id);
      this.cancelling.add(job.id);
      toast(state === "cancelled" ? `Job ${job.id} cancelled` : `Job ${job.id} is being cancelled`);
      this.fillFlight(row, job);
    } catch (err) {
      btn.disabled = false;
      toast(`Cancel failed: ${errorMessage(err)}`, "error");
    }
    this.schedule(0);
  }

  private clearRows(): void {
    this.rows.clear();
    this.order = [];
    this.tbody.replaceChildren();
    this.notice.hidden = false;
    setText(this.notice, "Loading…");
  }

  // -- bulk actions ----------------------------------------------------------------------------

  private renderTools(): void {
    const actions: Array<[BulkAction, string]> = [];
    if (this.state === "delayed") actions.push(["promote", "Run all now"]);
    if (this.state === "dead") actions.push(["requeue", "Requeue all"]);
    // The bulk delete takes no group (it deletes every group's ready jobs): not offered on a group.
    const bulkDelete = this.state === "delayed" || this.state === "dead" || (this.state === "ready" && this.group === "");
    if (bulkDelete) actions.push(["delete", "Delete all"]);
    this.tools.replaceChildren(
      ...actions.map(([action, label]) => {
        const b = h("button", { type: "button", class: `btn btn-small${action === "delete" ? " btn-danger" : ""}`, testid: `browse-bulk-${action}` }, label);
        b.addEventListener("click", () => this.ask(action));
        return b;
      }),
    );
  }

  private ask(action: BulkAction): void {
    const verb = { promote: "Run now", requeue: "Requeue", delete: "Delete" }[action];
    const n = this.counts?.[this.state];
    const what = this.type !== "" ? `every ${this.state} job of type “${this.type}”` : `all ${n !== undefined ? exact(n) : ""} ${this.state} jobs`.replace("  ", " ");
    const yes = h("button", { type: "button", class: `btn btn-small ${action === "delete" ? "btn-danger" : "btn-primary"}`, testid: "browse-confirm-yes" }, verb);
    const no = h("button", { type: "button", class: "btn btn-small", testid: "browse-confirm-no" }, "Cancel");
    no.addEventListener("click", () => {
      this.confirmBar.hidden = true;
    });
    yes.addEventListener("click", () => {
      this.confirmBar.hidden = true;
      void this.runBulk(action, verb);
    });
    this.confirmBar.replaceChildren(h("span", null, `${verb} ${what} in ${this.queue}?${action === "delete" ? " This cannot be undone." : ""}`), yes, no);
    this.confirmBar.hidden = false;
    yes.focus();
  }

  private async runBulk(action: BulkAction, verb: string): Promise<void> {
    try {
      const n = await this.browse.bulk(this.queue, action, this.state, this.type);
      toast(`${verb}: ${exact(n)} job${n === 1 ? "" : "s"} changed`);
    } catch (err) {
      toast(`${verb} failed: ${errorMessage(err)}`, "error");
    }
    this.schedule(0);
  }
}
