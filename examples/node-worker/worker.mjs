// A relay worker in Node (20+), standard library only: claims jobs over HTTP, runs them, acks
// or nacks them with their fencing tokens, and extends its leases while a batch runs.
//
//   RELAY_URL=http://127.0.0.1:8080 RELAY_TOKEN=... node worker.mjs emails [--drain]
//
// --drain exits once a claim comes back empty (handy in scripts and CI); without it the
// worker long-polls until SIGINT/SIGTERM, then finishes its batch and exits.

const BASE = (process.env.RELAY_URL || "http://127.0.0.1:8080").replace(/\/$/, "");
const TOKEN = process.env.RELAY_TOKEN || "";
const queue = process.argv[2];
const drain = process.argv.includes("--drain");
const BATCH = Number(process.env.RELAY_BATCH || 100);
const LEASE_MS = Number(process.env.RELAY_LEASE_MS || 30000);
const WAIT_MS = drain ? 500 : 20000;

if (!queue) {
  console.error("usage: node worker.mjs QUEUE [--drain]");
  process.exit(2);
}

// Handlers by job type: return a result (any JSON), or throw to fail the job.
// An error with `fatal = true` sends the job to the dead set at once (no retry).
const handlers = {
  add: ({ a, b }) => a + b,
  upper: (text) => String(text).toUpperCase(),
  fail: (why) => {
    const err = new Error(String(why));
    err.fatal = true;
    throw err;
  },
};

async function call(path, body) {
  const res = await fetch(`${BASE}/api/queues/${encodeURIComponent(queue)}/${path}`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const answer = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${answer.error?.code}: ${answer.error?.message}`);
  return answer;
}

function report(path, outcomes) {
  for (const o of outcomes.jobs) {
    if (o.outcome !== "ok") console.error(`${path} ${o.id}: ${o.outcome} (${o.error?.message})`);
  }
}

async function runBatch(jobs) {
  // Keep the leases while the batch runs: extend every lease/3.
  const held = jobs.map(({ id, token }) => ({ id, token }));
  const timer = setInterval(() => {
    call("extend", { jobs: held, lease_ms: LEASE_MS }).catch((e) => console.error(e.message));
  }, LEASE_MS / 3);
  const acks = [];
  const nacks = [];
  try {
    for (const job of jobs) {
      const handler = handlers[job.type];
      try {
        if (!handler) throw Object.assign(new Error(`no handler for ${job.type}`), { fatal: true });
        const result = await handler(job.payload);
        acks.push({ id: job.id, token: job.token, result: result ?? null });
      } catch (err) {
        nacks.push({ id: job.id, token: job.token, error: String(err.message), fatal: !!err.fatal });
      }
    }
  } finally {
    clearInterval(timer);
  }
  if (acks.length) report("ack", await call("ack", { jobs: acks }));
  if (nacks.length) report("nack", await call("nack", { jobs: nacks }));
  return { done: acks.length, failed: nacks.length };
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => { stopping = true; });

let done = 0;
let failed = 0;
while (!stopping) {
  let claimed;
  try {
    claimed = await call("claim", { max: BATCH, lease_ms: LEASE_MS, wait_ms: WAIT_MS });
  } catch (err) {
    console.error(err.message);
    await new Promise((r) => setTimeout(r, 1000)); // the server is down: try again shortly
    continue;
  }
  if (claimed.jobs.length === 0) {
    if (drain) break;
    continue;
  }
  const got = await runBatch(claimed.jobs);
  done += got.done;
  failed += got.failed;
}
console.log(JSON.stringify({ queue, done, failed }));
