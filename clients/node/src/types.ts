/**
 * The bridge's wire shapes, as README's "HTTP API" documents them (request fields, bars, jobs, heads, health).
 * src/spec-agreement.ts makes the build fail when these and the types generated from docs/openapi.json disagree.
 */

/** Bar sizes POST /api/v1/bars takes (`1M` is a month, `1m` a minute). */
export type Period =
  | "1s" | "5s" | "10s" | "15s" | "30s"
  | "1m" | "2m" | "3m" | "5m" | "10m" | "15m" | "20m" | "30m"
  | "1h" | "2h" | "3h" | "4h" | "8h"
  | "1d" | "1w" | "1M";

/** What TWS reports; for MIDPOINT, BID, ASK and BID_ASK `volume`, `wap` and `count` are -1. AGGTRADES: crypto trades.
 *  BID_ASK: open = average bid, high = highest ask, low = lowest bid, close = average ask. ADJUSTED_LAST: split- and
 *  dividend-adjusted trades, only up to now (no `end_datetime`). The volatilities: the values as prices. */
export type WhatToShow =
  | "TRADES" | "MIDPOINT" | "BID" | "ASK" | "AGGTRADES"
  | "BID_ASK" | "ADJUSTED_LAST" | "HISTORICAL_VOLATILITY" | "OPTION_IMPLIED_VOLATILITY";

/** The kinds IB keeps up to date: the only ones with `include_forming` and streams. */
export type LiveWhatToShow = "TRADES" | "MIDPOINT" | "BID" | "ASK" | "AGGTRADES";

/** `rth`: regular trading hours only; `all`: with pre- and post-market. */
export type Session = "rth" | "all";

/** CONTFUT: a continuous future (no `include_forming`, no stream). OPT, FOP: need `last_trade_date`, `strike` and
 *  `right` unless `con_id` or `local_symbol` names the contract. */
export type SecType = "STK" | "CASH" | "IND" | "FUT" | "CONTFUT" | "OPT" | "FOP" | "CRYPTO";

/** An option's right; `CALL` and `PUT` are sent as `C` and `P`. `""`: not given. */
export type Right = "" | "C" | "P" | "CALL" | "PUT";

/** The fields naming an instrument (a TWS contract). */
export interface InstrumentFields {
  /** e.g. `AAPL`, `BRK B`; for CASH also IB's pair form `EUR.USD`. Required unless `con_id` names the contract. */
  symbol?: string;
  /** Default `STK`. */
  sec_type?: SecType;
  /** Default `SMART`. */
  exchange?: string;
  /** Default `USD` (or the quote currency of a CASH pair). */
  currency?: string;
  /** IB's contract id (1 to 2^31-1): alone it names the contract. Default 0: not given. */
  con_id?: number;
  /** A future's or option's expiry: `YYYYMM` or `YYYYMMDD`. A FUT without one is the nearest expiry. */
  last_trade_date?: string;
  /** An option's strike (0: not given). */
  strike?: number;
  right?: Right;
  /** e.g. `50`, `100`. */
  multiplier?: string;
  /** The listing exchange of a SMART-routed contract, e.g. `NASDAQ`. */
  primary_exchange?: string;
  /** IB's local symbol, e.g. `ESH5`: names one contract. */
  local_symbol?: string;
  /** IB's trading class, e.g. `ES`. */
  trading_class?: string;
  /** Expired futures and options too (IB has no history for expired options). Default `false`. */
  include_expired?: boolean;
}

/** The fields naming an instrument and its data: shared by bars, the stream and the head timestamp. */
export interface ContractFields extends InstrumentFields {
  /** Default `TRADES`. */
  what?: WhatToShow;
  /** Default `rth`. */
  session?: Session;
}

/** The fields common to every POST /api/v1/bars body. */
export interface BarRequestBase extends ContractFields {
  period: Period;
  /** `""` (the default) is now; `"20250126 10:30:00"` in the exchange's time zone; or ISO 8601 with an offset. */
  end_datetime?: string;
  /** `true`: the current, incomplete bar last, kept current by a live subscription (needs `end_datetime` now; only
   *  for a LiveWhatToShow, not for CONTFUT). */
  include_forming?: boolean;
  /** Bars per answer, 1-50,000 (default 50,000); a longer answer comes in pages. */
  limit?: number;
  /** The `next_page_token` of the previous page, sent with the same request. */
  page_token?: string;
}

