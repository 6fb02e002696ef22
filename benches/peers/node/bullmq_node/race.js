'use strict';
// BullMQ (Node) peer for relay's race harness. Same CLI as systems/_common.py:
//   node race.js enqueue --mode single|bulk --jobs N [--batch 1000] --redis URL
//   node race.js worker --concurrency default|tuned|N --redis URL
//   node race.js latency --samples 200 [--warmup 3] [--gap-ms 50] [--wait 10] --redis URL
//   node race.js versions
// Results are printed as one line "RACE-RESULT {json}".
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const DONE_KEY = 'race:done';
const LAT_KEY = 'race:lat';
const PAYLOAD_BYTES = 100;
const QUEUE = 'race';
const DEFAULT_CONCURRENCY = 1; // BullMQ default
const TUNED_CONCURRENCY = 100;

function payload(i, latency) {
  const head = (latency ? 'L' : 'J') + String(i).padStart(9, '0') + ':';
  return head + 'x'.repeat(PAYLOAD_BYTES - head.length);
}

function parseArgs(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      out[a.slice(2)] = argv[i + 1];
      i++;
    } else out._.push(a);
  }
  return out;
}

function emit(obj) {
  process.stdout.write('RACE-RESULT ' + JSON.stringify(obj) + '\n');
}

function connection(url) {
  // BullMQ requires maxRetriesPerRequest: null for blocking connections.
  return new IORedis(url, { maxRetriesPerRequest: null });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function enqueue(args) {
  const url = args.redis;
  const jobs = parseInt(args.jobs, 10);
  const batch = parseInt(args.batch || '1000', 10);
  const mode = args.mode || 'single';
  const conn = connection(url);
  const queue = new Queue(QUEUE, { connection: conn });
  await queue.waitUntilReady();
  await queue.getJobCounts(); // load scripts before the clock starts
  const ps = [];
  for (let i = 0; i < jobs; i++) ps.push(payload(i, false));
  const t0 = process.hrtime.bigint();
  if (mode === 'bulk') {
    for (let i = 0; i < jobs; i += batch) {
      await queue.addBulk(ps.slice(i, i + batch).map((p) => ({ name: 'noop', data: { p } })));
    }
  } else {
    for (const p of ps) await queue.add('noop', { p });
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  await queue.close();
  await conn.quit();
  emit({ jobs, mode, batch: mode === 'bulk' ? batch : 1, seconds: dt });
}

async function worker(args) {
  const url = args.redis;
  const spec = args.concurrency || 'default';
  const concurrency =
    spec === 'default' ? DEFAULT_CONCURRENCY : spec === 'tuned' ? TUNED_CONCURRENCY : parseInt(spec, 10);
  const rec = connection(url);
  const conn = connection(url);
  // Count finished jobs in memory and add them to race:done every 2 ms (one INCRBY), as
  // systems/_common.py does; RACE_COUNT=per-job sends one INCR per job instead.
  const perJob = process.env.RACE_COUNT === 'per-job';
  let pending = 0;
  if (!perJob) {
    setInterval(() => {
      if (pending > 0) {
        const n = pending;
        pending = 0;
        rec.incrby(DONE_KEY, n);
      }
    }, 2).unref();
  }
  const w = new Worker(
    QUEUE,
    async (job) => {
      const p = job.data.p;
      if (p[0] === 'L') {
        const t = (performance.timeOrigin + performance.now()) / 1000;
        await rec.rpush(LAT_KEY, String(t));
        await rec.incr(DONE_KEY);
      } else if (perJob) await rec.incr(DONE_KEY);
      else pending++;
    },
    { connection: conn, concurrency },
  );
  w.on('error', (e) => console.error('worker error', e));
  const stop = async () => {
    try {
      await w.close();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await w.waitUntilReady();
}

async function latency(args) {
  const url = args.redis;
  const samples = parseInt(args.samples || '200', 10);
  const warmup = parseInt(args.warmup || '3', 10);
  const gapMs = parseFloat(args['gap-ms'] || '50');
  const waitS = parseFloat(args.wait || '10');
  const conn = connection(url);
  const r = connection(url);
  const queue = new Queue(QUEUE, { connection: conn });
  await queue.waitUntilReady();
  await queue.getJobCounts();
  await r.del(LAT_KEY);
  // deterministic pseudo-random gaps (same idea as the Python side)
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const lat = [];
  let lost = 0;
  for (let i = 0; i < warmup + samples; i++) {
    await sleep(rnd() * gapMs);
    const tEnq = (performance.timeOrigin + performance.now()) / 1000;
    await queue.add('noop', { p: payload(i, true) });
    const got = await r.blpop(LAT_KEY, i >= warmup ? waitS : Math.max(waitS, 30));
    if (!got) {
      lost++;
      if (lost >= 3) break;
      continue;
    }
    if (i >= warmup) lat.push(parseFloat(got[1]) - tEnq);
  }
  await queue.close();
  await conn.quit();
  await r.quit();
  emit({ samples: lat.length, lost, latencies_s: lat });
}

async function versions() {
  const v = {
    bullmq: require('bullmq/package.json').version,
    ioredis: require('ioredis/package.json').version,
    node: process.versions.node,
  };
  process.stdout.write(JSON.stringify(v) + '\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const cmd = args._[0];
  if (cmd === 'enqueue') return enqueue(args);
  if (cmd === 'worker') return worker(args);
  if (cmd === 'latency') return latency(args);
  if (cmd === 'versions') return versions();
  console.error('usage: race.js enqueue|worker|latency|versions ...');
  process.exit(2);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
