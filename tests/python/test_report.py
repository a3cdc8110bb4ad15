"""The study report (rwe_report): built from a temporary DuckDB file, rendered in Chromium.

The result tables are made here: the survival tables by lifelines from a
simulated cohort of 200 patients (so the KM step tables, medians, log-rank
and Cox rows have the real shape), the others by hand. The report is then
opened in headless Chromium, which measures every figure (an injected
``load`` handler writes each image's natural size into the DOM, read back
with ``--dump-dom``).

Chromium is required, not optional: without it the test fails and says how
to install it (Debian/Ubuntu: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
from lifelines.utils import median_survival_times

from rwe_report import RESULT_COLUMNS, load_results, write_report
from rwe_report.__main__ import main
from rwe_report.figures import at_risk_times, numbers_at_risk, numbers_at_risk_labels

EXPECTED_FIGURES = (
    "figure-km-pfs-all", "figure-km-os-all", "figure-km-pfs-matched", "figure-km-os-matched",
    "figure-forest-cox", "figure-forest-subgroups", "figure-love-plot",
)
EXPECTED_TABLES = (
    "table-baseline", "table-survival", "table-cox", "table-subgroups", "table-response",
    "table-safety", "table-methods", "table-provenance",
)
BUILT_AT = pd.Timestamp("2025-09-19 08:30:00")
MIN_CELL_COUNT = 5
# Text values with markup in them: the report must print them, escaped.
TRICKY_AE_TERM = 'rash <b>maculo-papular</b> & "itch"'
TRICKY_LEVEL = '<65 & "younger"'
CHROMIUM_HELP = ("headless Chromium is required for the report test: install it with "
                 "`apt-get update && apt-get install -y chromium` (Debian/Ubuntu), or set "
                 "RWE_CHROMIUM to a Chromium/Chrome binary")
COVARIATES = ("age_years", "is_male", "is_ecog_2_or_more", "has_liver_metastases")


# --------------------------------------------------------------------------- fixture data

def simulated_cohort(n: int = 200, seed: int = 20250919) -> pd.DataFrame:
    """A small ICI vs non-ICI cohort: exponential PFS/OS with uniform censoring."""
    rng = np.random.default_rng(seed)
    is_ici = rng.random(n) < 0.4
    frame = pd.DataFrame({
        "patient_id": [f"p{index:03d}" for index in range(n)],
        "is_ici": is_ici,
        "arm": np.where(is_ici, "ICI", "non-ICI"),
        "age_years": rng.normal(62, 8, n).round(),
        "is_male": rng.random(n) < 0.75,
        "is_ecog_2_or_more": rng.random(n) < np.where(is_ici, 0.15, 0.3),
        "has_liver_metastases": rng.random(n) < 0.3,
    })
    liver = frame["has_liver_metastases"].to_numpy()
    pfs_median = np.where(is_ici, 4.1, 2.7) * np.where(liver, 0.7, 1.0)
    os_median = np.where(is_ici, 9.5, 7.0) * np.where(liver, 0.75, 1.0)
    follow_up = rng.uniform(6, 30, n)
    pfs = rng.exponential(pfs_median / np.log(2))
    os_ = np.maximum(rng.exponential(os_median / np.log(2)), pfs)
    frame["pfs_months"] = np.minimum(pfs, follow_up).round(2)
    frame["is_pfs_event"] = pfs <= follow_up
    frame["os_months"] = np.minimum(os_, follow_up).round(2)
    frame["is_os_event"] = os_ <= follow_up
    frame["pair_id"] = -1
    return frame


def matched_subset(cohort: pd.DataFrame, pairs: int = 60) -> pd.DataFrame:
    """A stand-in for the matched cohort: the first ``pairs`` patients of each arm."""
    treated = cohort[cohort["is_ici"]].head(pairs).assign(pair_id=range(pairs))
    control = cohort[~cohort["is_ici"]].head(pairs).assign(pair_id=range(pairs))
    return pd.concat([treated, control], ignore_index=True)


ENDPOINTS = {"PFS": ("pfs_months", "is_pfs_event"), "OS": ("os_months", "is_os_event")}


def km_rows(frame: pd.DataFrame, cohort: str, truncate: bool = True) -> pd.DataFrame:
    """lifelines' KM step tables; as published, only rows with >= MIN_CELL_COUNT at risk."""
    tables = []
    for endpoint, (duration, event) in ENDPOINTS.items():
        for arm, block in frame.groupby("arm"):
            fitter = KaplanMeierFitter().fit(block[duration], block[event])
            events = fitter.event_table
            bands = fitter.confidence_interval_
            tables.append(pd.DataFrame({
                "cohort": cohort, "endpoint": endpoint, "arm": arm,
                "time_months": events.index.to_numpy(dtype=float),
                "n_at_risk": events["at_risk"].to_numpy(dtype=int),
                "n_events": events["observed"].to_numpy(dtype=int),
                "n_censored": events["censored"].to_numpy(dtype=int),
                "survival": fitter.survival_function_.iloc[:, 0].to_numpy(),
                "ci_lower": bands.iloc[:, 0].to_numpy(),
                "ci_upper": bands.iloc[:, 1].to_numpy(),
                "ci_method": "Greenwood, exponential (log-log) transform",
                "min_cell_count": MIN_CELL_COUNT,
                "suppression_rule": "rows with fewer than 5 at risk not published",
                "built_at": BUILT_AT,
            }))
    result = pd.concat(tables, ignore_index=True)
    if truncate:
        result = result[result["n_at_risk"] >= MIN_CELL_COUNT].reset_index(drop=True)
    return result


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def survival_rows(frame: pd.DataFrame, cohort: str) -> pd.DataFrame:
    rows = []
    for endpoint, (duration, event) in ENDPOINTS.items():
        test = logrank_test(frame.loc[frame["is_ici"], duration],
                            frame.loc[~frame["is_ici"], duration],
                            frame.loc[frame["is_ici"], event], frame.loc[~frame["is_ici"], event])
        cox = CoxPHFitter().fit(frame[[duration, event]].assign(is_ici=frame["is_ici"].astype(int)),
                                duration, event)
        summary = cox.summary.loc["is_ici"]
        for arm, block in frame.groupby("arm"):
            fitter = KaplanMeierFitter().fit(block[duration], block[event])
            median_ci = median_survival_times(fitter.confidence_interval_)
            row = {
                "cohort": cohort, "endpoint": endpoint, "arm": arm, "n": len(block),
                "events": int(block[event].sum()),
                "median_months": _finite_or_none(fitter.median_survival_time_),
                "median_ci_lower": _finite_or_none(median_ci.iloc[0, 0]),
                "median_ci_upper": _finite_or_none(median_ci.iloc[0, 1]),
            }
            for time in (6, 12):
                bands = fitter.confidence_interval_.asof(float(time))
                row[f"survival_{time}_months"] = float(fitter.predict(float(time)))
                row[f"survival_{time}_months_ci_lower"] = float(bands.iloc[0])
                row[f"survival_{time}_months_ci_upper"] = float(bands.iloc[1])
            row.update({
                "logrank_chi_square": float(test.test_statistic),
                "logrank_p_value": float(test.p_value),
                "hr_ici_vs_non_ici": float(summary["exp(coef)"]),
                "hr_ci_lower": float(summary["exp(coef) lower 95%"]),
                "hr_ci_upper": float(summary["exp(coef) upper 95%"]),
                "hr_p_value": float(summary["p"]),
                "hr_variance_method": "model-based (inverse information)",
                "ties_method": "Efron",
                "hr_ci_method": "Wald, log scale",
                "median_ci_method": "Brookmeyer-Crowley on the log-log KM band",
                "landmark_ci_method": "log-log, Greenwood",
                "logrank_test_method": "log-rank, survdiff rho = 0",
                "built_at": BUILT_AT,
            })
            rows.append(row)
    return pd.DataFrame(rows)


