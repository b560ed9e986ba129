// The SSE parser on its own: the event-stream format's line endings, fields and comments, fed in any pieces.

import assert from "node:assert/strict";
import { test } from "node:test";

import { SseParser } from "../dist/index.js";

const STREAM = "retry: 3000\n\nid: 1738076280\nevent: bar\ndata: {\"time\": 1738076280}\n\n: heartbeat\n\n"
  + "event: update\r\ndata: {\"a\": 1}\r\n\r\nevent: status\rdata: line one\rdata: line two\r\r";

const EXPECTED = [
  { type: "bar", id: "1738076280", data: "{\"time\": 1738076280}" },
  { type: "update", id: null, data: "{\"a\": 1}" },
  { type: "status", id: null, data: "line one\nline two" },
];

test("the parser reads events, ids, retry and comments whatever the line endings", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push(STREAM), EXPECTED);
  assert.equal(parser.retryMs, 3000);
});

test("the parser gives the same events however the stream is cut into chunks (also inside a CRLF)", () => {
  for (const size of [1, 2, 3, 7, 16]) {
    const parser = new SseParser();
    const events = [];
    for (let i = 0; i < STREAM.length; i += size) events.push(...parser.push(STREAM.slice(i, i + size)));
    assert.deepEqual(events, EXPECTED, `chunks of ${size}`);
  }
});

test("an event without data is not dispatched; a field without a colon is a field with an empty value", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push("event: bar\n\ndata\n\n"), [{ type: "message", id: null, data: "" }]);
});
