#!/usr/bin/env bash
# `make demo`: the simulated TWS and the bridge on this machine, then a curl that returns bars. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
SIM_PORT=${SIM_PORT:-7597}  # not a port TWS or IB Gateway use: the demo must never meet a real TWS
PORT=${PORT:-3003}
LOGS=$(mktemp -d /tmp/tws-bridge-demo.XXXXXX)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped; logs were in $LOGS"
}
trap cleanup EXIT INT TERM

"$PY" -m sim --host 127.0.0.1 --port "$SIM_PORT" --update-interval 1 >"$LOGS/sim.log" 2>&1 &
pids+=($!)
if ! "$PY" - "$SIM_PORT" "${pids[0]}" <<'PYEOF'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)  # the simulator exited (port taken?)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PYEOF
then
  echo "the simulator did not start on 127.0.0.1:$SIM_PORT; see $LOGS/sim.log (SIM_PORT=... to choose another)" >&2
  exit 1
fi

# The environment overrides any .env: the demo always talks to the simulator, on loopback.
HOST=127.0.0.1 PORT=$PORT TWS_HOST=127.0.0.1 TWS_PORT=$SIM_PORT GUNICORN_WORKERS=2 \
  BRIDGE_WORKER_ENDPOINT="ipc://$LOGS/ipc/worker.sock" \
  "$PY" -m gunicorn -c gunicorn.conf.py wsgi:app >"$LOGS/bridge.log" 2>&1 &
pids+=($!)

if ! "$PY" - "$PORT" <<'PYEOF'
import json, sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/api/v1/health"
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if json.load(r).get("connected"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
PYEOF
then
  echo "the bridge did not come up; see $LOGS/bridge.log and $LOGS/sim.log" >&2
  exit 1
fi

CURL="curl -s -X POST http://127.0.0.1:$PORT/api/v1/bars -H 'Content-Type: application/json' -d '{\"symbol\": \"AAPL\", \"period\": \"5m\", \"duration\": \"1 D\"}'"
cat <<TXT

tws-bridge is up on http://127.0.0.1:$PORT, talking to the simulated TWS on 127.0.0.1:$SIM_PORT.

Try:
  curl -s http://127.0.0.1:$PORT/api/v1/health
  $CURL

A check request (MSFT) went through:
TXT
"$PY" - "$PORT" <<'PYEOF'
import json, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/api/v1/bars", method="POST",
                             data=json.dumps({"symbol": "MSFT", "period": "5m", "duration": "1 D"}).encode(),
                             headers={"Content-Type": "application/json"})
body = json.load(urllib.request.urlopen(req, timeout=30))
print(f"  success={body['success']} count={body['count']}")
for bar in body["bars"][:3]:
    print("  ", json.dumps(bar))
PYEOF
echo
echo "Logs: $LOGS. Press Ctrl-C to stop."
wait