def cox_rows(frame: pd.DataFrame, cohort: str) -> pd.DataFrame:
    terms = ["is_ici", *COVARIATES]
    rows = []
    for endpoint, (duration, event) in ENDPOINTS.items():
        data = frame[[duration, event, *terms]].astype(float)
        fits = {"multivariate": [terms]} | {"univariate": [[term] for term in terms]}
        for model, term_sets in fits.items():
            for term_set in term_sets:
                fitter = CoxPHFitter().fit(data[[duration, event, *term_set]], duration, event)
                for term in term_set:
                    summary = fitter.summary.loc[term]
                    rows.append({
                        "cohort": cohort, "endpoint": endpoint, "model": model, "term": term,
                        "hr": float(summary["exp(coef)"]),
                        "ci_lower": float(summary["exp(coef) lower 95%"]),
                        "ci_upper": float(summary["exp(coef) upper 95%"]),
                        "p_value": float(summary["p"]), "n": len(data),
                        "events": int(data[event].sum()), "ph_test_statistic": 0.8,
                        "ph_test_p_value": 0.37, "ties_method": "Efron",
                        "variance_method": "model-based", "ci_method": "Wald, log scale",
                        "ph_test_method": "cox.zph score test, KM time",
                        "built_at": BUILT_AT,
                    })
    return pd.DataFrame(rows)


