# tws-bridge. `make test` installs everything it needs and runs every test, against both official clients.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV10 := .venv10
PY := $(VENV)/bin/python
PY10 := $(VENV10)/bin/python
SIM_PORT ?= 7497
NGINX := /usr/sbin/nginx

.PHONY: install nginx test test-ibapi9 test-ibapi10 lint sim demo run clean bench bench-quick bench-soak

install: $(VENV)/.installed $(VENV10)/.installed

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

test: install lint nginx test-ibapi9 test-ibapi10

test-ibapi9: $(VENV)/.installed nginx
	$(PY) -m pytest tests -q

test-ibapi10: $(VENV10)/.installed nginx
	$(PY10) -m pytest tests -q

# Debian's nginx for the deployment tests (tests/deploy run it themselves on a loopback port, never as the service).
# Installed when missing (CI is a fresh Debian machine, as root); nothing to do, and nothing printed, when present.
nginx:
	@test -x $(NGINX) || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq nginx-light >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; }; }

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# The simulator and the bridge on this machine, and a curl that returns bars (Ctrl-C stops both).
demo: $(VENV)/.installed
	./deploy/demo.sh

# Serve a real TWS / IB Gateway per .env (see .env.example).
run: $(VENV)/.installed
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

# Run the simulated TWS by hand (see README and `python -m sim --help`).
sim: $(VENV)/.installed
	$(PY) -m sim --port $(SIM_PORT)

# Benchmarks (issue 5, docs/benchmarks.md): simulator, bridge, direct ibapi and a trivial Flask app, side by side.
# Installs wrk from Debian's packages if missing; results in bench/results/latest.json.
bench: $(VENV)/.installed
	$(PY) -m bench

bench-quick: $(VENV)/.installed
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) $(VENV10) .pytest_cache .ruff_cache

# The TWS worker's memory over 10,000 requests and 500 live-subscription cycles (issue 4); about 2 minutes.
bench-soak: $(VENV)/.installed
	$(PY) -m bench.soak
