// The job browser's part of the HTTP API: a page of any state, and the actions each allows.
// Kept apart from api.ts so the browser's types and parsers live in one place.

import { type Api, type JobState, isObject, num, numOrNull } from "./api";

export const BROWSE_STATES: ReadonlyArray<readonly [JobState, string]> = [
  ["ready", "Ready"],
  ["delayed", "Delayed"],
  ["waiting", "Waiting"], // flows' parents waiting for their children (decision 0050)
  ["inflight", "In flight"],
  ["completed", "Completed"],
  ["dead", "Dead"],
  ["cancelled", "Cancelled"],
];

/** One job of a listing (GET /api/queues/{q}/jobs?state=…): a job with a payload preview. */
export interface JobRow {
  id: string;
  type: string;
  state: JobState;
  priority: number;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  run_at: number | null;
  lease_deadline: number | null;
  /** in flight: the worker holding it */
  worker: string | null;
  payload_size: number;
  payload_preview: string;
  payload_truncated: boolean;
}

export interface JobPage {
  jobs: JobRow[];
  next_cursor: string | null;
}

export type BulkAction = "promote" | "requeue" | "delete";

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

export function parseJobRow(v: unknown, state: JobState): JobRow | null {
  if (!isObject(v) || typeof v["id"] !== "string") return null;
  return {
    id: v["id"],
    type: str(v["type"]),
    state,
    priority: num(v["priority"]),
    attempts: num(v["attempts"]),
    max_attempts: num(v["max_attempts"]),
    last_error: typeof v["last_error"] === "string" ? v["last_error"] : null,
    created_at: num(v["created_at"]),
    started_at: numOrNull(v["started_at"]),
    finished_at: numOrNull(v["finished_at"]),
    run_at: numOrNull(v["run_at"]),
    lease_deadline: numOrNull(v["lease_deadline"]),
    worker: typeof v["worker"] === "string" ? v["worker"] : null,
    payload_size: num(v["payload_size"]),
    payload_preview: str(v["payload_preview"]),
    payload_truncated: v["payload_truncated"] === true,
  };
}

export function parseJobPage(v: unknown, state: JobState): JobPage {
  const jobs: JobRow[] = [];
  if (isObject(v) && Array.isArray(v["jobs"])) {
    for (const j of v["jobs"]) {
      const row = parseJobRow(j, state);
      if (row) jobs.push(row);
    }
  }
  const next = isObject(v) && typeof v["next_cursor"] === "string" ? v["next_cursor"] : null;
  return { jobs, next_cursor: next };
}

/** The time that matters for a job in its state, and how to say it. */
export function keyTime(job: JobRow): { ts: number; label: string } {
  switch (job.state) {
    case "delayed":
      return { ts: job.run_at ?? job.created_at, label: "runs" };
    case "inflight":
      return { ts: job.lease_deadline ?? job.created_at, label: "lease ends" };
    case "completed":
      return { ts: job.finished_at ?? job.created_at, label: "completed" };
    case "dead":
      return { ts: job.finished_at ?? job.created_at, label: "died" };
    case "cancelled":
      return { ts: job.finished_at ?? job.created_at, label: "cancelled" };
    case "waiting":
      return { ts: job.created_at, label: "created" };
    default:
      return { ts: job.created_at, label: "enqueued" };
  }
}

const q = (s: string): string => encodeURIComponent(s);

function changed(v: unknown): number {
  return isObject(v) ? num(v["changed"]) : 0;
}

export class BrowseApi {
  constructor(private readonly api: Api) {}

  /** A page of `state`; `group` (ready only, "" none) lists that group's ready jobs. */
  async list(queue: string, state: JobState, limit: number, cursor: string | null, type: string, group = ""): Promise<JobPage> {
    let path = `/api/queues/${q(queue)}/jobs?state=${state}&limit=${limit}`;
    if (cursor !== null) path += `&cursor=${q(cursor)}`;
    if (type !== "") path += `&type=${q(type)}`;
    if (group !== "" && state === "ready") path += `&group=${q(group)}`;
    return parseJobPage(await this.api.request("GET", path), state);
  }

  async act(queue: string, id: string, action: "promote" | "requeue"): Promise<number> {
    return changed(await this.api.request("POST", `/api/queues/${q(queue)}/jobs/${q(id)}/${action}`));
  }

  async remove(queue: string, id: string, state: JobState): Promise<number> {
    return changed(await this.api.request("DELETE", `/api/queues/${q(queue)}/jobs/${q(id)}?state=${state}`));
  }

  /** "cancelling" (202: its worker stops it) or "cancelled"; an ApiError (409) if it finished. */
  async cancel(queue: string, id: string): Promise<string> {
    return this.api.cancel(queue, id);
  }

  async bulk(queue: string, action: BulkAction, state: JobState, type: string): Promise<number> {
    const body = { action, state, type: type === "" ? null : type };
    return changed(await this.api.request("POST", `/api/queues/${q(queue)}/jobs/bulk`, body));
  }
}
