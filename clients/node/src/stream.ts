/**
 * GET /api/v1/bars/stream as an async iterator of typed events, over fetch's body stream (README "GET
 * /api/v1/bars/stream"). A dropped connection (or one silent for longer than `idleTimeoutMs`: the bridge sends a
 * heartbeat every 15 s) is reopened after the stream's `retry:` hint with `Last-Event-ID` set to the last `bar`
 * event's id, so every completed bar arrives exactly once; an `error` event with a code worth a retry (tws_unavailable,
 * pacing_limited, ...) is reopened alike. At most `maxReconnects` reopenings in a row that bring no event; then the
 * last failure is thrown. Aborting `signal` ends the iteration cleanly (no error).
 */

import { BridgeError, NetworkError, TimeoutError, errorOfCode, errorOfResponse } from "./errors.js";
import { type Transport, retryable, sleep } from "./http.js";
import { SseParser } from "./sse.js";
import type { Bar, ContractFields, LiveWhatToShow, Period, SecType } from "./types.js";

/** The query of the stream: a series, and how many completed bars to send first. */
export interface StreamRequest extends Omit<ContractFields, "what" | "sec_type"> {
  /** Only what IB keeps up to date (default `TRADES`). */
  what?: LiveWhatToShow;
  /** No CONTFUT: TWS keeps no continuous future up to date. */
  sec_type?: Exclude<SecType, "CONTFUT">;
  /** `5s` and longer (TWS streams no 1-second bars). */
  period: Exclude<Period, "1s">;
  /** Completed bars to send first when there is no resume point (0-5000, default 0). */
  backfill?: number;
}

export interface StreamStatus {
  status: "live" | "interrupted" | "restored";
  reason: string | null;
}

/** What the stream delivers. `bar`: a completed bar, final, exactly once; `update`: the forming bar changed;
 *  `revision`: TWS reported a bar already sent differently (replace the bar with its `time`); `status`. */
export type StreamEvent =
  | { type: "bar"; id: string; bar: Bar }
  | { type: "update"; bar: Bar }
  | { type: "revision"; bar: Bar }
  | { type: "status"; status: StreamStatus };

export interface StreamOptions {
  signal?: AbortSignal | undefined;
  /** Resume after this bar event id (a previous stream's last `bar` id): only bars after it come. */
  lastEventId?: string | number | undefined;
  /** Reopenings in a row without an event before giving up (default 5). */
  maxReconnects?: number | undefined;
  /** Wait before reopening when the stream sent no `retry:` (default 3000 ms; the bridge sends 3000). */
  reconnectDelayMs?: number | undefined;
  /** Treat the connection as dropped after this long without a byte (default 45,000 ms: three heartbeats). */
  idleTimeoutMs?: number | undefined;
  /** Told of every reopening: why, and the resume point. */
  onReconnect?: ((info: { attempt: number; lastEventId: string | null; error: unknown }) => void) | undefined;
}

const EVENT_TYPES = new Set(["bar", "update", "revision", "status"]);

class Dropped extends Error {}

export async function* streamBars(transport: Transport, request: StreamRequest,
                                  options: StreamOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
  const { signal } = options;
  const maxReconnects = options.maxReconnects ?? 5;
  let lastEventId = options.lastEventId === undefined ? null : String(options.lastEventId);
  let retryMs = options.reconnectDelayMs ?? 3000;
  let failures = 0;
  for (;;) {
    if (signal?.aborted) return;
    const parser = new SseParser();
    let failure: unknown;
    try {
      for await (const event of open(transport, request, lastEventId, options.idleTimeoutMs ?? 45_000, parser,
                                     signal)) {
        failures = 0;
        if (event.type === "bar") lastEventId = event.id;
        yield event;
      }
      failure = new Dropped("the stream ended");
    } catch (error) {
      if (signal?.aborted) return;
      if (!worthReopening(error)) throw error;
      failure = error;
    }
    retryMs = parser.retryMs ?? retryMs;
    if (signal?.aborted) return;
    if (++failures > maxReconnects) throw failure;
    options.onReconnect?.({ attempt: failures, lastEventId, error: failure });
    try {
      await sleep(retryMs, signal);
    } catch {
      return;  // aborted while waiting
    }
  }
}

/** A dropped or refused connection, a timeout, and the bridge's "not now" (429, 503) are worth reopening; a
 *  failure of the request itself (4xx) or of TWS (502, 504) is not. */
function worthReopening(error: unknown): boolean {
  if (!(error instanceof BridgeError)) return true;  // e.g. fetch's "terminated" when the connection is cut
  return retryable(error) || error instanceof NetworkError || error instanceof TimeoutError;
}

/** The stream's answer (its headers) within the client's timeout, on `connection` (which stays the body's signal);
 *  a failure answer as its error class. */
async function answer(transport: Transport, url: URL, headers: Record<string, string>,
                      connection: AbortController): Promise<Response> {
  const { timeoutMs } = transport.options;
  const timer = setTimeout(() => connection.abort(
    new TimeoutError("timeout", `GET /bars/stream: no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    const response = await transport.options.fetch(url, { headers, signal: connection.signal });
    if (!response.ok) {
      const text = await response.text();
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      throw errorOfResponse(response.status, response.headers, body);
    }
    return response;
  } catch (error) {
    if (connection.signal.aborted) throw connection.signal.reason;  // the timeout, or the caller's abort
    if (error instanceof BridgeError) throw error;
    throw new NetworkError("network_error", `GET /bars/stream: ${String((error as Error).cause ?? error)}`,
                           { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/** One connection's events; throws the `error` event's error, ends when the connection ends. */
async function* open(transport: Transport, request: StreamRequest, lastEventId: string | null, idleTimeoutMs: number,
                     parser: SseParser, signal: AbortSignal | undefined): AsyncGenerator<StreamEvent> {
  const query: Record<string, string | number | boolean | undefined> = { ...request };
  const url = transport.url("bars/stream", query);
  const headers = transport.headers({ Accept: "text/event-stream" });
  if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
  const connection = new AbortController();
  const onAbort = (): void => connection.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    const response = await answer(transport, url, headers, connection);
    if (response.body === null) return;
    const decoder = new TextDecoder();
    let idle = setTimeout(() => connection.abort(new Dropped("no byte within the idle timeout")), idleTimeoutMs);
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(idle);
        idle = setTimeout(() => connection.abort(new Dropped("no byte within the idle timeout")), idleTimeoutMs);
        for (const raw of parser.push(decoder.decode(chunk, { stream: true }))) {
          if (raw.type === "error") {
            const failure = JSON.parse(raw.data) as { code?: string; error?: string };
            throw errorOfCode(failure.code ?? "stream_error", failure.error ?? "the stream failed");
          }
          if (!EVENT_TYPES.has(raw.type)) continue;
          const data = JSON.parse(raw.data) as unknown;
          if (raw.type === "bar") yield { type: "bar", id: raw.id ?? String((data as Bar).time), bar: data as Bar };
          else if (raw.type === "status") yield { type: "status", status: data as StreamStatus };
          else yield { type: raw.type as "update" | "revision", bar: data as Bar };
        }
      }
    } catch (error) {
      if (connection.signal.aborted && connection.signal.reason instanceof Dropped) throw connection.signal.reason;
      throw error;
    } finally {
      clearTimeout(idle);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    connection.abort();  // a consumer that stops iterating closes the connection
  }
}
