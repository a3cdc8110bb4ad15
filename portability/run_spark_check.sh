#!/usr/bin/env bash
# Build the project's SQL layer on Apache Spark and compare it with DuckDB.
#
#   portability/run_spark_check.sh            # set up .venv-spark, then run the pytest check
#   portability/run_spark_check.sh --build-only [WORK_DIR]
#                                             # only the Spark build (default target/spark)
#
# Spark runs from a separate virtualenv (.venv-spark, portability/requirements-spark.txt):
# dbt-spark's pins must not move the main .venv. Needs Java 17 (or 8/11) on PATH
# or JAVA_HOME. The comparison runs in the main .venv (make's $(INSTALLED)),
# in tests/python/test_spark_portability.py (pytest marker: spark).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV=.venv-spark
STAMP="$VENV/.installed"
REQUIREMENTS=portability/requirements-spark.txt

if [ ! -f "$STAMP" ] || [ "$REQUIREMENTS" -nt "$STAMP" ]; then
    echo "Setting up $VENV from $REQUIREMENTS"
    test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r "$REQUIREMENTS"
    touch "$STAMP"
fi

command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ] \
    || { echo "error: Spark needs a Java runtime (17): none on PATH and no JAVA_HOME" >&2; exit 1; }

# Spark binds to the loopback address: no network interface lookups, no warnings.
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false

if [ "${1:-}" = "--build-only" ]; then
    if [ -z "${RWE_PSEUDONYM_KEY:-}" ]; then
        RWE_PSEUDONYM_KEY="$(cat .secrets/pseudonym_key 2>/dev/null || true)"
        export RWE_PSEUDONYM_KEY
    fi
    exec "$VENV/bin/python" portability/spark_check.py --work-dir "${2:-target/spark}"
fi

test -x .venv/bin/python \
    || { echo "error: the main .venv is missing: run make test (or make run) first" >&2; exit 1; }
exec .venv/bin/python -m pytest -m spark tests/python/test_spark_portability.py -v -p no:cacheprovider "$@"
