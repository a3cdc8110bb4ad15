"""Report sections for the study diagnostics and sensitivity analyses (issue 21).

The diagnostics come first, with a banner when any fails; then absolute
effects (RMST, milestones), E-values beside the hazard ratios, weighting
beside matching, the per-center forest with I^2, balance within subgroups
and the censoring reasons. A published version made before these tables
existed has none of them: the report then says so instead of failing.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

from rwe_report import figures
from rwe_report.formatting import (
    format_count,
    format_estimate_ci,
    format_number,
    format_p_value,
    is_missing,
)
from rwe_report.tables import html_table, td, td_text, th

# The columns the report reads from each diagnostics table (its public contract).
DIAGNOSTIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "study_diagnostics": ("diagnostic", "value", "threshold", "pass_if", "passed", "method",
                          "estimation_status", "status_reason", "endpoint", "cohort"),
    "rmst_estimates": ("cohort", "endpoint", "measure", "arm", "time_months", "time_rule",
                       "estimate", "ci_lower", "ci_upper", "p_value", "estimation_status",
                       "status_reason", "ci_method", "variance_method"),
    "evalues": ("source_table", "cohort", "endpoint", "model", "subgroup", "level", "hr",
                "ci_lower", "ci_upper", "rr_rule", "evalue", "evalue_ci", "evalue_method",
                "estimation_status"),
    "weighting_estimates": ("analysis", "endpoint", "n_treated", "n_control", "ess_treated",
                            "ess_control", "max_abs_smd", "hr", "ci_lower", "ci_upper",
                            "variance_method", "weight_method", "estimation_status",
                            "status_reason"),
    "subgroup_balance": ("subgroup", "level", "max_abs_smd", "covariate_of_max",
                         "estimation_status", "status_reason"),
    "center_heterogeneity": ("endpoint", "estimate_type", "center_id", "n", "events", "hr",
                             "ci_lower", "ci_upper", "q", "q_p_value", "i2_percent",
                             "i2_ci_lower_percent", "i2_ci_upper_percent", "tau2", "fixed_hr",
                             "fixed_ci_lower", "fixed_ci_upper", "estimation_status",
                             "status_reason", "is_suppressed", "suppressed_cells", "strata"),
    "censoring_reasons": ("endpoint", "arm", "interval_start_months", "interval_end_months",
                          "censoring_reason", "n_censored", "is_suppressed", "censoring_rule"),
}
BANNER_STYLE = """
.banner { border: 2px solid #b03000; background: #fff1ec; color: #5a1800; padding: 10px 14px;
          margin: 16px 0; font-weight: bold; }
