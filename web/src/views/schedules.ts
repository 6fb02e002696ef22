// The schedules of one queue: when each fires, its next and last run and last job, and the
// actions pause/resume, trigger (one job now) and delete. Reloaded every few seconds while
// shown and after each action; the relative times tick every second.

import { type Api, ApiError, type Schedule } from "../api";
import { ICONS, h, icon, setText } from "../dom";
import { relative, timestamp } from "../format";
import { errorMessage, toast } from "../toast";
import { Reloader, countedPanel, emptyState } from "./parts";

/** the list is reloaded at most this often */
const REFRESH_MS = 3000;

interface Row {
  tr: HTMLTableRowElement;
  next: HTMLElement;
  last: HTMLElement;
  key: string;
}

export function when(s: Schedule): string {
  if (s.every_ms !== null) return s.every_ms % 1000 === 0 ? `every ${s.every_ms / 1000} s` : `every ${s.every_ms} ms`;
  return s.timezone === "UTC" ? `${s.cron ?? ""}` : `${s.cron ?? ""} (${s.timezone})`;
}

export class ScheduleList {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly countEl: HTMLElement;
  private readonly data: Reloader<Schedule[]>;
  private readonly rows = new Map<string, Row>();

  constructor(
    private readonly api: Api,
    private readonly queue: string,
    private readonly now: () => number,
  ) {
    const panel = countedPanel({ cls: "sched", testid: "schedules", id: "sched-title", title: "Schedules", countTestid: "schedule-count", bodyCls: "sched-body" });
    ({ el: this.el, count: this.countEl, body: this.body } = panel);
    this.data = new Reloader(() => this.api.schedules(this.queue), REFRESH_MS, () => this.render());
    this.render();
    void this.data.reload();
  }

  destroy(): void {
    this.data.stop();
  }

  private get schedules(): Schedule[] {
    return this.data.value ?? [];
  }

  /** Every second: relative times, and a reload when the last one is old enough. */
  tick(): void {
    const now = this.now();
    for (const [name, row] of this.rows) {
      const s = this.schedules.find((x) => x.name === name);
      if (!s) continue;
      setText(row.next, s.paused ? "paused" : s.next_run_at === null ? "–" : s.next_run_at <= now ? "due now" : relative(s.next_run_at, now));
      setText(row.last, s.last_run_at !== null ? relative(s.last_run_at, now) : "never");
    }
    this.data.tick();
  }

