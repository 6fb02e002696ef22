// Application state: the latest stats per queue plus their history, and who to tell on change.

import type { JobEvent, QueueStats } from "./api";
import { QueueHistory } from "./history";

export interface QueueEntry {
  stats: QueueStats;
  history: QueueHistory;
}

export type ConnState = "live" | "disconnected";

export interface ConnInfo {
  state: ConnState;
  /** why we are disconnected / what happens next, for the indicator's detail text */
  detail: string;
  /** server time of the last snapshot we got (unix seconds) */
  lastTs: number | null;
}

type Listener = () => void;
type JobListener = (e: JobEvent) => void;

export class Store {
  readonly queues = new Map<string, QueueEntry>();
  /** true once any snapshot (fetch or SSE) has arrived */
  loaded = false;
  /** server time of the latest SSE snapshot; "now" for relative times and chart windows */
  serverTs: number | null = null;
  /** local clock minus server clock, so relative times keep ticking between snapshots */
  clockSkew = 0;
  conn: ConnInfo = { state: "disconnected", detail: "connecting…", lastTs: null };

  private readonly listeners = new Set<Listener>();
  private readonly jobListeners = new Set<JobListener>();

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onJob(fn: JobListener): () => void {
    this.jobListeners.add(fn);
    return () => this.jobListeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  /** Server "now" in unix seconds, estimated from the last snapshot. */
  now(): number {
    return Date.now() / 1000 - this.clockSkew;
  }

  sortedNames(): string[] {
    return [...this.queues.keys()].sort((a, b) => a.localeCompare(b));
  }

  /** A snapshot of every queue. `ts` is null for a fetched snapshot (no history point). */
  applySnapshot(queues: QueueStats[], ts: number | null): void {
    const seen = new Set<string>();
    for (const q of queues) {
      seen.add(q.name);
      let entry = this.queues.get(q.name);
      if (!entry) {
        entry = { stats: q, history: new QueueHistory() };
        this.queues.set(q.name, entry);
      }
      entry.stats = q;
      if (ts !== null) entry.history.push(ts, q);
    }
    for (const name of [...this.queues.keys()]) {
      if (!seen.has(name)) this.queues.delete(name);
    }
    if (ts !== null) {
      this.serverTs = ts;
      this.clockSkew = Date.now() / 1000 - ts;
      this.conn = { ...this.conn, lastTs: ts };
    }
    this.loaded = true;
    this.emit();
  }

  /** One queue's stats as returned by an action (pause, rate limit…). */
  applyQueue(q: QueueStats | null): void {
    if (!q) return;
    const entry = this.queues.get(q.name);
    if (entry) entry.stats = q;
    else this.queues.set(q.name, { stats: q, history: new QueueHistory() });
    this.emit();
  }

  applyJobEvent(e: JobEvent): void {
    for (const fn of this.jobListeners) fn(e);
  }

  setConn(state: ConnState, detail: string): void {
    if (this.conn.state === state && this.conn.detail === detail) return;
    this.conn = { ...this.conn, state, detail };
    this.emit();
  }
}
