// Long ranges: the 202 job followed to its end (polls honouring Retry-After), pages, getJob and cancelJob.

import assert from "node:assert/strict";
import { test } from "node:test";

import { JobPendingError, NotFoundError } from "../dist/index.js";
import { client } from "./helpers.mjs";

// Four months of 1-min bars: ~80 windows of a day, more than fit in BAR_TIMEOUT at IB's pace (scaled): a job.
const LONG = { symbol: "MSFT", period: "1m", start_datetime: "20241001 09:30:00", end_datetime: "20250124 16:00:00" };

test("a long range is a job: getAllBars follows it, polling no sooner than Retry-After, then reads every page",
  async () => {
    const exchanges = [];  // every request the client made, when, and the Retry-After of its answer
    const recording = async (url, init) => {
      const sent = Date.now();
      const response = await fetch(url, init);
      exchanges.push({ method: init.method, path: new URL(url).pathname, sent, status: response.status,
                       retryAfter: response.headers.get("Retry-After") });
      return response;
    };
    const progress = [];
    const bars = await client({ fetch: recording }).getAllBars({ ...LONG, limit: 20_000 },
                                                              { onJob: (job) => progress.push(job) });
    assert.equal(exchanges[0].status, 202);
    assert.ok(progress.length >= 2);
    assert.match(progress[0].id, /^[0-9a-f]{32}$/);
    assert.equal(progress.at(-1).state, "done");
    assert.equal(progress.at(-1).done, progress.at(-1).total);
    exchanges.forEach((exchange, i) => {
      if (exchange.method !== "GET") return;
      const previous = exchanges[i - 1];
      assert.ok(exchange.sent - previous.sent >= Number(previous.retryAfter) * 1000 - 5,
                `poll ${i} came ${exchange.sent - previous.sent} ms after a Retry-After of ${previous.retryAfter}`);
    });
    const pages = exchanges.filter((e) => e.method === "POST" && e.status === 200);
    assert.equal(pages.length, Math.ceil(bars.length / 20_000));
    assert.equal(bars.length, progress.at(-1).bars_so_far);
    assert.equal(bars[0].date, "20241001 09:30:00");
    assert.equal(bars.at(-1).date, "20250124 15:59:00");
    for (let i = 1; i < bars.length; i++) assert.ok(bars[i].time > bars[i - 1].time, `bar ${i} in order`);
  });

test("with followJobs false the 202 is a JobPendingError; getJob shows the job and cancelJob cancels it", async () => {
  const bridge = client({ followJobs: false });
  const pending = await bridge.getBars({ ...LONG, symbol: "AMZN" }).catch((e) => e);
  assert.ok(pending instanceof JobPendingError, String(pending));
  const { job } = pending;
  assert.equal(pending.location, `/api/v1/jobs/${job.id}`);
  assert.ok(pending.retryAfter >= 1);
  assert.ok(["pending", "running"].includes(job.state));
  assert.equal((await bridge.getJob(job.id)).id, job.id);
  const cancelled = await bridge.cancelJob(job.id);
  assert.equal(cancelled.state, "cancelled");
  assert.equal((await bridge.getJob(job.id)).state, "cancelled");
  const unknown = await bridge.getJob("0".repeat(32)).catch((e) => e);
  assert.ok(unknown instanceof NotFoundError);
  assert.equal(unknown.code, "job_not_found");
});
