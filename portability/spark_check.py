"""Build the project's SQL layer on Apache Spark (dbt-spark, method: session).

One process, one SparkSession, in this order:

1. load each center's raw CSV export into the table its mapping's sources name
   (``raw_center_a.treatment_lines``, ...): every CSV column as a string, plus
   ``source_row_number`` (1-based data row, header excluded) and
   ``source_file_name``, which is what any warehouse loader must deliver
   (on DuckDB the sources read the files in place instead);
2. ``dbt build`` of the SQL layer with portability/profiles.yml: the seeds,
   the staging, intermediate and marts models and their data tests; not the
   Python models nor anything downstream of them, and not the unit tests
   (their SQL fixtures are written for DuckDB);
3. write the marts to Parquet (``<work-dir>/results/<table>/``) and a
   ``summary.json`` for the comparison with DuckDB
   (tests/python/test_spark_portability.py).

dbt-spark opens its session with ``SparkSession.builder...getOrCreate()``, so it
reuses the session step 1 opened with the profile's server_side_parameters.

Run it with the Spark virtualenv's Python (portability/run_spark_check.sh does):
    RWE_PSEUDONYM_KEY=... .venv-spark/bin/python portability/spark_check.py --work-dir DIR
Exit status 0 when every dbt node passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import time
from importlib.metadata import version
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
PROFILES_DIR = PROJECT_DIR / "portability"
#: The SQL layer: Python models run only on DuckDB here (dbt-spark sends them
#: to Databricks clusters), so they and everything downstream are left out.
BUILD_SELECTION = ["--exclude", "path:python_models+", "resource_type:unit_test"]
RESULT_TABLES = ["analysis_cohort", "adverse_events", "quarantine", "row_accounting"]


def spark_settings(spark_dir: str) -> dict[str, str]:
    """The server_side_parameters of the profile's spark target, rendered for spark_dir."""
    profile = yaml.safe_load((PROFILES_DIR / "profiles.yml").read_text(encoding="utf-8"))
    parameters = profile["rwe_warehouse"]["outputs"]["spark"]["server_side_parameters"]
    placeholder = "{{ env_var('RWE_SPARK_DIR') }}"
    settings = {key: str(value).replace(placeholder, spark_dir)
                for key, value in parameters.items()}
    # dbt-spark sets this on every connection (SparkCredentials.__post_init__).
    settings["spark.sql.ansi.enabled"] = "false"
    return settings


def raw_exports(project_dir: Path) -> list[dict[str, str]]:
    """Every export of the registered centers (dbt_project.yml vars ``centers``),
    as each center's mapping (models/staging/<center>/_<center>__mapping.yml)
    declares its sources."""
    registered = yaml.safe_load((project_dir / "dbt_project.yml").read_text(
        encoding="utf-8"))["vars"]["centers"]
    exports = []
    for path in sorted((project_dir / "models" / "staging").glob("*/_*__mapping.yml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8")).get("sources", []):
            center_id = source.get("config", {}).get("meta", {}).get("center_id", source["name"])
            if center_id not in registered:
                continue
            for table in source["tables"]:
                exports.append({
                    "center_id": center_id,
                    "schema": source.get("schema", source["name"]),
                    "table": table.get("identifier", table["name"]),
                })
    return exports


