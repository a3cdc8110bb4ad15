"""Read the published result tables and write the study report as one HTML file.

The report is self-contained: figures are PNGs embedded as base64 ``data:``
URIs, the style sheet is inline, and there is no script, font, link or image
from anywhere else, so the file can be mailed or archived as is. Rendering
is deterministic: the same tables give the same bytes (the report shows the
tables' ``built_at`` stamps, not the time it was rendered).
"""

from __future__ import annotations

import base64
import html
import os
import re
import struct
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd

from rwe_report import diagnostics, figures, tables

# The public contract of each result table: the columns the report reads.
RESULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "covariate_balance": (
        "covariate", "level", "cohort", "mean_treated", "mean_control", "n_treated",
        "n_control", "count_treated", "count_control", "smd", "smd_method", "is_suppressed",
        "suppressed_cells", "min_cell_count", "suppression_rule", "built_at"),
    "km_estimates": (
        "cohort", "endpoint", "arm", "time_months", "n_at_risk", "n_events", "n_censored",
        "survival", "ci_lower", "ci_upper", "ci_method", "min_cell_count", "suppression_rule",
        "built_at"),
    "survival_summary": (
        "cohort", "endpoint", "arm", "n", "events", "median_months", "median_ci_lower",
        "median_ci_upper", "logrank_chi_square", "logrank_p_value", "hr_ici_vs_non_ici",
        "hr_ci_lower", "hr_ci_upper", "hr_p_value", "hr_variance_method", "ties_method",
        "hr_ci_method", "median_ci_method", "landmark_ci_method", "logrank_test_method",
        "built_at"),
    "cox_results": (
        "cohort", "endpoint", "model", "term", "hr", "ci_lower", "ci_upper", "p_value", "n",
        "events", "ph_test_statistic", "ph_test_p_value", "ties_method", "variance_method",
        "ci_method", "ph_test_method", "built_at"),
    "subgroup_hr": (
        "subgroup", "level", "n", "events", "hr", "ci_lower", "ci_upper", "p_value",
        "ties_method", "variance_method", "ci_method", "interaction_p_value",
        "interaction_method", "note", "is_suppressed", "suppressed_cells", "min_cell_count",
        "suppression_rule", "cohort", "endpoint", "built_at"),
    "response_summary": (
        "cohort", "arm", "n", "cr", "pr", "sd", "pd", "ne", "orr", "orr_ci_lower",
        "orr_ci_upper", "dcr", "dcr_ci_lower", "dcr_ci_upper", "orr_p_value", "dcr_p_value",
        "ci_method", "test_method", "is_suppressed", "suppressed_cells", "min_cell_count",
        "suppression_rule", "built_at"),
    "safety_summary": (
        "ae_term", "grade_band", "arm", "patients", "arm_n", "percent", "is_suppressed",
        "count_method", "min_cell_count", "suppression_rule", "built_at"),
}
# Tables the report shows when the database has them: the validation of the
# line-of-therapy derivation is empty or absent on real data.
OPTIONAL_TABLES: dict[str, tuple[str, ...]] = {
    "line_derivation_agreement": (
        "center_id", "true_line_count", "patients", "share_same_line_count",
        "share_line_starts_within_tolerance", "share_same_regimens",
        "line_start_tolerance_days", "is_suppressed", "suppressed_cells", "min_cell_count",
        "suppression_rule", "built_at"),
}
# Landmark columns depend on the study's landmark_months (6 and 12 by default).
OPTIONAL_COLUMNS: dict[str, re.Pattern[str]] = {
    "survival_summary": re.compile(r"^survival_\d+(?:\.\d+)?_months(?:_ci_lower|_ci_upper)?$"),
}
REPORT_TITLE = "Second-line immune checkpoint inhibitors in ES-SCLC: study report"
STUDY_COLUMN = "study_id"
# The published table of study specs (one row per study) and what the index shows of it.
STUDY_SPECS_TABLE = "study_specs"
STUDY_SPEC_COLUMNS = ("study_id", "title", "reference", "exposure_label", "comparator_label",
                      "primary_endpoint", "study_window_start_date", "study_window_end_date",
                      "data_cutoff_date")

