# tws-bridge. `make test` installs everything it needs and runs every test; what runs the TWS client, with both
# official clients.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV10 := .venv10
PY := $(VENV)/bin/python
PY10 := $(VENV10)/bin/python
SIM_PORT ?= 7497

.PHONY: install install-prod assets node-client system-deps test test-ibapi9 test-ibapi10 lint sim demo run clean bench bench-quick bench-store bench-soak bench-worker-classes bench-history

install: $(VENV)/.installed $(VENV10)/.installed assets

# Production (systemd, PM2): only what the bridge needs to run, into .venv; no test tools, no 10.x test client.
install-prod:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(MAKE) assets

# The browser libraries the bridge's pages serve themselves (app/web_assets.py): npm ci from the committed lock file,
# no install scripts (swagger-ui-dist's would phone home). Needs npm (Debian: nodejs + npm).
ASSETS := app/static/vendor
assets: $(ASSETS)/node_modules/.installed
$(ASSETS)/node_modules/.installed: $(ASSETS)/package.json $(ASSETS)/package-lock.json
	@./tests/install_system_packages.sh /usr/bin/npm:npm
	npm ci --prefix $(ASSETS) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# The TypeScript client (clients/node, tws-bridge-client): npm ci from its lock file, no scripts, then tsc into dist/.
NODE_CLIENT := clients/node
node-client: $(NODE_CLIENT)/node_modules/.installed
	npm run --prefix $(NODE_CLIENT) --silent build
$(NODE_CLIENT)/node_modules/.installed: $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	@./tests/install_system_packages.sh /usr/bin/npm:npm
	npm ci --prefix $(NODE_CLIENT) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.installed: requirements.txt requirements-base.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

# The 10.x client in its own environment: same project code, same tests, the other client.
$(VENV10)/.installed: requirements-ibapi10.txt requirements-base.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV10)
	$(PY10) -m pip install --quiet --upgrade pip
	$(PY10) -m pip install --quiet -r requirements-ibapi10.txt -r requirements-dev.txt
	touch $@

test: install lint system-deps test-ibapi9 test-ibapi10

test-ibapi9: $(VENV)/.installed assets system-deps node-client
	$(PY) -m pytest tests -q --durations=20

# With the 10.x client: the tests whose subject is talking to TWS through the client: the worker's TWS layer
# (connection, decoding, requests, errors), contracts, live subscriptions, the worker service, the history path's
# upstream requests (bars, head timestamps, the planner's windows against the simulator), the simulator, and the
# processes end to end. What only builds on those calls (the store, the planner's and the desk's arithmetic, jobs,
# tests/e2e/history), code that never imports ibapi (app/, shared/, clients/, deploy/, bench/, README), and the
# end-to-end tests whose subject is the HTTP side (tests/e2e/http_side: spec, pages, metrics, the Node client;
# connections, framing, capacity) run once, above: the same code and the same answers with either client, and CI's
# 30 minutes are finite.
HTTP_SIDE_E2E := capacity control_endpoints fill_command http_fairness http_framing keepalive stream_capacity \
	stream_node_example
# the worker's own rules end to end, measured in real time (a TTL, the message budget, the pacing ledger across a
# kill): the same requests through either client, ~2 minutes of waiting each pass
WORKER_RULES_E2E := live_windows message_budget pacing_ledger
UPSTREAM_HISTORY := upstream bar_fetcher heads_against_sim planner_against_sim
IBAPI_TESTS := tests/worker/tws tests/worker/contracts tests/worker/live $(wildcard tests/worker/test_*.py) \
	$(foreach t,$(UPSTREAM_HISTORY),tests/worker/history/test_$(t).py) tests/sim tests/e2e \
	--ignore=tests/e2e/history --ignore=tests/e2e/http_side \
	$(foreach t,$(HTTP_SIDE_E2E) $(WORKER_RULES_E2E),--ignore=tests/e2e/test_$(t).py)
test-ibapi10: $(VENV10)/.installed system-deps
	$(PY10) -m pytest $(IBAPI_TESTS) -q --durations=20

# Debian packages the tests run for real: nginx (tests/deploy start it themselves on a loopback port, never as the
# service), curl (README's examples are run as printed), node and npm (the Node.js clients), chromium (the pages'
# tests, tests/browser.py) and systemd (systemd-analyze checks the units). Installed when missing (CI is
# a fresh Debian machine, as root), without letting the package scripts start the system nginx on port 80; nothing
# to do, and nothing printed, when present.
system-deps:
	@./tests/install_system_packages.sh /usr/sbin/nginx:nginx-light /usr/bin/curl:curl /usr/bin/node:nodejs \
		/usr/bin/npm:npm /usr/bin/chromium:chromium /usr/bin/systemd-analyze:systemd

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# The simulator and the bridge on this machine, and curls that work (Ctrl-C stops both). Settings: PORT (3003),
# SIM_PORT (7597), DEMO_CLOCK (auto | live | an ISO 8601 instant), e.g. `make demo DEMO_CLOCK=live`.
demo: $(VENV)/.installed assets
	./deploy/demo.sh

# Serve a real TWS / IB Gateway per .env (see .env.example).
run: $(VENV)/.installed assets
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

# Run the simulated TWS by hand (see README and `python -m sim --help`).
sim: $(VENV)/.installed
	$(PY) -m sim --port $(SIM_PORT)

# Benchmarks (issue 5, docs/benchmarks.md): simulator, bridge, direct ibapi and a trivial Flask app, side by side.
# Installs wrk from Debian's packages if missing; results in bench/results/latest.json.
bench: $(VENV)/.installed
	$(PY) -m bench
	$(PY) -m bench.store

# The bar store alone (issue 10): size per bar, write and read rates, the pacing ledger's append, a 10-million-bar
# store (fill, size, open, a 1-day read); about 2 minutes. Results in bench/results/store.json.
bench-store: $(VENV)/.installed
	$(PY) -m bench.store

bench-quick: $(VENV)/.installed
	$(PY) -m bench --quick
	$(PY) -m bench.store --quick

# The history path alone (issue 10, docs/benchmarks.md): fill rate against IB's pacing minimum, a year of minutes,
# store hits, restart; pacing ON, every pacing window x0.1; about 5 minutes (`make bench` runs it too).
bench-history: $(VENV)/.installed
	$(PY) -m bench.history

# The HTTP side's worker class against gthread with 8 and 256 threads (issue 9, docs/http-side.md); about 2 minutes.
bench-worker-classes: $(VENV)/.installed
	$(PY) -m bench.worker_classes

clean:
	rm -rf $(VENV) $(VENV10) .pytest_cache .ruff_cache

# The TWS worker's memory over 10,000 requests and 500 live-subscription cycles (issue 4); about 2 minutes.
bench-soak: $(VENV)/.installed
	$(PY) -m bench.soak
