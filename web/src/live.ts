// The live connection: one fetch of /api/queues (shows data at once and surfaces a 401 that the
// EventSource could not report), then the SSE stream. Reconnects by itself with backoff after
// errors, after a server restart, and when the stream goes silent.

import { type Api, ApiError, eventsUrl, parseJobEvent, parseStatsEvent } from "./api";
import type { Auth } from "./auth";
import type { Store } from "./store";

/** stats arrive once a second; this much silence means the stream is dead */
const SILENCE_MS = 5000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;

export class LiveConnection {
  private es: EventSource | null = null;
  private attempt = 0;
  private lastMessage = 0;
  private retryTimer: number | null = null;
  private watchdog: number | null = null;
  private countdown: number | null = null;
  private generation = 0;

  constructor(
    private readonly api: Api,
    private readonly auth: Auth,
    private readonly store: Store,
  ) {}

  start(): void {
    this.auth.onChange(() => this.restart());
    window.addEventListener("online", () => this.restart());
    this.watchdog = window.setInterval(() => this.checkSilence(), 1000);
    void this.connect();
  }

  /** Drop the current stream and connect again now (token changed, network back…). */
  restart(): void {
    this.attempt = 0;
    this.teardown();
    void this.connect();
  }

  private teardown(): void {
    this.generation++;
    if (this.es) {
      this.es.close();
      this.es = null;
    }
    if (this.retryTimer !== null) {
      window.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.countdown !== null) {
      window.clearInterval(this.countdown);
      this.countdown = null;
    }
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.store.setConn("disconnected", this.attempt === 0 ? "connecting…" : "reconnecting…");
    try {
      const queues = await this.api.queues();
      if (gen !== this.generation) return;
      this.store.applySnapshot(queues, null);
    } catch (err) {
      if (gen !== this.generation) return;
      this.fail(err instanceof ApiError && err.status !== 0 ? `server error: ${err.message}` : "server unreachable");
      return;
    }
    const es = new EventSource(eventsUrl(this.auth.current()));
    this.es = es;
    this.lastMessage = Date.now();
    es.addEventListener("open", () => {
      if (gen !== this.generation) return;
      this.lastMessage = Date.now();
      this.attempt = 0;
      this.store.setConn("live", "");
    });
    es.addEventListener("stats", (ev) => {
      if (gen !== this.generation) return;
      this.lastMessage = Date.now();
      if (this.store.conn.state !== "live") this.store.setConn("live", "");
      const data = parse((ev as MessageEvent<string>).data);
      const stats = parseStatsEvent(data);
      if (stats) this.store.applySnapshot(stats.queues, stats.ts);
    });
    es.addEventListener("job", (ev) => {
      if (gen !== this.generation) return;
      this.lastMessage = Date.now();
      const e = parseJobEvent(parse((ev as MessageEvent<string>).data));
      if (e) this.store.applyJobEvent(e);
    });
    es.addEventListener("error", () => {
      if (gen !== this.generation) return;
      // The browser would retry on its own for some errors but not others (a 401/5xx closes the
      // stream for good); one policy for all: close, back off, probe with fetch, reopen.
      this.fail("connection lost");
    });
  }

  private checkSilence(): void {
    if (this.es && this.store.conn.state === "live" && Date.now() - this.lastMessage > SILENCE_MS) {
      this.fail("no data from server");
    }
  }

  private fail(reason: string): void {
    this.teardown();
    const gen = this.generation;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt++;
    const due = Date.now() + delay;
    const tick = (): void => {
      const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      this.store.setConn("disconnected", left > 0 ? `${reason} — retrying in ${left}s` : `${reason} — retrying…`);
    };
    tick();
    this.countdown = window.setInterval(tick, 500);
    this.retryTimer = window.setTimeout(() => {
      if (gen !== this.generation) return;
      this.teardown();
      void this.connect();
    }, delay);
  }

  stop(): void {
    this.teardown();
    if (this.watchdog !== null) window.clearInterval(this.watchdog);
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
