#!/usr/bin/env bash
# `make demo`: the simulated TWS and the bridge on this machine, then curls that work. Ctrl-C stops both.
#
# Settings (environment, or make variables: `make demo PORT=3010 DEMO_CLOCK=live`):
#   PORT        the bridge's HTTP port (3003)
#   SIM_PORT    the simulated TWS's port (7597: not a port TWS or IB Gateway use, so the demo never meets a real TWS)
#   DEMO_CLOCK  the simulator's clock: `auto` (default) runs in real time while a US regular session is open and
#               otherwise from 10:00 New York of the last session, at real speed, so the forming bar always moves;
#               `live` always follows the real clock; or an ISO 8601 instant with an offset to start from,
#               e.g. 2025-01-28T10:00:00-05:00
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SIM_PORT=${SIM_PORT:-7597}
PORT=${PORT:-3003}
DEMO_CLOCK=${DEMO_CLOCK:-auto}
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/tws-bridge-demo.XXXXXX")

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped; logs were in $LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The instant the simulator's clock starts at ("" = the real clock), from DEMO_CLOCK.
if ! CLOCK_START=$("$PY" - "$DEMO_CLOCK" <<'PYEOF'
import sys, time
from datetime import datetime
from sim import trading_calendar as cal

choice = sys.argv[1].strip()
if choice == "live":
    print("")
elif choice == "auto":
    now = time.time()
    if cal.session_at(cal.CalendarKind.US_EQUITY, True, now) is not None:
        print("")  # the market is open: real time shows a moving forming bar
    else:
        session = cal.last_session_started(cal.CalendarKind.US_EQUITY, True, now)
        print(datetime.fromtimestamp(session.start + 30 * 60, cal.NEW_YORK).isoformat())  # its 10:00
else:
    try:
        moment = datetime.fromisoformat(choice)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        sys.exit(f"DEMO_CLOCK: must be auto, live or an ISO 8601 instant with an offset, got {choice!r}")
    print(moment.isoformat())
PYEOF
); then
  exit 2
fi
clock_args=()
if [ -n "$CLOCK_START" ]; then
  clock_args=(--clock-start "$CLOCK_START" --clock-speed 1)
  CLOCK_NOTE="simulated clock from $CLOCK_START at real speed (DEMO_CLOCK=live for the real clock)"
else
  CLOCK_NOTE="real clock"
fi

"$PY" -m sim --host 127.0.0.1 --port "$SIM_PORT" --update-interval 1 "${clock_args[@]}" >"$LOGS/sim.log" 2>&1 &
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
  BRIDGE_WORKER_ENDPOINT="ipc://$LOGS/ipc/worker.sock" BRIDGE_STORE_PATH="$LOGS/store/bars.sqlite3" \
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
  echo "the bridge did not come up on 127.0.0.1:$PORT; see $LOGS/bridge.log and $LOGS/sim.log (PORT=... to choose" \
       "another)" >&2
  exit 1
fi

URL="http://127.0.0.1:$PORT/api/v1"
BARS_BODY='{"symbol": "AAPL", "period": "5m", "duration": "1 D"}'
FORMING_BODY='{"symbol": "AAPL", "period": "1m", "duration": "1800 S", "include_forming": true}'
cat <<TXT

tws-bridge is up on http://127.0.0.1:$PORT, talking to the simulated TWS on 127.0.0.1:$SIM_PORT ($CLOCK_NOTE).

Try:
  curl -s $URL/health
  curl -s -X POST $URL/bars -H 'Content-Type: application/json' -d '$BARS_BODY'
  curl -s -X POST $URL/bars -H 'Content-Type: application/json' -d '$FORMING_BODY'
The last one ends with the forming bar; run it again a few seconds later and watch it change.

In a browser:
  http://127.0.0.1:$PORT/        the status page: connection, pacing, subscriptions, jobs, a live chart
  http://127.0.0.1:$PORT/docs    the API (OpenAPI, Swagger UI)
  http://127.0.0.1:$PORT/metrics Prometheus metrics

TXT
"$PY" - "$URL" "$BARS_BODY" "$FORMING_BODY" <<'PYEOF'
import json, sys, time, urllib.request

url, bars_body, forming_body = sys.argv[1:]


def post(body: str) -> dict:
    req = urllib.request.Request(f"{url}/bars", method="POST", data=body.encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


answer = post(bars_body)
print(f"AAPL 5m x 1 D: success={answer['success']} count={answer['count']}; the first bars:")
for bar in answer["bars"][:2]:
    print("  ", json.dumps(bar))
first = post(forming_body)["bars"][-1]
print("The forming 1-min bar now:    ", json.dumps(first))
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    time.sleep(1)
    later = post(forming_body)["bars"][-1]
    if later != first:
        break
print("and a few seconds later:      ", json.dumps(later))
PYEOF
echo
echo "Logs: $LOGS. Press Ctrl-C to stop."
wait
