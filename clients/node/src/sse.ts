/**
 * A Server-Sent Events parser (the WHATWG HTML "event stream" interpretation), fed decoded text as it arrives: lines
 * end in CRLF, LF or CR; `event`, `data` (lines joined by LF), `id` and `retry` fields; a line starting with ":" is a
 * comment (the bridge's heartbeat); a blank line dispatches the event. No EventSource needed.
 */

export interface SseEvent {
  /** `event:`, or "message" when the event named none. */
  type: string;
  data: string;
  /** This event's `id:`, or null when it had none. */
  id: string | null;
}

export class SseParser {
  /** The last `retry:` the stream sent (milliseconds), or null. */
  retryMs: number | null = null;
  private buffer = "";
  private type = "";
  private data: string[] = [];
  private id: string | null = null;

  /** The events completed by `text` (the stream's next characters). */
  push(text: string): SseEvent[] {
    this.buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const cr = this.buffer.indexOf("\r", start);
      const lf = this.buffer.indexOf("\n", start);
      if (cr < 0 && lf < 0) break;
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end === cr && end === this.buffer.length - 1) break;  // a CR last: the LF of a CRLF may follow
      const line = this.buffer.slice(start, end);
      start = end + (end === cr && this.buffer[end + 1] === "\n" ? 2 : 1);
      const event = this.line(line);
      if (event !== null) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
    return null;
  }

  private dispatch(): SseEvent | null {
    const event = this.data.length ? { type: this.type || "message", data: this.data.join("\n"), id: this.id } : null;
    this.type = "";
    this.data = [];
    this.id = null;
    return event;
  }
}
