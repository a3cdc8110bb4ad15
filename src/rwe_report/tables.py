"""The report's tables: result DataFrames in, HTML ``<table>`` fragments out.

Each function is pure and returns one ``<table>`` with a stable ``id``.
Every text that comes from data goes through :func:`html.escape`, including
attribute values. Columns are selected by name, so extra columns in a result
table are ignored.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from rwe_report.formatting import (
    BALANCE_THRESHOLD,
    COHORT_NAMES,
    ENDPOINT_NAMES,
    MISSING,
    SUPPRESSED,
    arm_order,
    covariate_label,
    format_count,
    format_estimate_ci,
    format_median,
    format_number,
    format_p_value,
    format_percent,
    format_percent_ci,
    humanise,
    is_missing,
)

BOOLEAN_PREFIXES = ("is_", "has_", "had_")
LANDMARK_COLUMN = re.compile(r"^survival_(?P<time>\d+(?:\.\d+)?)_months$")
RESPONSE_CATEGORIES = ("cr", "pr", "sd", "pd", "ne")
GRADE_BANDS = ("any grade", "grade 3 or higher")

# Method columns collected into the footer, in report order: (table, column, label).
METHOD_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("covariate_balance", "smd_method", "Standardised mean difference"),
    ("km_estimates", "ci_method", "Kaplan-Meier confidence band"),
    ("survival_summary", "median_ci_method", "Median survival CI"),
    ("survival_summary", "landmark_ci_method", "Landmark survival CI"),
    ("survival_summary", "logrank_test_method", "Log-rank test"),
    ("survival_summary", "hr_variance_method", "Hazard ratio variance"),
    ("survival_summary", "hr_ci_method", "Hazard ratio CI and p"),
    ("survival_summary", "ties_method", "Hazard ratio ties"),
    ("cox_results", "ties_method", "Cox model ties"),
    ("cox_results", "variance_method", "Cox model variance"),
    ("cox_results", "ci_method", "Cox model CI and p"),
    ("cox_results", "ph_test_method", "Proportional-hazards test"),
    ("subgroup_hr", "variance_method", "Subgroup hazard ratio variance"),
    ("subgroup_hr", "interaction_method", "Subgroup interaction test"),
    ("response_summary", "ci_method", "ORR/DCR confidence interval"),
    ("response_summary", "test_method", "ORR/DCR test"),
    ("safety_summary", "count_method", "Adverse-event counts"),
    ("km_estimates", "suppression_rule", "Disclosure control, Kaplan-Meier tables"),
    ("covariate_balance", "suppression_rule", "Disclosure control, Table 1"),
    ("response_summary", "suppression_rule", "Disclosure control, response"),
    ("safety_summary", "suppression_rule", "Disclosure control, safety"),
    ("subgroup_hr", "suppression_rule", "Disclosure control, subgroups"),
)


# --------------------------------------------------------------------------- HTML helpers

def _cell(tag: str, text: Any, colspan: int = 1, rowspan: int = 1,
          css_class: str | None = None, scope: str | None = None,
          attributes: Mapping[str, Any] | None = None) -> str:
    """One ``<td>``/``<th>`` with escaped text and attributes."""
    parts = [tag]
    if colspan > 1:
        parts.append(f'colspan="{colspan}"')
    if rowspan > 1:
        parts.append(f'rowspan="{rowspan}"')
    if css_class:
        parts.append(f'class="{html.escape(css_class)}"')
    if scope:
        parts.append(f'scope="{scope}"')
    for name, value in (attributes or {}).items():
        parts.append(f'{name}="{html.escape(str(value))}"')
    return f"<{' '.join(parts)}>{html.escape(str(text))}</{tag}>"


def td(text: Any, **options: Any) -> str:
    """A data cell (text escaped)."""
    return _cell("td", text, **options)


def td_text(text: Any, **options: Any) -> str:
    """A data cell holding words rather than numbers (left-aligned)."""
    return _cell("td", text, css_class="text", **options)


def th(text: Any, **options: Any) -> str:
    """A header cell (text escaped)."""
    return _cell("th", text, **options)


def html_table(table_id: str, caption: str, head: Sequence[Sequence[str]],
               body: Sequence[Sequence[str]], css_class: str = "results") -> str:
    """Assemble a ``<table>`` from already-built cells.

    Parameters
    ----------
    table_id : str
        Stable ``id`` of the table.
    caption : str
        Caption text (escaped here).
    head, body : sequence of sequences of str
        Rows of cells built with :func:`th` / :func:`td`.
    css_class : str, default "results"
        Class of the table.

    Returns
    -------
    str
        The HTML fragment.
    """
    lines = [f'<table id="{html.escape(table_id)}" class="{html.escape(css_class)}">',
             f"<caption>{html.escape(caption)}</caption>", "<thead>"]
    lines += [f"<tr>{''.join(row)}</tr>" for row in head]
    lines.append("</thead>")
    lines.append("<tbody>")
    lines += [f"<tr>{''.join(row)}</tr>" for row in body]
    lines.append("</tbody>")
    lines.append("</table>")
    return "\n".join(lines)


def _empty_table(table_id: str, caption: str, message: str) -> str:
    """A table with one cell saying why it is empty (keeps the id stable)."""
    return html_table(table_id, caption, [[th("")]], [[td(message, css_class="empty")]])


def is_suppressed_cell(row: Mapping[str, Any], column: str) -> bool:
    """Whether ``column`` is listed in the row's ``suppressed_cells`` (disclosure control)."""
    cells = row.get("suppressed_cells")
    if is_missing(cells):
        return False
    return column in {name.strip() for name in str(cells).split(",")}


