// The status page at /: polls GET /api/v1/health, draws a candlestick chart from POST /api/v1/bars and moves its last
// candle with GET /api/v1/bars/stream. Everything comes from this origin (the page's CSP allows nothing else); the only
// library is lightweight-charts, served by the bridge from app/static/vendor (window.LightweightCharts).
//
// The token (BRIDGE_API_TOKEN) is typed into the field at the top, kept in this tab's sessionStorage and sent as
// `Authorization: Bearer` with every fetch. The stream is read with fetch too: an EventSource cannot send headers.
"use strict";

const TOKEN_KEY = "tws-bridge.api-token";
const HEALTH_EVERY_MS = 3000;
const STREAM_RETRY_MS = 3000; // until the server's `retry:` says otherwise
// What the chart shows per period: within IB's longest duration for a request with include_forming (README)
const DURATION_OF_PERIOD = {
  "5s": "1800 S", "10s": "3600 S", "15s": "3600 S", "30s": "14400 S", "1m": "1 D", "2m": "1 D", "3m": "2 D",
  "5m": "2 D", "10m": "1 W", "15m": "1 W", "20m": "1 W", "30m": "1 M", "1h": "1 M", "2h": "1 M", "3h": "1 M",
  "4h": "1 M", "8h": "1 M", "1d": "1 Y",
};
// Stream errors that a retry does not change (README, GET /api/v1/bars/stream): the page stops there
const FINAL_STREAM_CODES = new Set(["invalid_request", "unauthorized", "symbol_not_found", "ambiguous_symbol",
  "market_data_not_subscribed", "no_data", "resume_unavailable"]);

const $ = (id) => document.getElementById(id);

// What the page knows, for operators' consoles and the browser tests (tests/e2e/http_side/test_status_page.py)
const statusPage = window.statusPage = {
  health: null,
  chart: { candles: () => (series ? series.data() : []), events: 0, state: "", offsetSeconds: null },
};

// ---- the token ----------------------------------------------------------------------------------------------------

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function withToken(headers = {}) {
  const value = token();
  return value ? { ...headers, Authorization: `Bearer ${value}` } : headers;
}

function showTokenState() {
  $("token-state").textContent = token() ? "token kept for this tab" : "no token";
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = "";
  showTokenState();
  showChart();
});

$("token-clear").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  $("token").value = "";
  showTokenState();
});

// ---- formatting ---------------------------------------------------------------------------------------------------

function when(epochSeconds) {
  if (epochSeconds === null || epochSeconds === undefined) return "–";
  return new Date(epochSeconds * 1000).toLocaleString([], { hour12: false });
}

function span(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
}

function mib(bytes) {
  return bytes === null || bytes === undefined ? "–" : `${(bytes / 1048576).toFixed(1)} MiB`;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  node.textContent = text === null || text === undefined ? "" : String(text); // never HTML: TWS's messages are data
  if (className) node.className = className;
  return node;
}

function definitions(id, pairs) {
  $(id).replaceChildren(...pairs.flatMap(([term, value, className]) => [element("dt", term),
    element("dd", value, className)]));
}

