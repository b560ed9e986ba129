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
  private afterCr = false;
  private type = "";
  private data: string[] = [];
  private id: string | null = null;

  /** The events completed by `text` (the stream's next characters). */
  push(text: string): SseEvent[] {
    if (this.afterCr && text.startsWith("\n")) text = text.slice(1);  // the LF of a CRLF cut between two chunks
    this.afterCr = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    const lineEnd = /[\r\n]/g;
    for (;;) {
      lineEnd.lastIndex = start;
      const found = lineEnd.exec(this.buffer);
      if (found === null) break;
      const at = found.index;
      const line = this.buffer.slice(start, at);
      if (this.buffer[at] === "\r") {
        if (at + 1 === this.buffer.length) this.afterCr = true;
        start = at + (this.buffer[at + 1] === "\n" ? 2 : 1);
      } else {
        start = at + 1;
      }
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
