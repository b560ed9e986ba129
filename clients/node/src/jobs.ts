/**
 * Following a history job (README "Long ranges and jobs"): GET /api/v1/jobs/{id} no sooner than its Retry-After says,
 * until it is finished. `done` means the same bars request now answers from the store; `failed` and `cancelled` end in
 * a JobError.
 */

import { JobError, TimeoutError } from "./errors.js";
import { type CallOptions, type Transport, sleep } from "./http.js";
import type { Job, JobAnswer } from "./types.js";

/** Progress of a job the client follows, told at its 202 and at every poll. */
export type JobProgress = (job: Job) => void;

export interface FollowOptions extends CallOptions {
  onJob?: JobProgress | undefined;
  /** Stop following after this long with a TimeoutError (the job goes on in the bridge; default: no limit). */
  jobTimeoutMs?: number | undefined;
}

// A job's Retry-After is its eta within 1-30 s (5 s while it has none); the same bounds when a header is missing.
const POLL_DEFAULT_S = 5;
const POLL_MAX_S = 30;

export function jobPath(id: string): string {
  return `jobs/${encodeURIComponent(id)}`;
}

/** When to look at a job again (ms): its answer's Retry-After, within the bridge's own bounds. */
export function pollDelayMs(headers: Headers): number {
  const asked = Number(headers.get("Retry-After"));
  const seconds = Number.isFinite(asked) && asked > 0 ? Math.min(asked, POLL_MAX_S) : POLL_DEFAULT_S;
  return seconds * 1000;
}

/** Poll `job` (first looked at after `firstDelayMs`) until it is done; the finished job. */
export async function followJob(transport: Transport, job: Job, firstDelayMs: number,
                                options: FollowOptions = {}): Promise<Job> {
  const deadline = options.jobTimeoutMs === undefined ? Infinity : Date.now() + options.jobTimeoutMs;
  let delayMs = firstDelayMs;
  let current = job;
  while (current.state === "pending" || current.state === "running") {
    if (Date.now() + delayMs > deadline) {
      throw new TimeoutError("timeout", `job ${job.id} not done within ${options.jobTimeoutMs} ms (it goes on)`,
                             { body: current });
    }
    await sleep(delayMs, options.signal);
    const answer = await transport.json<JobAnswer>("GET", transport.url(jobPath(job.id)), undefined, options);
    current = answer.body.job;
    options.onJob?.(current);
    delayMs = pollDelayMs(answer.headers);
  }
  if (current.state !== "done") throw new JobError(current);
  return current;
}