def _count_or_suppressed(row: Mapping[str, Any], column: str) -> str:
    return SUPPRESSED if is_suppressed_cell(row, column) else format_count(row.get(column))


def _suppression_note(frame: pd.DataFrame) -> str:
    """Caption sentence naming the threshold(s) of a table with suppressed cells."""
    if "min_cell_count" not in frame.columns:
        return ""
    thresholds = _ordered_unique(frame["min_cell_count"])
    if not thresholds:
        return ""
    k = ", ".join(str(int(value)) for value in thresholds)
    return (f" {SUPPRESSED.capitalize()}: a count of fewer than {k} patients, or a value "
            "from which one could be derived (disclosure control).")


def _ordered_unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(value for value in values if not is_missing(value)))


def _proportion_scale(frame: pd.DataFrame, columns: Sequence[str]) -> float:
    """100 when every value is within [0, 1] (proportions), else 1 (already percentages)."""
    values = pd.to_numeric(frame[list(columns)].stack(), errors="coerce").dropna()
    return 100.0 if values.empty or float(values.abs().max()) <= 1.0 else 1.0


# --------------------------------------------------------------------------- table 1

def _is_proportion(covariate: Any, level: Any, means: Sequence[Any]) -> bool:
    """A covariate row is a proportion when it is a category level or a boolean flag."""
    finite = [float(mean) for mean in means if not is_missing(mean)]
    in_unit_range = all(0.0 <= mean <= 1.0 for mean in finite)
    named_flag = str(covariate).startswith(BOOLEAN_PREFIXES)
    return in_unit_range and (not is_missing(level) or named_flag)


def _baseline_value(mean: Any, n: Any, proportion: bool, count: Any = None,
                    suppressed: bool = False) -> str:
    if suppressed:
        return SUPPRESSED
    if is_missing(mean):
        return MISSING
    if proportion:
        if is_missing(count):
            count = None if is_missing(n) else int(round(float(mean) * float(n)))
        shown = "" if count is None else f"{int(count)} "
        return f"{shown}({float(mean) * 100:.1f}%)"
    return format_number(mean, 1)


