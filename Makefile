# `make test` and `make demo` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: test demo lint tools bench clean lock

# Dependencies come from the hashed lock (scripts/lock.sh writes it from pyproject.toml), so a
# fresh machine gets the versions CI tested; then the project itself, without resolving again.
$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# The offline demo: emulated Slack, Claude, Vault, Kubernetes, platform API and logs. kubectl
# (cached once by `make tools`) lets the demo's one allowed command read the emulated cluster.
demo: $(STAMP)
	-@$(MAKE) --no-print-directory tools NO_BROWSER=1
	$(PY) -m bot.cli demo $(DEMO_ARGS)

# The chart and kubectl tests use real helm/kubectl when they can be fetched (CI requires them).
# Tests run in parallel (pytest-xdist): each has its own temp dir, SQLite file, PostgreSQL schema
# and ephemeral ports. The slow ones spend most of their time waiting on subprocesses, so there
# are 1.5 workers per CPU, and an idle worker takes queued tests from a busy one (worksteal).
# PYTEST_WORKERS=0 runs them in one process; see docs/testing.md.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(max(2, (os.cpu_count() or 1) * 3 // 2))')
test: $(STAMP)
	-@$(MAKE) --no-print-directory tools
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# The peers the benchmarks compare against (LangGraph, procrastinate) and matplotlib.
bench: $(VENV)/.bench-stamp
$(VENV)/.bench-stamp: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $@

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache steadfast.db*

# Re-pin every dependency (with hashes) after editing pyproject.toml; needs uv.
lock:
	bash scripts/lock.sh

# kubectl v1.35 + helm v4 for the chart tests and bwrap for the runner, cached once under
# .cache/tools/bin; Debian's chromium for the console's browser tests (installed when root;
# not for the demo, which needs no browser: NO_BROWSER=1).
tools:
	bash scripts/fetch-k8s-tools.sh
	bash scripts/fetch-bwrap.sh
	$(if $(NO_BROWSER),,bash scripts/fetch-chromium.sh)
