import assert from "node:assert/strict";
import { test } from "node:test";
import type { QueueStats } from "../src/api";
import { QueueHistory } from "../src/history";

function q(ready: number, enqueued: number, completed: number, failed: number): QueueStats {
  return {
    name: "q",
    counts: { ready, delayed: 0, inflight: 0, dead: 0, completed: 0, cancelled: 0, waiting: 0 },
    totals: { enqueued, completed, failed, retried: 0, dead: 0, cancelled: 0 },
    paused: false,
    rate_limit: null,
  };
}

test("rates come from successive totals", () => {
  const h = new QueueHistory();
  h.push(100, q(5, 1000, 900, 10));
  assert.deepEqual(h.rates(), { enqueued: null, completed: null, failed: null });
  assert.deepEqual(h.completedRate, [null]);
  h.push(101, q(6, 1100, 1000, 12));
  h.push(102, q(7, 1300, 1200, 12));
  assert.deepEqual(h.completedRate, [null, 100, 200]);
  assert.deepEqual(h.failedRate, [null, 2, 0]);
  assert.deepEqual(h.enqueuedRate, [null, 100, 200]);
  assert.deepEqual(h.rates(5), { enqueued: 150, completed: 150, failed: 1 });
  assert.deepEqual(h.rates(1), { enqueued: 200, completed: 200, failed: 0 });
});

test("a counter reset is not a negative rate", () => {
  const h = new QueueHistory();
  h.push(1, q(0, 500, 500, 0));
  h.push(2, q(0, 10, 10, 0));
  assert.deepEqual(h.completedRate, [null, null]);
});

test("an outage becomes a gap, not a line", () => {
  const h = new QueueHistory();
  h.push(10, q(1, 0, 0, 0));
  h.push(11, q(2, 10, 10, 0));
  h.push(60, q(3, 500, 500, 0));
  assert.deepEqual(h.ts, [10, 11, 12, 60]);
  assert.deepEqual(h.ready, [1, 2, null, 3]);
  assert.deepEqual(h.completedRate, [null, 10, null, null]);
  assert.deepEqual(h.rates(), { enqueued: null, completed: null, failed: null });
});

test("duplicates are ignored and old samples trimmed", () => {
  const h = new QueueHistory(10);
  for (let t = 0; t <= 30; t++) h.push(t, q(t, t, t, 0));
  h.push(30, q(99, 30, 30, 0));
  assert.equal(h.ts[0], 20);
  assert.equal(h.ts[h.length - 1], 30);
  assert.equal(h.ready[h.length - 1], 30);
  assert.equal(h.indexFrom(25), 5);
  assert.equal(h.indexFrom(0), 0);
  assert.equal(h.indexFrom(31), h.length);
});
