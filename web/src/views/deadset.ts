// The dead-letter set of one queue: newest first, with type, attempts, last error and payload,
// and the actions requeue one / requeue all / delete. Refreshed when the live stream says the
// set changed (never on a timer); while the pointer is over the table, new rows wait a moment
// so that nothing moves under the cursor.

import { type Api, ApiError, type Job, type JobEvent } from "../api";
import { ICONS, h, icon, setText } from "../dom";
import { compact, errorSummary, exact, prettyJson, relative, timestamp } from "../format";
import { errorMessage, toast } from "../toast";
import { emptyState, expandableText } from "./parts";

const PAGE = 50;
/** refreshes are at least this far apart */
const REFRESH_GAP_MS = 1500;
/** new rows wait at most this long for the pointer to leave the table */
const HOVER_HOLD_MS = 8000;

interface Row {
  tr: HTMLTableRowElement;
  age: HTMLElement;
  ts: number | null;
}

export class DeadSet {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly countEl: HTMLElement;
  private readonly requeueAll: HTMLButtonElement;
  private readonly more: HTMLElement;
  private readonly notice: HTMLElement;

  private jobs: Job[] = [];
  private cursor: string | null = null;
  private loaded = false;
  private loadError: string | null = null;
  private deadCount = 0;
  private readonly rows = new Map<string, Row>();
  private readonly openPayloads = new Set<string>();
  private readonly openErrors = new Set<string>();
  /** ids with an action in flight or just removed: refreshes must not bring them back */
  private readonly gone = new Map<string, number>();

  private hovering = false;
  private holdSince = 0;
  private lastRefresh = 0;
  private refreshTimer: number | null = null;
  private inFlight = false;
  private again = false;
  private destroyed = false;

  constructor(
    private readonly api: Api,
    private readonly queue: string,
    private readonly now: () => number,
  ) {
    this.countEl = h("span", { class: "panel-count", testid: "dead-count" }, "");
    this.requeueAll = h(
      "button",
      { type: "button", class: "btn", testid: "requeue-all", disabled: true },
      icon([...ICONS.retry]),
      "Requeue all",
    );
    this.requeueAll.addEventListener("click", () => void this.doRequeueAll());
    this.body = h("div", { class: "dead-body" });
    this.more = h("div", { class: "dead-more" });
    this.notice = h("div", { class: "dead-notice", hidden: true });
    this.el = h(
      "section",
      { class: "panel dead", testid: "dead-set", "aria-labelledby": "dead-title" },
      h(
        "div",
        { class: "panel-head" },
        h("h2", { class: "panel-title", id: "dead-title" }, "Dead jobs", this.countEl),
        h("div", { class: "panel-tools" }, this.requeueAll),
      ),
      this.notice,
      this.body,
      this.more,
    );
    this.el.addEventListener("pointerenter", () => {
      this.hovering = true;
      this.holdSince = Date.now();
    });
    this.el.addEventListener("pointerleave", () => {
      this.hovering = false;
      if (this.refreshTimer === null && !this.notice.hidden) this.schedule(0);
    });
    this.renderBody();
    void this.refresh();
  }

  destroy(): void {
    this.destroyed = true;
    if (this.refreshTimer !== null) window.clearTimeout(this.refreshTimer);
  }

  /** From each stats snapshot: a changed dead count means the set changed. */
  setCount(n: number): void {
    const changed = n !== this.deadCount;
    this.deadCount = n;
    setText(this.countEl, n > 0 ? compact(n) : "");
    this.countEl.title = `${exact(n)} dead jobs`;
    this.requeueAll.disabled = n === 0 && this.jobs.length === 0;
    if (changed && this.loaded) this.schedule();
    this.renderMore();
  }

  onJobEvent(e: JobEvent): void {
    if (e.queue !== this.queue) return;
    if (e.kind === "dead" || e.kind === "requeued") this.schedule();
  }

  /** Updates the "died 3m ago" cells. */
  tick(): void {
    const now = this.now();
    for (const row of this.rows.values()) {
      if (row.ts !== null) setText(row.age, relative(row.ts, now));
    }
  }

