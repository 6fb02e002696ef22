// The HTTP API the dashboard talks to (DESIGN.md "HTTP API"; the shapes are copied in
// web/README.md). Types first, then light runtime guards (one malformed queue must not blank the
// whole page), then the fetch client that adds the bearer token and asks for one on 401.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export const DEPTH_STATES = ["ready", "delayed", "inflight", "dead"] as const;
export type DepthState = (typeof DEPTH_STATES)[number];

export type JobState = "delayed" | "waiting" | "ready" | "inflight" | "completed" | "dead" | "cancelled";

export interface Counts {
  ready: number;
  delayed: number;
  inflight: number;
  dead: number;
  completed: number;
  cancelled: number;
  /** flows' parents waiting for their children */
  waiting: number;
}

export interface Totals {
  enqueued: number;
  completed: number;
  failed: number;
  retried: number;
  dead: number;
  cancelled: number;
}

export interface RateLimit {
  rate: number;
  burst: number;
}

export interface QueueStats {
  name: string;
  counts: Counts;
  totals: Totals;
  paused: boolean;
  rate_limit: RateLimit | null;
}

export interface QueueList {
  queues: QueueStats[];
}

export interface Job {
  id: string;
  queue: string;
  type: string;
  payload: JsonValue;
  priority: number;
  state: JobState;
  attempts: number;
  max_attempts: number;
  timeout_ms: number;
  idempotency_key: string | null;
  last_error: string | null;
  /** unix seconds */
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  run_at: number | null;
  /** what the handler returned (completed jobs) */
  result: JsonValue;
  /** why a completed job's result was not kept */
  result_error: string | null;
  /** the last progress its handler reported: a number 0-100 or an object */
  progress: JsonValue;
  /** in flight, and its cancel was asked for */
  cancel_requested: boolean;
  /** in flight: when the lease runs out (unix seconds) */
  lease_deadline: number | null;
  /** in flight: the worker holding it (null: claimed before workers were named) */
  worker: string | null;
  /** fair scheduling's group, if it has one */
  group: string | null;
}

/** One job of a flow (GET /api/queues/{queue}/jobs/{id}/flow). */
export interface FlowNode {
  id: string;
  queue: string;
  /** the parent's id; null for the root */
  parent: string | null;
  /** a job state, or "unknown" once the record is gone */
  state: string;
  type: string | null;
}

/** A whole flow from its root, parents before children. */
export interface FlowTree {
  id: string;
  queue: string;
  jobs: FlowNode[];
}

export interface DeadPage {
  jobs: Job[];
  next_cursor: string | null;
}

/** SSE `event: stats`, once per second. */
export interface StatsEvent {
  ts: number;
  queues: QueueStats[];
}

export type JobEventKind =
  | "enqueued"
  | "claimed"
  | "completed"
  | "retried"
  | "dead"
  | "requeued"
  | "reaped"
  | "promoted"
  | "deleted"
  | "progress"
  | "cancelling"
  | "cancelled"
  | "released";

/** SSE `event: job`. */
export interface JobEvent {
  queue: string;
  kind: JobEventKind;
  ids: string[];
  ts: number;
}

export interface Schedule {
  name: string;
  type: string;
  cron: string | null;
  every_ms: number | null;
  timezone: string;
  paused: boolean;
  misfire: string;
  next_run_at: number | null;
  last_run_at: number | null;
  last_job_id: string | null;
}

/** One group of a queue (fair scheduling): its ready backlog, jobs in flight and limits. */
export interface Group {
  name: string;
  backlog: number;
  in_flight: number;
  weight: number;
  max_inflight: number | null;
  rate: number | null;
  burst: number | null;
  capped: boolean;
  limited_until: number | null;
}