/** A range by its length: IB's `N S|D|W|M|Y` ending at `end_datetime`. */
export interface DurationRange {
  duration: string;
  start_datetime?: never;
}

/** A range by its start (any length up to 50 years; long ones are fetched by a job). */
export interface StartRange {
  start_datetime: string;
  duration?: never;
}

/** The body of POST /api/v1/bars: exactly one of `duration` and `start_datetime`. */
export type BarRequest = BarRequestBase & (DurationRange | StartRange);

/** One bar. `date` is the exchange's local time (`yyyymmdd HH:MM:SS`, `yyyymmdd` for daily and larger), `time` the
 *  epoch seconds of its start, `datetime` ISO 8601 with the exchange's offset (the date for daily and larger). */
export interface Bar {
  date: string;
  time: number;
  datetime: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  wap: number;
  count: number;
}

/** TWS's message when a range has no data (162 "HMDS query returned no data"): with an empty answer. */
export interface Notice {
  tws_code: number;
  message: string;
}

/** A 200 answer of POST /api/v1/bars. */
export interface BarsAnswer {
  success: true;
  symbol: string;
  period: Period;
  count: number;
  bars: Bar[];
  /** `null` on the whole answer or its last page; else send it back as `page_token`. */
  next_page_token: string | null;
  error: null;
  /** Only with zero bars: why TWS had none. */
  notice?: Notice;
}

export type JobState = "pending" | "running" | "done" | "failed" | "cancelled";

/** A history job (a long range fetched within IB's pacing rules). */
export interface Job {
  /** 32 lowercase hex digits. */
  id: string;
  state: JobState;
  /** IB requests (windows) fetched, and in all. */
  done: number;
  total: number;
  bars_so_far: number;
  eta_seconds: number | null;
  error: { code: ErrorCode; message: string } | null;
}

/** The 202 answer of POST /api/v1/bars whose range a job fetches. */
export interface JobPendingAnswer {
  success: true;
  status: "pending";
  job: Job;
}

/** GET and DELETE /api/v1/jobs/{id}. */
export interface JobAnswer {
  success: true;
  job: Job;
}

/** The query of GET /api/v1/contracts/{symbol}/head (the symbol is the path's). */
export type HeadRequest = ContractFields & { symbol: string };

export interface HeadAnswer {
  success: true;
  symbol: string;
  what: WhatToShow;
  session: Session;
  /** The earliest bar TWS has: its epoch seconds and exchange-local date. */
  head: { time: number; date: string };
}

export type ConnectionState = "connected" | "connecting" | "disconnected" | "stopped";

/** The TWS worker's own report in GET /api/v1/health (more keys than these: pacing, cache, store, ...). */
export interface WorkerHealth {
  connected: boolean;
  state: ConnectionState;
  /** false between 1100/2110 and 1101/1102 */
  ib_reachable?: boolean;
  client_id?: number;
  server_version?: number | null;
  last_error?: { tws_code: number; message: string; time: number } | null;
  reconnect_attempts?: number;
  reconnects?: number;
  /** IB's data farms and their state (ok, broken, inactive). */
  farms?: Record<string, string>;
  worker_pid?: number;
  worker_uptime_seconds?: number;
  [key: string]: unknown;
}

/** The answering HTTP worker's own figures in GET /api/v1/health. */
export interface HttpWorkerHealth {
  waiting_requests: number;
  max_waiting_requests: number;
  answer_cache?: Record<string, unknown>;
  forming_answers?: Record<string, unknown>;
  stream_clients?: number;
  [key: string]: unknown;
}

/** GET /api/v1/health (200): `degraded` when TWS is not connected (`worker.last_error` says why). A worker that does
 *  not answer is a 503 (UnavailableError, code worker_unavailable). */
