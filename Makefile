# relay — every task CI and developers run. `make test` works on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.deps-stamp
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all venv redis build test test-fast lint typecheck fmt cargo-test pytest bench demo web web-check wheel race chaos ci clean chromium test-e2e cluster-test cluster-bench faketime soak-ci

all: test

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# redis-server from Debian when the machine has none.
redis:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server (apt-get)"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	@command -v redis-server >/dev/null && redis-server --version

# The extension, built in release mode into the venv (editable: python/ is on the path).
build: venv
	$(VENV)/bin/maturin develop --release -q

fmt: venv
	$(VENV)/bin/ruff format python tests benches
	$(VENV)/bin/ruff check --fix python tests benches
	cargo fmt

lint: venv
	$(VENV)/bin/ruff format --check python tests benches
	$(VENV)/bin/ruff check python tests benches
	cargo fmt --check
	cargo clippy --all-targets -q -- -D warnings
	cargo clippy --all-targets --features python -q -- -D warnings

typecheck: build
	$(VENV)/bin/mypy --strict python/relay tests benches
	$(VENV)/bin/python -m mypy.stubtest relay._core

cargo-test:
	cargo test -q

pytest: build redis chromium faketime
	$(PY) -m pytest -q --durations=15

# libfaketime skews worker clocks in the fault battery (T5, T13).
faketime:
	@command -v faketime >/dev/null || { \
	  echo "installing faketime (apt-get)"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null; }

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (apt-get)"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Redis Cluster: a private 6-node cluster on 127.0.0.1:7000-7005 (RELAY_CLUSTER_BASE_PORT moves
# it); the engine and worker suites on it, and T3 failover. Also part of `make pytest`.
cluster-test: build redis
	$(PY) -m pytest -q tests/cluster

# Throughput vs shards for docs/scaling.md (clusters on 127.0.0.1:7100+).
cluster-bench: build redis
	$(PY) -m tests.cluster.bench_shards

test-e2e: build redis chromium
	$(PY) -m pytest -q tests/e2e

wheel: venv
	rm -rf dist
	$(VENV)/bin/maturin build --release --out dist

# The dashboard: TypeScript in web/, built into python/relay/http/static/ (committed).
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web: web/node_modules/.package-lock.json
	cd web && npm run typecheck && npm run build

# tsc --noEmit, the dashboard's unit tests, and a check that the committed bundle is fresh.
web-check: web/node_modules/.package-lock.json
	cd web && npm run typecheck && npm test && npm run check

# What CI runs: everything, on a fresh machine.
test: redis build lint typecheck cargo-test web-check pytest

test-fast: build redis
	$(PY) -m pytest -q -x tests/unit tests/core tests/scripts

bench: build redis
	$(PY) -m pytest benches -q --benchmark-only --benchmark-columns=min,median,ops \
	  --benchmark-sort=name --benchmark-autosave
	$(PY) benches/report.py
	$(PY) -m benches.groups

# The side-by-side race with the peers (benches/peers/README.md); writes its table into
# docs/benchmarks.md, between the race:begin/race:end lines.
# RACE_ARGS="--quick" for a smoke run; the default is 20,000 jobs x 3 runs per system.
RACE_ARGS ?=
race: build redis
	RACE_PYTHON_RELAY=$(abspath $(PY)) benches/peers/run.sh $(RACE_ARGS)
	benches/peers/.venv/bin/python benches/peers/render.py benches/peers/results/latest.json \
	  --into docs/benchmarks.md --command "make race$(if $(RACE_ARGS), RACE_ARGS='$(RACE_ARGS)')"

# The fault battery's long profile (RELIABILITY.md sizes) and the 300 x 50 state machine.
chaos: build redis faketime
	RELAY_CHAOS_LONG=1 RELAY_LONG=1 $(PY) -m pytest -q -s tests/chaos tests/model tests/cluster/test_failover.py

demo: build redis
	$(VENV)/bin/relay demo

ci: test

# The whole pytest suite SOAK_N times in a row (default 5) with a CPU hog on one core; per run
# pass/fail counts, each failure with its hypothesis seed and log (.soak/run-K.log), then
# failures per test. SOAK_ARGS go to pytest (e.g. SOAK_ARGS=tests/scripts for a subset).
soak-ci: build redis chromium faketime
	$(PY) -m tests.support.soak $(SOAK_ARGS)

clean:
	rm -rf target $(VENV) .pytest_cache .mypy_cache .ruff_cache
