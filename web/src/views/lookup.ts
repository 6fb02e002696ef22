// Job lookup by id within the selected queue: state, attempts, timestamps, last error, payload.
// The result refreshes by itself when the live stream reports an event for that job.

import { type Api, ApiError, type Job, type JobEvent } from "../api";
import { ICONS, h, icon } from "../dom";
import { duration, errorSummary, prettyJson, relative, timestamp } from "../format";
import { errorMessage } from "../toast";
import { expandableText, stateBadge } from "./parts";

export class JobLookup {
  readonly el: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly result: HTMLElement;
  private current: string | null = null;
  private seq = 0;
  private refreshTimer: number | null = null;
  private lastJob: Job | null = null;

  constructor(
    private readonly api: Api,
    private readonly queue: string,
    private readonly now: () => number,
  ) {
    this.input = h("input", {
      type: "search",
      class: "input mono",
      testid: "job-lookup",
      id: "job-lookup",
      placeholder: "Job id",
      autocomplete: "off",
      spellcheck: "false",
      "aria-label": `Job id in queue ${queue}`,
    });
    const form = h(
      "form",
      { class: "inline-form", role: "search" },
      this.input,
      h("button", { type: "submit", class: "btn", testid: "job-lookup-submit" }, icon([...ICONS.search]), "Look up"),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const id = this.input.value.trim();
      if (id) void this.lookup(id);
    });
    this.result = h("div", { class: "lookup-result" }, h("p", { class: "muted small" }, `Find any job of “${queue}” by its id: its state, attempts, timestamps and last error.`));
    this.el = h(
      "section",
      { class: "panel lookup", "aria-labelledby": "lookup-title" },
      h("div", { class: "panel-head" }, h("h2", { class: "panel-title", id: "lookup-title" }, "Job lookup")),
      form,
      this.result,
    );
  }

  destroy(): void {
    if (this.refreshTimer !== null) window.clearTimeout(this.refreshTimer);
    this.seq++;
  }

  onJobEvent(e: JobEvent): void {
    if (this.current === null || e.queue !== this.queue || !e.ids.includes(this.current)) return;
    if (this.refreshTimer !== null) return;
    const id = this.current;
    this.refreshTimer = window.setTimeout(() => {
      this.refreshTimer = null;
      if (this.current === id) void this.lookup(id, true);
    }, 300);
  }

  tick(): void {
    if (this.lastJob) {
      for (const el of this.result.querySelectorAll<HTMLElement>("[data-ts]")) {
        const ts = Number(el.dataset["ts"]);
        el.textContent = relative(ts, this.now());
      }
    }
  }

  private async lookup(id: string, quiet = false): Promise<void> {
    const seq = ++this.seq;
    this.current = id;
    if (!quiet) this.result.replaceChildren(h("p", { class: "muted small", testid: "job-result" }, "Looking up…"));
    try {
      const job = await this.api.job(this.queue, id);
      if (seq !== this.seq) return;
      if (!job) throw new ApiError(500, "bad_response", "The server sent something that is not a job.");
      this.lastJob = job;
      this.result.replaceChildren(this.render(job));
    } catch (err) {
      if (seq !== this.seq) return;
      this.lastJob = null;
      const msg =
        err instanceof ApiError && err.status === 404
          ? `No job “${id}” in queue “${this.queue}”. It may never have existed, or it completed and was cleaned up.`
          : `Lookup failed: ${errorMessage(err)}`;
      this.result.replaceChildren(h("p", { class: "lookup-miss", testid: "job-result", "data-state": "not-found" }, msg));
    }
  }

  private render(job: Job): HTMLElement {
    const when = (label: string, ts: number | null): Node[] => [
      h("dt", null, label),
      h(
        "dd",
        null,
        ts === null
          ? h("span", { class: "muted" }, "—")
          : h("span", null, timestamp(ts), " ", h("span", { class: "muted small", "data-ts": String(ts) }, relative(ts, this.now()))),
      ),
    ];
    const item = (label: string, value: Node | string): Node[] => [h("dt", null, label), h("dd", null, value)];
    return h(
      "div",
      { class: "job-card", testid: "job-result", "data-state": job.state },
      h("div", { class: "job-card-head" }, h("code", { class: "job-id", testid: "job-result-id" }, job.id), stateBadge(job.state)),
      h(
        "dl",
        { class: "kv" },
        ...item("Type", job.type || "(no type)"),
        ...item("Attempts", h("span", { testid: "job-attempts" }, `${job.attempts} of ${job.max_attempts}`)),
        ...item("Priority", String(job.priority)),
        ...item("Timeout", duration(job.timeout_ms / 1000)),
        ...when("Created", job.created_at),
        ...when("Run at", job.run_at),
        ...when("Started", job.started_at),
        ...when("Finished", job.finished_at),
        ...item("Idempotency key", job.idempotency_key === null ? h("span", { class: "muted" }, "—") : h("code", null, job.idempotency_key)),
      ),
      job.last_error
        ? h("div", { class: "kv-block" }, h("div", { class: "label" }, "Last error"), expandableText(job.last_error, { cls: "pre-error", testid: "job-error", summary: errorSummary(job.last_error), maxLines: 6, maxChars: 600 }))
        : false,
      h("div", { class: "kv-block" }, h("div", { class: "label" }, "Payload"), expandableText(prettyJson(job.payload), { cls: "pre-json", testid: "job-payload", maxLines: 12, maxChars: 800 })),
    );
  }
}
