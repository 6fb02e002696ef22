// The view of one queue: pause/resume, rates and totals, depth and throughput charts, rate limit,
// job lookup and the dead set.

import type { Api, JobEvent, QueueStats } from "../api";
import { TimeChart } from "../charts";
import { ICONS, h, icon, setAttr, setText } from "../dom";
import { compact, exact, rate } from "../format";
import type { QueueEntry, Store } from "../store";
import { errorMessage, toast } from "../toast";
import { JobBrowser } from "./browser";
import { DeadSet } from "./deadset";
import { JobLookup } from "./lookup";
import { GroupList } from "./groups";
import { ScheduleList } from "./schedules";

export const WINDOWS: ReadonlyArray<[number, string]> = [
  [60, "1m"],
  [300, "5m"],
  [900, "15m"],
];

interface Tile {
  value: HTMLElement;
  sub: HTMLElement;
}

export class QueueView {
  readonly el: HTMLElement;
  private readonly title: HTMLElement;
  private readonly stateBadge: HTMLElement;
  private readonly toggle: HTMLButtonElement;
  private readonly tiles: Record<"enqueued" | "completed" | "failed" | "retried", Tile>;
  private readonly depth: TimeChart;
  private readonly throughput: TimeChart;
  private readonly lookup: JobLookup;
  private readonly dead: DeadSet;
  private readonly browser: JobBrowser;
  private readonly schedules: ScheduleList;
  private readonly groups: GroupList;
  private readonly rateCurrent: HTMLElement;
  private readonly rateInput: HTMLInputElement;
  private readonly burstInput: HTMLInputElement;
  private readonly rateClear: HTMLButtonElement;
  private readonly rateError: HTMLElement;
  private readonly winButtons: HTMLButtonElement[] = [];
  private busy = false;
  private stats: QueueStats;
  private rateKey = "";