function rows(tableId, cells, emptyText) {
  const body = $(tableId).querySelector("tbody");
  if (!cells.length) {
    const td = element("td", emptyText, "empty");
    td.colSpan = $(tableId).querySelectorAll("th").length;
    const tr = document.createElement("tr");
    tr.append(td);
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(...cells.map((row) => {
    const tr = document.createElement("tr");
    tr.append(...row.map((cell) => (cell instanceof Node ? cell : element("td", cell))));
    return tr;
  }));
}

// ---- health -------------------------------------------------------------------------------------------------------

let healthTimer = null;

// Health now, then every HEALTH_EVERY_MS (also called when the chart's stream opens, to show its subscription)
async function pollHealth() {
  clearTimeout(healthTimer);
  try {
    const response = await fetch("/api/v1/health", { headers: withToken(), cache: "no-store" });
    showHealth(await response.json());
  } catch (err) {
    showHealth({ status: "unavailable", error: `the bridge does not answer (${err.message})`, worker: null });
  }
  clearTimeout(healthTimer);
  healthTimer = setTimeout(pollHealth, HEALTH_EVERY_MS);
}

function showHealth(health) {
  statusPage.health = health;
  const worker = health.worker;
  const badge = $("overall");
  badge.dataset.status = health.status || "unknown";
  badge.textContent = health.status || "unknown";
  document.title = `tws-bridge: ${health.status}`;
  $("updated").textContent = `updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
  if (!worker) {
    definitions("connection", [["status", health.status, "bad"], ["error", `${health.code || ""} ${health.error || ""}`]]);
    for (const id of ["farms", "pacing", "requests", "store"]) definitions(id, []);
    rows("history", [], "the TWS worker does not answer");
    rows("series", [], "");
    rows("jobs", [], "");
    return;
  }
  const error = worker.last_error;
  definitions("connection", [
    ["state", worker.state, worker.connected ? "good" : "bad"],
    ["IB reachable", worker.ib_reachable ? "yes" : "no", worker.ib_reachable ? "good" : "bad"],
    ["TWS", `${worker.tws_host}:${worker.tws_port}, client id ${worker.client_id}`],
    ["server version", worker.server_version ?? "–"],
    ["connected since", when(worker.connected_since)],
    ["reconnects", `${worker.reconnects} (attempts since the last connection: ${worker.reconnect_attempts})`],
    ["last error", error ? `${error.tws_code}: ${error.message} (${when(error.time)})` : "none"],
    ["worker", `pid ${worker.worker_pid}, up ${span(worker.worker_uptime_seconds)}; bridge ${health.version}`],
  ]);
  const farms = Object.entries(worker.farms || {});
  definitions("farms", farms.length ? farms.map(([farm, state]) => [farm, state, state === "ok" ? "good" : "bad"])
    : [["–", "no farm status from TWS yet"]]);
  const pacing = worker.pacing || {};
  const budget = worker.message_budget || {};
  definitions("pacing", [
    ["small-bar requests left", pacing.small_bar_requests_left],
    ["open requests left", pacing.open_requests_left],
    ["queued / waited / refused", `${pacing.queued} / ${pacing.waited} / ${pacing.refused}`],
    ["messages", `${Math.floor(budget.tokens_left)} of ${budget.burst} left, ${budget.max_per_second}/s; `
      + `${budget.queued} queued`],
  ]);
  const subs = worker.subscriptions || {};
  const liveSeries = Object.entries((worker.streams || {}).series || {});
  const clients = liveSeries.reduce((sum, [, s]) => sum + s.clients, 0);
  const http = health.http_worker || {};
  definitions("requests", [
    ["open upstream requests", worker.open_upstream_requests],
    ["bar requests in flight", worker.in_flight],
    ["waiting in this HTTP worker", `${http.waiting_requests} of ${http.max_waiting_requests}`],
    ["live subscriptions", `${subs.live} live of ${subs.total} (exhausted ${subs.exhausted})`],
    ["stream clients", `${clients} in all, ${http.stream_clients} on this HTTP worker`],
  ]);
  const store = worker.store || {};
  definitions("store", [
    ["bars", `${store.bars} in ${store.series} series`],
    ["size", `${mib(store.bytes)} of ${mib(store.max_bytes)} (file ${mib(store.file_bytes)})`],
    ["writes queued", store.writes_queued],
    ["disk error", store.disk_error ?? "none", store.disk_error ? "bad" : ""],
  ]);
  rows("history", [...(worker.connection_history || [])].reverse().map((t) => [when(t.time),
    element("td", t.state, t.state === "connected" ? "good" : "bad"), t.ib_reachable ? "yes" : "no",
    t.tws_code ?? "", t.reason ?? ""]), "no transitions yet");
  rows("series", liveSeries.map(([id, s]) => [id, s.status, s.clients, s.http_workers, s.bars]), "no live series");
  const history = worker.history || {};
  const counts = Object.entries(history.jobs || {}).filter(([, n]) => n).map(([state, n]) => `${n} ${state}`);
  $("job-counts").textContent = counts.length ? `(${counts.join(", ")})` : "";
  rows("jobs", (history.jobs_in_progress || []).map((job) => {
    const id = element("td", job.id.slice(0, 8));
    id.title = job.id;
    return [id, `${job.symbol} ${job.period} ${job.what}`, job.range, job.state, `${job.done} / ${job.total}`,
      job.bars_so_far, span(job.eta_seconds)];
  }), "no job in progress");
}

// ---- the chart ----------------------------------------------------------------------------------------------------

let chart = null;
let series = null;
let view = null; // the series shown: its query, the stream's AbortController, the last bar event's id

function setChartState(text, bad = false) {
  statusPage.chart.state = text;
  $("chart-state").textContent = text;
  $("chart-state").className = bad ? "bad" : "muted";
}

// The time axis shows the exchange's wall clock: lightweight-charts draws times as UTC, so each bar's epoch `time`
// is shifted by the exchange's UTC offset at that bar (from its `datetime`, e.g. "...T09:30:00-05:00"; before bars
// had `datetime`, from `date`, the exchange's wall clock). Daily and larger bars are the exchange's dates.
function offsetSeconds(bar) {
  const iso = /([+-])(\d\d):(\d\d)$/.exec(bar.datetime || "");
  if (iso) return (iso[1] === "-" ? -1 : 1) * (Number(iso[2]) * 3600 + Number(iso[3]) * 60);
  if (/T.*Z$/.test(bar.datetime || "")) return 0;
  const wall = /^(\d{4})(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)/.exec(bar.date || "");
  if (wall) return Date.UTC(+wall[1], wall[2] - 1, +wall[3], +wall[4], +wall[5], +wall[6]) / 1000 - bar.time;
  return 0;
}

function candle(bar) {
  const day = /^(\d{4})(\d\d)(\d\d)$/.exec(bar.date || "");
  const time = day ? `${day[1]}-${day[2]}-${day[3]}` : bar.time + offsetSeconds(bar);
  return { time, open: bar.open, high: bar.high, low: bar.low, close: bar.close };
}

function offsetText(seconds) {
  const sign = seconds < 0 ? "−" : "+";
  const abs = Math.abs(seconds);
  return `UTC${sign}${String(Math.floor(abs / 3600)).padStart(2, "0")}:${String((abs % 3600) / 60).padStart(2, "0")}`;
}

function createChart() {
  chart = LightweightCharts.createChart($("chart"), {
    autoSize: true,
    layout: { background: { color: "#ffffff" }, textColor: "#1d2330" },
    grid: { vertLines: { color: "#eef0f3" }, horzLines: { color: "#eef0f3" } },
    timeScale: { timeVisible: true, secondsVisible: false },
    // the library's attribution link (its licence asks for one) stays: it is a link, nothing is loaded from it
  });
  series = chart.addSeries(LightweightCharts.CandlestickSeries, {
    upColor: "#1a7f37", downColor: "#c62828", borderVisible: false, wickUpColor: "#1a7f37", wickDownColor: "#c62828",
  });
}

function chartQuery() {
  return { symbol: $("symbol").value.trim(), period: $("period").value, what: $("what").value,
    session: $("session").value };
}

function describeError(status, body) {
  const text = `${status} ${body.code || "error"}: ${body.error || "no answer"}`;
  return status === 401 ? `${text}; enter the API token at the top` : text;
}

async function showChart(event) {
  if (event) event.preventDefault();
  if (view) view.controller.abort();
  const query = chartQuery();
  const current = view = { query, controller: new AbortController(), lastBarId: null, lastTime: null,
    retryMs: STREAM_RETRY_MS };
  const { signal } = current.controller;
  setChartState(`loading ${query.symbol} ${query.period}…`);
  let response;
  let body;
  try {
    response = await fetch("/api/v1/bars", {
      method: "POST", signal, cache: "no-store", headers: withToken({ "Content-Type": "application/json" }),
      body: JSON.stringify({ ...query, duration: DURATION_OF_PERIOD[query.period], include_forming: true }),
    });
    body = await response.json();
  } catch (err) {
    if (!signal.aborted) setChartState(`bars: ${err.message}`, true);
    return;
  }
  if (signal.aborted) return;
  if (!response.ok || !body.success || !Array.isArray(body.bars)) {
    series.setData([]);
    setChartState(describeError(response.status, body), true);
    return;
  }
  const candles = body.bars.map(candle);
  series.setData(candles);
  chart.timeScale().fitContent();
  current.lastTime = candles.length ? candles[candles.length - 1].time : null;
  const last = body.bars[body.bars.length - 1];
  statusPage.chart.offsetSeconds = last ? offsetSeconds(last) : null;
  $("chart-caption").textContent = `${body.symbol} ${body.period} ${query.what}, ${body.count} bars. Times are the `
    + `exchange's local time${last ? ` (${offsetText(offsetSeconds(last))} at the last bar)` : ""}; the last candle `
    + "is the forming bar, moved by the stream.";
  // the stream resumes after the last completed bar: the answer's last bar is the forming one
  const complete = body.bars.length >= 2 ? body.bars[body.bars.length - 2] : null;
  current.lastBarId = complete ? String(complete.time) : null;
  setChartState(`${body.count} bars; opening the stream…`);
  streamBars(current);
}

async function streamBars(current) {
  const { signal } = current.controller;
  while (!signal.aborted) {
    let final = false;
    try {
      final = await readStream(current);
    } catch (err) {
      if (signal.aborted) return;
      setChartState(`stream: ${err.message}; reconnecting`, true);
    }
    if (final || signal.aborted) return;
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, current.retryMs);
      signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }
}

