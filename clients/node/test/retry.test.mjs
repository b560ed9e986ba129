// Retries of the bridge's real "not now" answers, honouring Retry-After within the cap; the timeout.

import assert from "node:assert/strict";
import { test } from "node:test";

import { PacingError, TimeoutError, UnavailableError } from "../dist/index.js";
import { client, simControl, waitUntil } from "./helpers.mjs";

// The bridge allows one request of bars of 30 s or less per 4.8 s (PACING_SMALL_BAR_MAX=1 on a scaled clock) and a
// request may wait 4 s for its turn (BAR_TIMEOUT): a second small-bar request at once is a 429 with Retry-After.
const small = (end) => ({ symbol: "IBM", period: "1s", duration: "1800 S", end_datetime: end });

test("a real 429 (IB's small-bar pacing) is a PacingError with Retry-After; retried, the client waits that long",
  async () => {
    assert.equal((await client().getBars(small("20250127 10:30:00"))).count, 1800);  // spends the window's request

    const refused = await client({ retries: 0 }).getBars(small("20250127 11:00:00")).catch((e) => e);
    assert.ok(refused instanceof PacingError, String(refused));
    assert.equal(refused.code, "pacing_limited");
    assert.equal(refused.status, 429);
    assert.ok(refused.retryAfter >= 1, `Retry-After ${refused.retryAfter}`);

    const overCap = [];
    const capped = await client({ maxRetryDelayMs: 500, onRetry: (info) => overCap.push(info) })
      .getBars(small("20250127 11:00:00")).catch((e) => e);
    assert.ok(capped instanceof PacingError, "a Retry-After beyond maxRetryDelayMs is thrown at once");
    assert.deepEqual(overCap, []);

    const retries = [];
    const started = Date.now();
    const answer = await client({ retries: 3, onRetry: (info) => retries.push({ ...info, at: Date.now() }) })
      .getBars(small("20250127 11:30:00"));
    assert.equal(answer.count, 1800);
    assert.ok(retries.length >= 1);
    const first = retries[0];
    assert.ok(first.error instanceof PacingError);
    assert.equal(first.delayMs, first.error.retryAfter * 1000, "waits what Retry-After says");
    assert.ok(Date.now() - started >= first.delayMs, "the retry came no sooner than Retry-After");
  });

test("a real 503 (TWS disconnected) is an UnavailableError; retried after Retry-After, it gets the bars once TWS is back",
  async () => {
    const control = client();
    const request = { symbol: "KO", period: "5m", duration: "1 D", end_datetime: "20250124 16:00:00" };
    assert.equal((await control.disconnect()).state, "stopped");
    try {
      const refused = await client({ retries: 0 }).getBars(request).catch((e) => e);
      assert.ok(refused instanceof UnavailableError, String(refused));
      assert.equal(refused.code, "tws_unavailable");
      assert.equal(refused.status, 503);
      assert.ok(refused.retryAfter >= 1);

      const retries = [];
      let reconnected;
      const answer = await client({
        retries: 10,
        onRetry: (info) => {
          retries.push(info);
          reconnected ??= control.connect();  // TWS comes back while the client waits
        },
      }).getBars(request);
      await reconnected;
      assert.equal(answer.count, 78);
      assert.equal(retries[0].error.code, "tws_unavailable");
      assert.equal(retries[0].delayMs, retries[0].error.retryAfter * 1000);
    } finally {
      await control.connect();
      await waitUntil(async () => (await control.health()).connected, { what: "bridge connected again" });
    }
  });

test("no answer within timeoutMs is a TimeoutError, never retried; the caller's abort rejects at once", async () => {
  await simControl("reply_delay", { seconds: 3 });
  try {
    const retries = [];
    const started = Date.now();
    const error = await client({ timeoutMs: 500, onRetry: (info) => retries.push(info) })
      .getBars({ symbol: "XOM", period: "5m", duration: "1 D", end_datetime: "20250123 16:00:00" }).catch((e) => e);
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.code, "timeout");
    assert.equal(error.status, null);
    assert.ok(Date.now() - started < 2500, `took ${Date.now() - started} ms`);
    assert.deepEqual(retries, []);

    const controller = new AbortController();
    const pending = client().getBars({ symbol: "XOM", period: "5m", duration: "1 D", end_datetime: "20250122 16:00:00" },
                                     { signal: controller.signal });
    controller.abort(new Error("caller gave up"));
    await assert.rejects(pending, /caller gave up/);
  } finally {
    await simControl("reply_delay", { seconds: 0 });
  }
});
