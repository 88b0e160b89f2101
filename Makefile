# Two commands for a newcomer: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STATE := .platform
INSTALLED := $(VENV)/.installed
# dbt and dagster are run from the virtual environment, also by code that spawns them.
# DAGSTER_HOME is not set here: the CLI decides it (settings.dagster_home(), under
# PLATFORM_STATE_DIR) and writes its dagster.yaml, for make dev and make demo alike.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

ROWS ?= 2000000

.PHONY: install demo test dev docs validate bench bench-scaling bench-logs bench-history bench-catalog screenshots stop clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(INSTALLED)
	$(VENV)/bin/warehouse-platform demo

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest

dev: $(INSTALLED)
	$(VENV)/bin/warehouse-platform dev

$(VENV)/.installed-bench: $(INSTALLED) pyproject.toml
	$(VENV)/bin/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# Not a test: prints rows/s, ratio to the floor (a bare COPY; a bare pipe for the whole day, on the
# narrow and the wide table) and peak RSS, each the median of REPEATS runs with its spread, and the
# code location's import time and memory; writes .platform/bench.json.
REPEATS ?= 3
bench: $(VENV)/.installed-bench
	$(VENV)/bin/python -m warehouse_platform.benchmarks.load_benchmark --rows $(ROWS) --repeats $(REPEATS)

# platform_end_to_end alone at 1M, 2M, 5M and 10M rows (seconds, rows/s, peak RSS); one run each
# unless SCALING_REPEATS says more.
SCALING_REPEATS ?= 1
bench-scaling: $(VENV)/.installed-bench
	$(VENV)/bin/python -m warehouse_platform.benchmarks.load_benchmark --scaling --repeats $(SCALING_REPEATS)

# Not a test: a year of a 10,000-rows-a-day table declared with history_start, backfilled one run
# per day as `warehouse-platform backfill` does (seconds, per-day times, peak RSS); DAYS=31 for a month.
DAYS ?= 365
bench-history: $(INSTALLED)
	$(VENV)/bin/python -m warehouse_platform.benchmarks.history_benchmark --days $(DAYS)

# Not a test: a catalog of TABLES tables (the shipped ones plus generated daily, whole and landed
# ones, in a scratch dg project) and of 50 and 100: seconds and peak RSS of building the
# definitions, seconds of `dg check defs` and of the webserver's first load; `catalog` in bench.json.
TABLES ?= 200
bench-catalog: $(INSTALLED)
	$(VENV)/bin/python -m warehouse_platform.benchmarks.catalog_benchmark --tables $(TABLES)

# Not a test: the log structuring step's lines/s against DuckDB's bare read_json / regexp (the floor).
LINES ?= 1000000
bench-logs: $(INSTALLED)
	$(VENV)/bin/python -m warehouse_platform.benchmarks.log_benchmark --lines $(LINES)

$(VENV)/.installed-docs: $(INSTALLED) pyproject.toml
	$(VENV)/bin/python -m pip install --quiet -e '.[docs]'
	touch $@

# The documentation site (mkdocs.yml: docs/ -> .platform/site). --strict turns every warning into
# an error: a broken link or anchor, or a page missing from nav, fails the build (CI runs this).
# NO_MKDOCS_2_WARNING silences the theme's end-of-life banner, which says nothing about our pages.
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# The table catalog against its schema (pointing at the YAML line), then the whole code location.
validate: $(INSTALLED)
	DAGSTER_HOME=$$($(VENV)/bin/warehouse-platform dagster-home) $(VENV)/bin/dg check yaml
	DAGSTER_HOME=$$($(VENV)/bin/warehouse-platform dagster-home) $(VENV)/bin/dg check defs

# docs/*.png, the pages docs/ui.md shows: runs the demo, starts the webserver on 127.0.0.1 and
# captures them with headless Chromium (Debian's `chromium`; not needed by make test).
screenshots: $(INSTALLED)
	$(VENV)/bin/python -m warehouse_platform.docs_screenshots

stop: $(INSTALLED)
	$(VENV)/bin/warehouse-platform stop

clean: stop
	rm -rf $(STATE) dbt_project/target dbt_project/logs
