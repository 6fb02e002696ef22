import assert from "node:assert/strict";
import { test } from "node:test";
import { parseJobEvent } from "../src/api";
import { keyTime, parseJobPage } from "../src/browse-api";

const row = {
  id: "a1",
  queue: "q",
  type: "mail",
  state: "delayed",
  priority: 7,
  attempts: 1,
  max_attempts: 5,
  timeout_ms: 1000,
  idempotency_key: null,
  last_error: "boom",
  created_at: 10,
  started_at: null,
  finished_at: null,
  run_at: 99.5,
  lease_deadline: null,
  payload_size: 400,
  payload_preview: '{"html": "<b>"',
  payload_truncated: true,
};

test("a job page parses, keeps the cursor and drops what is not a job", () => {
  const page = parseJobPage({ jobs: [row, { nope: 1 }, null], next_cursor: "abc" }, "delayed");
  assert.equal(page.jobs.length, 1);
  assert.equal(page.next_cursor, "abc");
  const [job] = page.jobs;
  assert.ok(job);
  assert.equal(job.payload_preview, '{"html": "<b>"');
  assert.equal(job.payload_truncated, true);
  assert.deepEqual(keyTime(job), { ts: 99.5, label: "runs" });
  assert.deepEqual(parseJobPage({}, "ready"), { jobs: [], next_cursor: null });
});

test("the time that matters follows the state", () => {
  const [job] = parseJobPage({ jobs: [{ ...row, lease_deadline: 50 }] }, "inflight").jobs;
  assert.ok(job);
  assert.deepEqual(keyTime(job), { ts: 50, label: "lease ends" });
  assert.deepEqual(keyTime({ ...job, state: "ready" }), { ts: 10, label: "enqueued" });
  assert.deepEqual(keyTime({ ...job, state: "waiting" }), { ts: 10, label: "created" });
});

test("browser actions arrive as job events", () => {
  for (const kind of ["promoted", "deleted", "reaped"]) {
    assert.equal(parseJobEvent({ queue: "q", kind, ids: ["a"], ts: 1 })?.kind, kind);
  }
});
