// The job drawer of the browser: one job in full — every field, the last error with its attempt,
// the whole payload as pretty JSON (set as text, never as markup), and the state's actions.

import type { Api, Job } from "../api";
import type { BrowseApi } from "../browse-api";
import { ICONS, h, icon, setText } from "../dom";
import { prettyJson, relative, timestamp } from "../format";
import { errorMessage, toast } from "../toast";
import { flowHref } from "./flow";
import { stateBadge } from "./parts";

export class JobDrawer {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly title: HTMLElement;
  private job: Job | null = null;
  private seq = 0;
  private readonly times: Array<[HTMLElement, number]> = [];
  id: string | null = null;

  constructor(
    private readonly api: Api,
    private readonly browse: BrowseApi,
    private readonly queue: string,
    private readonly now: () => number,
    private readonly changed: () => void,
  ) {
    this.title = h("h3", { class: "drawer-title mono" }, "");
    const close = h("button", { type: "button", class: "btn btn-small", testid: "browse-drawer-close", "aria-label": "Close" }, "Close");
    close.addEventListener("click", () => this.close());
    this.body = h("div", { class: "drawer-body" });
    this.el = h(
      "aside",
      { class: "drawer", testid: "browse-drawer", hidden: true, "aria-label": "Job details" },
      h("div", { class: "drawer-head" }, this.title, close),
      this.body,
    );
  }

  async open(id: string): Promise<void> {
    this.id = id;
    this.el.hidden = false;
    setText(this.title, id);
    await this.reload();
  }

  close(): void {
    this.id = null;
    this.job = null;
    this.el.hidden = true;
    this.body.replaceChildren();
  }

  async reload(): Promise<void> {
    const id = this.id;
    if (id === null) return;
    const seq = ++this.seq;
    let job: Job | null = null;
    let problem: string | null = null;
    try {
      job = await this.api.job(this.queue, id);
    } catch (err) {
      problem = errorMessage(err);
    }
    if (seq !== this.seq || this.id !== id) return;
    this.job = job;
    this.render(problem);
  }

  tick(): void {
    const now = this.now();
    for (const [el, ts] of this.times) setText(el, relative(ts, now));
  }

  private render(problem: string | null): void {
    this.times.length = 0;
    const job = this.job;
    if (!job) {
      this.body.replaceChildren(h("p", { class: "muted", testid: "browse-drawer-gone" }, problem ?? "This job is gone."));
      return;
    }
    this.el.dataset["state"] = job.state;
    const rows: Array<[string, Node | string]> = [
      ["State", stateBadge(job.state)],
      ["Type", job.type],
      ["Priority", String(job.priority)],
      ["Attempts", `${job.attempts} of ${job.max_attempts}`],
      ["Created", this.when(job.created_at)],
    ];
    if (job.run_at !== null) rows.push(["Runs", this.when(job.run_at)]);
    if (job.started_at !== null) rows.push(["Started", this.when(job.started_at)]);
    if (job.state === "inflight") {
      rows.push(["Worker", h("span", { class: "mono", testid: "browse-drawer-worker" }, job.worker ?? "—")]);
      if (job.lease_deadline !== null) rows.push(["Lease ends", this.when(job.lease_deadline)]);
    }
    if (job.finished_at !== null) rows.push([job.state === "dead" ? "Died" : "Finished", this.when(job.finished_at)]);
    if (job.idempotency_key !== null) rows.push(["Idempotency key", job.idempotency_key]);
    const dl = h("dl", { class: "drawer-fields" });
    for (const [k, v] of rows) dl.append(h("dt", null, k), h("dd", null, v));
    const parts: Node[] = [dl];
    if (job.last_error !== null) {
      parts.push(
        h("h4", { class: "drawer-sub" }, `Last error (attempt ${job.attempts} of ${job.max_attempts})`),
        h("pre", { class: "pre pre-error", testid: "browse-drawer-error" }, job.last_error),
      );
    }
    parts.push(h("h4", { class: "drawer-sub" }, "Payload"), h("pre", { class: "pre pre-json drawer-payload", testid: "browse-drawer-payload" }, prettyJson(job.payload)));
    parts.push(this.actions(job));
    this.body.replaceChildren(...parts);
  }

  private when(ts: number): HTMLElement {
    const rel = h("span", { class: "muted" }, relative(ts, this.now()));
    this.times.push([rel, ts]);
    return h("span", { title: new Date(ts * 1000).toString() }, timestamp(ts), " · ", rel);
  }

  private actions(job: Job): HTMLElement {
    const { state, id } = job;
    const box = h("div", { class: "drawer-actions" });
    const button = (testid: string, label: string, paths: readonly string[], run: () => Promise<number>, done: string): void => {
      const b = h("button", { type: "button", class: "btn", testid }, icon([...paths]), label);
      b.addEventListener("click", () => {
        b.disabled = true;
        run()
          .then(() => {
            toast(done);
            this.changed();
            return this.reload();
          })
          .catch((err: unknown) => {
            toast(errorMessage(err), "error");
            void this.reload();
          });
      });
      box.append(b);
    };
    if (state === "delayed") button("browse-drawer-promote", "Run now", ICONS.play, () => this.browse.act(this.queue, id, "promote"), `Job ${id} is ready to run`);
    if (state === "dead") button("browse-drawer-requeue", "Requeue", ICONS.retry, () => this.browse.act(this.queue, id, "requeue"), `Job ${id} requeued`);
    if (state === "inflight" && job.cancel_requested) box.append(h("span", { class: "muted small", testid: "browse-drawer-cancelling" }, "cancelling…"));
    else if (state === "inflight") button("browse-drawer-cancel", "Cancel", ICONS.stop, () => this.api.cancel(this.queue, id).then(() => 1), `Job ${id} is being cancelled`);
    // A waiting job is a flow's parent: its flow shows what it waits for.
    if (state === "waiting") box.append(h("a", { class: "btn", testid: "browse-drawer-flow", href: flowHref(this.queue, id) }, "View flow"));
    if (state === "ready" || state === "delayed" || state === "dead") {
      button("browse-drawer-delete", "Delete", ICONS.trash, () => this.browse.remove(this.queue, id, state), `Job ${id} deleted`);
    }
    return box;
  }
}
