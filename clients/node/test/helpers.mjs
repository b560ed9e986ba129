// What the client's tests share: the real bridge and simulator they run against (started by
// tests/e2e/http_side/test_node_client.py, which passes them in the environment), the simulator's control socket,
// curl as a reference client, and a loopback proxy a test can cut.

import { execFile } from "node:child_process";
import net from "node:net";
import { promisify } from "node:util";

import { BridgeClient } from "../dist/index.js";

const required = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests by tests/e2e/http_side/test_node_client.py`);
  return value;
};

export const BRIDGE_URL = required("TWS_BRIDGE_URL");  // the bridge's origin, http://127.0.0.1:<port>
export const TOKEN = required("TWS_BRIDGE_TOKEN");
export const SIM_CONTROL_PORT = Number(required("TWS_SIM_CONTROL_PORT"));

export function client(options = {}) {
  return new BridgeClient({ baseUrl: BRIDGE_URL, token: TOKEN, timeoutMs: 20_000, ...options });
}

/** One operation on the simulator's control socket (sim/control.py: a JSON line each way). */
export function simControl(op, args = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(SIM_CONTROL_PORT, "127.0.0.1", () => {
      socket.write(`${JSON.stringify({ op, ...args })}\n`);
    });
    let text = "";
    socket.setTimeout(10_000, () => socket.destroy(new Error(`sim control ${op}: no reply`)));
    socket.on("data", (chunk) => {
      text += chunk;
      if (!text.includes("\n")) return;
      socket.end();
      const reply = JSON.parse(text);
      if (reply.ok) resolve(reply.result);
      else reject(new Error(`sim control ${op}: ${reply.error}`));
    });
    socket.on("error", reject);
  });
}

/** POST /api/v1/bars by curl, as README's examples do: the answer's status and JSON. */
export async function curlBars(body) {
  const { stdout } = await promisify(execFile)("curl", [
    "-s", "-w", "\n%{http_code}", "-X", "POST", `${BRIDGE_URL}/api/v1/bars`, "-H", "Content-Type: application/json",
    "-H", `Authorization: Bearer ${TOKEN}`, "-d", JSON.stringify(body),
  ]);
  const cut = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(cut + 1)), body: JSON.parse(stdout.slice(0, cut)) };
}

/** Poll `check` every `intervalMs` until it returns a truthy value (returned), failing after `timeoutMs`. */
export async function waitUntil(check, { timeoutMs = 10_000, intervalMs = 50, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A loopback TCP proxy to the bridge whose connections `cut()` closes at once, as a network failure would (the
 *  client sees its stream end mid-way); new connections pass again. */
export async function cuttingProxy() {
  const upstream = new URL(BRIDGE_URL);
  const sockets = new Set();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted += 1;
    const bridge = net.connect(Number(upstream.port), upstream.hostname);
    for (const [from, to] of [[client, bridge], [bridge, client]]) {
      sockets.add(from);
      from.pipe(to);
      from.on("error", () => to.destroy());
      from.on("close", () => { sockets.delete(from); to.destroy(); });
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    get accepted() { return accepted; },
    cut() { for (const socket of sockets) socket.destroy(); },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