def balance_rows(frame: pd.DataFrame, cohort: str) -> pd.DataFrame:
    rows = []
    treated, control = frame[frame["is_ici"]], frame[~frame["is_ici"]]
    for covariate in COVARIATES:
        mean_t, mean_c = treated[covariate].mean(), control[covariate].mean()
        pooled = np.sqrt((treated[covariate].var() + control[covariate].var()) / 2)
        binary = covariate != "age_years"
        rows.append({"covariate": covariate, "level": None, "cohort": cohort,
                     "mean_treated": float(mean_t), "mean_control": float(mean_c),
                     "n_treated": len(treated), "n_control": len(control),
                     "count_treated": int(treated[covariate].sum()) if binary else None,
                     "count_control": int(control[covariate].sum()) if binary else None,
                     "smd": float((mean_t - mean_c) / pooled),
                     "smd_method": "difference in means / pooled SD", "is_suppressed": False,
                     "suppressed_cells": "", "min_cell_count": MIN_CELL_COUNT,
                     "suppression_rule": "counts of 1 to 4 suppressed", "built_at": BUILT_AT})
    frame = pd.DataFrame(rows)
    for column in ("count_treated", "count_control"):
        frame[column] = frame[column].astype("Int64")
    return frame


# A Table 1 row whose treated count (3 of 60) is suppressed, with its proportion and
# SMD; the row (wrongly) still carries all three: the report must print none of them.
SUPPRESSED_BALANCE_ROW = {
    "covariate": "has_brain_metastases", "level": None, "cohort": "matched",
    "mean_treated": 3 / 60, "mean_control": 11 / 60, "n_treated": 60, "n_control": 60,
    "count_treated": 3, "count_control": 11, "smd": -0.4321, "smd_method": "binary",
    "is_suppressed": True, "suppressed_cells": "mean_treated, count_treated, smd",
    "min_cell_count": MIN_CELL_COUNT, "suppression_rule": "counts of 1 to 4 suppressed",
    "built_at": BUILT_AT}


