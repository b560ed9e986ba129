// streamBars against the real stream: backfill and live bars, resume by Last-Event-ID after a cut connection,
// a clean end on abort, and a refused stream as its error class.

import assert from "node:assert/strict";
import { test } from "node:test";

import { AuthError, BridgeClient, ValidationError } from "../dist/index.js";
import { BRIDGE_URL, TOKEN, client, cuttingProxy } from "./helpers.mjs";

test("streamBars yields bars, resumes after a cut connection by Last-Event-ID: every bar once, in order", async () => {
  const proxy = await cuttingProxy();
  const streaming = new BridgeClient({ baseUrl: proxy.url, token: TOKEN, timeoutMs: 10_000 });
  const controller = new AbortController();
  const bars = [];
  const statuses = [];
  const reconnects = [];
  let cutAfter = null;
  try {
    const events = streaming.streamBars({ symbol: "AAPL", period: "1m", backfill: 6 },
                                        { signal: controller.signal, onReconnect: (info) => reconnects.push(info) });
    for await (const event of events) {
      if (event.type === "status") statuses.push(event.status.status);
      if (event.type !== "bar") continue;
      assert.equal(event.id, String(event.bar.time));
      bars.push(event.bar);
      if (cutAfter === null && bars.length >= 7) {  // the backfill and a live bar: now the network fails
        cutAfter = bars.length;
        proxy.cut();
      } else if (cutAfter !== null && bars.length >= cutAfter + 2) {
        controller.abort();
      }
    }
  } finally {
    await proxy.close();
  }
  assert.equal(statuses[0], "live");
  assert.ok(reconnects.length >= 1, "the client reconnected");
  assert.equal(reconnects[0].lastEventId, String(bars[cutAfter - 1].time));
  assert.ok(proxy.accepted >= 2);
  const series = (await client().getBars({ symbol: "AAPL", period: "1m", duration: "1 D" })).bars;
  const start = series.findIndex((bar) => bar.time === bars[0].time);
  assert.ok(start >= 0);
  assert.deepEqual(bars, series.slice(start, start + bars.length), "every bar once, in order, as POST /bars has it");
});

test("a stream the bridge refuses throws its error class, without reconnecting", async () => {
  const reconnects = [];
  const iterate = async (bridge, request) => {
    for await (const _ of bridge.streamBars(request, { onReconnect: (info) => reconnects.push(info) })) { /* none */ }
  };
  const invalid = await iterate(client(), { symbol: "AAPL", period: "1s" }).catch((e) => e);
  assert.ok(invalid instanceof ValidationError, String(invalid));
  assert.equal(invalid.code, "invalid_request");
  const anonymous = new BridgeClient({ baseUrl: BRIDGE_URL });
  const refused = await iterate(anonymous, { symbol: "AAPL", period: "1m" }).catch((e) => e);
  assert.ok(refused instanceof AuthError, String(refused));
  assert.deepEqual(reconnects, []);
});

test("aborting ends the iteration cleanly (no error), whenever it comes", async () => {
  const controller = new AbortController();
  const seen = [];
  for await (const event of client().streamBars({ symbol: "MSFT", period: "1m" }, { signal: controller.signal })) {
    seen.push(event.type);
    if (event.type === "status") setTimeout(() => controller.abort(), 100);  // between two events
  }
  assert.ok(seen.includes("status"));
  const already = new AbortController();
  already.abort();
  for await (const _ of client().streamBars({ symbol: "MSFT", period: "1m" }, { signal: already.signal })) {
    assert.fail("an aborted signal yields nothing");
  }
});