def table_one(balance: pd.DataFrame) -> str:
    """Table 1: baseline characteristics by arm, with SMD before and after matching.

    Binary covariates (a ``level`` row, or a boolean ``is_``/``has_``/``had_``
    flag with means in [0, 1]) print as ``count (percent)`` with the count
    from ``count_treated``/``count_control`` (or ``mean * n`` when the table
    has no count); other covariates print their mean. A count, proportion
    or SMD listed in ``suppressed_cells`` prints ``suppressed``. SMDs keep
    their sign; cells with |SMD| > 0.1 get the class ``imbalanced``.

    Parameters
    ----------
    balance : DataFrame
        ``covariate_balance`` (cohorts ``all`` and ``matched``; treated = ICI).

    Returns
    -------
    str
        ``<table id="table-baseline">``.
    """
    table_id = "table-baseline"
    caption = ("Table 1. Baseline characteristics by arm, all patients and after 1:1 "
               "propensity-score matching (treated = ICI). Binary: n (%); continuous: mean."
               + _suppression_note(balance))
    if balance.empty:
        return _empty_table(table_id, caption, "covariate_balance has no rows.")
    cohorts = [cohort for cohort in ("all", "matched") if (balance["cohort"] == cohort).any()]
    cohorts += [c for c in _ordered_unique(balance["cohort"]) if c not in cohorts]
    head_top = [th("Characteristic", rowspan=2, scope="col")]
    head_bottom = []
    for cohort in cohorts:
        rows = balance[balance["cohort"] == cohort]
        head_top.append(th(COHORT_NAMES.get(cohort, cohort).capitalize(), colspan=3,
                           scope="colgroup"))
        head_bottom += [th(f"ICI (n={format_count(rows['n_treated'].max())})", scope="col"),
                        th(f"non-ICI (n={format_count(rows['n_control'].max())})", scope="col"),
                        th("SMD", scope="col")]
    keys = _ordered_unique(zip(balance["covariate"], balance["level"].astype(object),
                               strict=True))
    body = []
    for covariate, level in keys:
        level_match = (balance["level"].isna() if is_missing(level)
                       else balance["level"] == level)
        rows = balance[(balance["covariate"] == covariate) & level_match]
        proportion = _is_proportion(covariate, level,
                                    list(rows["mean_treated"]) + list(rows["mean_control"]))
        cells = [th(covariate_label(covariate, level), scope="row",
                    attributes={"data-covariate": covariate})]
        for cohort in cohorts:
            row = rows[rows["cohort"] == cohort]
            if row.empty:
                cells += [td(MISSING), td(MISSING), td(MISSING)]
                continue
            row = row.iloc[0].to_dict()
            smd = row["smd"]
            flagged = not is_missing(smd) and abs(float(smd)) > BALANCE_THRESHOLD
            for arm in ("treated", "control"):
                hidden = (is_suppressed_cell(row, f"count_{arm}")
                          or is_suppressed_cell(row, f"mean_{arm}"))
                cells.append(td(_baseline_value(row[f"mean_{arm}"], row[f"n_{arm}"], proportion,
                                                row.get(f"count_{arm}"), hidden),
                                css_class="suppressed" if hidden else None))
            if is_suppressed_cell(row, "smd"):
                cells.append(td(SUPPRESSED, css_class="suppressed"))
            else:
                cells.append(td(format_number(smd, 3),
                                css_class="imbalanced" if flagged else "smd"))
        body.append(cells)
    return html_table(table_id, caption, [head_top, head_bottom], body)


# --------------------------------------------------------------------------- survival

def landmark_times(summary: pd.DataFrame) -> list[str]:
    """Landmark times present as ``survival_<t>_months`` columns, in numeric order."""
    found = [(float(match["time"]), match["time"]) for column in summary.columns
             if (match := LANDMARK_COLUMN.match(column))]
    return [text for _, text in sorted(found)]


