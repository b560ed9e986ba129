// getBars, pages, getHead and health against the real bridge; failures as their error classes by code.

import assert from "node:assert/strict";
import { test } from "node:test";

import { AuthError, BridgeClient, BridgeError, NotFoundError, ValidationError } from "../dist/index.js";
import { BRIDGE_URL, client, curlBars } from "./helpers.mjs";

const PAST = "20250127 16:00:00";
const BAR_KEYS = ["date", "time", "datetime", "open", "high", "low", "close", "volume", "wap", "count"];

test("getBars answers the bars curl gets, each bar with its keys in order and datetime with the exchange's offset",
  async () => {
    const request = { symbol: "AAPL", period: "5m", duration: "1 D", end_datetime: PAST };
    const answer = await client().getBars(request);
    const byCurl = await curlBars(request);
    assert.equal(byCurl.status, 200);
    assert.deepEqual(answer, byCurl.body);
    assert.equal(answer.success, true);
    assert.equal(answer.count, 78);
    assert.equal(answer.bars.length, 78);
    assert.equal(answer.next_page_token, null);
    for (const bar of answer.bars) assert.deepEqual(Object.keys(bar), BAR_KEYS);
    const first = answer.bars[0];
    assert.equal(first.date, "20250127 09:30:00");
    assert.equal(first.datetime, "2025-01-27T09:30:00-05:00");
    assert.equal(new Date(first.datetime).getTime() / 1000, first.time);
  });

test("daily bars carry the date as datetime", async () => {
  const answer = await client().getBars({ symbol: "MSFT", period: "1d", duration: "1 W", end_datetime: PAST });
  assert.ok(answer.bars.length > 0);
  for (const bar of answer.bars) {
    assert.match(bar.datetime, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(bar.datetime.replaceAll("-", ""), bar.date);
  }
});

test("a request the bridge refuses is a ValidationError with its code and a message per field", async () => {
  const error = await client().getBars({ symbol: "AAPL", period: "7m", duration: "1 D" }).catch((e) => e);
  assert.ok(error instanceof ValidationError, String(error));
  assert.ok(error instanceof BridgeError);
  assert.equal(error.code, "invalid_request");
  assert.equal(error.status, 400);
  assert.match(error.fields.period, /must be one of/);
  assert.equal(error.retryAfter, null);

  const both = await client().getBars({ symbol: "AAPL", period: "5m", duration: "1 D", start_datetime: "20250101 09:30:00" })
    .catch((e) => e);
  assert.ok(both instanceof ValidationError);
  assert.match(both.fields.start_datetime, /not both/);
});

test("an unknown symbol is a NotFoundError symbol_not_found carrying TWS's code 200", async () => {
  const error = await client().getBars({ symbol: "NOSUCHSYM", period: "5m", duration: "1 D" }).catch((e) => e);
  assert.ok(error instanceof NotFoundError, String(error));
  assert.equal(error.code, "symbol_not_found");
  assert.equal(error.status, 404);
  assert.equal(error.twsCode, 200);
});

test("without the token the bridge answers 401: an AuthError; health needs no token", async () => {
  const anonymous = new BridgeClient({ baseUrl: BRIDGE_URL, timeoutMs: 10_000 });
  const error = await anonymous.getBars({ symbol: "AAPL", period: "5m", duration: "1 D" }).catch((e) => e);
  assert.ok(error instanceof AuthError, String(error));
  assert.equal(error.code, "unauthorized");
  assert.equal(error.status, 401);
  const wrong = new BridgeClient({ baseUrl: `${BRIDGE_URL}/api/v1`, token: "x".repeat(32), timeoutMs: 10_000 });
  assert.equal((await wrong.getJob("0".repeat(32)).catch((e) => e)).code, "unauthorized");
  const health = await anonymous.health();
  assert.equal(health.status, "ok");
  assert.equal(health.connected, true);
  assert.equal(health.worker.state, "connected");
});

test("getAllBars follows next_page_token: the pages joined are the whole answer", async () => {
  const request = { symbol: "AAPL", period: "5m", duration: "2 D", end_datetime: PAST };
  const whole = await client().getBars(request);
  const sizes = [];
  for await (const page of client().pages({ ...request, limit: 50 })) sizes.push(page.count);
  assert.deepEqual(sizes, [50, 50, 50, 6]);
  assert.deepEqual(await client().getAllBars({ ...request, limit: 50 }), whole.bars);
});

test("getHead answers the earliest bar TWS has", async () => {
  const head = await client().getHead({ symbol: "AAPL", what: "TRADES", session: "rth" });
  assert.equal(head.success, true);
  assert.equal(head.symbol, "AAPL");
  assert.equal(typeof head.head.time, "number");
  assert.match(head.head.date, /^\d{8}( \d{2}:\d{2}:\d{2})?$/);
  const unknown = await client().getHead({ symbol: "NOSUCHSYM" }).catch((e) => e);
  assert.ok(unknown instanceof NotFoundError);
});
