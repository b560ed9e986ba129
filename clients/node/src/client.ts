/**
 * BridgeClient: the bridge's HTTP API as typed calls. Failures are thrown as the error classes of src/errors.ts;
 * 429 and 503 are retried honouring Retry-After (src/http.ts); a long range's 202 job is followed to its end and the
 * request repeated (src/jobs.ts); the stream is an async iterator (src/stream.ts).
 */

import { BridgeError } from "./errors.js";
import { type CallOptions, type FetchLike, type RetryInfo, Transport } from "./http.js";
import { type FollowOptions, followJob, jobPath, pollDelayMs } from "./jobs.js";
import { type StreamEvent, type StreamOptions, type StreamRequest, streamBars } from "./stream.js";
import type {
  Bar, BarRequest, BarsAnswer, ContractQuery, ContractsAnswer, ControlAnswer, HeadAnswer, HeadRequest, Health, Job,
  JobAnswer, JobPendingAnswer, SymbolSearchAnswer,
} from "./types.js";

export interface BridgeClientOptions {
  /** The bridge's origin, e.g. `http://127.0.0.1:3003` (a trailing `/api/v1` is accepted). */
  baseUrl?: string;
  /** BRIDGE_API_TOKEN: sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** Each attempt's limit, answer read whole (default 40,000 ms: above the bridge's default BAR_TIMEOUT of 30 s, so
   *  the bridge's own tws_timeout comes first). */
  timeoutMs?: number;
  /** Retries of a 429 or 503 (default 3). */
  retries?: number;
  /** The longest wait before a retry (default 30,000 ms); a Retry-After beyond it is thrown at once instead. */
  maxRetryDelayMs?: number;
  /** Follow a long range's 202 job to its end and answer its bars (default true); false: a JobPendingError. */
  followJobs?: boolean;
  /** The fetch to use (default the global one, Node 18+). */
  fetch?: FetchLike;
  /** Told before each retry. */
  onRetry?: (info: RetryInfo) => void;
}

export interface BarsOptions extends FollowOptions {
  followJobs?: boolean | undefined;
}

/** A bars request a job fetches, while `followJobs` is false: poll the job, then send the request again. */
export class JobPendingError extends BridgeError {
  readonly job: Job;
  /** The job's URL path (`/api/v1/jobs/<id>`). */
  readonly location: string | null;

  constructor(answer: JobPendingAnswer, headers: Headers, retryAfter: number) {
    super("job_pending", `a job fetches this range: ${answer.job.id} (${answer.job.state})`,
          { status: 202, retryAfter, body: answer });
    this.job = answer.job;
    this.location = headers.get("Location");
  }
}

const DEFAULT_BASE_URL = "http://127.0.0.1:3003";

export class BridgeClient {
  private readonly transport: Transport;
  private readonly followJobs: boolean;

