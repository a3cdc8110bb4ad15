"""The README's results table of each study: this build's figures beside the published ones.

One Markdown table per study spec, rendered from a built warehouse's tables (filtered on
``study_id``) and the spec's ``published`` figures. ``tests/python/test_warehouse_build.py``
renders them from its build and checks the README holds exactly these rows; to refresh
the README after a change, print them from ``make run``'s warehouse and paste each
between its markers (``<!-- results:<study_id>:start -->`` ... ``:end -->``):

    .venv/bin/python -m rwe_report.results_table --database warehouse/rwe.duckdb
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

#: How the README names a Cox term (the exposure term is named by the spec's label).
TERM_LABELS = {
    "age_years": "age", "is_male": "male", "is_ecog_2_or_more": "ECOG >= 2",
    "is_ever_smoker": "ever smoker", "has_liver_metastases": "liver metastases",
    "has_brain_metastases": "brain metastases", "has_bone_metastases": "bone metastases",
    "has_three_or_more_metastatic_sites": "3 or more metastatic sites",
    "had_thoracic_radiotherapy": "thoracic radiotherapy",
    "had_prophylactic_cranial_irradiation": "PCI", "had_first_line_ici": "first-line ICI",
    "is_first_line_pfs_6_months_or_more": "first-line PFS >= 6 months",
}
NOT_PUBLISHED = "not in the abstract"

Query = Callable[[str, Sequence[Any]], pd.DataFrame]


def start_marker(study_id: str) -> str:
    return f"<!-- results:{study_id}:start -->"


def end_marker(study_id: str) -> str:
    return f"<!-- results:{study_id}:end -->"


def study_specs(query: Query) -> list[dict[str, Any]]:
    """Every spec of the warehouse (``marts.study_specs``), in study_id order."""
    specs = query("select study_id, spec_json from marts.study_specs order by study_id", [])
    return [{"study_id": row.study_id, **json.loads(row.spec_json)}
            for row in specs.itertuples(index=False)]


def results_rows(query: Query, spec: dict[str, Any]) -> list[str]:
    """The Markdown rows (header and separator included) of one study's results table."""
    study_id = spec["study_id"]
    published = spec["published"]
    exposure, comparator = spec["exposure"]["label"], spec["comparator"]["label"]

    def frame(sql: str) -> pd.DataFrame:
        return query(sql, [study_id])

    def survival(cohort: str, endpoint: str) -> tuple[str, str, str]:
        rows = frame(f"select * from marts.survival_summary where study_id = ? "
                     f"and cohort = '{cohort}' and endpoint = '{endpoint}' order by arm")
        median = " vs ".join(f"{r.median_months:.2f} ({r.median_ci_lower:.2f}-"
                             f"{r.median_ci_upper:.2f})" for r in rows.itertuples())
        first = rows.iloc[0]  # ICI (the exposure) before non-ICI
        hr = f"{first.hr_ici_vs_non_ici:.2f} ({first.hr_ci_lower:.2f}-{first.hr_ci_upper:.2f})"
        return median, f"log-rank p = {first.logrank_p_value:.1e}", hr

    def cited(key: str) -> str:
        return str(published.get(key, NOT_PUBLISHED))

    arms = frame("select arm, count(*) as n from marts.analysis_cohort where study_id = ? "
                 "group by arm order by arm")["n"].tolist()
    pairs = int(frame("select count(*) as n from marts.matched_pairs where study_id = ?")
                ["n"].iloc[0])
    primary = spec["endpoints"]["primary"]
    endpoints = [primary, *[e for e in ("PFS", "OS") if e != primary]]
    rows = [f"| figure | this build: {exposure} vs {comparator} | published "
            f"({published['citation']}) |", "|---|---|---|",
            f"| patients | {arms[0]} vs {arms[1]} | {cited('patients')} |"]
    for endpoint in endpoints:
        lower = endpoint.lower()
        label = f"{endpoint} (primary)" if endpoint == primary else endpoint
        median, p_value, hr = survival("all", endpoint)
        matched, matched_p, matched_hr = survival("matched", endpoint)
        rows += [
            f"| median {label}, all (months, 95% CI) | {median}, {p_value} | "
            f"{cited(f'median_{lower}_all')} |",
            f"| median {endpoint}, after 1:1 PSM | {matched}, {pairs} pairs, {matched_p} | "
            f"{cited(f'median_{lower}_matched')} |",
            f"| {endpoint} hazard ratio, all (Cox, Efron) | {hr} | {cited(f'hr_{lower}_all')} |",
            f"| {endpoint} hazard ratio, matched (robust, clustered on pair) | {matched_hr} | "
            f"{cited(f'hr_{lower}_matched')} |",
        ]
    response = frame("select * from marts.response_summary where study_id = ? "
                     "and cohort = 'all' order by arm")
    for measure in ("orr", "dcr"):
        shares = " vs ".join(f"{100 * value:.1f} %" for value in response[measure])
        rows.append(f"| {measure.upper()} | {shares}, p = "
                    f"{response[f'{measure}_p_value'].iloc[0]:.1e} | {cited(measure)} |")
    labels = {**TERM_LABELS, "is_ici": exposure}
    predictors = [labels.get(term, term) for term in frame(
        f"select term from marts.cox_results where study_id = ? and cohort = 'all' "
        f"and endpoint = '{primary}' and model = 'multivariate' and p_value < 0.05 "
        f"order by p_value")["term"]]
    smd = dict(frame("select cohort, max(abs(smd)) as smd from marts.covariate_balance "
                     "where study_id = ? group by cohort").itertuples(index=False))
    rows += [
        f"| independent {primary} predictors (multivariate Cox, p < 0.05) | "
        f"{', '.join(predictors)} | {cited(f'predictors_{primary.lower()}')} |",
        f"| max \\|SMD\\| before / after matching | {smd['all']:.2f} / {smd['matched']:.2f} | |",
    ]
    return rows


def readme_block(query: Query, spec: dict[str, Any]) -> str:
    """One study's block of the README, markers included."""
    return "\n".join([start_marker(spec["study_id"]), *results_rows(query, spec),
                      end_marker(spec["study_id"])])


def main(argv: Sequence[str] | None = None) -> int:
    import duckdb

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a built warehouse (DuckDB file)")
    args = parser.parse_args(argv)
    with duckdb.connect(args.database, read_only=True) as connection:
        def query(sql: str, parameters: Sequence[Any]) -> pd.DataFrame:
            return connection.execute(sql, list(parameters)).df()
        for spec in study_specs(query):
            print(readme_block(query, spec), end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
