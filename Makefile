# Two commands for a newcomer: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STATE := .platform
INSTALLED := $(VENV)/.installed
# dbt and dagster are run from the virtual environment, also by code that spawns them.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DAGSTER_HOME ?= $(CURDIR)/$(STATE)/dagster_home

ROWS ?= 2000000

.PHONY: install demo test dev validate bench stop clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

demo: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/warehouse-platform demo

test: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/python -m pytest

dev: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000

$(VENV)/.installed-bench: $(INSTALLED)
	$(VENV)/bin/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# Not a test: prints rows/s, ratio to a bare COPY and peak RSS; writes .platform/bench.json.
bench: $(VENV)/.installed-bench
	$(VENV)/bin/python -m warehouse_platform.benchmarks.load_benchmark --rows $(ROWS)

validate: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster definitions validate

stop: $(INSTALLED)
	$(VENV)/bin/warehouse-platform stop

clean: stop
	rm -rf $(STATE) dbt_project/target dbt_project/logs
