// Job lookup by id within the selected queue: state, progress, attempts, timestamps, last error,
// result, payload, and a Cancel button while the job is unfinished. The result refreshes by
// itself when the live stream reports an event for that job (progress included).

import { type Api, ApiError, type Job, type JobEvent, type JsonValue } from "../api";
import { ICONS, h, icon } from "../dom";
import { duration, errorSummary, prettyJson, relative, timestamp } from "../format";
import { errorMessage, toast } from "../toast";
import { flowHref } from "./flow";
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
      const card = this.render(job);
      this.result.replaceChildren(card);
      void this.flowLink(card, job.id, seq);
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

  /** A link to the flow view when the job belongs to a flow (reachable from any of its jobs). */
  private async flowLink(card: HTMLElement, id: string, seq: number): Promise<void> {
    try {
      const tree = await this.api.flow(this.queue, id);
      if (seq !== this.seq || !tree || tree.jobs.length < 2) return;
      const link = h("a", { class: "btn btn-small", testid: "job-flow-link", href: flowHref(this.queue, id) }, `View flow (${tree.jobs.length} jobs)`);
      card.querySelector(".job-card-head")?.appendChild(link);
    } catch {
      /* no flow view for this job: the card stands as it is */
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
      h("div", { class: "job-card-head" }, h("code", { class: "job-id", testid: "job-result-id" }, job.id), stateBadge(job.state), this.cancelButton(job)),
      h(
        "dl",
        { class: "kv" },
        ...(job.progress !== null ? item("Progress", progressView(job.progress)) : []),
        ...item("Type", job.type || "(no type)"),
        ...item("Attempts", h("span", { testid: "job-attempts" }, `${job.attempts} of ${job.max_attempts}`)),
        ...item("Priority", String(job.priority)),
        ...item("Timeout", duration(job.timeout_ms / 1000)),
        ...when("Created", job.created_at),
        ...when("Run at", job.run_at),
        ...when("Started", job.started_at),
        ...when("Finished", job.finished_at),
        ...(job.group !== null ? item("Group", h("code", { testid: "job-group" }, job.group)) : []),
        ...item("Idempotency key", job.idempotency_key === null ? h("span", { class: "muted" }, "—") : h("code", null, job.idempotency_key)),
      ),
      job.last_error
        ? h("div", { class: "kv-block" }, h("div", { class: "label" }, "Last error"), expandableText(job.last_error, { cls: "pre-error", testid: "job-error", summary: errorSummary(job.last_error), maxLines: 6, maxChars: 600 }))
        : false,
      job.state === "completed" && job.result_error === null && job.result !== null
        ? h("div", { class: "kv-block" }, h("div", { class: "label" }, "Result"), expandableText(prettyJson(job.result), { cls: "pre-json", testid: "job-output", maxLines: 12, maxChars: 800 }))
        : false,
      job.result_error !== null
        ? h("div", { class: "kv-block" }, h("div", { class: "label" }, "Result not kept"), h("p", { class: "muted small", testid: "job-result-error" }, job.result_error))
        : false,
      h("div", { class: "kv-block" }, h("div", { class: "label" }, "Payload"), expandableText(prettyJson(job.payload), { cls: "pre-json", testid: "job-payload", maxLines: 12, maxChars: 800 })),
    );
  }

  private cancelButton(job: Job): Node | false {
    if (job.state === "completed" || job.state === "dead" || job.state === "cancelled") return false;
    if (job.cancel_requested) return h("span", { class: "muted small", testid: "job-cancelling" }, "cancelling…");
    const btn = h("button", { type: "button", class: "btn btn-small btn-danger", testid: "job-cancel" }, "Cancel");
    btn.addEventListener("click", () => {
      btn.disabled = true;
      void this.api
        .cancel(this.queue, job.id)
        .then((state) => {
          toast(state === "cancelled" ? `Job ${job.id} cancelled` : `Job ${job.id} is being cancelled`);
          return this.lookup(job.id, true);
        })
        .catch((err: unknown) => {
          btn.disabled = false;
          toast(`Cancel failed: ${errorMessage(err)}`, "error");
        });
    });
    return btn;
  }
}

/** A number 0-100 as a bar and a percentage; anything else as JSON text. */
function progressView(p: JsonValue): Node {
  if (typeof p === "number") {
    const pct = Math.max(0, Math.min(100, p));
    const fill = h("span", null);
    fill.style.width = `${pct}%`; // CSSOM, not a style attribute: allowed by the strict CSP
    const bar = h("span", { class: "progress-bar", role: "progressbar", "aria-valuenow": String(pct), "aria-valuemin": "0", "aria-valuemax": "100" }, fill);
    return h("span", { testid: "job-progress", "data-value": String(p) }, bar, `${Math.round(pct * 10) / 10} %`);
  }
  return h("code", { testid: "job-progress", "data-value": JSON.stringify(p) }, JSON.stringify(p));
}