STYLE = """
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #1a1a1a;
       max-width: 1180px; margin: 24px auto; padding: 0 20px; line-height: 1.4; }
h1 { font-size: 24px; margin-bottom: 4px; }
h2 { font-size: 19px; margin-top: 36px; border-bottom: 2px solid #0072B2; padding-bottom: 4px; }
p.lead { color: #444; margin-top: 0; }
figure { margin: 18px 0; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: #444; margin-top: 4px; }
.figure-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr));
               gap: 8px 24px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 14px 0 22px; }
caption { caption-side: top; text-align: left; font-size: 13px; color: #333;
          padding-bottom: 6px; max-width: 1100px; }
th, td { border: 1px solid #d0d0d0; padding: 3px 7px; vertical-align: top; }
thead th { background: #eef3f8; text-align: center; }
tbody th { text-align: left; font-weight: normal; background: #fafafa; }
tbody td { text-align: right; white-space: nowrap; }
td.text { text-align: left; }
table.methods td { text-align: left; white-space: normal; }
td.imbalanced { color: #b03000; font-weight: bold; }
td.suppressed { color: #666; font-style: italic; }
td.source { color: #666; font-family: monospace; }
footer { margin-top: 40px; border-top: 1px solid #ccc; font-size: 13px; }
"""


class ReportInputError(ValueError):
    """A result table or column the report needs is missing."""


# --------------------------------------------------------------------------- loading

def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def load_results(database: str | os.PathLike[str], schema: str = "main",
                 study_id: str | None = None) -> dict[str, pd.DataFrame]:
    """Read the result tables of the report from a DuckDB file (read-only).

    With ``study_id``, only that study's rows of every table that has a
    ``study_id`` column (tables without one, such as the line-derivation
    validation, are the registry's and shown whole).

    Columns are selected by name: the contract columns of
    :data:`RESULT_COLUMNS` plus, for ``survival_summary``, every landmark
    column ``survival_<t>_months`` (with ``_ci_lower``/``_ci_upper``). Extra
    columns are ignored.

    Parameters
    ----------
    database : path-like
        A DuckDB file, e.g. ``warehouse/published/current/rwe_results.duckdb``.
    schema : str, default "main"
        Schema holding the tables (``main`` in the published copy, ``marts``
        in the working warehouse).
    study_id : str, optional
        The study whose rows to read (a row of ``study_specs``).

    Returns
    -------
    dict of str to DataFrame
        One frame per table name of :data:`RESULT_COLUMNS`, plus each table of
        :data:`OPTIONAL_TABLES` the database has with all its columns.

    Raises
    ------
    FileNotFoundError
        If the database file does not exist.
    ReportInputError
        If a table or a contract column is missing, naming all of them.
    """
    path = Path(database)
    if not path.is_file():
        raise FileNotFoundError(f"no DuckDB file at {path}: build the study first (make run)")
    connection = duckdb.connect(str(path), read_only=True)
    try:
        found = connection.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = ? and table_catalog = current_database() "
            "order by table_name, ordinal_position",
            [schema],
        ).fetchall()
        present: dict[str, list[str]] = {}
        for table, column in found:
            present.setdefault(table.lower(), []).append(column)
        problems = []
        for table, columns in RESULT_COLUMNS.items():
            if table not in present:
                problems.append(f"table {schema}.{table} is missing")
                continue
            lower = {column.lower() for column in present[table]}
            missing = [column for column in columns if column not in lower]
            if missing:
                problems.append(f"{schema}.{table} lacks column(s) {', '.join(missing)}")
        # the diagnostics tables are optional: a version published before them still reports
        for table, columns in diagnostics.DIAGNOSTIC_COLUMNS.items():
            lower = {column.lower() for column in present.get(table, [])}
            missing = [column for column in columns if column not in lower]
            if table in present and missing:
                problems.append(f"{schema}.{table} lacks column(s) {', '.join(missing)}")
        if problems:
            raise ReportInputError(f"{path} cannot be reported on: " + "; ".join(problems))
        # Fully qualified: a file named like the schema (marts.duckdb) makes "marts" ambiguous.
        catalog = connection.execute("select current_database()").fetchone()[0]

        def rows_of(table: str, selected: str) -> pd.DataFrame:
            source = f"{_quote(catalog)}.{_quote(schema)}.{_quote(table)}"
            if study_id is not None and STUDY_COLUMN in present[table]:
                return connection.execute(f"select {selected} from {source} "
                                          f"where {STUDY_COLUMN} = ?", [study_id]).df()
            return connection.execute(f"select {selected} from {source}").df()

        results = {}
        for table, columns in RESULT_COLUMNS.items():
            pattern = OPTIONAL_COLUMNS.get(table)
            extra = [column for column in present[table]
                     if pattern is not None and pattern.match(column.lower())]
            selected = ", ".join(_quote(column) for column in [*columns, *extra])
            frame = rows_of(table, selected)
            frame.columns = [column.lower() for column in frame.columns]
            results[table] = frame
        for table, columns in diagnostics.DIAGNOSTIC_COLUMNS.items():
            if table in present:
                selected = ", ".join(_quote(column) for column in columns)
                frame = rows_of(table, selected)
                frame.columns = [column.lower() for column in frame.columns]
                results[table] = frame
        for table, columns in OPTIONAL_TABLES.items():
            lower = {column.lower() for column in present.get(table, [])}
            if not set(columns) <= lower:
                continue
            selected = ", ".join(_quote(column) for column in columns)
            results[table] = rows_of(table, selected)
        return results
    finally:
        connection.close()