  private schedule(delay?: number): void {
    if (this.refreshTimer !== null || this.destroyed) return;
    const wait = delay ?? Math.max(0, this.lastRefresh + REFRESH_GAP_MS - Date.now());
    this.refreshTimer = window.setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, wait);
  }

  /** Reloads from the top, keeping as many rows as were shown (pages through the cursor). */
  private async refresh(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    this.lastRefresh = Date.now();
    const want = Math.max(PAGE, this.jobs.length);
    try {
      let jobs: Job[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 20; page++) {
        const res = await this.api.dead(this.queue, PAGE, cursor);
        jobs = jobs.concat(res.jobs);
        cursor = res.next_cursor;
        if (cursor === null || jobs.length >= want || res.jobs.length === 0) break;
      }
      if (this.destroyed) return;
      this.loadError = null;
      this.apply(jobs, cursor);
    } catch (err) {
      if (this.destroyed) return;
      this.loadError = errorMessage(err);
      this.renderBody();
    } finally {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }

  private apply(fresh: Job[], cursor: string | null): void {
    const now = Date.now();
    for (const [id, until] of this.gone) if (until < now) this.gone.delete(id);
    const jobs = fresh.filter((j) => !this.gone.has(j.id));
    const known = new Set(this.jobs.map((j) => j.id));
    const added = jobs.filter((j) => !known.has(j.id)).length;
    if (this.loaded && added > 0 && this.hovering && now - this.holdSince < HOVER_HOLD_MS) {
      // Hold new rows back while the pointer is over the table; removals still apply.
      const ids = new Set(jobs.map((j) => j.id));
      this.jobs = this.jobs.filter((j) => ids.has(j.id));
      this.notice.hidden = false;
      setText(this.notice, `${added} new dead job${added === 1 ? "" : "s"} — shown when the pointer leaves the table`);
      this.renderBody();
      this.schedule(HOVER_HOLD_MS - (now - this.holdSince));
      return;
    }
    this.notice.hidden = true;
    this.jobs = jobs;
    this.cursor = cursor;
    this.loaded = true;
    this.renderBody();
  }

  private async loadMore(btn: HTMLButtonElement): Promise<void> {
    if (this.cursor === null) return;
    btn.disabled = true;
    try {
      const res = await this.api.dead(this.queue, PAGE, this.cursor);
      const known = new Set(this.jobs.map((j) => j.id));
      this.jobs = this.jobs.concat(res.jobs.filter((j) => !known.has(j.id) && !this.gone.has(j.id)));
      this.cursor = res.next_cursor;
      this.renderBody();
    } catch (err) {
      toast(`Could not load more dead jobs: ${errorMessage(err)}`, "error");
      btn.disabled = false;
    }
  }

  private remove(id: string): void {
    this.gone.set(id, Date.now() + 10000);
    this.jobs = this.jobs.filter((j) => j.id !== id);
    this.renderBody();
  }

  private async act(job: Job, kind: "requeue" | "delete", buttons: HTMLButtonElement[]): Promise<void> {
    for (const b of buttons) b.disabled = true;
    try {
      if (kind === "requeue") await this.api.requeueDead(this.queue, job.id);
      else await this.api.deleteDead(this.queue, job.id);
      this.remove(job.id);
      toast(kind === "requeue" ? `Requeued job ${job.id}` : `Deleted job ${job.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        this.remove(job.id);
        toast(`Job ${job.id} was no longer in the dead set`, "info");
      } else {
        toast(`Could not ${kind} job ${job.id}: ${errorMessage(err)}`, "error");
        for (const b of buttons) b.disabled = false;
      }
    }
  }

  private async doRequeueAll(): Promise<void> {
    this.requeueAll.disabled = true;
    try {
      const n = await this.api.requeueAllDead(this.queue);
      for (const j of this.jobs) this.gone.set(j.id, Date.now() + 3000);
      this.jobs = [];
      this.cursor = null;
      this.renderBody();
      toast(n === 1 ? "Requeued 1 job" : `Requeued ${exact(n)} jobs`);
    } catch (err) {
      toast(`Could not requeue the dead set: ${errorMessage(err)}`, "error");
    } finally {
      this.requeueAll.disabled = this.deadCount === 0 && this.jobs.length === 0;
      this.schedule();
    }
  }

  private renderBody(): void {
    if (!this.loaded) {
      this.body.replaceChildren(
        this.loadError
          ? emptyState("Could not load the dead set", this.loadError)
          : h("p", { class: "muted loading" }, "Loading dead jobs…"),
      );
      this.rows.clear();
      return;
    }
    if (this.jobs.length === 0) {
      this.rows.clear();
      this.body.replaceChildren(
        emptyState(
          "No dead jobs",
          "A job lands here when it has used all its attempts (max_attempts) or failed with a " +
            "non-retryable error. Requeue it from here once the cause is fixed.",
        ),
      );
      this.requeueAll.disabled = this.deadCount === 0;
      this.renderMore();
      return;
    }
    let table = this.body.querySelector("table");
    let tbody = table?.querySelector("tbody") ?? null;
    if (!table || !tbody) {
      tbody = h("tbody");
      table = h(
        "table",
        { class: "table dead-table" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { scope: "col", class: "c-job" }, "Job"),
            h("th", { scope: "col", class: "c-attempts" }, "Attempts"),
            h("th", { scope: "col", class: "c-error" }, "Last error"),
            h("th", { scope: "col", class: "c-payload" }, "Payload"),
            h("th", { scope: "col", class: "c-actions" }, h("span", { class: "sr-only" }, "Actions")),
          ),
        ),
        tbody,
      );
      this.body.replaceChildren(h("div", { class: "table-wrap" }, table));
    }
    const keep = new Set<string>();
    let prev: Element | null = null;
    for (const job of this.jobs) {
      keep.add(job.id);
      let row = this.rows.get(job.id);
      if (!row) {
        row = this.row(job);
        this.rows.set(job.id, row);
      }
      const expectedNext: ChildNode | null = prev ? prev.nextSibling : tbody.firstChild;
      if (expectedNext !== row.tr) tbody.insertBefore(row.tr, expectedNext);
      prev = row.tr;
    }
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    this.requeueAll.disabled = false;
    this.renderMore();
    this.tick();
  }

  private renderMore(): void {
    if (!this.loaded || this.jobs.length === 0) {
      this.more.replaceChildren();
      return;
    }
    const shown = `Showing ${exact(this.jobs.length)} of ${exact(Math.max(this.deadCount, this.jobs.length))}`;
    const key = `${shown}|${this.cursor !== null}`;
    if (this.more.dataset["key"] === key) return;
    this.more.dataset["key"] = key;
    const parts: Node[] = [h("span", { class: "muted" }, shown)];
    if (this.cursor !== null) {
      const btn = h("button", { type: "button", class: "btn btn-small", testid: "dead-more" }, `Load ${PAGE} more`);
      btn.addEventListener("click", () => void this.loadMore(btn));
      parts.push(btn);
    }
    this.more.replaceChildren(...parts);
  }

  private row(job: Job): Row {
    const requeue = h(
      "button",
      { type: "button", class: "btn btn-small", testid: `requeue-${job.id}`, title: "Move back to the ready queue, attempts reset" },
      icon([...ICONS.retry]),
      "Requeue",
    );
    const del = h(
      "button",
      { type: "button", class: "btn btn-small btn-danger", testid: `delete-${job.id}`, title: "Delete this job for good" },
      icon([...ICONS.trash]),
      "Delete",
    );
    const buttons = [requeue, del];
    requeue.addEventListener("click", () => void this.act(job, "requeue", buttons));
    del.addEventListener("click", () => void this.act(job, "delete", buttons));

    const died = job.finished_at ?? job.started_at ?? job.created_at;
    const age = h("span", { class: "muted small", title: died ? timestamp(died) : "" }, "");
    const error = job.last_error
      ? expandableText(job.last_error, {
          cls: "pre-error",
          summary: errorSummary(job.last_error),
          maxLines: 3,
          maxChars: 160,
          expanded: this.openErrors.has(job.id),
          onToggle: (open) => (open ? this.openErrors.add(job.id) : this.openErrors.delete(job.id)),
        })
      : h("span", { class: "muted" }, "—");
    const payload = expandableText(prettyJson(job.payload), {
      testid: `payload-${job.id}`,
      cls: "pre-json",
      maxLines: 6,
      maxChars: 320,
      expanded: this.openPayloads.has(job.id),
      onToggle: (open) => (open ? this.openPayloads.add(job.id) : this.openPayloads.delete(job.id)),
    });
    const tr = h(
      "tr",
      { testid: `dead-row-${job.id}` },
      h(
        "td",
        { class: "c-job" },
        h("div", { class: "job-type" }, job.type || "(no type)"),
        h("code", { class: "job-id", title: job.id }, job.id),
        h("div", null, age),
      ),
      h(
        "td",
        { class: "c-attempts num", "data-label": "Attempts" },
        h("span", { title: `${job.attempts} of ${job.max_attempts} attempts used` }, `${job.attempts}/${job.max_attempts}`),
      ),
      h("td", { class: "c-error", "data-label": "Last error" }, error),
      h("td", { class: "c-payload", "data-label": "Payload" }, payload),
      h("td", { class: "c-actions" }, h("div", { class: "row-actions" }, requeue, del)),
    );
    return { tr, age, ts: died || null };
  }
}