def result_tables() -> dict[str, pd.DataFrame]:
    """Every result table, as the published copy holds them."""
    cohort = simulated_cohort()
    matched = matched_subset(cohort)
    survival = pd.concat([survival_rows(cohort, "all"), survival_rows(matched, "matched")],
                         ignore_index=True)
    # A median whose upper confidence bound was not reached is stored as null.
    not_reached = (survival["cohort"] == "matched") & (survival["endpoint"] == "OS")
    survival.loc[not_reached & (survival["arm"] == "ICI"), "median_ci_upper"] = None
    subgroups = pd.DataFrame([
        ("age", TRICKY_LEVEL, 120, 98, 0.71, 0.47, 1.07, 0.10, 0.62, None),
        ("age", ">=65", 80, 66, 0.80, 0.49, 1.31, 0.38, 0.62, None),
        ("liver metastases", "yes", 60, 55, 0.66, 0.38, 1.15, 0.14, 0.80, None),
        ("liver metastases", "no", 140, 109, 0.74, 0.50, 1.09, 0.13, 0.80, None),
        ("ECOG 2 or more", "yes", 8, 8, None, None, None, None, None,
         "fewer than 10 events per arm: not estimated"),
        ("ECOG 2 or more", "no", 192, 156, 0.72, 0.52, 0.99, 0.045, None,
         "fewer than 10 events per arm: not estimated"),
    ], columns=["subgroup", "level", "n", "events", "hr", "ci_lower", "ci_upper", "p_value",
                "interaction_p_value", "note"]).assign(
        interaction_method="Wald test of the arm x subgroup term", cohort="all",
        endpoint="PFS", ties_method="efron", variance_method="model-based",
        ci_method="Wald, log scale", is_suppressed=False, suppressed_cells="",
        min_cell_count=MIN_CELL_COUNT, suppression_rule="counts of 1 to 4 suppressed",
        built_at=BUILT_AT)
    # ECOG 2+: the level's n and events are suppressed (the table still carries 8 and 8)
    ecog = subgroups["subgroup"] == "ECOG 2 or more"
    subgroups.loc[ecog, "is_suppressed"] = True
    subgroups.loc[ecog, "suppressed_cells"] = "n, events"
    response = pd.DataFrame([
        ("all", "ICI", 80, 3, 21, 30, 22, 4, 0.300, 0.203, 0.412, 0.675, 0.561, 0.776),
        ("all", "non-ICI", 120, 1, 11, 49, 53, 6, 0.100, 0.053, 0.168, 0.508, 0.416, 0.600),
        ("matched", "ICI", 60, 2, 16, 22, 17, 3, 0.300, 0.188, 0.433, 0.667, 0.533, 0.783),
        ("matched", "non-ICI", 60, 1, 6, 24, 26, 3, 0.117, 0.048, 0.226, 0.517, 0.384, 0.648),
    ], columns=["cohort", "arm", "n", "cr", "pr", "sd", "pd", "ne", "orr", "orr_ci_lower",
                "orr_ci_upper", "dcr", "dcr_ci_lower", "dcr_ci_upper"]).assign(
        orr_p_value=[0.0004, 0.0004, 0.012, 0.012], dcr_p_value=[0.021, 0.021, 0.09, 0.09],
        ci_method="Clopper-Pearson exact", test_method="chi-square test",
        is_suppressed=False, suppressed_cells="", min_cell_count=MIN_CELL_COUNT,
        suppression_rule="counts of 1 to 4 suppressed", built_at=BUILT_AT)
    # matched non-ICI: CR 1 is small, PR 6 hides it, and the ORR p goes with ORR (both
    # rows); the table still carries the numbers, which the report must not print
    response.loc[3, ["is_suppressed", "suppressed_cells"]] = [True, "cr, pr, orr_p_value"]
    response.loc[2, ["is_suppressed", "suppressed_cells"]] = [True, "orr_p_value"]
    safety = pd.DataFrame([
        ("fatigue", "any grade", "ICI", 30, 80, 37.5, False),
        ("fatigue", "any grade", "non-ICI", 50, 120, 41.7, False),
        ("fatigue", "grade 3 or higher", "ICI", None, 80, None, True),
        ("fatigue", "grade 3 or higher", "non-ICI", 7, 120, 5.8, False),
        (TRICKY_AE_TERM, "any grade", "ICI", 12, 80, 15.0, False),
        (TRICKY_AE_TERM, "any grade", "non-ICI", 9, 120, 7.5, False),
        # A suppressed row that (wrongly) still carries its count: never printed.
        (TRICKY_AE_TERM, "grade 3 or higher", "ICI", 3, 80, 3.75, True),
        (TRICKY_AE_TERM, "grade 3 or higher", "non-ICI", None, 120, None, True),
    ], columns=["ae_term", "grade_band", "arm", "patients", "arm_n", "percent",
                "is_suppressed"]).assign(count_method="worst grade per patient and term",
                                         min_cell_count=MIN_CELL_COUNT,
                                         suppression_rule="counts of 1 to 4 suppressed",
                                         built_at=BUILT_AT)
    safety["patients"] = safety["patients"].astype("Int64")
    km = pd.concat([km_rows(cohort, "all"), km_rows(matched, "matched")], ignore_index=True)
    return {
        "covariate_balance": pd.concat([balance_rows(cohort, "all"),
                                        balance_rows(matched, "matched"),
                                        pd.DataFrame([SUPPRESSED_BALANCE_ROW])],
                                       ignore_index=True),
        # An extra column the report must ignore (tables are read by column name).
        "km_estimates": km.assign(extra_debug_column="ignored"),
        "survival_summary": survival,
        "cox_results": pd.concat([cox_rows(cohort, "all"), cox_rows(matched, "matched")],
                                 ignore_index=True),
        "subgroup_hr": subgroups,
        "response_summary": response,
        "safety_summary": safety,
    }


def write_database(path: Path, tables: dict[str, pd.DataFrame], schema: str = "main") -> Path:
    with duckdb.connect(str(path)) as connection:
        catalog = connection.execute("select current_database()").fetchone()[0]
        connection.execute(f"create schema if not exists {catalog}.{schema}")
        for name, frame in tables.items():
            connection.register("frame_to_copy", frame)
            connection.execute(
                f"create table {catalog}.{schema}.{name} as select * from frame_to_copy")
            connection.unregister("frame_to_copy")
    return path


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulated_cohort()


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return result_tables()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory, tables) -> Path:
    return write_database(tmp_path_factory.mktemp("report_db") / "rwe_results.duckdb", tables)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, database: Path) -> Path:
    return write_report(database, tmp_path_factory.mktemp("report") / "report.html")


# --------------------------------------------------------------------------- HTML helpers