# --------------------------------------------------------------------------- rendering

def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG from its IHDR chunk."""
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def figure_html(figure_id: str, png: bytes, alt: str, caption: str) -> str:
    """An ``<img>`` with a base64 data URI inside a ``<figure>``.

    Parameters
    ----------
    figure_id : str
        Stable ``id`` of the ``<img>``.
    png : bytes
        The PNG image.
    alt : str
        Alternative text (escaped here).
    caption : str
        Caption text (escaped here).

    Returns
    -------
    str
        The HTML fragment.
    """
    width, height = _png_size(png)
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure>\n<img id="{html.escape(figure_id)}" alt="{html.escape(alt)}" '
            f'width="{width}" height="{height}" src="data:image/png;base64,{data}">\n'
            f"<figcaption>{html.escape(caption)}</figcaption>\n</figure>")


def _km_figures(results: Mapping[str, pd.DataFrame]) -> list[str]:
    km, summary = results["km_estimates"], results["survival_summary"]
    blocks = []
    for cohort in ("all", "matched"):
        for endpoint in ("PFS", "OS"):
            name = figures.ENDPOINT_NAMES[endpoint].lower()
            cohort_name = figures.COHORT_NAMES[cohort]
            png = figures.km_figure(km, summary, cohort, endpoint)
            blocks.append(figure_html(
                f"figure-km-{endpoint.lower()}-{cohort}", png,
                f"Kaplan-Meier curves of {name} by arm (ICI vs non-ICI), {cohort_name}, "
                "with 95% confidence bands, medians, log-rank p, hazard ratio and "
                "numbers at risk",
                f"Kaplan-Meier estimate of {name}, {cohort_name}. Shaded: pointwise 95% CI; "
                "+: censored. Numbers at risk at each time under the plot."))
    return blocks


def render_report(results: Mapping[str, pd.DataFrame], source: str | None = None,
                  study: Mapping[str, object] | None = None) -> str:
    """Render the whole report as one self-contained HTML document.

    Parameters
    ----------
    results : mapping of str to DataFrame
        The result tables, as returned by :func:`load_results`.
    source : str, optional
        Where the tables came from, shown under the title (escaped).
    study : mapping, optional
        The study's row of ``study_specs`` (title, arm labels, ...): the
        report's title and lead name it. Without it, the reference study's title.

    Returns
    -------
    str
        The HTML document (no scripts, no external resources).
    """
    balance = results["covariate_balance"]
    cox = results["cox_results"]
    title = REPORT_TITLE if study is None else f"{study['title']}: study report"
    arms = ("ICI vs non-ICI as second-line therapy" if study is None else
            f"{study['exposure_label']} (arm ICI) vs {study['comparator_label']} (arm non-ICI), "
            f"primary endpoint {study['primary_endpoint']}")
    sections = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{STYLE}{diagnostics.BANNER_STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="lead">{html.escape(arms)}: baseline characteristics, '
        "survival, Cox models, response and safety, from the study's published result "
        "tables." + (f" Source: {html.escape(source)}." if source else "") + "</p>",
        "</header>",
        "<main>",
        '<section id="section-diagnostics">',
        "<h2>Study diagnostics</h2>",
        *diagnostics.diagnostics_section(results),
        "</section>",
        '<section id="section-baseline">',
        "<h2>1. Baseline characteristics</h2>",
        tables.table_one(balance),
        "</section>",
        '<section id="section-survival">',
        "<h2>2. Survival</h2>",
        '<div class="figure-grid">',
        *_km_figures(results),
        "</div>",
        tables.survival_table(results["survival_summary"]),
        *diagnostics.rmst_section(results),
        "</section>",
        '<section id="section-cox">',
        "<h2>3. Cox models and subgroups</h2>",
        figure_html(
            "figure-forest-cox", figures.forest_cox_figure(cox, "all", "multivariate"),
            "Forest plot of hazard ratios from the multivariate Cox model for "
            "progression-free and overall survival, all patients, log scale",
            "Multivariate Cox model, all patients: hazard ratio and 95% CI of each term "
            "(log scale; reference line at 1)."),
        tables.cox_table(cox, "all"),
        *([tables.cox_table(cox, "matched")] if (cox["cohort"] == "matched").any() else []),
        figure_html(
            "figure-forest-subgroups", figures.forest_subgroups_figure(results["subgroup_hr"]),
            "Forest plot of the hazard ratio of ICI vs non-ICI within subgroups, log scale",
            "Hazard ratio of ICI vs non-ICI within each subgroup level, 95% CI "
            "(log scale; reference line at 1)."),
        tables.subgroup_table(results["subgroup_hr"]),
        *diagnostics.subgroup_balance_section(results),
        *diagnostics.evalue_section(results),
        *diagnostics.center_section(results),
        "</section>",
        '<section id="section-balance">',
        "<h2>4. Covariate balance</h2>",
        figure_html(
            "figure-love-plot", figures.love_plot_figure(balance),
            "Love plot of absolute standardised mean differences of baseline covariates "
            "before and after propensity-score matching, dashed line at 0.1",
            "Absolute standardised mean difference of each covariate before (open) and "
            "after (filled) matching; dashed line: 0.1."),
        *diagnostics.weighting_section(results),
        "</section>",
        '<section id="section-response-safety">',
        "<h2>5. Response and safety</h2>",
        tables.response_table(results["response_summary"]),
        tables.safety_table(results["safety_summary"]),
        "</section>",
        '<section id="section-censoring">',
        "<h2>6. Censoring</h2>",
        *diagnostics.censoring_section(results),
        "</section>",
        *([
            '<section id="section-line-derivation">',
            "<h2>7. Validation: lines of therapy derived from administrations</h2>",
            tables.line_agreement_table(results["line_derivation_agreement"]),
            "</section>",
        ] if not results.get("line_derivation_agreement", pd.DataFrame()).empty else []),
        "</main>",
        '<footer id="report-footer">',
        "<h2>Methods and provenance</h2>",
        tables.methods_table(results),
        tables.provenance_table(results),
        "</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(sections) + "\n"


def load_studies(database: str | os.PathLike[str], schema: str = "main") -> pd.DataFrame | None:
    """The ``study_specs`` rows of a DuckDB file, or None when it has no such table
    (a database of one study, written before study specs)."""
    connection = duckdb.connect(str(database), read_only=True)
    try:
        found = connection.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ? and table_catalog = current_database()",
            [schema, STUDY_SPECS_TABLE]).fetchone()[0]
        if not found:
            return None
        catalog = connection.execute("select current_database()").fetchone()[0]
        selected = ", ".join(_quote(column) for column in STUDY_SPEC_COLUMNS)
        return connection.execute(
            f"select {selected} from {_quote(catalog)}.{_quote(schema)}."
            f"{_quote(STUDY_SPECS_TABLE)} order by study_id").df()
    finally:
        connection.close()


def study_report_name(study_id: str) -> str:
    """File name of one study's report, beside the index page."""
    return f"report_{study_id}.html"