// One connection to the stream; true when it ended with an answer a retry would not change.
async function readStream(current) {
  const { query, controller } = current;
  const headers = withToken({ Accept: "text/event-stream" });
  if (current.lastBarId !== null) headers["Last-Event-ID"] = current.lastBarId;
  const params = new URLSearchParams(query);
  const response = await fetch(`/api/v1/bars/stream?${params}`, { headers, signal: controller.signal,
    cache: "no-store" });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    setChartState(`stream: ${describeError(response.status, body)}`, true);
    return response.status >= 400 && response.status < 500;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    text += value.replace(/\r\n?/g, "\n");
    for (let end; (end = text.indexOf("\n\n")) >= 0; text = text.slice(end + 2)) {
      if (onStreamEvent(current, parseEvent(current, text.slice(0, end)))) {
        await reader.cancel();
        return true;
      }
    }
  }
}

function parseEvent(current, block) {
  const event = { type: "message", data: "", id: null };
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    if (colon === 0) continue; // a comment: the heartbeat
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event.type = value;
    else if (field === "data") event.data += value;
    else if (field === "id") event.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) current.retryMs = Number(value);
  }
  return event;
}

// Applies one event to the chart; true for an error a retry does not change.
function onStreamEvent(current, { type, data, id }) {
  if (!data || current !== view) return false;
  const body = JSON.parse(data);
  if (type === "bar" || type === "update" || type === "revision") {
    if (type === "bar" && id !== null) current.lastBarId = id;
    const c = candle(body);
    if (current.lastTime === null || c.time >= current.lastTime) {
      series.update(c);
      current.lastTime = c.time;
    } else {
      series.update(c, true); // a bar TWS revised: lightweight-charts' historical update replaces it
    }
    statusPage.chart.events += 1;
    setChartState(`live: last ${body.close} (${body.date})`);
  } else if (type === "status") {
    if (body.status === "live") pollHealth();
    setChartState(`stream ${body.status}${body.reason ? `: ${body.reason}` : ""}`, body.status === "interrupted");
  } else if (type === "error") {
    const final = FINAL_STREAM_CODES.has(body.code);
    setChartState(`stream: ${body.code}: ${body.error}${final ? "" : "; reconnecting"}`, true);
    return final;
  }
  return false;
}

$("chart-form").addEventListener("submit", showChart);

showTokenState();
createChart();
pollHealth();
showChart();
