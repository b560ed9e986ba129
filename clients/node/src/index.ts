/** tws-bridge-client: a typed client of the tws-bridge HTTP API (no runtime dependencies; Node 18+ fetch). */

export { BridgeClient, JobPendingError } from "./client.js";
export type { BarsOptions, BridgeClientOptions } from "./client.js";
export {
  AuthError, BridgeError, InternalError, JobError, NetworkError, NotFoundError, PacingError, TimeoutError,
  UnavailableError, UpstreamError, ValidationError, STATUS_OF_CODE, errorOfCode, retryAfterSeconds,
} from "./errors.js";
export type { BridgeErrorDetail } from "./errors.js";
export type { CallOptions, FetchLike, RetryInfo } from "./http.js";
export type { FollowOptions, JobProgress } from "./jobs.js";
export { SseParser } from "./sse.js";
export type { SseEvent } from "./sse.js";
export type { StreamEvent, StreamOptions, StreamRequest, StreamStatus } from "./stream.js";
export type * from "./types.js";