  constructor(options: BridgeClientOptions = {}) {
    const origin = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "").replace(/\/api\/v1$/, "");
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== "function") throw new TypeError("no fetch: Node 18 or later, or pass options.fetch");
    this.transport = new Transport({
      baseUrl: `${origin}/api/v1/`, token: options.token, timeoutMs: options.timeoutMs ?? 40_000,
      retries: options.retries ?? 3, maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      fetch: fetchImpl, onRetry: options.onRetry,
    });
    this.followJobs = options.followJobs ?? true;
  }

  /** POST /api/v1/bars. A range fetched by a job (202) is followed to its end and asked again (unless
   *  `followJobs` is false: then a JobPendingError carries the job). */
  async getBars(request: BarRequest, options: BarsOptions = {}): Promise<BarsAnswer> {
    const follow = options.followJobs ?? this.followJobs;
    for (;;) {
      const answer = await this.transport.json<BarsAnswer | JobPendingAnswer>("POST", this.transport.url("bars"),
                                                                              request, options);
      if (answer.status !== 202) return answer.body as BarsAnswer;
      const pending = answer.body as JobPendingAnswer;
      const delayMs = pollDelayMs(answer.headers);
      if (!follow) throw new JobPendingError(pending, answer.headers, delayMs / 1000);
      options.onJob?.(pending.job);
      await followJob(this.transport, pending.job, delayMs, options);
    }
  }

  /** Every page of a request, in order, following `next_page_token` (and a job first, as getBars). */
  async *pages(request: BarRequest, options: BarsOptions = {}): AsyncGenerator<BarsAnswer, void, undefined> {
    let page: BarRequest = request;
    for (;;) {
      const answer = await this.getBars(page, options);
      yield answer;
      if (!answer.next_page_token) return;
      page = { ...request, page_token: answer.next_page_token };
    }
  }

  /** Every bar of a request, all pages joined. */
  async getAllBars(request: BarRequest, options: BarsOptions = {}): Promise<Bar[]> {
    const bars: Bar[] = [];
    for await (const page of this.pages(request, options)) bars.push(...page.bars);
    return bars;
  }

  /** GET /api/v1/jobs/{id}: a job's progress. */
  async getJob(id: string, options: CallOptions = {}): Promise<Job> {
    return (await this.transport.json<JobAnswer>("GET", this.transport.url(jobPath(id)), undefined, options))
      .body.job;
  }

  /** DELETE /api/v1/jobs/{id}: the job in state `cancelled` (its windows not yet sent are never sent). */
  async cancelJob(id: string, options: CallOptions = {}): Promise<Job> {
    return (await this.transport.json<JobAnswer>("DELETE", this.transport.url(jobPath(id)), undefined, options))
      .body.job;
  }

  /** GET /api/v1/contracts/{symbol}/head: the earliest bar TWS has for the instrument's data. */
  async getHead(request: HeadRequest, options: CallOptions = {}): Promise<HeadAnswer> {
    const { symbol, ...query } = request;
    const url = this.transport.url(`contracts/${encodeURIComponent(symbol)}/head`, query);
    return (await this.transport.json<HeadAnswer>("GET", url, undefined, options)).body;
  }

  /** GET /api/v1/contracts: every contract that matches (e.g. `{ symbol: "ES", sec_type: "FUT", exchange: "CME" }`
   *  lists ES's expiries; `{ con_id }` one contract). No match is a NotFoundError (code symbol_not_found). */
  async getContracts(query: ContractQuery, options: CallOptions = {}): Promise<ContractsAnswer> {
    const url = this.transport.url("contracts", { ...query });
    return (await this.transport.json<ContractsAnswer>("GET", url, undefined, options)).body;
  }

  /** GET /api/v1/contracts/search: contracts whose symbol or name starts with `q` (at most 16; IB allows one search
   *  a second, so a burst may be a 429, retried honouring Retry-After). */
  async searchSymbols(q: string, options: CallOptions = {}): Promise<SymbolSearchAnswer> {
    const url = this.transport.url("contracts/search", { q });
    return (await this.transport.json<SymbolSearchAnswer>("GET", url, undefined, options)).body;
  }

  /** GET /api/v1/health (never needs the token). */
  async health(options: CallOptions = {}): Promise<Health> {
    return (await this.transport.json<Health>("GET", this.transport.url("health"), undefined, options)).body;
  }

  /** POST /api/v1/connect: the worker connects to TWS again after a disconnect. */
  async connect(options: CallOptions = {}): Promise<ControlAnswer> {
    return (await this.transport.json<ControlAnswer>("POST", this.transport.url("connect"), {}, options)).body;
  }

  /** POST /api/v1/disconnect: takes the bridge off TWS until connect (needs the token, or a direct local client). */
  async disconnect(options: CallOptions = {}): Promise<ControlAnswer> {
    return (await this.transport.json<ControlAnswer>("POST", this.transport.url("disconnect"), {}, options)).body;
  }

  /** GET /api/v1/bars/stream: completed bars, forming-bar updates, revisions and statuses as they happen; resumes by
   *  Last-Event-ID after a dropped connection. */
  streamBars(request: StreamRequest, options: StreamOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    return streamBars(this.transport, request, options);
  }
}