class _Elements(HTMLParser):
    """Collects start tags with their attributes and the text of every table cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[tuple[str, dict[str, str | None], str]] = []
        self._table_ids: list[str] = []
        self._cell: list | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
            self._table_ids.append(attributes.get("id") or "")
        if tag in ("td", "th"):
            self._cell = [self._table_ids[-1] if self._table_ids else "", attributes, ""]

    def handle_endtag(self, tag):
        if tag == "table" and self._table_ids:
            self._table_ids.pop()
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append(tuple(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[2] += data


def parse(document: str) -> _Elements:
    parser = _Elements()
    parser.feed(document)
    return parser


MEASURE_SCRIPT = """<script>
window.addEventListener("load", function () {
  var measured = {};
  document.querySelectorAll("img").forEach(function (image) {
    var box = image.getBoundingClientRect();
    image.setAttribute("data-natural-width", image.naturalWidth);
    measured[image.id] = {complete: image.complete, naturalWidth: image.naturalWidth,
                          naturalHeight: image.naturalHeight, width: box.width,
                          height: box.height};
  });
  var out = document.createElement("pre");
  out.id = "measurements";
  out.textContent = JSON.stringify(measured);
  document.body.appendChild(out);
});
</script>"""


def chromium_binary() -> str:
    candidates = [os.environ.get("RWE_CHROMIUM"), "chromium", "chromium-browser",
                  "google-chrome"]
    for candidate in candidates:
        if candidate and (found := shutil.which(candidate)):
            return found
    pytest.fail(CHROMIUM_HELP)


def chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={profile}", "--window-size=1280,1600", *extra, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=90,
                          env={**os.environ, "HOME": str(profile)})


# --------------------------------------------------------------------------- tests

def test_figures_load_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    document = report.read_text(encoding="utf-8")
    measured_copy = tmp_path / "measured.html"
    measured_copy.write_text(document.replace("</body>", MEASURE_SCRIPT + "\n</body>"),
                             encoding="utf-8")

    result = chromium(measured_copy.as_uri(), tmp_path / "profile", "--dump-dom")

    match = re.search(r'<pre id="measurements">(.*?)</pre>', result.stdout, re.DOTALL)
    assert match, (f"Chromium did not run the measuring script (exit {result.returncode}); "
                   f"stderr tail:\n{result.stderr[-2000:]}")
    measured = json.loads(html.unescape(match.group(1)))
    for figure_id in EXPECTED_FIGURES:
        assert figure_id in measured, f"<img id={figure_id}> is not in the rendered page"
        image = measured[figure_id]
        assert image["complete"] and image["naturalWidth"] > 0, f"{figure_id} did not load"
        assert image["naturalWidth"] >= 400 and image["naturalHeight"] >= 150, (
            f"{figure_id} is suspiciously small: {image}")
        assert image["width"] >= 300 and image["height"] >= 100, (
            f"{figure_id} is laid out too small: {image}")
    assert f'data-natural-width="{measured[EXPECTED_FIGURES[0]]["naturalWidth"]}"' in result.stdout


def test_report_is_self_contained_with_stable_ids(report: Path) -> None:
    document = report.read_text(encoding="utf-8")
    elements = parse(document)
    images = {attributes.get("id"): attributes for tag, attributes in elements.tags
              if tag == "img"}
    assert set(EXPECTED_FIGURES) <= set(images)
    for figure_id in EXPECTED_FIGURES:
        assert images[figure_id]["src"].startswith("data:image/png;base64,")
        assert len(images[figure_id].get("alt") or "") > 20
    table_ids = {attributes.get("id") for tag, attributes in elements.tags if tag == "table"}
    assert set(EXPECTED_TABLES) <= table_ids
    assert "table-cox-matched" in table_ids
    assert not [tag for tag, _ in elements.tags if tag in ("script", "link", "iframe")]
    for tag, attributes in elements.tags:
        for name in ("src", "href"):
            value = attributes.get(name)
            assert value is None or value.startswith("data:"), f"<{tag} {name}={value!r}>"
    # The tables' run stamp and methods are in the footer; a null median bound prints NR.
    assert "2025-09-19 08:30:00" in document
    assert "Clopper-Pearson exact" in document
    assert re.search(r"\(\d+\.\d\u2013NR\)", document)


def test_suppressed_safety_cells_never_show_a_number(report: Path) -> None:
    cells = [cell for cell in parse(report.read_text(encoding="utf-8")).cells
             if cell[0] == "table-safety" and "data-suppressed" in cell[1]]
    suppressed = [text for _, attributes, text in cells
                  if attributes["data-suppressed"] == "true"]
    assert len(suppressed) == 3
    # one neutral word: a complementary suppression may hide 5 or more patients
    assert set(suppressed) == {"suppressed"}
    shown = [text for _, attributes, text in cells if attributes["data-suppressed"] == "false"]
    assert "30 (37.5%)" in shown and "7 (5.8%)" in shown
    # The suppressed row that carried a count (3, 3.75 %) leaks it nowhere.
    assert not [text for _, _, text in cells if "3.8%" in text or text.startswith("3 ")]


def _cells(report: Path, table_id: str) -> list[tuple[dict, str]]:
    return [(attributes, text) for table, attributes, text
            in parse(report.read_text(encoding="utf-8")).cells if table == table_id]


def test_suppressed_table_one_response_and_subgroup_cells_print_no_number(report: Path) -> None:
    document = report.read_text(encoding="utf-8")
    baseline = [text for _, text in _cells(report, "table-baseline")]
    start = baseline.index("brain metastases")
    row = baseline[start:start + 7]  # label, then (ICI, non-ICI, SMD) for all and matched
    assert row[4:] == ["suppressed", "11 (18.3%)", "suppressed"]
    assert "-0.432" not in document and "3 (5.0%)" not in document
    # ordinary binary rows print the table's count, not a rounded mean x n
    assert any(text.endswith("%)") and text[0].isdigit() for text in baseline)
    response = [text for _, text in _cells(report, "table-response")]
    matched_control = response[response.index("non-ICI", response.index("non-ICI") + 1):]
    assert matched_control[:4] == ["non-ICI", "60", "suppressed", "suppressed"]
    # ORR p of the matched cohort (0.012) is suppressed; DCR p (0.09) is shown
    assert "0.012" not in document and "0.090" in document
    subgroups = [text for _, text in _cells(report, "table-subgroups")]
    ecog = subgroups.index("ECOG 2 or more")
    assert subgroups[ecog + 2:ecog + 4] == ["suppressed", "suppressed"]
    assert "a count of fewer than 5 patients" in document


def test_numbers_at_risk_below_the_threshold_print_as_less_than_k(tables, cohort) -> None:
    """Published KM tables stop where fewer than 5 are at risk: the numbers at risk
    after the last row are the patients still followed, shown as <5 (or 0)."""
    km = tables["km_estimates"]
    assert (km["n_at_risk"] >= MIN_CELL_COUNT).all()
    seen_small = False
    for arm, block in cohort.groupby("arm"):
        rows = km[(km["cohort"] == "all") & (km["endpoint"] == "OS") & (km["arm"] == arm)]
        times = at_risk_times(float(rows["time_months"].max()))
        direct = [int((block["os_months"] >= time).sum()) for time in times]
        labels = numbers_at_risk_labels(rows, times)
        for count, label in zip(direct, labels, strict=True):
            if count >= MIN_CELL_COUNT:
                assert label == str(count)
            else:
                assert label in ("0", f"<{MIN_CELL_COUNT}")
                seen_small |= label == f"<{MIN_CELL_COUNT}"
        assert labels[0] == str(len(block))
    assert seen_small


def test_text_values_are_html_escaped(report: Path) -> None:
    document = report.read_text(encoding="utf-8")
    assert TRICKY_AE_TERM not in document and "<b>maculo" not in document
    assert html.escape(TRICKY_AE_TERM) in document
    assert html.escape(TRICKY_LEVEL) in document
    texts = [text for _, _, text in parse(document).cells]
    assert TRICKY_AE_TERM in texts and TRICKY_LEVEL in texts


def test_numbers_at_risk_match_the_cohort(cohort) -> None:
    km = km_rows(cohort, "all", truncate=False)
    for arm, block in cohort.groupby("arm"):
        rows = km[(km["cohort"] == "all") & (km["endpoint"] == "PFS") & (km["arm"] == arm)]
        times = at_risk_times(float(rows["time_months"].max()))
        assert times[:3] == [0.0, 3.0, 6.0]
        expected = [int((block["pfs_months"] >= time).sum()) for time in times]
        assert numbers_at_risk(rows, times) == expected


def test_load_results_selects_contract_columns(database: Path) -> None:
    results = load_results(database)
    assert set(results) == set(RESULT_COLUMNS)
    assert "extra_debug_column" not in results["km_estimates"].columns
    assert "survival_12_months_ci_upper" in results["survival_summary"].columns


def test_cli_writes_report_and_names_missing_tables(tmp_path: Path, tables, capsys) -> None:
    database = write_database(tmp_path / "marts.duckdb", tables, schema="marts")
    out = tmp_path / "out" / "report.html"
    assert main(["--database", str(database), "--schema", "marts", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    partial = write_database(tmp_path / "partial.duckdb",
                             {name: frame for name, frame in tables.items()
                              if name != "subgroup_hr"})
    assert main(["--database", str(partial), "--out", str(tmp_path / "x.html")]) == 2
    assert "table main.subgroup_hr is missing" in capsys.readouterr().err


# --------------------------------------------------------------------------- diagnostics (issue 21)

def _diagnostics(passed: dict[str, bool | None]) -> pd.DataFrame:
    from rwe_stats.diagnostics import DIAGNOSTICS

    rows = []
    for name, (direction, method) in DIAGNOSTICS.items():
        verdict = passed.get(name, True)
        rows.append({"diagnostic": name, "value": 0.5, "threshold": 0.1 if verdict is not None
                     else None, "pass_if": direction, "passed": verdict, "method": method,
                     "estimation_status": "estimated", "status_reason": None,
                     "endpoint": "PFS", "cohort": "matched"})
    return pd.DataFrame(rows).astype({"passed": "boolean"})


def test_failing_diagnostics_open_the_report_in_a_banner_failing_rows_first(tables) -> None:
    from rwe_report import render_report

    failing = render_report({**tables, "study_diagnostics": _diagnostics(
        {"equipoise_share": False, "propensity_c_statistic": None})})
    banner = failing.index('id="diagnostics-banner"')
    assert banner < failing.index('id="table-baseline"')
    assert "FAILED (equipoise: preference score in 0.3-0.7)" in failing
    rows = failing[failing.index('id="table-diagnostics"'):].split("<tr>")
    assert "equipoise" in rows[2] and "FAILED" in rows[2]  # after the head row: failing first
    passing = render_report({**tables, "study_diagnostics": _diagnostics({})})
    assert "Every study diagnostic with a threshold passed" in passing
    assert 'role="alert"' not in passing


def _weighting_rows() -> pd.DataFrame:
    rows = []
    for analysis, ess in (("matched", 60.0), ("ATT weighted", 71.4)):
        for endpoint, hr in (("PFS", 0.61), ("OS", 0.74)):
            rows.append({"analysis": analysis, "endpoint": endpoint, "n_treated": 60,
                         "n_control": 140 if analysis != "matched" else 60,
                         "ess_treated": 60.0, "ess_control": ess, "max_abs_smd": 0.042,
                         "hr": hr, "ci_lower": hr - 0.1, "ci_upper": hr + 0.1,
                         "variance_method": f"robust ({analysis})",
                         "weight_method": f"weights of {analysis}",
                         "estimation_status": "estimated", "status_reason": None})
    rows[-1] |= {"hr": None, "ci_lower": None, "ci_upper": None, "variance_method": None,
                 "estimation_status": "not_estimable", "status_reason": "no_events_in_arm"}
    return pd.DataFrame(rows)


def _center_rows() -> pd.DataFrame:
    common = {"endpoint": "PFS", "estimation_status": "estimated", "status_reason": None,
              "is_suppressed": False, "suppressed_cells": ""}
    rows = [{"estimate_type": "center", "center_id": "center_a", "n": 120, "events": 90,
             "hr": 0.6, "ci_lower": 0.4, "ci_upper": 0.9},
            {"estimate_type": "center", "center_id": "center_b", "n": 80, "events": 60,
             "hr": 0.7, "ci_lower": 0.45, "ci_upper": 1.1},
            {"estimate_type": "pooled", "center_id": None, "n": 200, "events": 150,
             "hr": 0.64, "ci_lower": 0.48, "ci_upper": 0.85, "q": 0.3, "q_p_value": 0.58,
             "i2_percent": 0.0, "i2_ci_lower_percent": 0.0, "i2_ci_upper_percent": 90.0,
             "tau2": 0.0, "fixed_hr": 0.64, "fixed_ci_lower": 0.48, "fixed_ci_upper": 0.85},
            {"estimate_type": "stratified", "center_id": None, "n": 200, "events": 150,
             "hr": 0.63, "ci_lower": 0.47, "ci_upper": 0.84,
             "strata": "center_id (separate baseline hazards; R + strata(center_id))"}]
    from rwe_report.diagnostics import DIAGNOSTIC_COLUMNS

    return pd.DataFrame([common | row for row in rows]).reindex(
        columns=DIAGNOSTIC_COLUMNS["center_heterogeneity"])


def test_weighted_hrs_sit_beside_the_matched_hr_and_the_stratified_cox_beside_the_centers(
        tmp_path: Path, tables) -> None:
    """Issue 21: the weighting table prints each analysis's HR per endpoint (a not-estimable
    one as its reason); the center table and forest carry the center-stratified Cox row."""
    path = write_database(tmp_path / "rwe_results.duckdb",
                          {**tables, "weighting_estimates": _weighting_rows(),
                           "center_heterogeneity": _center_rows()})
    shown = write_report(path, tmp_path / "report.html")
    weighting = [text for _, text in _cells(shown, "table-weighting")]
    assert weighting[:9] == ["analysis", "ICI patients", "non-ICI patients", "ESS ICI",
                             "ESS non-ICI", "max |SMD|", "HR PFS (95% CI)", "HR OS (95% CI)",
                             "weights"]
    matched, weighted = weighting[9:18], weighting[18:27]
    assert matched[0] == "matched" and matched[6].startswith("0.61 (0.51")
    assert weighted[0] == "ATT weighted" and weighted[5] == "0.042"
    assert weighted[7] == "not estimable: no_events_in_arm"
    centers = [text for _, text in _cells(shown, "table-centers")]
    stratified = centers.index("stratified by center")
    assert centers[stratified + 1:stratified + 4] == ["200", "150", "0.63 (0.47\u20130.84)"]
    document = shown.read_text(encoding="utf-8")
    assert "strata(center)" in document and "figure-forest-centers-pfs" in document


def test_a_version_without_the_diagnostics_tables_still_reports_and_says_so(tables) -> None:
    from rwe_report import render_report

    document = render_report(tables)
    for table in ("study_diagnostics", "rmst_estimates", "evalues", "center_heterogeneity",
                  "censoring_reasons"):
        assert f"<code>{table}</code> table" in document


def test_line_derivation_agreement_is_shown_when_published_and_hides_small_cells(
        tmp_path: Path, tables, report: Path) -> None:
    from rwe_study.line_agreement import line_agreement_table

    compared = pd.DataFrame({
        "center_id": ["center_b"] * 43,
        "true_line_count": [1] * 3 + [2] * 30 + [3] * 10,
        # 3 one-line patients (small), 30 two-line all agreeing, 10 three-line: 7 agree
        "has_same_line_count": [True] * 40 + [False] * 3,
        "has_line_starts_within_tolerance": [True] * 40 + [False] * 3,
        "has_same_regimens": [True] * 40 + [False] * 3})
    agreement = line_agreement_table(compared, 7, MIN_CELL_COUNT).assign(built_at=BUILT_AT)
    database = write_database(tmp_path / "with_agreement.duckdb",
                              {**tables, "line_derivation_agreement": agreement})
    shown = write_report(database, tmp_path / "report.html")
    cells = [text for _, text in _cells(shown, "table-line-derivation")][6:]  # after the head
    assert cells[:6] == ["center_b", "1", "suppressed", "suppressed", "suppressed", "suppressed"]
    assert cells[6:12] == ["center_b", "2", "30", "100.0%", "100.0%", "100.0%"]
    # 3 of 10 disagree: the share would give that small count back
    assert cells[12:15] == ["center_b", "3", "10"] and "70.0%" not in cells
    assert "within 7 days" in shown.read_text(encoding="utf-8")
    # a database without the table (real data, older versions) has no such section
    assert "section-line-derivation" not in report.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- one report per study

def test_a_database_of_studies_gets_one_report_per_study_and_an_index(tmp_path, tables) -> None:
    """study_specs present: report_<study_id>.html per study, from that study's
    rows only, and report.html linking them; the other study's rows change
    nothing in a study's report."""
    studies = pd.DataFrame({
        "study_id": ["first_study", "second_study"], "title": ["First", "Second"],
        "reference": ["ref 1", None], "exposure_label": ["ICI", "continued"],
        "comparator_label": ["non-ICI", "stopped"], "primary_endpoint": ["PFS", "OS"],
        "study_window_start_date": pd.to_datetime(["2019-03-01", "2024-01-01"]).date,
        "study_window_end_date": pd.to_datetime(["2023-12-31", "2024-12-31"]).date,
        "data_cutoff_date": pd.to_datetime(["2024-06-30", "2025-06-30"]).date})
    # the second study's rows: the same tables with every survival median doubled
    second = {name: frame.copy() for name, frame in tables.items()}
    second["survival_summary"]["median_months"] *= 2
    stacked = {name: pd.concat([frame.assign(study_id="first_study"),
                                second[name].assign(study_id="second_study")],
                               ignore_index=True) for name, frame in tables.items()}
    database = write_database(tmp_path / "studies.duckdb",
                              {**stacked, "study_specs": studies})
    index = write_report(database, tmp_path / "out" / "report.html")
    text = index.read_text(encoding="utf-8")
    assert 'href="report_first_study.html"' in text and 'href="report_second_study.html"' in text
    alone = write_report(write_database(tmp_path / "alone.duckdb", tables),
                         tmp_path / "alone" / "report.html").read_text(encoding="utf-8")
    first = (tmp_path / "out" / "report_first_study.html").read_text(encoding="utf-8")
    assert "<h1>First: study report</h1>" in first
    # beyond title, lead and source, the first study's report is the one-study report
    body = re.compile(r"<main>.*</main>", re.S)
    assert body.search(first).group(0) == body.search(alone).group(0)
    second_text = (tmp_path / "out" / "report_second_study.html").read_text(encoding="utf-8")
    assert "continued (arm ICI) vs stopped (arm non-ICI), primary endpoint OS" in second_text
    assert body.search(second_text).group(0) != body.search(alone).group(0)
