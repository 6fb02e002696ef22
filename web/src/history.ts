// Per-queue time series built from the SSE stats snapshots. Rates are derived client-side from
// successive totals (the server only sends monotonically increasing counters). Pure logic, no DOM.

import type { QueueStats } from "./api";

/** Keep this much history (seconds); the chart window picks a slice of it. */
export const HISTORY_SECONDS = 15 * 60;
/** A silence longer than this between two samples is drawn as a gap, not a line. */
export const GAP_SECONDS = 5;

export interface Sample {
  ts: number;
  ready: number;
  delayed: number;
  inflight: number;
  dead: number;
  enqueued: number;
  completed: number;
  failed: number;
}

type Series = (number | null)[];

export class QueueHistory {
  readonly ts: number[] = [];
  readonly ready: Series = [];
  readonly delayed: Series = [];
  readonly inflight: Series = [];
  readonly dead: Series = [];
  /** per-second rates between this sample and the previous one */
  readonly enqueuedRate: Series = [];
  readonly completedRate: Series = [];
  readonly failedRate: Series = [];
  /** cumulative totals, used for smoothed rates over a few seconds */
  private readonly cum: Sample[] = [];
  private last: Sample | null = null;

  constructor(private readonly keepSeconds = HISTORY_SECONDS) {}

  get length(): number {
    return this.ts.length;
  }

  get lastTs(): number | null {
    return this.last ? this.last.ts : null;
  }

  push(ts: number, q: QueueStats): void {
    const s: Sample = {
      ts,
      ready: q.counts.ready,
      delayed: q.counts.delayed,
      inflight: q.counts.inflight,
      dead: q.counts.dead,
      enqueued: q.totals.enqueued,
      completed: q.totals.completed,
      failed: q.totals.failed,
    };
    const prev = this.last;
    if (prev && ts <= prev.ts) return; // duplicate or out-of-order snapshot
    if (prev && ts - prev.ts > GAP_SECONDS) {
      // A null row between the two samples makes the charts show the outage as a gap.
      this.row(prev.ts + 1, null, null, null, null, null, null, null);
      this.cum.length = 0;
    }
    const dt = prev && ts - prev.ts <= GAP_SECONDS ? ts - prev.ts : 0;
    const r = (now: number, before: number): number | null => {
      if (!prev || dt <= 0) return null;
      const d = now - before;
      return d < 0 ? null : d / dt; // a counter reset is not a negative rate
    };
    this.row(
      ts,
      s.ready,
      s.delayed,
      s.inflight,
      s.dead,
      r(s.enqueued, prev ? prev.enqueued : 0),
      r(s.completed, prev ? prev.completed : 0),
      r(s.failed, prev ? prev.failed : 0),
    );
    this.cum.push(s);
    this.last = s;
    this.trim(ts);
  }

  private row(
    ts: number,
    ready: number | null,
    delayed: number | null,
    inflight: number | null,
    dead: number | null,
    enq: number | null,
    comp: number | null,
    fail: number | null,
  ): void {
    this.ts.push(ts);
    this.ready.push(ready);
    this.delayed.push(delayed);
    this.inflight.push(inflight);
    this.dead.push(dead);
    this.enqueuedRate.push(enq);
    this.completedRate.push(comp);
    this.failedRate.push(fail);
  }

  private trim(now: number): void {
    const cutoff = now - this.keepSeconds;
    let n = 0;
    while (n < this.ts.length && (this.ts[n] ?? 0) < cutoff) n++;
    if (n > 0) {
      for (const arr of [
        this.ts,
        this.ready,
        this.delayed,
        this.inflight,
        this.dead,
        this.enqueuedRate,
        this.completedRate,
        this.failedRate,
      ]) {
        arr.splice(0, n);
      }
    }
    let c = 0;
    while (c < this.cum.length - 1 && (this.cum[c]?.ts ?? 0) < now - 60) c++;
    if (c > 0) this.cum.splice(0, c);
  }

  /**
   * Average rates over the last `window` seconds (falls back to what is there). Null until two
   * samples exist, so the UI can say "measuring…" instead of a misleading zero.
   */
  rates(window = 5): { enqueued: number | null; completed: number | null; failed: number | null } {
    const last = this.cum[this.cum.length - 1];
    if (!last || this.cum.length < 2) return { enqueued: null, completed: null, failed: null };
    let first = this.cum[0] as Sample;
    for (let i = this.cum.length - 2; i >= 0; i--) {
      const s = this.cum[i] as Sample;
      first = s;
      if (last.ts - s.ts >= window) break;
    }
    const dt = last.ts - first.ts;
    const f = (a: number, b: number): number | null => (dt > 0 && a >= b ? (a - b) / dt : null);
    return {
      enqueued: f(last.enqueued, first.enqueued),
      completed: f(last.completed, first.completed),
      failed: f(last.failed, first.failed),
    };
  }

  /** Index of the first sample at or after `since` (for slicing the chart window). */
  indexFrom(since: number): number {
    let lo = 0;
    let hi = this.ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.ts[mid] ?? 0) < since) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
