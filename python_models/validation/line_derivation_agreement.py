"""line_derivation_agreement: derived lines of therapy against the true ones.

Aggregates int_line_derivation_compared (one row per patient of a center with
true lines) by center and number of true lines, small cells suppressed
(rwe_study.line_agreement). Empty when the build has no true lines (real data).
"""

from rwe_study.inputs import read_columns
from rwe_study.line_agreement import COMPARED_COLUMNS, line_agreement_table
from rwe_warehouse.provenance import with_run_stamp


def model(dbt, session):
    dbt.config(materialized="table")
    params = dbt.config.get("meta")
    compared = read_columns(dbt.this.identifier, "int_line_derivation_compared",
                            dbt.ref("int_line_derivation_compared"), COMPARED_COLUMNS)
    return with_run_stamp(line_agreement_table(
        compared, int(params["line_start_tolerance_days"]), int(params["min_cell_count"])))
