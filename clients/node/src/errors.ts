/**
 * The bridge's failures as classes, one per family of `code` (README "Errors"): catch the family, read `code` for the
 * exact reason. Every failure answer has a stable `code`; `status` is its HTTP status (null for the client's own
 * failures: a timeout, an unreachable bridge), `retryAfter` the Retry-After header's seconds.
 */

import type { ErrorBody, ErrorCode, Job } from "./types.js";

export interface BridgeErrorDetail {
  status?: number | null;
  retryAfter?: number | null;
  twsCode?: number | null;
  fields?: Record<string, string> | null;
  body?: unknown;
  cause?: unknown;
}

/** Any failure the client reports. */
export class BridgeError extends Error {
  /** The bridge's stable code (`symbol_not_found`, `pacing_limited`, ...), or the client's own (`timeout`, ...). */
  readonly code: string;
  /** The HTTP status, or null when no answer came (timeout, network). */
  readonly status: number | null;
  /** Seconds the bridge asked to wait before trying again (Retry-After), or null. */
  readonly retryAfter: number | null;
  /** The TWS error code behind it (e.g. 200 for symbol_not_found), or null. */
  readonly twsCode: number | null;
  /** A message per invalid field (invalid_request), or null. */
  readonly fields: Record<string, string> | null;
  /** The answer's JSON body as it came, when there was one. */
  readonly body: unknown;

  constructor(code: string, message: string, detail: BridgeErrorDetail = {}) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = detail.status ?? null;
    this.retryAfter = detail.retryAfter ?? null;
    this.twsCode = detail.twsCode ?? null;
    this.fields = detail.fields ?? null;
    this.body = detail.body;
  }
}

/** The request itself is wrong (400 invalid_request, invalid_page_token, ambiguous_symbol; 405, 408, 413, 414, 415,
 *  417, 431, 501): retrying the same request changes nothing. */
export class ValidationError extends BridgeError {}

/** 401 unauthorized (missing or wrong token), 403 forbidden. */
export class AuthError extends BridgeError {}

/** 404: symbol_not_found, job_not_found, not_found, no_data; 410 resume_unavailable (a stream's resume point is
 *  older than its series). */
export class NotFoundError extends BridgeError {}

/** 429 pacing_limited: TWS's pacing rules; `retryAfter` says when. */
export class PacingError extends BridgeError {}

/** 503: tws_unavailable, worker_unavailable, overloaded, subscriptions_exhausted, assets_missing. Worth a retry. */
export class UnavailableError extends BridgeError {}

/** 502 (tws_error, tws_rejected, market_data_not_subscribed, tws_undecodable) and 504 tws_timeout: TWS failed. */
export class UpstreamError extends BridgeError {}

/** 500 internal_error: a bug in the bridge (its log has the details). */
export class InternalError extends BridgeError {}

/** No answer within `timeoutMs` (code `timeout`; the request was aborted). */
export class TimeoutError extends BridgeError {}

/** The bridge could not be reached, or its answer was not the bridge's JSON (code `network_error`, `bad_answer`). */
export class NetworkError extends BridgeError {}

/** A history job ended without its bars: `failed` (code: the job's error code) or `cancelled`. */
export class JobError extends BridgeError {
  readonly job: Job;

  constructor(job: Job) {
    const code = job.state === "cancelled" ? "job_cancelled" : (job.error?.code ?? "job_failed");
    super(code, `job ${job.id} ${job.state}${job.error ? `: ${job.error.message}` : ""}`, { body: job });
    this.job = job;
  }
}

type Family = new (code: string, message: string, detail?: BridgeErrorDetail) => BridgeError;

// The HTTP status of each code (shared/errors.py HTTP_STATUS): stream `error` events carry a code and no status.
export const STATUS_OF_CODE: Readonly<Record<ErrorCode, number>> = {
  invalid_request: 400, invalid_page_token: 400, ambiguous_symbol: 400, unauthorized: 401, forbidden: 403,
  not_found: 404, symbol_not_found: 404, job_not_found: 404, no_data: 404, method_not_allowed: 405,
  request_timeout: 408, resume_unavailable: 410, payload_too_large: 413, uri_too_long: 414,
  unsupported_media_type: 415, expectation_failed: 417, pacing_limited: 429, headers_too_large: 431,
  internal_error: 500, not_implemented: 501, tws_error: 502, tws_rejected: 502, market_data_not_subscribed: 502,
  tws_undecodable: 502, tws_unavailable: 503, worker_unavailable: 503, overloaded: 503,
  subscriptions_exhausted: 503, assets_missing: 503, tws_timeout: 504,
};

function familyOfStatus(status: number): Family {
  if (status === 401 || status === 403) return AuthError;
  if (status === 404 || status === 410) return NotFoundError;
  if (status === 429) return PacingError;
  if (status === 503) return UnavailableError;
  if (status === 502 || status === 504) return UpstreamError;
  if (status >= 500 && status !== 501) return InternalError;
  return ValidationError;
}

/** The error for a failure `code` (from an answer or a stream `error` event); `status` defaults to the code's. */
export function errorOfCode(code: string, message: string, detail: BridgeErrorDetail = {}): BridgeError {
  const status = detail.status ?? (STATUS_OF_CODE as Readonly<Record<string, number>>)[code] ?? null;
  const Family = status === null ? BridgeError : familyOfStatus(status);
  return new Family(code, message, { ...detail, status });
}

/** Retry-After in seconds: a number of seconds or an HTTP date (RFC 9110 10.2.3); null when absent or unreadable. */
export function retryAfterSeconds(header: string | null, now: number = Date.now()): number | null {
  if (header === null || header.trim() === "") return null;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}

/** The error for a failed HTTP answer whose body was read as `body` (JSON, or null when it was not JSON). */
export function errorOfResponse(status: number, headers: Headers, body: unknown): BridgeError {
  const retryAfter = retryAfterSeconds(headers.get("Retry-After"));
  if (!isErrorBody(body)) {
    return new (familyOfStatus(status))(`http_${status}`, `HTTP ${status} without the bridge's error body`,
                                        { status, retryAfter, body });
  }
  return errorOfCode(body.code, body.error, {
    status, retryAfter, body, twsCode: body.tws_code ?? null, fields: body.fields ?? null,
  });
}

function isErrorBody(body: unknown): body is ErrorBody {
  return typeof body === "object" && body !== null && (body as ErrorBody).success === false
    && typeof (body as ErrorBody).code === "string" && typeof (body as ErrorBody).error === "string";
}
