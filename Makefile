# Two entry points (README): `make run` builds the study on the embedded data,
# `make test` runs every test. Both set up .venv from the pinned requirements.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
KEY_FILE := .secrets/pseudonym_key
WAREHOUSE := warehouse/rwe.duckdb
PUBLISHED := warehouse/published
# DuckDB 1.x clients, as BI drivers ship them, each in its own cached venv:
# a test opens the published files with them (README "Where the results are").
BI_CLIENT_DUCKDB_VERSIONS := 1.0.0 1.5.6
BI_CLIENTS := .venv-bi-clients

# The pseudonymisation key never lives in git: use RWE_PSEUDONYM_KEY from the
# environment, else a random key created once in .secrets/.
export RWE_PSEUDONYM_KEY ?= $(shell cat $(KEY_FILE) 2>/dev/null)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: run test test-spark lint clean browser bi-clients

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(KEY_FILE):
	mkdir -p $(dir $@)
	$(PYTHON) -c "import secrets; print(secrets.token_hex(32))" > $@
	chmod 600 $@

# The scheduler's build: data tests and the quality gate run, dbt unit tests
# (which test the SQL logic, not the data) run in `make test`. The build
# itself writes the report into the version it publishes. logs/dbt.log keeps
# info lines (dbt_project.yml flags); pass --log-level-file debug by hand to
# see every statement.
run: $(INSTALLED) $(KEY_FILE)
	mkdir -p $(dir $(WAREHOUSE))
	RWE_PSEUDONYM_KEY="$${RWE_PSEUDONYM_KEY:-$$(cat $(KEY_FILE))}" $(BIN)/dbt build --exclude-resource-type unit_test
	@echo "Working warehouse: $(WAREHOUSE)"
	@echo "Published results for BI (aggregates): $(PUBLISHED)/current/rwe_results.duckdb and $(PUBLISHED)/current/parquet/"
	@echo "Patient-level results (owner only): $(PUBLISHED)/current/restricted/rwe_patient_level.duckdb"
	@echo "Study report: $(PUBLISHED)/current/report.html"

# The report test renders HTML in headless Chromium (Debian's package); the
# BI client test opens the published files with DuckDB 1.x.
test: $(INSTALLED) browser bi-clients
	$(BIN)/python -m pytest -n 2 --dist loadgroup
	$(MAKE) lint

browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

bi-clients: $(foreach version,$(BI_CLIENT_DUCKDB_VERSIONS),$(BI_CLIENTS)/duckdb-$(version)/.installed)

$(BI_CLIENTS)/duckdb-%/.installed:
	$(PYTHON) -m venv $(dir $@)
	$(dir $@)bin/python -m pip install --quiet "duckdb==$*"
	touch $@

# Optional, not part of `make test`: build the SQL layer on Apache Spark
# (dbt-spark, method: session) in its own .venv-spark and compare it with
# DuckDB row for row (docs/portability.md). Needs Java 17.
test-spark: $(INSTALLED)
	portability/run_spark_check.sh

lint: $(INSTALLED)
	$(BIN)/ruff check src tests python_models benchmarks portability
	RWE_PSEUDONYM_KEY=lint-only-key-0123456789 RWE_WAREHOUSE_PATH=:memory: \
		$(BIN)/sqlfluff lint models tests/dbt/singular

clean:
	rm -rf target logs warehouse
