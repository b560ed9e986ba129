/**
 * One HTTP exchange with the bridge: the token, a per-attempt timeout (AbortController), the JSON body, and retries
 * of 429 and 503 honouring Retry-After within a cap of attempts and delay. Nothing else is retried: a 4xx means the
 * request is wrong, a 502/504 that TWS failed it, and a timeout may have left the request running upstream.
 */

import {
  BridgeError, NetworkError, PacingError, TimeoutError, UnavailableError, errorOfResponse,
} from "./errors.js";

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Told before each retry: which attempt failed, how, and how long the client waits. */
export interface RetryInfo {
  attempt: number;
  delayMs: number;
  error: BridgeError;
}

export interface TransportOptions {
  baseUrl: string;
  token?: string | undefined;
  timeoutMs: number;
  retries: number;
  maxRetryDelayMs: number;
  fetch: FetchLike;
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

/** Options of one call: they override the client's. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  retries?: number | undefined;
}

export interface Exchange<T> {
  status: number;
  headers: Headers;
  body: T;
}

// Without a Retry-After header a retry waits FALLBACK_DELAY_MS doubled per attempt (within maxRetryDelayMs).
const FALLBACK_DELAY_MS = 500;

/** Whether a failure is worth the same request again: 429 and 503, the bridge's "not now". */
export function retryable(error: BridgeError): boolean {
  return error instanceof PacingError || error instanceof UnavailableError;
}

export class Transport {
  constructor(readonly options: TransportOptions) {}

  url(path: string, query?: Record<string, string | number | boolean | undefined>): URL {
    const url = new URL(path.replace(/^\//, ""), this.options.baseUrl.replace(/\/?$/, "/"));
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { Accept: "application/json", ...extra };
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    return headers;
  }

  /** The JSON answer of `method url` (2xx); a failure as its error class, after the retries it allows. */
  async json<T>(method: string, url: URL, body: unknown, call: CallOptions = {}): Promise<Exchange<T>> {
    const retries = call.retries ?? this.options.retries;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, url, body, call);
      } catch (error) {
        if (!(error instanceof BridgeError) || !retryable(error) || attempt > retries) throw error;
        const delayMs = this.retryDelayMs(error, attempt);
        if (delayMs === null) throw error;  // the bridge asks for a longer wait than the cap allows: the caller decides
        this.options.onRetry?.({ attempt, delayMs, error });
        await sleep(delayMs, call.signal);
      }
    }
  }

  /** How long to wait before the next attempt: Retry-After, or a doubling fallback; null past the cap. */
  retryDelayMs(error: BridgeError, attempt: number): number | null {
    const cap = this.options.maxRetryDelayMs;
    if (error.retryAfter !== null) {
      const asked = error.retryAfter * 1000;
      return asked > cap ? null : asked;
    }
    return Math.min(cap, FALLBACK_DELAY_MS * 2 ** (attempt - 1));
  }

  /** One attempt: the answer read whole within the timeout. */
  async once<T>(method: string, url: URL, body: unknown, call: CallOptions): Promise<Exchange<T>> {
    const timeoutMs = call.timeoutMs ?? this.options.timeoutMs;
    const headers = this.headers(body === undefined ? {} : { "Content-Type": "application/json" });
    return withTimeout(timeoutMs, call.signal, `${method} ${url.pathname}`, async (signal) => {
      const init: RequestInit = { method, headers, signal };
      if (body !== undefined) init.body = JSON.stringify(body);
      const response = await this.options.fetch(url, init);
      const text = await response.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      if (!response.ok) throw errorOfResponse(response.status, response.headers, parsed);
      if (parsed === null) {
        throw new NetworkError("bad_answer", `${method} ${url.pathname}: HTTP ${response.status} without JSON`,
                               { status: response.status, body: text });
      }
      return { status: response.status, headers: response.headers, body: parsed as T };
    });
  }
}

/**
 * `run(signal)` with a signal that aborts after `timeoutMs` (a TimeoutError) or when `outer` aborts (its reason).
 * Fetch failures become NetworkError; the timer is cleared whatever happens.
 */
export async function withTimeout<T>(timeoutMs: number, outer: AbortSignal | undefined, what: string,
                                     run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timeout = new TimeoutError("timeout", `${what}: no answer within ${timeoutMs} ms`, { status: null });
  const timer = setTimeout(() => controller.abort(timeout), timeoutMs);
  const onAbort = (): void => controller.abort(outer?.reason);
  outer?.throwIfAborted();
  outer?.addEventListener("abort", onAbort, { once: true });
  try {
    return await run(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason;  // ours (the timeout) or the caller's abort
    if (error instanceof BridgeError) throw error;
    throw new NetworkError("network_error", `${what}: ${describe(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onAbort);
  }
}

/** Wait `ms`, or reject with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}