  constructor(
    private readonly api: Api,
    private readonly store: Store,
    private readonly entry: QueueEntry,
    private windowSeconds: number,
    private readonly onWindow: (seconds: number) => void,
  ) {
    const name = entry.stats.name;
    this.stats = entry.stats;
    const now = (): number => this.store.now();

    // -- head
    this.title = h("h1", { class: "qview-title", title: name }, name);
    this.stateBadge = h("span", { class: "badge" });
    this.toggle = h("button", { type: "button", class: "btn" });
    this.toggle.addEventListener("click", () => void this.pauseResume());

    // -- rate tiles
    const tile = (label: string, cls: string, hint: string): [Tile, HTMLElement] => {
      const value = h("span", { class: "tile-value" }, "–");
      const sub = h("span", { class: "tile-sub" }, "");
      return [{ value, sub }, h("div", { class: `tile ${cls}`, title: hint }, h("span", { class: "tile-label" }, h("span", { class: "dot" }), label), value, sub)];
    };
    const [enq, enqEl] = tile("Enqueued", "tile-enqueued", "jobs enqueued per second (5 s average) and in total");
    const [comp, compEl] = tile("Completed", "tile-completed", "jobs completed per second (5 s average) and in total");
    const [fail, failEl] = tile("Failed", "tile-failed", "failed attempts per second (5 s average) and in total; a failed attempt is retried or dead-lettered");
    const [retr, retrEl] = tile("Retried", "tile-retried", "retries in total, and jobs dead-lettered in total");
    this.tiles = { enqueued: enq, completed: comp, failed: fail, retried: retr };

    // -- charts
    const h_ = entry.history;
    const slice = <T>(arr: T[]): T[] => arr.slice(h_.indexFrom(this.store.now() - this.windowSeconds - 2));
    const depthBox = h("div", { class: "chart", testid: "chart-depth" });
    const tputBox = h("div", { class: "chart", testid: "chart-throughput" });
    const winGroup = h("div", { class: "segmented", role: "group", "aria-label": "Chart window" });
    for (const [seconds, label] of WINDOWS) {
      const b = h("button", { type: "button", class: "seg", testid: `window-${label}`, "aria-pressed": String(seconds === windowSeconds) }, label);
      b.addEventListener("click", () => {
        this.windowSeconds = seconds;
        for (const x of this.winButtons) x.setAttribute("aria-pressed", String(x === b));
        this.onWindow(seconds);
        this.render();
      });
      this.winButtons.push(b);
      winGroup.appendChild(b);
    }
    const chartPanel = (title: string, box: HTMLElement, extra?: Node): HTMLElement =>
      h("section", { class: "panel chart-panel" }, h("div", { class: "panel-head" }, h("h2", { class: "panel-title" }, title), extra ?? null), box);

    // -- rate limit
    this.rateCurrent = h("p", { class: "rate-current", testid: "rate-current" }, "");
    this.rateInput = h("input", { type: "number", class: "input num", testid: "rate-input", id: "rate-input", min: "0", step: "any", inputmode: "decimal", placeholder: "e.g. 50" });
    this.burstInput = h("input", { type: "number", class: "input num", testid: "burst-input", id: "burst-input", min: "1", step: "1", inputmode: "numeric", placeholder: "= rate" });
    this.rateError = h("p", { class: "field-error", role: "alert" }, "");
    this.rateClear = h("button", { type: "button", class: "btn", testid: "rate-clear" }, "Clear");
    this.rateClear.addEventListener("click", () => void this.clearRate());
    const rateForm = h(
      "form",
      { class: "rate-form", novalidate: true },
      h("label", { class: "field" }, h("span", { class: "label" }, "Rate (jobs/s)"), this.rateInput),
      h("label", { class: "field" }, h("span", { class: "label" }, "Burst"), this.burstInput),
      h("div", { class: "field field-actions" }, h("button", { type: "submit", class: "btn btn-primary", testid: "rate-set" }, "Set"), this.rateClear),
    );
    rateForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.setRate();
    });

    this.lookup = new JobLookup(api, name, now);
    this.dead = new DeadSet(api, name, now);
    this.browser = new JobBrowser(api, name, now);
    this.schedules = new ScheduleList(api, name, now);
    this.groups = new GroupList(api, name, (g) => this.browser.showGroup(g));

    this.el = h(
      "div",
      { class: "qview", testid: "queue-view", "data-queue": name },
      h("div", { class: "qview-head" }, h("div", { class: "qview-name" }, this.title, this.stateBadge), h("div", { class: "qview-actions" }, this.toggle)),
      h("div", { class: "tiles" }, enqEl, compEl, failEl, retrEl),
      h("div", { class: "grid-2" }, chartPanel("Depth", depthBox, winGroup), chartPanel("Throughput", tputBox)),
      h(
        "div",
        { class: "grid-2 grid-tools" },
        h(
          "section",
          { class: "panel", testid: "rate-limit" },
          h("div", { class: "panel-head" }, h("h2", { class: "panel-title" }, "Rate limit")),
          this.rateCurrent,
          rateForm,
          this.rateError,
        ),
        this.lookup.el,
      ),
      this.browser.el,
      this.groups.el,
      this.schedules.el,
      this.dead.el,
    );

    this.depth = new TimeChart(
      depthBox,
      {
        height: 180,
        format: (v) => exact(v),
        series: [
          { label: "ready", color: "--c-ready", fill: true, values: () => slice(h_.ready) },
          { label: "delayed", color: "--c-delayed", values: () => slice(h_.delayed) },
          { label: "in flight", color: "--c-inflight", values: () => slice(h_.inflight) },
          { label: "dead", color: "--c-dead", show: false, values: () => slice(h_.dead) },
        ],
      },
      () => slice(h_.ts),
    );
    this.throughput = new TimeChart(
      tputBox,
      {
        height: 180,
        format: (v) => rate(v),
        series: [
          { label: "completed/s", color: "--c-completed", fill: true, values: () => slice(h_.completedRate) },
          { label: "failed/s", color: "--c-failed", values: () => slice(h_.failedRate) },
          { label: "enqueued/s", color: "--c-enqueued", dash: true, values: () => slice(h_.enqueuedRate) },
        ],
      },
      () => slice(h_.ts),
    );
    this.render();
  }

  get name(): string {
    return this.entry.stats.name;
  }

  destroy(): void {
    this.depth.destroy();
    this.throughput.destroy();
    this.dead.destroy();
    this.schedules.destroy();
    this.groups.destroy();
    this.lookup.destroy();
    this.browser.destroy();
  }

  rebuildCharts(): void {
    this.depth.build();
    this.throughput.build();
    this.render();
  }

  onJobEvent(e: JobEvent): void {
    this.dead.onJobEvent(e);
    this.lookup.onJobEvent(e);
    this.browser.onJobEvent(e);
  }

  tick(): void {
    this.dead.tick();
    this.schedules.tick();
    this.groups.tick();
    this.lookup.tick();
    this.browser.tick();
  }

  render(): void {
    const s = this.entry.stats;
    this.stats = s;
    setAttr(this.el, "data-paused", String(s.paused));
    setText(this.stateBadge, s.paused ? "paused" : "running");
    this.stateBadge.className = `badge ${s.paused ? "badge-paused" : "badge-running"}`;
    setAttr(this.stateBadge, "title", s.paused ? "Workers claim nothing from this queue until it is resumed" : "Workers are claiming jobs from this queue");
    const toggleKey = s.paused ? "resume" : "pause";
    if (this.toggle.dataset["testid"] !== toggleKey) {
      this.toggle.dataset["testid"] = toggleKey;
      this.toggle.className = s.paused ? "btn btn-primary" : "btn";
      this.toggle.replaceChildren(icon([...(s.paused ? ICONS.play : ICONS.pause)]), s.paused ? "Resume" : "Pause");
      this.toggle.title = s.paused ? "Let workers claim jobs again" : "Stop workers from claiming jobs; running jobs finish";
    }
    this.toggle.disabled = this.busy;

    const r = this.entry.history.rates();
    const t = s.totals;
    this.setTile("enqueued", rate(r.enqueued), `${compact(t.enqueued)} total`);
    this.setTile("completed", rate(r.completed), `${compact(t.completed)} total · ${compact(t.cancelled)} cancelled`);
    this.setTile("failed", rate(r.failed), `${compact(t.failed)} total`);
    this.setTile("retried", compact(t.retried), `${compact(t.dead)} dead-lettered`);

    this.renderRateLimit(s);
    this.dead.setCount(s.counts.dead);
    this.browser.setCounts(s.counts);
    const now = this.store.serverTs ?? this.store.now();
    this.depth.update(now, this.windowSeconds);
    this.throughput.update(now, this.windowSeconds);
  }

  private setTile(key: keyof QueueView["tiles"], value: string, sub: string): void {
    const tile = this.tiles[key];
    setText(tile.value, value);
    setText(tile.sub, sub);
  }

  private renderRateLimit(s: QueueStats): void {
    const rl = s.rate_limit;
    const key = rl ? `${rl.rate}/${rl.burst}` : "none";
    if (key === this.rateKey) return;
    this.rateKey = key;
    this.rateCurrent.replaceChildren();
    if (rl) {
      this.rateCurrent.append(
        "Limited to ",
        h("strong", null, `${rl.rate} jobs/s`),
        ", bursts of ",
        h("strong", null, String(rl.burst)),
        ".",
      );
    } else {
      this.rateCurrent.append("No limit: workers claim as fast as they can.");
    }
    this.rateClear.disabled = rl === null;
    // Prefill with the current values unless the person is typing.
    const active = document.activeElement;
    if (active !== this.rateInput && active !== this.burstInput) {
      this.rateInput.value = rl ? String(rl.rate) : "";
      this.burstInput.value = rl ? String(rl.burst) : "";
    }
  }

  private async pauseResume(): Promise<void> {
    if (this.busy) return;
    const resume = this.stats.paused;
    this.busy = true;
    this.toggle.disabled = true;
    try {
      const q = resume ? await this.api.resume(this.name) : await this.api.pause(this.name);
      if (q) this.store.applyQueue(q);
      else this.store.applyQueue({ ...this.stats, paused: !resume });
      toast(resume ? `Resumed ${this.name}` : `Paused ${this.name}: workers claim nothing until resumed`);
    } catch (err) {
      toast(`Could not ${resume ? "resume" : "pause"} ${this.name}: ${errorMessage(err)}`, "error");
    } finally {
      this.busy = false;
      this.render();
    }
  }

  private async setRate(): Promise<void> {
    const rateVal = Number(this.rateInput.value);
    const burstText = this.burstInput.value.trim();
    if (this.rateInput.value.trim() === "" || !Number.isFinite(rateVal) || rateVal <= 0) {
      this.rateError.textContent = "Rate must be a number above 0 (jobs per second).";
      this.rateInput.focus();
      return;
    }
    const burst = burstText === "" ? Math.max(1, Math.ceil(rateVal)) : Number(burstText);
    if (!Number.isInteger(burst) || burst < 1) {
      this.rateError.textContent = "Burst must be a whole number of at least 1.";
      this.burstInput.focus();
      return;
    }
    this.rateError.textContent = "";
    try {
      const q = await this.api.setRateLimit(this.name, rateVal, burst);
      if (q) this.store.applyQueue(q);
      (document.activeElement as HTMLElement | null)?.blur();
      this.rateKey = "";
      this.render();
      toast(`Rate limit of ${this.name} set to ${rateVal}/s, burst ${burst}`);
    } catch (err) {
      this.rateError.textContent = errorMessage(err);
    }
  }

  private async clearRate(): Promise<void> {
    this.rateError.textContent = "";
    try {
      const q = await this.api.clearRateLimit(this.name);
      if (q) this.store.applyQueue(q);
      this.rateKey = "";
      this.render();
      toast(`Rate limit of ${this.name} removed`);
    } catch (err) {
      this.rateError.textContent = errorMessage(err);
    }
  }
}