  private render(): void {
    setText(this.countEl, this.schedules.length > 0 ? String(this.schedules.length) : "");
    if (this.data.value === null) {
      this.rows.clear();
      this.body.replaceChildren(
        this.data.error
          ? emptyState("Could not load the schedules", this.data.error)
          : h("p", { class: "muted loading" }, "Loading schedules…"),
      );
      return;
    }
    if (this.schedules.length === 0) {
      this.rows.clear();
      if (!this.body.querySelector(".empty-state")) {
        this.body.replaceChildren(
          emptyState(
            "No schedules",
            "A schedule enqueues a job on a cron expression or every N ms, one job per tick, " +
              "fired by the workers. Declare one with @task(..., schedule=relay.Cron(\"0 6 * * *\")) or:",
            h("pre", { class: "pre pre-json" }, `curl -X PUT ${location.origin}/api/queues/${encodeURIComponent(this.queue)}/schedules/nightly \\\n  -H 'Content-Type: application/json' \\\n  -d '{"cron": "0 6 * * *", "timezone": "Europe/Paris", "type": "report"}'`),
          ),
        );
      }
      return;
    }
    let tbody = this.body.querySelector("tbody");
    if (!tbody) {
      tbody = h("tbody");
      const head = h(
        "tr",
        null,
        ...["Schedule", "When", "Next run", "Last run", "Last job"].map((t) => h("th", { scope: "col" }, t)),
        h("th", { scope: "col", class: "c-actions" }, h("span", { class: "sr-only" }, "Actions")),
      );
      this.body.replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "table sched-table" }, h("thead", null, head), tbody)));
    }
    const keep = new Set<string>();
    let prev: Element | null = null;
    for (const s of this.schedules) {
      keep.add(s.name);
      const key = JSON.stringify([s.type, s.cron, s.every_ms, s.timezone, s.paused, s.next_run_at, s.last_run_at, s.last_job_id]);
      let row = this.rows.get(s.name);
      if (!row || row.key !== key) {
        const fresh = this.row(s, key);
        if (row) row.tr.replaceWith(fresh.tr);
        row = fresh;
        this.rows.set(s.name, row);
      }
      const expected: ChildNode | null = prev ? prev.nextSibling : tbody.firstChild;
      if (expected !== row.tr) tbody.insertBefore(row.tr, expected);
      prev = row.tr;
    }
    for (const [name, row] of this.rows) {
      if (!keep.has(name)) {
        row.tr.remove();
        this.rows.delete(name);
      }
    }
    this.tick();
  }

  private row(s: Schedule, key: string): Row {
    const next = h("span", { testid: `sched-next-${s.name}` }, "");
    const last = h("span", { testid: `sched-last-${s.name}` }, "");
    const toggle = h(
      "button",
      { type: "button", class: "btn btn-small", testid: `sched-toggle-${s.name}`, title: s.paused ? "Tick again, from now" : "Stop the ticks" },
      icon([...(s.paused ? ICONS.play : ICONS.pause)]),
      s.paused ? "Resume" : "Pause",
    );
    const trigger = h(
      "button",
      { type: "button", class: "btn btn-small", testid: `sched-trigger-${s.name}`, title: "Enqueue its job now; the ticks are unchanged" },
      icon([...ICONS.play]),
      "Run now",
    );
    const del = h(
      "button",
      { type: "button", class: "btn btn-small btn-danger", testid: `sched-delete-${s.name}`, title: "Delete the schedule (its jobs stay)" },
      icon([...ICONS.trash]),
      "Delete",
    );
    const buttons = [toggle, trigger, del];
    toggle.addEventListener("click", () => void this.act(s, s.paused ? "resume" : "pause", buttons));
    trigger.addEventListener("click", () => void this.act(s, "trigger", buttons));
    del.addEventListener("click", () => void this.act(s, "delete", buttons));
    const title = s.next_run_at !== null ? timestamp(s.next_run_at) : "";
    const tr = h(
      "tr",
      { testid: `schedule-${s.name}`, class: s.paused ? "is-paused" : "" },
      h("td", null, h("strong", null, s.name), s.type !== s.name ? h("span", { class: "muted small" }, ` → ${s.type}`) : null),
      h("td", null, h("code", null, when(s))),
      h("td", { title }, next),
      h("td", { title: s.last_run_at !== null ? timestamp(s.last_run_at) : "" }, last),
      h("td", null, s.last_job_id !== null ? h("code", { class: "small", testid: `sched-job-${s.name}` }, s.last_job_id) : h("span", { class: "muted" }, "–")),
      h("td", { class: "c-actions" }, h("div", { class: "row-actions" }, ...buttons)),
    );
    return { tr, next, last, key };
  }

  private async act(s: Schedule, kind: "pause" | "resume" | "trigger" | "delete", buttons: HTMLButtonElement[]): Promise<void> {
    for (const b of buttons) b.disabled = true;
    try {
      if (kind === "trigger") {
        const id = await this.api.triggerSchedule(this.queue, s.name);
        toast(`Enqueued job ${id ?? ""} from ${s.name}`);
      } else if (kind === "delete") {
        await this.api.deleteSchedule(this.queue, s.name);
        toast(`Deleted schedule ${s.name}`);
      } else {
        await this.api.pauseSchedule(this.queue, s.name, kind === "pause");
        toast(kind === "pause" ? `Paused ${s.name}` : `Resumed ${s.name}`);
      }
    } catch (err) {
      const gone = err instanceof ApiError && err.status === 404;
      toast(gone ? `Schedule ${s.name} no longer exists` : `Could not ${kind} ${s.name}: ${errorMessage(err)}`, gone ? "info" : "error");
    } finally {
      for (const b of buttons) b.disabled = false;
      await this.data.reload();
    }
  }
}