def survival_table(summary: pd.DataFrame) -> str:
    """Survival summary: n, events, median and landmark survival per arm; log-rank and HR.

    Parameters
    ----------
    summary : DataFrame
        ``survival_summary``.

    Returns
    -------
    str
        ``<table id="table-survival">``; medians and CI bounds that are null
        print ``NR`` (not reached).
    """
    table_id = "table-survival"
    caption = ("Survival by cohort, endpoint and arm: median (95% CI) in months, landmark "
               "survival (95% CI), log-rank test and Cox hazard ratio of ICI vs non-ICI.")
    if summary.empty:
        return _empty_table(table_id, caption, "survival_summary has no rows.")
    landmarks = landmark_times(summary)
    head = [[th(text, scope="col") for text in
             ["Cohort", "Endpoint", "Arm", "n", "Events", "Median, months (95% CI)"]
             + [f"{time}-month survival (95% CI)" for time in landmarks]
             + ["Log-rank p", "HR ICI vs non-ICI (95% CI)", "HR p"]]]
    body = []
    for cohort in _ordered_unique(summary["cohort"]):
        for endpoint in _ordered_unique(summary.loc[summary["cohort"] == cohort, "endpoint"]):
            group = summary[(summary["cohort"] == cohort) & (summary["endpoint"] == endpoint)]
            arms = arm_order(group["arm"])
            for position, arm in enumerate(arms):
                row = group[group["arm"] == arm].iloc[0]
                cells = []
                if position == 0:
                    span = len(arms)
                    cells += [th(COHORT_NAMES.get(cohort, cohort), rowspan=span, scope="row"),
                              td_text(ENDPOINT_NAMES.get(endpoint, endpoint), rowspan=span)]
                cells += [td_text(arm), td(format_count(row["n"])), td(format_count(row["events"])),
                          td(format_median(row["median_months"], row["median_ci_lower"],
                                           row["median_ci_upper"]))]
                for time in landmarks:
                    stem = f"survival_{time}_months"
                    cells.append(td(format_percent_ci(row[stem], row.get(f"{stem}_ci_lower"),
                                                      row.get(f"{stem}_ci_upper"))))
                if position == 0:
                    cells += [td(format_p_value(row["logrank_p_value"]), rowspan=span),
                              td(format_estimate_ci(row["hr_ici_vs_non_ici"], row["hr_ci_lower"],
                                                    row["hr_ci_upper"]), rowspan=span),
                              td(format_p_value(row["hr_p_value"]), rowspan=span)]
                body.append(cells)
    return html_table(table_id, caption, head, body)


# --------------------------------------------------------------------------- Cox

def cox_table(cox: pd.DataFrame, cohort: str = "all",
              endpoints: Sequence[str] = ("PFS", "OS")) -> str:
    """Univariate and multivariate Cox models of one cohort, one row per term.

    Parameters
    ----------
    cox : DataFrame
        ``cox_results`` (filtered here on ``cohort``).
    cohort : str, default "all"
        Cohort to show; the table id is ``table-cox`` for ``all`` and
        ``table-cox-<cohort>`` otherwise.
    endpoints : sequence of str, default ("PFS", "OS")
        Column groups, left to right.

    Returns
    -------
    str
        The HTML table, with the proportional-hazards test p of the multivariate model.
    """
    table_id = "table-cox" if cohort == "all" else f"table-cox-{cohort}"
    rows = cox[cox["cohort"] == cohort]
    sizes = []
    for endpoint in endpoints:
        block = rows[(rows["endpoint"] == endpoint) & (rows["model"] == "multivariate")]
        if not block.empty:
            sizes.append(f"{endpoint}: n={format_count(block['n'].max())}, "
                         f"events={format_count(block['events'].max())}")
    caption = (f"Cox proportional-hazards models, {COHORT_NAMES.get(cohort, cohort)}"
               + (f" ({'; '.join(sizes)})" if sizes else "") + ".")
    if rows.empty:
        return _empty_table(table_id, caption, f"cox_results has no rows for cohort {cohort}.")
    models = ("univariate", "multivariate")
    head_top = [th("Term", rowspan=3, scope="col")]
    head_middle, head_bottom = [], []
    for endpoint in endpoints:
        head_top.append(th(ENDPOINT_NAMES.get(endpoint, endpoint), colspan=5,
                           scope="colgroup"))
        head_middle += [th("Univariate", colspan=2, scope="colgroup"),
                        th("Multivariate", colspan=3, scope="colgroup")]
        head_bottom += [th("HR (95% CI)", scope="col"), th("p", scope="col"),
                        th("HR (95% CI)", scope="col"), th("p", scope="col"),
                        th("PH test p", scope="col")]
    body = []
    for term in _ordered_unique(rows["term"]):
        cells = [th(humanise(term), scope="row", attributes={"data-term": term})]
        for endpoint in endpoints:
            for model in models:
                match = rows[(rows["term"] == term) & (rows["endpoint"] == endpoint)
                             & (rows["model"] == model)]
                if match.empty:
                    cells += [td(MISSING), td(MISSING)] + ([td(MISSING)] if model == models[1]
                                                           else [])
                    continue
                row = match.iloc[0]
                cells += [td(format_estimate_ci(row["hr"], row["ci_lower"], row["ci_upper"])),
                          td(format_p_value(row["p_value"]))]
                if model == models[1]:
                    cells.append(td(format_p_value(row["ph_test_p_value"])))
        body.append(cells)
    return html_table(table_id, caption, [head_top, head_middle, head_bottom], body)


