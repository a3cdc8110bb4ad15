"""run_inputs: the raw files this build reads (size, SHA-256, records counted
with a reader of their own), the fingerprint of the project's seeds and code,
and the package versions."""

from pathlib import Path

from dbt.flags import get_flags

from rwe_study.inputs import read_columns
from rwe_warehouse.fingerprint import EXPORT_COLUMNS, raw_input_fingerprints
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    params = dbt.config.get("meta")
    exports = read_columns(dbt.this.identifier, "raw_export_files", dbt.ref("raw_export_files"),
                           EXPORT_COLUMNS)
    project_dir = Path(get_flags().PROJECT_DIR).resolve()
    raw_data_dir = Path(params["raw_data_dir"])
    if not raw_data_dir.is_absolute():
        raw_data_dir = project_dir / raw_data_dir
    return with_run_stamp(raw_input_fingerprints(raw_data_dir, exports, project_dir))