export interface GroupPage {
  groups: Group[];
  total: number;
  limited: number;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

// ---------------------------------------------------------------------------------------------
// Guards

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

export function numOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function strOrNull(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** Normalises one queue; returns null when it is not recognisably a queue. */
export function parseQueueStats(v: unknown): QueueStats | null {
  if (!isObject(v) || typeof v["name"] !== "string") return null;
  const c = isObject(v["counts"]) ? v["counts"] : {};
  const t = isObject(v["totals"]) ? v["totals"] : {};
  const rl = v["rate_limit"];
  return {
    name: v["name"],
    counts: {
      ready: num(c["ready"]),
      delayed: num(c["delayed"]),
      inflight: num(c["inflight"]),
      dead: num(c["dead"]),
      completed: num(c["completed"]),
      cancelled: num(c["cancelled"]),
      waiting: num(c["waiting"]),
    },
    totals: {
      enqueued: num(t["enqueued"]),
      completed: num(t["completed"]),
      failed: num(t["failed"]),
      retried: num(t["retried"]),
      dead: num(t["dead"]),
      cancelled: num(t["cancelled"]),
    },
    paused: v["paused"] === true,
    rate_limit: isObject(rl) ? { rate: num(rl["rate"]), burst: num(rl["burst"]) } : null,
  };
}

export function parseQueueList(v: unknown): QueueStats[] {
  const list = isObject(v) && Array.isArray(v["queues"]) ? v["queues"] : [];
  const out: QueueStats[] = [];
  for (const q of list) {
    const parsed = parseQueueStats(q);
    if (parsed) out.push(parsed);
  }
  return out;
}

export function parseStatsEvent(v: unknown): StatsEvent | null {
  if (!isObject(v) || typeof v["ts"] !== "number") return null;
  return { ts: v["ts"], queues: parseQueueList(v) };
}

const JOB_KINDS: readonly JobEventKind[] = ["enqueued", "claimed", "completed", "retried", "dead", "requeued", "reaped", "promoted", "deleted", "progress", "cancelling", "cancelled", "released"];

export function parseJobEvent(v: unknown): JobEvent | null {
  if (!isObject(v) || typeof v["queue"] !== "string") return null;
  const kind = v["kind"];
  if (typeof kind !== "string" || !(JOB_KINDS as readonly string[]).includes(kind)) return null;
  const ids = Array.isArray(v["ids"]) ? v["ids"].filter((x): x is string => typeof x === "string") : [];
  return { queue: v["queue"], kind: kind as JobEventKind, ids, ts: num(v["ts"]) };
}

const JOB_STATES: readonly JobState[] = ["delayed", "waiting", "ready", "inflight", "completed", "dead", "cancelled"];

export function parseJob(v: unknown): Job | null {
  if (!isObject(v) || typeof v["id"] !== "string") return null;
  const state = v["state"];
  return {
    id: v["id"],
    queue: typeof v["queue"] === "string" ? v["queue"] : "",
    type: typeof v["type"] === "string" ? v["type"] : "",
    payload: (v["payload"] ?? null) as JsonValue,
    priority: num(v["priority"]),
    state: typeof state === "string" && (JOB_STATES as readonly string[]).includes(state) ? (state as JobState) : "ready",
    attempts: num(v["attempts"]),
    max_attempts: num(v["max_attempts"]),
    timeout_ms: num(v["timeout_ms"]),
    idempotency_key: strOrNull(v["idempotency_key"]),
    last_error: strOrNull(v["last_error"]),
    created_at: num(v["created_at"]),
    started_at: numOrNull(v["started_at"]),
    finished_at: numOrNull(v["finished_at"]),
    run_at: numOrNull(v["run_at"]),
    result: (v["result"] ?? null) as JsonValue,
    result_error: strOrNull(v["result_error"]),
    progress: (v["progress"] ?? null) as JsonValue,
    cancel_requested: v["cancel_requested"] === true,
    lease_deadline: numOrNull(v["lease_deadline"]),
    worker: strOrNull(v["worker"]),
    group: strOrNull(v["group"]),
  };
}

export function parseFlowTree(v: unknown): FlowTree | null {
  if (!isObject(v) || typeof v["id"] !== "string" || typeof v["queue"] !== "string") return null;
  const jobs: FlowNode[] = [];
  for (const j of Array.isArray(v["jobs"]) ? v["jobs"] : []) {
    if (!isObject(j) || typeof j["id"] !== "string" || typeof j["queue"] !== "string") continue;
    const state = typeof j["state"] === "string" ? j["state"] : "unknown";
    jobs.push({ id: j["id"], queue: j["queue"], parent: strOrNull(j["parent"]), state, type: strOrNull(j["type"]) });
  }
  return { id: v["id"], queue: v["queue"], jobs };
}

export function parseDeadPage(v: unknown): DeadPage {
  const jobs: Job[] = [];
  if (isObject(v) && Array.isArray(v["jobs"])) {
    for (const j of v["jobs"]) {
      const parsed = parseJob(j);
      if (parsed) jobs.push(parsed);
    }
  }
  return { jobs, next_cursor: isObject(v) ? strOrNull(v["next_cursor"]) : null };
}

export function parseSchedule(v: unknown): Schedule | null {
  if (!isObject(v) || typeof v["name"] !== "string") return null;
  return {
    name: v["name"],
    type: typeof v["type"] === "string" ? v["type"] : "",
    cron: strOrNull(v["cron"]),
    every_ms: numOrNull(v["every_ms"]),
    timezone: typeof v["timezone"] === "string" ? v["timezone"] : "UTC",
    paused: v["paused"] === true,
    misfire: typeof v["misfire"] === "string" ? v["misfire"] : "once",
    next_run_at: numOrNull(v["next_run_at"]),
    last_run_at: numOrNull(v["last_run_at"]),
    last_job_id: strOrNull(v["last_job_id"]),
  };
}

export function parseScheduleList(v: unknown): Schedule[] {
  const out: Schedule[] = [];
  if (isObject(v) && Array.isArray(v["schedules"])) {
    for (const s of v["schedules"]) {
      const parsed = parseSchedule(s);
      if (parsed) out.push(parsed);
    }
  }
  return out;
}

export function parseGroup(v: unknown): Group | null {
  if (!isObject(v) || typeof v["name"] !== "string") return null;
  const lim = isObject(v["limits"]) ? v["limits"] : {};
  return {
    name: v["name"],
    backlog: num(v["backlog"]),
    in_flight: num(v["in_flight"]),
    weight: numOrNull(lim["weight"]) ?? 1,
    max_inflight: numOrNull(lim["max_inflight"]),
    rate: numOrNull(lim["rate"]),
    burst: numOrNull(lim["burst"]),
    capped: v["capped"] === true,
    limited_until: numOrNull(v["limited_until"]),
  };
}

export function parseGroupPage(v: unknown): GroupPage {
  const groups: Group[] = [];
  if (isObject(v) && Array.isArray(v["groups"])) {
    for (const g of v["groups"]) {
      const parsed = parseGroup(g);
      if (parsed) groups.push(parsed);
    }
  }
  return { groups, total: isObject(v) ? num(v["total"]) : 0, limited: isObject(v) ? num(v["limited"]) : 0 };
}

// ---------------------------------------------------------------------------------------------
// Client

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Where the token lives and how to ask the person for a new one. */
export interface TokenSource {
  current(): string | null;
  /** Resolves with a token to retry with. `rejected` is the token the server just refused. */
  obtain(rejected: string | null): Promise<string>;
}

type Method = "GET" | "POST" | "PUT" | "DELETE";

const q = (s: string): string => encodeURIComponent(s);

export class Api {
  constructor(private readonly tokens: TokenSource) {}

  async request(method: Method, path: string, body?: unknown): Promise<unknown> {
    // Loops only while the server answers 401 and the person keeps supplying tokens.
    for (;;) {
      const token = this.tokens.current();
      const headers: Record<string, string> = { Accept: "application/json" };
      if (token) headers["Authorization"] = `Bearer ${token}`;
      const init: RequestInit = { method, headers, cache: "no-store", credentials: "same-origin" };
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      let res: Response;
      try {
        res = await fetch(path, init);
      } catch {
        throw new ApiError(0, "network", "The relay server cannot be reached.");
      }
      if (res.status === 401) {
        await this.tokens.obtain(token);
        continue;
      }
      const text = await res.text();
      let data: unknown = null;
      if (text) {
        try {
          data = JSON.parse(text);
        } catch {
          data = null;
        }
      }
      if (!res.ok) {
        const err = isObject(data) && isObject(data["error"]) ? data["error"] : {};
        const code = typeof err["code"] === "string" ? err["code"] : `http_${res.status}`;
        const message =
          typeof err["message"] === "string" ? err["message"] : `${res.status} ${res.statusText || "error"}`;
        throw new ApiError(res.status, code, message);
      }
      return data;
    }
  }

  async queues(): Promise<QueueStats[]> {
    return parseQueueList(await this.request("GET", "/api/queues"));
  }

  async queue(name: string): Promise<QueueStats | null> {
    return parseQueueStats(await this.request("GET", `/api/queues/${q(name)}`));
  }

  async job(queue: string, id: string): Promise<Job | null> {
    return parseJob(await this.request("GET", `/api/queues/${q(queue)}/jobs/${q(id)}`));
  }

  /** "cancelled" (it was waiting) or "cancelling" (running: its worker stops it). */
  /** The whole flow a job belongs to (any job of it). */
  async flow(queue: string, id: string): Promise<FlowTree | null> {
    return parseFlowTree(await this.request("GET", `/api/queues/${q(queue)}/jobs/${q(id)}/flow`));
  }

  async cancel(queue: string, id: string): Promise<string> {
    const r = await this.request("POST", `/api/queues/${q(queue)}/jobs/${q(id)}/cancel`);
    return isObject(r) && typeof r["state"] === "string" ? r["state"] : "";
  }

  async dead(queue: string, limit: number, cursor: string | null): Promise<DeadPage> {
    let path = `/api/queues/${q(queue)}/dead?limit=${limit}`;
    if (cursor !== null) path += `&cursor=${q(cursor)}`;
    return parseDeadPage(await this.request("GET", path));
  }

  async requeueDead(queue: string, id: string): Promise<number> {
    const r = await this.request("POST", `/api/queues/${q(queue)}/dead/${q(id)}/requeue`);
    return isObject(r) ? num(r["requeued"]) : 0;
  }

  async requeueAllDead(queue: string): Promise<number> {
    const r = await this.request("POST", `/api/queues/${q(queue)}/dead/requeue`);
    return isObject(r) ? num(r["requeued"]) : 0;
  }

  async deleteDead(queue: string, id: string): Promise<number> {
    const r = await this.request("DELETE", `/api/queues/${q(queue)}/dead/${q(id)}`);
    return isObject(r) ? num(r["deleted"]) : 0;
  }

  async setRateLimit(queue: string, rate: number, burst: number): Promise<QueueStats | null> {
    return parseQueueStats(await this.request("PUT", `/api/queues/${q(queue)}/rate-limit`, { rate, burst }));
  }

  async clearRateLimit(queue: string): Promise<QueueStats | null> {
    return parseQueueStats(await this.request("DELETE", `/api/queues/${q(queue)}/rate-limit`));
  }

  async groups(queue: string, limit = 50): Promise<GroupPage> {
    return parseGroupPage(await this.request("GET", `/api/queues/${q(queue)}/groups?limit=${limit}`));
  }

  async schedules(queue: string): Promise<Schedule[]> {
    return parseScheduleList(await this.request("GET", `/api/queues/${q(queue)}/schedules`));
  }

  async triggerSchedule(queue: string, name: string): Promise<string | null> {
    const r = await this.request("POST", `/api/queues/${q(queue)}/schedules/${q(name)}/trigger`);
    return isObject(r) ? strOrNull(r["id"]) : null;
  }

  async pauseSchedule(queue: string, name: string, paused: boolean): Promise<Schedule | null> {
    const action = paused ? "pause" : "resume";
    return parseSchedule(await this.request("POST", `/api/queues/${q(queue)}/schedules/${q(name)}/${action}`));
  }

  async deleteSchedule(queue: string, name: string): Promise<void> {
    await this.request("DELETE", `/api/queues/${q(queue)}/schedules/${q(name)}`);
  }

  async pause(queue: string): Promise<QueueStats | null> {
    return parseQueueStats(await this.request("POST", `/api/queues/${q(queue)}/pause`));
  }

  async resume(queue: string): Promise<QueueStats | null> {
    return parseQueueStats(await this.request("POST", `/api/queues/${q(queue)}/resume`));
  }
}

/** URL of the SSE stream; EventSource cannot send headers, so the token rides in the query. */
export function eventsUrl(token: string | null): string {
  return token ? `/api/events?token=${encodeURIComponent(token)}` : "/api/events";
}