def subgroup_table(subgroups: pd.DataFrame) -> str:
    """Subgroup hazard ratios with interaction p-values and notes.

    Parameters
    ----------
    subgroups : DataFrame
        ``subgroup_hr``; a null ``hr`` prints "not estimable" and the row's
        ``note`` explains why.

    Returns
    -------
    str
        ``<table id="table-subgroups">``.
    """
    table_id = "table-subgroups"
    caption = ("Hazard ratio of ICI vs non-ICI within subgroups, with the test of interaction."
               + _suppression_note(subgroups))
    if subgroups.empty:
        return _empty_table(table_id, caption, "subgroup_hr has no rows.")
    head = [[th(text, scope="col") for text in
             ["Cohort", "Endpoint", "Subgroup", "Level", "n", "Events", "HR (95% CI)", "p",
              "Interaction p", "Note"]]]
    body = []
    keys = _ordered_unique(zip(subgroups["cohort"], subgroups["endpoint"],
                               subgroups["subgroup"], strict=True))
    for cohort, endpoint, subgroup in keys:
        group = subgroups[(subgroups["cohort"] == cohort) & (subgroups["endpoint"] == endpoint)
                          & (subgroups["subgroup"] == subgroup)]
        for position, (_, series) in enumerate(group.iterrows()):
            row = series.to_dict()
            hr = ("not estimable" if is_missing(row["hr"])
                  else format_estimate_ci(row["hr"], row["ci_lower"], row["ci_upper"]))
            cells = [td_text(COHORT_NAMES.get(cohort, cohort)),
                     td_text(ENDPOINT_NAMES.get(endpoint, endpoint))]
            if position == 0:
                cells.append(th(subgroup, rowspan=len(group), scope="row"))
            cells += [td_text(MISSING if is_missing(row["level"]) else row["level"]),
                      td(_count_or_suppressed(row, "n")),
                      td(_count_or_suppressed(row, "events")),
                      td(hr), td(format_p_value(row["p_value"]))]
            if position == 0:
                cells.append(td(format_p_value(row["interaction_p_value"]), rowspan=len(group)))
            cells.append(td_text("" if is_missing(row["note"]) else row["note"]))
            body.append(cells)
    return html_table(table_id, caption, head, body)


# --------------------------------------------------------------------------- response, safety

