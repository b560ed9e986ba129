// A Node.js client that polls the bridge with pauses, as a trading app does: Node's http.Agent (one keep-alive
// socket) and fetch (undici, Node's built-in). Prints one JSON line per request:
//   {"client": "agent" | "fetch", "after_idle": seconds, "status": 200, "reused": true | false | null, "error": null}
// Usage: node keepalive_client.mjs URL IDLE_SECONDS...
import http from "node:http";

const [url, ...idles] = process.argv.slice(2);
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function agentGet() {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, reused: req.reusedSocket }));
    });
    req.on("error", reject);
  });
}

async function fetchGet() {
  const res = await fetch(url);
  await res.arrayBuffer();
  return { status: res.status, reused: null };  // undici does not say which socket it used
}

async function poll(client, get) {
  for (const [i, idle] of [0, ...idles.map(Number)].entries()) {
    await sleep(idle);
    let line = { client, after_idle: i === 0 ? null : idle, status: null, reused: null, error: null };
    try {
      line = { ...line, ...(await get()) };
    } catch (err) {
      line.error = `${err.cause?.code ?? err.code ?? ""} ${err.message}`.trim();  // e.g. UND_ERR_SOCKET other side closed
    }
    console.log(JSON.stringify(line));
  }
}

await Promise.all([poll("agent", agentGet), poll("fetch", fetchGet)]);
agent.destroy();
