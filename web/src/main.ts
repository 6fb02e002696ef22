// Entry point: lays out the page, routes #/q/<name>, and keeps the views in step with the store.

import { Api } from "./api";
import { Auth } from "./auth";
import { h, setAttr, setText } from "./dom";
import { clock, rate } from "./format";
import { LiveConnection } from "./live";
import { Store } from "./store";
import { Theme } from "./theme";
import { QueueCard, queueHref } from "./views/card";
import { FlowView, flowFromHash } from "./views/flow";
import { emptyState } from "./views/parts";
import { QueueView, WINDOWS } from "./views/queue";

const WINDOW_KEY = "relay.window";

function storedWindow(): number {
  try {
    const v = Number(localStorage.getItem(WINDOW_KEY));
    return WINDOWS.some(([s]) => s === v) ? v : 300;
  } catch {
    return 300;
  }
}

function selectedFromHash(): string | null {
  const m = /^#\/q\/(.+)$/.exec(location.hash);
  if (!m || m[1] === undefined) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

class App {
  private readonly store = new Store();
  private readonly auth = new Auth();
  private readonly api = new Api(this.auth);
  private readonly theme = new Theme();
  private readonly live = new LiveConnection(this.api, this.auth, this.store);
  private readonly cards = new Map<string, QueueCard>();
  private view: QueueView | null = null;
  private flow: FlowView | null = null;
  private windowSeconds = storedWindow();

  private readonly conn = h("span", { class: "conn-label", testid: "conn" }, "disconnected");
  private readonly connBox = h("div", { class: "conn is-down", role: "status", "aria-live": "polite" });
  private readonly connDetail = h("span", { class: "conn-detail", testid: "conn-detail" }, "");
  private readonly banner = h("div", { class: "banner", hidden: true, testid: "disconnected-banner" });
  private readonly summary = h("div", { class: "summary" });
  private readonly list = h("nav", { class: "queue-list", "aria-label": "Queues" });
  private readonly listCount = h("span", { class: "panel-count" }, "");
  private readonly main = h("main", { class: "main", id: "main" });
  private mainKey = "";

  mount(root: HTMLElement): void {
    this.connBox.append(h("span", { class: "conn-dot", "aria-hidden": "true" }), this.conn);
    const header = h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "#/" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), h("span", { class: "brand-name" }, "relay")),
      this.summary,
      h("div", { class: "topbar-right" }, this.connDetail, this.connBox, this.theme.button),
    );
    const sidebar = h(
      "aside",
      { class: "sidebar" },
      h("div", { class: "sidebar-head" }, h("h2", { class: "sidebar-title" }, "Queues", this.listCount)),
      this.list,
    );
    root.replaceChildren(header, this.banner, h("div", { class: "layout" }, sidebar, this.main));

    this.store.subscribe(() => this.render());
    this.store.onJob((e) => {
      this.view?.onJobEvent(e);
      this.flow?.onJobEvent(e);
    });
    this.theme.onChange(() => {
      this.view?.rebuildCharts();
      this.render();
    });
    window.addEventListener("hashchange", () => this.render());
    window.setInterval(() => {
      this.view?.tick();
      this.renderConn();
    }, 1000);
    this.render();
    this.live.start();
  }

  private selected(): string | null {
    const fromHash = selectedFromHash();
    if (fromHash !== null) return fromHash;
    return this.store.sortedNames()[0] ?? null;
  }

  private render(): void {
    this.renderConn();
    const names = this.store.sortedNames();
    const selected = this.selected();
    this.renderSummary();
    this.renderList(names, selected);
    this.renderMain(names, selected);
  }

  private renderConn(): void {
    const c = this.store.conn;
    const live = c.state === "live";
    setText(this.conn, live ? "live" : "disconnected");
    this.connBox.classList.toggle("is-live", live);
    this.connBox.classList.toggle("is-down", !live);
    setAttr(this.connBox, "title", live ? "Receiving live updates from the server" : `Disconnected: ${c.detail}`);
    setText(this.connDetail, live ? "" : c.detail);
    document.body.classList.toggle("is-disconnected", !live && this.store.loaded);
    const showBanner = !live && this.store.loaded;
    this.banner.hidden = !showBanner;
    if (showBanner) {
      const asOf = c.lastTs !== null ? ` Figures are from ${clock(c.lastTs)}.` : "";
      setText(this.banner, `Not connected to the relay server (${c.detail}).${asOf}`);
    }
  }

  private renderSummary(): void {
    let completed = 0;
    let failed = 0;
    let measured = false;
    for (const e of this.store.queues.values()) {
      const r = e.history.rates();
      if (r.completed !== null) measured = true;
      completed += r.completed ?? 0;
      failed += r.failed ?? 0;
    }
    const key = `${this.store.loaded}|${measured}|${rate(completed)}|${rate(failed)}|${this.store.queues.size}`;
    if (this.summary.dataset["key"] === key) return;
    this.summary.dataset["key"] = key;
    if (!this.store.loaded) {
      this.summary.replaceChildren();
      return;
    }
    const n = this.store.queues.size;
    this.summary.replaceChildren(
      h("span", { class: "summary-item" }, h("strong", null, String(n)), n === 1 ? " queue" : " queues"),
      h("span", { class: "summary-item rate-completed", title: "completed per second, all queues" }, h("span", { class: "dot" }), h("strong", null, measured ? rate(completed) : "–/s"), " done"),
      h("span", { class: `summary-item rate-failed${failed > 0 ? " is-active" : ""}`, title: "failed attempts per second, all queues" }, h("span", { class: "dot" }), h("strong", null, measured ? rate(failed) : "–/s"), " failed"),
    );
  }

  private renderList(names: string[], selected: string | null): void {
    setText(this.listCount, this.store.loaded ? String(names.length) : "");
    for (const [name, card] of this.cards) {
      if (!this.store.queues.has(name)) {
        card.el.remove();
        this.cards.delete(name);
      }
    }
    if (names.length === 0) {
      if (!this.list.querySelector(".list-empty")) {
        this.list.replaceChildren(
          h("p", { class: "muted small list-empty" }, this.store.loaded ? "No queues yet." : "Waiting for the server…"),
        );
      } else {
        setText(this.list.querySelector(".list-empty") as Element, this.store.loaded ? "No queues yet." : "Waiting for the server…");
      }
      return;
    }
    this.list.querySelector(".list-empty")?.remove();
    let prev: Element | null = null;
    const now = this.store.serverTs ?? this.store.now();
    for (const name of names) {
      const entry = this.store.queues.get(name);
      if (!entry) continue;
      let card = this.cards.get(name);
      if (!card) {
        card = new QueueCard(name);
        this.cards.set(name, card);
      }
      const expected: ChildNode | null = prev ? prev.nextSibling : this.list.firstChild;
      if (expected !== card.el) this.list.insertBefore(card.el, expected);
      prev = card.el;
      card.update(entry, name === selected, now, this.windowSeconds);
    }
  }

  private renderMain(names: string[], selected: string | null): void {
    const flow = flowFromHash(location.hash);
    if (flow !== null) {
      this.showFlow(flow[0], flow[1]);
      return;
    }
    if (!this.store.loaded) {
      this.setMain("loading", () =>
        emptyState("Connecting to the relay server…", "Live figures appear here as soon as the server answers."),
      );
      return;
    }
    if (names.length === 0) {
      this.setMain("empty", () =>
        emptyState(
          "No queues yet",
          "A queue appears here as soon as the first job is enqueued to it, for example:",
          h("pre", { class: "pre pre-json" }, `curl -X POST ${location.origin}/api/queues/default/jobs \\\n  -H 'Content-Type: application/json' \\\n  -d '{"type": "hello", "payload": {"name": "world"}}'`),
          h("p", { class: "muted" }, "Or run ", h("code", null, "relay demo"), " to see the whole system at work."),
        ),
      );
      return;
    }
    const entry = selected !== null ? this.store.queues.get(selected) : undefined;
    if (!entry || selected === null) {
      this.setMain(`missing:${selected ?? ""}`, () => {
        const back = h("a", { href: queueHref(names[0] ?? ""), class: "btn" }, `Open ${names[0] ?? ""}`);
        return emptyState(`No queue named “${selected ?? ""}”`, "It may have been removed, or the link has a typo.", back);
      });
      return;
    }
    if (!this.view || this.view.name !== selected || this.mainKey !== `queue:${selected}`) {
      const switching = this.view !== null;
      this.view?.destroy();
      this.view = null;
      this.mainKey = `queue:${selected}`;
      if (switching) window.scrollTo(0, 0);
      const view = new QueueView(this.api, this.store, entry, this.windowSeconds, (s) => this.setWindow(s));
      this.view = view;
      this.main.replaceChildren(view.el);
      // uPlot measured a detached container; size it now that it is in the page
      view.rebuildCharts();
      document.title = `${selected} · relay`;
      return;
    }
    this.view.render();
  }

  private showFlow(queue: string, id: string): void {
    const key = `flow:${queue}/${id}`;
    if (this.mainKey === key) return;
    this.setMain(key, () => {
      this.flow = new FlowView(this.api, queue, id);
      document.title = `flow ${id} · relay`;
      return this.flow.el;
    });
  }

  private setMain(key: string, build: () => Node): void {
    if (this.flow && this.mainKey !== key) {
      this.flow.destroy();
      this.flow = null;
    }
    if (this.view) {
      this.view.destroy();
      this.view = null;
      document.title = "relay";
    }
    if (this.mainKey === key) return;
    this.mainKey = key;
    this.main.replaceChildren(build());
  }

  private setWindow(seconds: number): void {
    this.windowSeconds = seconds;
    try {
      localStorage.setItem(WINDOW_KEY, String(seconds));
    } catch {
      /* not remembered */
    }
    this.render();
  }
}

function boot(): void {
  const root = document.getElementById("app");
  if (!root) return;
  new App().mount(root);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
