import assert from "node:assert/strict";
import { test } from "node:test";
import { eventsUrl, parseDeadPage, parseFlowTree, parseGroupPage, parseJobEvent, parseQueueList, parseStatsEvent } from "../src/api";

const stats = {
  name: "default",
  counts: { ready: 1, delayed: 2, inflight: 3, dead: 4, completed: 5, cancelled: 6, waiting: 7 },
  totals: { enqueued: 10, completed: 5, failed: 2, retried: 1, dead: 4, cancelled: 6 },
  paused: true,
  rate_limit: { rate: 2.5, burst: 5 },
};

test("queue list parses and drops what is not a queue", () => {
  const list = parseQueueList({ queues: [stats, { nope: 1 }, null] });
  assert.equal(list.length, 1);
  assert.deepEqual(list[0], stats);
  assert.deepEqual(parseQueueList({}), []);
});

test("missing numbers become zero, a missing rate limit null", () => {
  const [q] = parseQueueList({ queues: [{ name: "x" }] });
  assert.ok(q);
  assert.equal(q.counts.ready, 0);
  assert.equal(q.paused, false);
  assert.equal(q.rate_limit, null);
});

test("SSE events", () => {
  assert.equal(parseStatsEvent({ queues: [] }), null);
  assert.deepEqual(parseStatsEvent({ ts: 1.5, queues: [stats] }), { ts: 1.5, queues: [stats] });
  assert.deepEqual(parseJobEvent({ queue: "q", kind: "dead", ids: ["a", 3], ts: 2 }), { queue: "q", kind: "dead", ids: ["a"], ts: 2 });
  assert.equal(parseJobEvent({ queue: "q", kind: "exploded", ids: [], ts: 2 }), null);
});

test("dead page", () => {
  const job = {
    id: "j1", queue: "q", type: "t", payload: { a: 1 }, priority: 5, state: "dead", attempts: 5,
    max_attempts: 5, timeout_ms: 1000, idempotency_key: null, last_error: "boom", created_at: 1,
    started_at: 2, finished_at: 3, run_at: null, result: null, result_error: null, progress: null,
    cancel_requested: false, lease_deadline: null, worker: null, group: null,
  };
  assert.deepEqual(parseDeadPage({ jobs: [job], next_cursor: "c2" }), { jobs: [job], next_cursor: "c2" });
  assert.deepEqual(parseDeadPage({ jobs: [], next_cursor: null }), { jobs: [], next_cursor: null });
});

test("a job's result, progress and cancel flag; the new event kinds", () => {
  const [job] = parseDeadPage({
    jobs: [{ id: "j", state: "cancelled", result: { n: 1 }, result_error: "too big", progress: 40, cancel_requested: true }],
  }).jobs;
  assert.ok(job);
  assert.equal(job.state, "cancelled");
  assert.deepEqual([job.result, job.result_error, job.progress, job.cancel_requested], [{ n: 1 }, "too big", 40, true]);
  for (const kind of ["progress", "cancelling", "cancelled"]) {
    assert.equal(parseJobEvent({ queue: "q", kind, ids: ["a"], ts: 1 })?.kind, kind);
  }
});

test("a job's group and a page of groups", () => {
  const [job] = parseDeadPage({ jobs: [{ id: "j", state: "dead", group: "acme" }] }).jobs;
  assert.equal(job?.group, "acme");
  const page = parseGroupPage({
    groups: [{ name: "acme", backlog: 5, in_flight: 2, limits: { weight: 2, max_inflight: 4, rate: null, burst: null }, capped: true, limited_until: null }, { backlog: 1 }],
    total: 1,
    limited: 1,
  });
  assert.deepEqual(page, {
    groups: [{ name: "acme", backlog: 5, in_flight: 2, weight: 2, max_inflight: 4, rate: null, burst: null, capped: true, limited_until: null }],
    total: 1,
    limited: 1,
  });
});

test("the SSE token rides in the query, encoded", () => {
  assert.equal(eventsUrl(null), "/api/events");
  assert.equal(eventsUrl("a b&c"), "/api/events?token=a%20b%26c");
});

test("a flow tree parses, dropping what is not a job", () => {
  const tree = parseFlowTree({
    id: "r",
    queue: "q",
    jobs: [
      { id: "r", queue: "q", parent: null, state: "waiting", type: "album" },
      { id: "c", queue: "k", parent: "r", state: "completed", type: null },
      { nope: 1 },
    ],
  });
  assert.deepEqual(tree, {
    id: "r",
    queue: "q",
    jobs: [
      { id: "r", queue: "q", parent: null, state: "waiting", type: "album" },
      { id: "c", queue: "k", parent: "r", state: "completed", type: null },
    ],
  });
  assert.equal(parseFlowTree({ jobs: [] }), null);
});