export interface Health {
  status: "ok" | "degraded";
  connected: boolean;
  tws_host: string;
  tws_port: number;
  uptime_seconds: number;
  version: string;
  http_worker_pid: number;
  http_worker: HttpWorkerHealth;
  worker: WorkerHealth;
  [key: string]: unknown;
}

/** POST /api/v1/connect and /disconnect. */
export interface ControlAnswer {
  success: true;
  connected: boolean;
  /** `stopped` after disconnect (no automatic reconnect until connect), `connecting` after connect. */
  state: ConnectionState | null;
}

/** Every failure's body: `code` is stable; `tws_code` when a TWS error caused it; `fields` a message per field. */
export interface ErrorBody {
  success: false;
  error: string;
  code: ErrorCode;
  tws_code?: number;
  fields?: Record<string, string>;
  /** The request's symbol and period, once they were valid. */
  symbol?: string;
  period?: Period;
  bars: unknown[];
  count: 0;
}

/** The bridge's stable error codes (README "Errors"; shared/errors.py ErrorCode). */
export type ErrorCode =
  | "invalid_request" | "unauthorized" | "forbidden" | "not_found" | "method_not_allowed" | "payload_too_large"
  | "unsupported_media_type" | "uri_too_long" | "expectation_failed" | "headers_too_large" | "not_implemented"
  | "request_timeout" | "symbol_not_found" | "ambiguous_symbol" | "pacing_limited" | "market_data_not_subscribed"
  | "tws_rejected" | "tws_error" | "tws_unavailable" | "tws_timeout" | "tws_undecodable" | "no_data"
  | "subscriptions_exhausted" | "resume_unavailable" | "job_not_found" | "invalid_page_token" | "worker_unavailable"
  | "overloaded" | "assets_missing" | "internal_error";

/** The query of GET /api/v1/contracts: the contract fields of a bars request with its defaults (`symbol` unless
 *  `con_id` names the contract); an option chain may be listed without expiry, strike or right. */
export interface ContractQuery {
  symbol?: string;
  /** Default `STK`. */
  sec_type?: SecType | "CONTFUT" | "OPT" | "FOP";
  /** Default `SMART` (`CME` for ES futures). */
  exchange?: string;
  /** Default `USD`. */
  currency?: string;
  /** IB's contract id: alone it names the contract. */
  con_id?: number;
  /** `YYYYMM` or `YYYYMMDD`. */
  last_trade_date?: string;
  strike?: number;
  right?: "" | "C" | "P" | "CALL" | "PUT";
  multiplier?: string;
  primary_exchange?: string;
  local_symbol?: string;
  trading_class?: string;
  /** Expired futures and options too. */
  include_expired?: boolean;
}

/** One contract as TWS's contract details describe it. */
export interface Contract {
  con_id: number;
  symbol: string;
  sec_type: string;
  local_symbol: string;
  /** `yyyymmdd` (futures, options), `""` for none. */
  last_trade_date: string;
  /** 0 for none. */
  strike: number;
  /** `C`, `P`, or `""`. */
  right: string;
  multiplier: string;
  exchange: string;
  primary_exchange: string;
  currency: string;
  trading_class: string;
  long_name: string;
  /** The zone of `trading_hours` and `liquid_hours`. */
  time_zone: string;
  /** TWS's sessions: `yyyymmdd:hhmm-yyyymmdd:hhmm;yyyymmdd:CLOSED;...` */
  trading_hours: string;
  liquid_hours: string;
  min_tick: number;
}

/** GET /api/v1/contracts (200): every match, sorted by expiry, right, strike, con_id (none is a NotFoundError). */
export interface ContractsAnswer {
  success: true;
  count: number;
  contracts: Contract[];
}

/** One contract whose symbol or name starts with the searched text. */
export interface SymbolMatch {
  con_id: number;
  symbol: string;
  sec_type: string;
  primary_exchange: string;
  currency: string;
  /** e.g. `["OPT", "WAR"]` */
  derivative_sec_types: string[];
}

/** GET /api/v1/contracts/search (200): at most 16 matches. */
export interface SymbolSearchAnswer {
  success: true;
  count: number;
  matches: SymbolMatch[];
}