def response_table(response: pd.DataFrame) -> str:
    """Best overall response counts, ORR and DCR with CIs and between-arm tests.

    ORR and DCR are read as proportions when every value is within [0, 1]
    and as percentages otherwise; both print as percentages.

    Parameters
    ----------
    response : DataFrame
        ``response_summary``.

    Returns
    -------
    str
        ``<table id="table-response">``.
    """
    table_id = "table-response"
    caption = ("Best overall response (RECIST 1.1): counts, objective response rate (ORR) "
               "and disease control rate (DCR) with 95% CI, and the test between arms."
               + _suppression_note(response))
    if response.empty:
        return _empty_table(table_id, caption, "response_summary has no rows.")
    scale = _proportion_scale(response, ["orr", "orr_ci_lower", "orr_ci_upper", "dcr",
                                         "dcr_ci_lower", "dcr_ci_upper"])
    head = [[th(text, scope="col") for text in
             ["Cohort", "Arm", "n", "CR", "PR", "SD", "PD", "NE", "ORR (95% CI)",
              "DCR (95% CI)", "ORR p", "DCR p"]]]
    body = []
    for cohort in _ordered_unique(response["cohort"]):
        group = response[response["cohort"] == cohort]
        arms = arm_order(group["arm"])
        for position, arm in enumerate(arms):
            row = group[group["arm"] == arm].iloc[0].to_dict()
            cells = []
            if position == 0:
                cells.append(th(COHORT_NAMES.get(cohort, cohort), rowspan=len(arms), scope="row"))
            cells += [td_text(arm), td(format_count(row["n"]))]
            cells += [td(_count_or_suppressed(row, category)) for category in RESPONSE_CATEGORIES]
            for rate in ("orr", "dcr"):
                cells.append(td(SUPPRESSED if is_suppressed_cell(row, rate) else
                                format_percent_ci(row[rate], row[f"{rate}_ci_lower"],
                                                  row[f"{rate}_ci_upper"], scale=scale)))
            if position == 0:
                for rate in ("orr", "dcr"):
                    column = f"{rate}_p_value"
                    cells.append(td(SUPPRESSED if is_suppressed_cell(row, column)
                                    else format_p_value(row[column]), rowspan=len(arms)))
            body.append(cells)
    return html_table(table_id, caption, head, body)


def line_agreement_table(agreement: pd.DataFrame) -> str:
    """Agreement of derived lines of therapy with the generator's true lines.

    Parameters
    ----------
    agreement : DataFrame
        ``line_derivation_agreement``.

    Returns
    -------
    str
        ``<table id="table-line-derivation">``: per center and number of true
        lines, patients and the shares with the same line count, starts within
        the tolerance and the same regimens.
    """
    table_id = "table-line-derivation"
    tolerance = ", ".join(str(int(v)) for v in _ordered_unique(
        agreement.get("line_start_tolerance_days", [])))
    caption = ("Lines of therapy derived from drug administrations against the synthetic "
               "data's true lines (validation; docs/line-of-therapy.md): patients by number "
               "of true lines and the share whose derived lines have the same count, every "
               f"start within {tolerance or '?'} days, and the same drugs in every line."
               + _suppression_note(agreement))
    if agreement.empty:
        return _empty_table(table_id, caption, "line_derivation_agreement has no rows.")
    head = [[th(text, scope="col") for text in
             ["Center", "True lines", "Patients", "Same line count", "Starts within tolerance",
              "Same regimens"]]]
    body = []
    for row in agreement.sort_values(["center_id", "true_line_count"]).to_dict("records"):
        cells = [td_text(row["center_id"]), td(format_count(row["true_line_count"])),
                 td(_count_or_suppressed(row, "patients"))]
        for share in ("share_same_line_count", "share_line_starts_within_tolerance",
                      "share_same_regimens"):
            hidden = is_suppressed_cell(row, share)
            cells.append(td(SUPPRESSED if hidden else format_percent(row[share]),
                            css_class="suppressed" if hidden else None))
        body.append(cells)
    return html_table(table_id, caption, head, body)


def safety_cell_text(row: Mapping[str, Any] | None) -> str:
    """Text of one safety cell: ``n (x.x%)``, or ``suppressed``.

    A suppressed cell never shows a count or a percentage, even if the row
    carries one: the cell is decided by ``is_suppressed`` (or a null
    ``patients``). It does not say ``<min_cell_count`` either: a cell hidden
    by complementary suppression may hold more patients than that.

    Parameters
    ----------
    row : mapping or None
        One ``safety_summary`` row, or None when the table has no such row.

    Returns
    -------
    str
        Plain text (escape before writing to HTML).
    """
    if row is None:
        return MISSING
    suppressed = row.get("is_suppressed")
    if (not is_missing(suppressed) and bool(suppressed)) or is_missing(row.get("patients")):
        return SUPPRESSED
    text = format_count(row["patients"])
    percent = row.get("percent")
    return text if is_missing(percent) else f"{text} ({format_percent(percent, scale=1.0)})"