.banner.passed { border-color: #2e7d32; background: #eef7ee; color: #1b4d1e; }
td.failed { color: #b03000; font-weight: bold; }
"""
DIAGNOSTIC_LABELS = {
    "max_abs_smd_after_matching": "largest |SMD| after matching",
    "share_treated_matched": "share of ICI patients matched",
    "equipoise_share": "equipoise: preference score in 0.3-0.7",
    "propensity_c_statistic": "propensity model c-statistic",
    "minimum_detectable_hr": "minimum detectable HR (alpha 0.05, power 0.8)",
    "ph_test_p_value": "PH test of the treatment term, p",
    "events_treated": "events, ICI arm",
    "events_control": "events, non-ICI arm",
}


def _missing_note(table_id: str, table: str) -> str:
    return (f'<p id="{html.escape(table_id)}">This published version has no '
            f"<code>{html.escape(table)}</code> table (built before the diagnostics).</p>")


def _passed_text(value: object) -> str:
    if is_missing(value):
        return "reported only"
    return "passed" if bool(value) else "FAILED"


def failing_diagnostics(diagnostics: pd.DataFrame) -> pd.DataFrame:
    """Rows with a threshold that did not pass (failed, or could not be computed)."""
    thresholded = diagnostics["threshold"].notna()
    passed = diagnostics["passed"].astype("boolean").fillna(False).astype(bool)
    return diagnostics.loc[thresholded & ~passed]


def diagnostics_section(results: Mapping[str, pd.DataFrame]) -> list[str]:
    """The diagnostics section: banner, then one row per diagnostic (failing first)."""
    if "study_diagnostics" not in results:
        return [_missing_note("table-diagnostics", "study_diagnostics")]
    diagnostics = results["study_diagnostics"]
    failing = failing_diagnostics(diagnostics)
    endpoint = ", ".join(dict.fromkeys(diagnostics["endpoint"].astype(str)))
    cohort = ", ".join(dict.fromkeys(diagnostics["cohort"].astype(str)))
    if len(failing):
        names = "; ".join(DIAGNOSTIC_LABELS.get(name, name) for name in failing["diagnostic"])
        banner = (f'<div id="diagnostics-banner" class="banner" role="alert">Study diagnostics '
                  f"FAILED ({html.escape(names)}): the primary estimates ({html.escape(endpoint)},"
                  f" {html.escape(cohort)} cohort) are flagged diagnostics_passed = false. Read "
                  "them with the failing diagnostics below in mind.</div>")
    else:
        banner = ('<div id="diagnostics-banner" class="banner passed">Every study diagnostic '
                  "with a threshold passed.</div>")
    ordered = pd.concat([failing, diagnostics.drop(failing.index)])
    body = []
    for _, row in ordered.iterrows():
        status = _passed_text(row["passed"])
        if row["estimation_status"] != "estimated":
            status += f" (not estimable: {row['status_reason']})"
        body.append([th(DIAGNOSTIC_LABELS.get(row["diagnostic"], row["diagnostic"]),
                        scope="row"),
                     td(format_number(row["value"], 3)),
                     td(f"{row['pass_if']} {format_number(row['threshold'], 3)}"
                        if not is_missing(row["threshold"]) else "none"),
                     td(status, css_class="failed" if status.startswith("FAILED") or (
                         "not estimable" in status and not is_missing(row["threshold"]))
                        else None),
                     td_text(row["method"])])
    table = html_table(
        "table-diagnostics",
        f"Study diagnostics of the primary comparison ({endpoint}, {cohort} cohort); failing "
        "diagnostics first. Thresholds are study parameters (diagnostics.thresholds).",
        [[th("diagnostic"), th("value"), th("threshold"), th("result"), th("method")]], body)
    return [banner, table]


def rmst_section(results: Mapping[str, pd.DataFrame]) -> list[str]:
    """RMST per arm and the between-arm contrasts, and milestone differences."""
    if "rmst_estimates" not in results:
        return [_missing_note("table-rmst", "rmst_estimates")]
    rmst = results["rmst_estimates"]
    body = []
    contrasts = rmst[rmst["measure"] != "rmst"]
    for (cohort, endpoint, measure, time), block in contrasts.groupby(
            ["cohort", "endpoint", "measure", "time_months"], sort=False):
        row = block.iloc[0]
        arms = rmst[(rmst["cohort"] == cohort) & (rmst["endpoint"] == endpoint)
                    & (rmst["measure"] == "rmst") & (rmst["time_months"] == time)]
        per_arm = " vs ".join(
            format_estimate_ci(arm["estimate"], arm["ci_lower"], arm["ci_upper"])
            for _, arm in arms.iterrows()) if measure != "survival_difference" else ""
        estimate = (format_estimate_ci(row["estimate"], row["ci_lower"], row["ci_upper"],
                                       digits=3 if measure == "survival_difference" else 2)
                    if row["estimation_status"] == "estimated"
                    else f"not estimable: {row['status_reason']}")
        body.append([td_text(cohort), td_text(endpoint), td_text(measure.replace("_", " ")),
                     td(f"{format_number(time, 1)} ({row['time_rule']})"), td(per_arm),
                     td(estimate), td(format_p_value(row["p_value"]))])
    return [html_table(
        "table-rmst",
        "Absolute effects, ICI vs non-ICI: restricted mean survival time (months) per arm "
        "(ICI vs non-ICI) with its difference and ratio at each tau, and the difference in "
        "Kaplan-Meier survival at each landmark; 95% CIs. RMST SE as R survfit rmean, "
        "contrasts as survRM2; milestones Greenwood.",
        [[th("cohort"), th("endpoint"), th("measure"), th("tau / landmark (months)"),
          th("RMST per arm"), th("estimate (95% CI)"), th("p")]], body)]


def evalue_section(results: Mapping[str, pd.DataFrame]) -> list[str]:
    """E-values beside every treatment hazard ratio (survival summary and Cox rows)."""
    if "evalues" not in results:
        return [_missing_note("table-evalues", "evalues")]
    evalues = results["evalues"]
    body = []
    for _, row in evalues.iterrows():
        where = row["model"] if is_missing(row["subgroup"]) else (
            f"{row['subgroup']}: {row['level']}")
        estimated = row["estimation_status"] == "estimated"
        body.append([td_text(row["source_table"]), td_text(row["cohort"]),
                     td_text(row["endpoint"]), td_text(where),
                     td(format_estimate_ci(row["hr"], row["ci_lower"], row["ci_upper"])
                        if estimated else "not estimable"),
                     td(format_number(row["evalue"]) if estimated else ""),
                     td(format_number(row["evalue_ci"]) if estimated else "")])
    rules = "; ".join(dict.fromkeys(str(rule) for rule in evalues["rr_rule"].dropna()))
    return [html_table(
        "table-evalues",
        "Hazard ratios of ICI vs non-ICI with their E-values (VanderWeele and Ding 2017): how "
        "strongly an unmeasured confounder would have to be associated with treatment and "
        f"outcome to explain the estimate (and its CI limit closest to 1) away. Rule: {rules}.",
        [[th("table"), th("cohort"), th("endpoint"), th("model / subgroup"),
          th("HR (95% CI)"), th("E-value"), th("E-value, CI")]], body)]


def _hr_text(row: pd.Series) -> str:
    """HR (CI) of an estimated row, else the reason it was not estimated."""
    if row["estimation_status"] == "estimated":
        return format_estimate_ci(row["hr"], row["ci_lower"], row["ci_upper"])
    return f"not estimable: {row['status_reason']}"


def weighting_section(results: Mapping[str, pd.DataFrame]) -> list[str]:
    """Matching beside ATT and overlap weighting, with each analysis's hazard ratios."""
    if "weighting_estimates" not in results:
        return [_missing_note("table-weighting", "weighting_estimates")]
    table = results["weighting_estimates"]
    endpoints = list(dict.fromkeys(table["endpoint"]))
    body = []
    for analysis, rows in table.groupby("analysis", sort=False):
        first = rows.iloc[0]
        by_endpoint = rows.set_index("endpoint")
        body.append([th(analysis, scope="row"), td(format_count(first["n_treated"])),
                     td(format_count(first["n_control"])),
                     td(format_number(first["ess_treated"], 1)),
                     td(format_number(first["ess_control"], 1)),
                     td(format_number(first["max_abs_smd"], 3)),
                     *[td(_hr_text(by_endpoint.loc[endpoint])) for endpoint in endpoints],
                     td_text(first["weight_method"])])
    variances = "; ".join(f"{analysis}: {rows['variance_method'].dropna().iloc[0]}"
                          for analysis, rows in table.groupby("analysis", sort=False)
                          if rows["variance_method"].notna().any())
    return [html_table(
        "table-weighting",
        "1:1 matching beside propensity-score weighting (same propensity model): patients, "
        "effective sample size (Kish), largest |SMD| and the hazard ratio of ICI vs non-ICI "
        f"per analysis (Cox, Efron ties, Wald CI on the robust SE; {variances}). Weighted KM "
        "curves: table weighted_km_estimates (robust, infinitesimal-jackknife variance).",
        [[th("analysis"), th("ICI patients"), th("non-ICI patients"), th("ESS ICI"),
          th("ESS non-ICI"), th("max |SMD|"),
          *[th(f"HR {endpoint} (95% CI)") for endpoint in endpoints], th("weights")]], body)]


def center_section(results: Mapping[str, pd.DataFrame]) -> list[str]:
    """Per-center forest of the treatment HR with Q and I^2, and its table."""
    if "center_heterogeneity" not in results:
        return [_missing_note("table-centers", "center_heterogeneity")]
    centers = results["center_heterogeneity"]
    blocks = []
    body = []
    for endpoint, block in centers.groupby("endpoint", sort=False):
        pooled = block[block["estimate_type"] == "pooled"].iloc[0]
        per_center = block[block["estimate_type"] == "center"]
        stratified = block[block["estimate_type"] == "stratified"]
        labels = [*per_center["center_id"].astype(str), "pooled (DL random effects)",
                  *(["stratified by center (Cox)"] if len(stratified) else [])]
        frame = pd.concat([per_center, block[block["estimate_type"] == "pooled"], stratified])
        frame = frame[["hr", "ci_lower", "ci_upper"]].set_axis(labels)
        heterogeneity = (f"Q = {format_number(pooled['q'])}, p = "
                         f"{format_p_value(pooled['q_p_value'])}; I2 = "
                         f"{format_number(pooled['i2_percent'], 1)}% "
                         f"({format_number(pooled['i2_ci_lower_percent'], 1)}-"
                         f"{format_number(pooled['i2_ci_upper_percent'], 1)})")
        png = figures._forest_panels([(f"{endpoint}: {heterogeneity}", frame)], labels,
                                    f"Hazard ratio of ICI vs non-ICI by center, {endpoint}",
                                    "Hazard ratio (log scale)")
        blocks.append(_figure(f"figure-forest-centers-{endpoint.lower()}", png, endpoint,
                              heterogeneity))
        for _, row in block.iterrows():
            name = {"center": row["center_id"], "pooled": "pooled",
                    "stratified": "stratified by center"}[row["estimate_type"]]
            hr = _hr_text(row)
            body.append([td_text(endpoint), td_text(name), td(format_count(row["n"])),
                         td(format_count(row["events"])), td(hr),
                         td(heterogeneity if row["estimate_type"] == "pooled" else "")])
    blocks.append(html_table(
        "table-centers",
        "Hazard ratio of ICI vs non-ICI within each center (Cox, Efron ties, model-based "
        "variance) and pooled (DerSimonian-Laird random effects), with Cochran's Q and I^2; "
        "sensitivity model: one Cox model stratified by center (a baseline hazard per center, "
        "R coxph(... + strata(center)), model-based variance).",
        [[th("endpoint"), th("center"), th("patients"), th("events"), th("HR (95% CI)"),
          th("heterogeneity")]], body))
    return blocks


def _figure(figure_id: str, png: bytes, endpoint: str, heterogeneity: str) -> str:
    from rwe_report.build import figure_html  # build imports this module

    return figure_html(figure_id, png,
                       f"Forest plot of the hazard ratio of ICI vs non-ICI per center, {endpoint},"
                       " log scale, with the pooled random-effects estimate and the Cox model "
                       "stratified by center",
                       "Per-center hazard ratios, the DL pooled HR and the center-stratified "
                       f"Cox HR, {endpoint}; "
                       f"{heterogeneity}.")


def subgroup_balance_section(results: Mapping[str, pd.DataFrame]) -> list[str]:
    """Largest |SMD| within each subgroup level, beside the forest plot's HRs."""
    if "subgroup_balance" not in results:
        return [_missing_note("table-subgroup-balance", "subgroup_balance")]
    subgroups = results.get("subgroup_hr")
    body = []
    for _, row in results["subgroup_balance"].iterrows():
        hr = ""
        if subgroups is not None:
            match = subgroups[(subgroups["subgroup"] == row["subgroup"])
                              & (subgroups["level"].astype(str) == str(row["level"]))]
            if len(match):
                hr = format_estimate_ci(*match.iloc[0][["hr", "ci_lower", "ci_upper"]])
        smd = (format_number(row["max_abs_smd"], 3) if row["estimation_status"] == "estimated"
               else f"not estimable: {row['status_reason']}")
        body.append([td_text(row["subgroup"]), td_text(row["level"]), td(hr), td(smd),
                     td_text(row["covariate_of_max"] if not is_missing(row["covariate_of_max"])
                             else "")])
    return [html_table(
        "table-subgroup-balance",
        "Balance within each subgroup level (all patients): the largest |SMD| of the baseline "
        "covariates between ICI and non-ICI patients, beside the level's hazard ratio.",
        [[th("subgroup"), th("level"), th("HR (95% CI)"), th("max |SMD|"), th("covariate")]],
        body)]


def censoring_section(results: Mapping[str, pd.DataFrame]) -> list[str]:
    """Censored patients per endpoint, arm and reason over time."""
    if "censoring_reasons" not in results:
        return [_missing_note("table-censoring", "censoring_reasons")]
    censoring = results["censoring_reasons"]
    reasons = list(dict.fromkeys(censoring["censoring_reason"]))
    body = []
    for (endpoint, arm, start), block in censoring.groupby(
            ["endpoint", "arm", "interval_start_months"], sort=True):
        counts = block.set_index("censoring_reason")
        cells = []
        for reason in reasons:
            value = counts.loc[reason, "n_censored"] if reason in counts.index else None
            suppressed = reason in counts.index and bool(counts.loc[reason, "is_suppressed"])
            cells.append(td("suppressed" if suppressed else format_count(value),
                            css_class="suppressed" if suppressed else None))
        end = block["interval_end_months"].iloc[0]
        body.append([td_text(endpoint), td_text(arm),
                     td(f"{format_number(start, 0)}-{format_number(end, 0)}"), *cells])
    rule = str(censoring["censoring_rule"].iloc[0]) if len(censoring) else ""
    return [html_table(
        "table-censoring",
        f"Censored patients per endpoint, arm, follow-up interval (months) and reason. {rule}.",
        [[th("endpoint"), th("arm"), th("months"), *[th(reason.replace("_", " "))
                                                     for reason in reasons]]], body)]