def render_index(studies: pd.DataFrame, source: str | None = None) -> str:
    """The index page: one line per study, linking its report."""
    rows = "".join(
        "<tr>"
        f'<td class="text"><a href="{html.escape(study_report_name(str(row.study_id)))}">'
        f"{html.escape(str(row.title))}</a></td>"
        f'<td class="text">{html.escape(str(row.study_id))}</td>'
        f'<td class="text">{html.escape(str(row.exposure_label))} vs '
        f"{html.escape(str(row.comparator_label))}</td>"
        f'<td class="text">{html.escape(str(row.primary_endpoint))}</td>'
        f'<td class="text">{row.study_window_start_date:%Y-%m-%d} to '
        f"{row.study_window_end_date:%Y-%m-%d}, cut-off {row.data_cutoff_date:%Y-%m-%d}</td>"
        f'<td class="text">{html.escape(str(row.reference or ""))}</td>'
        "</tr>"
        for row in studies.itertuples(index=False))
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Study reports</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
        "<header>", "<h1>Study reports</h1>",
        '<p class="lead">One report per study spec (studies/&lt;study_id&gt;.yml), each from '
        "the same published result tables, filtered on study_id."
        + (f" Source: {html.escape(source)}." if source else "") + "</p>", "</header>",
        "<main>", '<table id="table-studies">',
        "<caption>Studies of this version.</caption>",
        "<thead><tr><th>study</th><th>study_id</th><th>arms</th><th>primary endpoint</th>"
        "<th>index-line window and cut-off</th><th>reference</th></tr></thead>",
        f"<tbody>{rows}</tbody>", "</table>", "</main>", "</body>", "</html>"]) + "\n"