def safety_table(safety: pd.DataFrame) -> str:
    """Adverse events: patients per term, grade band and arm, small cells suppressed.

    Parameters
    ----------
    safety : DataFrame
        ``safety_summary``.

    Returns
    -------
    str
        ``<table id="table-safety">``; each data cell carries ``data-arm``,
        ``data-grade-band`` and ``data-suppressed`` attributes.
    """
    table_id = "table-safety"
    caption = ("Adverse events on second-line therapy: patients with the event, n (% of arm), "
               "by worst CTCAE grade band." + _suppression_note(safety))
    if safety.empty:
        return _empty_table(table_id, caption, "safety_summary has no rows.")
    arms = arm_order(safety["arm"])
    bands = [band for band in GRADE_BANDS if (safety["grade_band"] == band).any()]
    bands += [band for band in _ordered_unique(safety["grade_band"]) if band not in bands]
    arm_sizes = {arm: safety.loc[safety["arm"] == arm, "arm_n"].max() for arm in arms}
    head_top = [th("Adverse event", rowspan=2, scope="col")]
    head_top += [th(band, colspan=len(arms), scope="colgroup") for band in bands]
    head_bottom = [th(f"{arm} (N={format_count(arm_sizes[arm])})", scope="col")
                   for _ in bands for arm in arms]
    body = []
    for term in sorted(_ordered_unique(safety["ae_term"]), key=str):
        cells = [th(term, scope="row")]
        for band in bands:
            for arm in arms:
                match = safety[(safety["ae_term"] == term) & (safety["grade_band"] == band)
                               & (safety["arm"] == arm)]
                row = None if match.empty else match.iloc[0].to_dict()
                suppressed = row is not None and safety_cell_text(row) == SUPPRESSED
                cells.append(td(safety_cell_text(row),
                                css_class="suppressed" if suppressed else None,
                                attributes={"data-arm": arm, "data-grade-band": band,
                                            "data-suppressed": str(suppressed).lower()}))
        body.append(cells)
    return html_table(table_id, caption, [head_top, head_bottom], body)


# --------------------------------------------------------------------------- footer

def methods_table(results: Mapping[str, pd.DataFrame]) -> str:
    """Methods named by the result tables' method columns (distinct values).

    Parameters
    ----------
    results : mapping of str to DataFrame
        The result tables by name.

    Returns
    -------
    str
        ``<table id="table-methods">``.
    """
    body = []
    for table, column, label in METHOD_COLUMNS:
        frame = results.get(table)
        if frame is None or column not in frame.columns:
            continue
        values = _ordered_unique(frame[column])
        text = "; ".join(str(value) for value in values) if values else MISSING
        body.append([th(label, scope="row"), td(text), td(f"{table}.{column}", css_class="source")])
    safety = results.get("safety_summary")
    if safety is not None and "min_cell_count" in safety.columns:
        values = _ordered_unique(safety["min_cell_count"])
        body.append([th("Small-cell suppression", scope="row"),
                     td("counts below " + ", ".join(str(int(v)) for v in values)
                        + " patients, and values that would reveal one, are not shown"
                        if values else MISSING),
                     td("safety_summary.min_cell_count", css_class="source")])
    head = [[th("Item", scope="col"), th("Method", scope="col"), th("Source", scope="col")]]
    return html_table("table-methods", "Methods, as recorded in the result tables.", head, body,
                      css_class="methods")


def provenance_table(results: Mapping[str, pd.DataFrame]) -> str:
    """When each result table was built (distinct ``built_at`` values, UTC).

    Parameters
    ----------
    results : mapping of str to DataFrame
        The result tables by name.

    Returns
    -------
    str
        ``<table id="table-provenance">``.
    """
    body = []
    for table, frame in results.items():
        stamps = [] if "built_at" not in frame.columns else sorted(
            {pd.Timestamp(value).isoformat(sep=" ") for value in frame["built_at"]
             if not is_missing(value)})
        body.append([th(table, scope="row"), td(format_count(len(frame))),
                     td(", ".join(stamps) if stamps else MISSING)])
    head = [[th("Table", scope="col"), th("Rows", scope="col"),
             th("built_at (UTC)", scope="col")]]
    return html_table("table-provenance", "Result tables read for this report.", head, body,
                      css_class="methods")