def read_export(path: Path, file_name: str) -> tuple[list[str], list[tuple]]:
    """Columns and rows of one CSV export in file order, with the provenance columns.

    Read with Python's csv module, so values are the file's: an empty field is
    NULL (as DuckDB's ``read_csv(all_varchar = true)`` reads it), anything else
    is kept verbatim, untrimmed.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [
            (str(number), *[value if value != "" else None for value in row], file_name)
            for number, row in enumerate(reader, start=1)
        ]
    return ["source_row_number", *header, "source_file_name"], rows


def load_raw_exports(spark, raw_data_dir: str) -> dict[str, int]:
    """Create raw_<center>.<table> for every declared export; returns rows per table."""
    from pyspark.sql.types import StringType, StructField, StructType

    loaded = {}
    for export in raw_exports(PROJECT_DIR):
        # The same string DuckDB's read_csv(filename = ...) puts in source_file_name.
        file_name = f"{raw_data_dir}/{export['center_id']}/{export['table']}.csv"
        columns, rows = read_export(PROJECT_DIR / file_name, file_name)
        schema = StructType([StructField(name, StringType(), True) for name in columns])
        target = f"{export['schema']}.{export['table']}"
        spark.sql(f"create database if not exists {export['schema']}")
        (spark.createDataFrame(rows, schema).coalesce(1)
         .write.mode("overwrite").format("parquet").saveAsTable(target))
        loaded[target] = spark.table(target).count()
        if loaded[target] != len(rows):
            raise RuntimeError(f"{target} has {loaded[target]} rows, {file_name} {len(rows)}")
    return loaded


def run_dbt(args: list[str], work_dir: Path) -> tuple[bool, dict[str, dict[str, int]]]:
    """Run one dbt command in this process; returns success and, per resource
    type (model, test, seed, exposure, ...), how many nodes ended in each status."""
    from dbt.cli.main import dbtRunner

    command = [*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROFILES_DIR),
               "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")]
    print("dbt " + " ".join(command), flush=True)
    result = dbtRunner().invoke(command)
    statuses: dict[str, dict[str, int]] = {}
    for node_result in getattr(result.result, "results", None) or []:
        of_type = statuses.setdefault(str(node_result.node.resource_type), {})
        status = str(node_result.status)
        of_type[status] = of_type.get(status, 0) + 1
    if result.exception is not None:
        print(f"dbt raised: {result.exception}", file=sys.stderr)
    return bool(result.success), statuses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, required=True,
                        help="emptied first; gets spark-warehouse/, target/, logs/, results/")
    parser.add_argument("--raw-data-dir", default="data/raw",
                        help="as the dbt var raw_data_dir, relative to the project root")
    args = parser.parse_args(argv)
    if not os.environ.get("RWE_PSEUDONYM_KEY"):
        parser.error("set RWE_PSEUDONYM_KEY (the same key as the DuckDB build you compare with)")

    work_dir = args.work_dir.resolve()
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    os.environ["RWE_SPARK_DIR"] = str(work_dir)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ["DBT_PARTIAL_PARSE"] = "false"
    os.chdir(PROJECT_DIR)  # data/raw paths and source_file_name are relative to it

    from pyspark.sql import SparkSession

    summary: dict = {"work_dir": str(work_dir), "seconds": {}}
    started = time.perf_counter()
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_settings(str(work_dir)).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    summary["versions"] = {"spark": spark.version, "pyspark": version("pyspark"),
                           "dbt-core": version("dbt-core"), "dbt-spark": version("dbt-spark"),
                           "java": spark.sparkContext._jvm.System.getProperty("java.version")}
    summary["seconds"]["spark_start"] = round(time.perf_counter() - started, 1)

    step = time.perf_counter()
    summary["raw_rows"] = load_raw_exports(spark, args.raw_data_dir)
    summary["seconds"]["load_raw_exports"] = round(time.perf_counter() - step, 1)

    step = time.perf_counter()
    ok, statuses = run_dbt(["build", *BUILD_SELECTION], work_dir)
    summary["seconds"]["dbt_build"] = round(time.perf_counter() - step, 1)
    summary["dbt_build"] = {"success": ok, "statuses": statuses}

    if ok:
        results_dir = work_dir / "results"
        summary["result_rows"] = {}
        for table in RESULT_TABLES:
            frame = spark.table(f"marts.{table}")
            frame.coalesce(1).write.parquet(str(results_dir / table))
            summary["result_rows"][table] = frame.count()
    summary["success"] = ok
    summary["seconds"]["total"] = round(time.perf_counter() - started, 1)
    spark.stop()
    (work_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