def _write_atomically(target: Path, document: str) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(document, encoding="utf-8")
    os.replace(temporary, target)


def write_report(database: str | os.PathLike[str], out: str | os.PathLike[str],
                 schema: str = "main") -> Path:
    """Load the result tables, render the report and write it to ``out``.

    A database with a ``study_specs`` table holds several studies: each gets
    its own report, ``report_<study_id>.html`` beside ``out``, and ``out`` is
    the index page linking them. A database without one gets one report in
    ``out``. Every file is written under a temporary name and renamed into
    place, so a reader never sees half a report.

    Parameters
    ----------
    database : path-like
        DuckDB file with the result tables.
    out : path-like
        The HTML file to write (parent folders are created).
    schema : str, default "main"
        Schema of the result tables.

    Returns
    -------
    Path
        The written file (the index page when there are studies).
    """
    source = f"{Path(database).name}, schema {schema}"
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    studies = load_studies(database, schema)
    if studies is None:
        _write_atomically(target, render_report(load_results(database, schema), source=source))
        return target
    for study in studies.to_dict("records"):
        results = load_results(database, schema, study_id=study["study_id"])
        _write_atomically(target.with_name(study_report_name(study["study_id"])),
                          render_report(results, source=f"{source}, study_id "
                                                        f"{study['study_id']}", study=study))
    _write_atomically(target, render_index(studies, source=source))
    return target
