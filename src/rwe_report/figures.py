"""The report's figures: one pure function per figure, result tables in, PNG bytes out.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg
canvas, never through ``pyplot``, so there is no global figure state, no GUI
backend and nothing to close. PNGs are written without a ``Software``
metadata chunk, so the same inputs give the same bytes.

Every function filters its own input (cohort, endpoint, model), so it can be
called on a whole result table. When the filter leaves no rows, the function
still returns a PNG that says what is missing: the report keeps its figure
ids stable.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
from matplotlib.transforms import blended_transform_factory

from rwe_report.formatting import (
    BALANCE_THRESHOLD,
    COHORT_NAMES,
    ENDPOINT_NAMES,
    arm_order,
    covariate_label,
    format_at_risk,
    format_estimate_ci,
    format_median,
    format_p_value,
    humanise,
    is_missing,
)

DPI = 110
ARM_COLOURS = {"ICI": "#0072B2", "non-ICI": "#D55E00"}
EXTRA_COLOURS = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9")
AT_RISK_STEP_MONTHS = 3.0
MAX_AT_RISK_COLUMNS = 13
HR_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
HR_TICKS_FINE = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


# --------------------------------------------------------------------------- helpers

def _png(figure: Figure) -> bytes:
    """Render a figure to PNG bytes (Agg, no Software metadata)."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _plain(text: object) -> str:
    """Text safe for matplotlib: a data value must never be parsed as mathtext."""
    return str(text).replace("$", r"\$")


def _empty_figure(title: str, message: str) -> bytes:
    """A small PNG stating that a figure has no data."""
    figure = Figure(figsize=(8.0, 2.0))
    figure.text(0.5, 0.62, _plain(title), ha="center", va="center", fontsize=12,
                fontweight="bold")
    figure.text(0.5, 0.35, _plain(message), ha="center", va="center", fontsize=10,
                color="#555555")
    return _png(figure)


def arm_colour(arm: str, position: int) -> str:
    """Colour of an arm: fixed for ICI and non-ICI, a colour-blind-safe cycle otherwise."""
    return ARM_COLOURS.get(arm, EXTRA_COLOURS[position % len(EXTRA_COLOURS)])


def at_risk_times(max_time: float, step: float = AT_RISK_STEP_MONTHS,
                  max_columns: int = MAX_AT_RISK_COLUMNS) -> list[float]:
    """Times of the numbers-at-risk table: 0, 3, 6, ... up to the end of follow-up.

    The step is ``step`` months; when that would give more than
    ``max_columns`` columns the step is doubled (tripled, ...) so the table
    stays readable, and it always stays a multiple of ``step``.

    Parameters
    ----------
    max_time : float
        Longest time on the curves, in months.
    step : float, default 3.0
        Base step in months.
    max_columns : int, default 13
        Most columns the table may have.

    Returns
    -------
    list of float
        Times from 0 to the first multiple of the step at or after ``max_time``.
    """
    if not math.isfinite(max_time) or max_time <= 0:
        return [0.0]
    end = math.ceil(max_time / step) * step
    multiple = max(1, math.ceil((end / step + 1) / max_columns))
    used = step * multiple
    end = math.ceil(max_time / used) * used
    return [float(value) for value in np.arange(0.0, end + used / 2, used)]


def numbers_at_risk(km_arm: pd.DataFrame, times: Sequence[float]) -> list[int]:
    """Numbers at risk of one KM curve at given times.

    At each time ``t`` this is ``n_at_risk`` of the first row with
    ``time_months >= t`` (the patients still followed just before that row's
    time, hence at ``t``, since nobody leaves between ``t`` and that row).
    After the last row it is the last known number at risk, i.e. that row's
    ``n_at_risk - n_events - n_censored`` (zero when the curve ends with the
    last patient); without those two columns, the last ``n_at_risk``.

    Parameters
    ----------
    km_arm : DataFrame
        ``km_estimates`` rows of one cohort, endpoint and arm, with
        ``time_months`` and ``n_at_risk`` (``n_events``, ``n_censored`` optional).
    times : sequence of float
        Times in months.

    Returns
    -------
    list of int
        One count per time.
    """
    table = km_arm.dropna(subset=["time_months", "n_at_risk"]).sort_values("time_months")
    if table.empty:
        return [0 for _ in times]
    row_times = table["time_months"].to_numpy(dtype=float)
    at_risk = table["n_at_risk"].to_numpy(dtype=float)
    last = table.iloc[-1]
    remaining = float(last["n_at_risk"])
    if {"n_events", "n_censored"} <= set(table.columns):
        leaving = [last["n_events"], last["n_censored"]]
        if not any(is_missing(value) for value in leaving):
            remaining -= float(leaving[0]) + float(leaving[1])
    counts = []
    for time in times:
        index = int(np.searchsorted(row_times, float(time), side="left"))
        counts.append(int(round(at_risk[index] if index < len(row_times) else remaining)))
    return [max(count, 0) for count in counts]


def _min_cell_count(km: pd.DataFrame) -> int | None:
    """The KM table's disclosure threshold (None when it has none)."""
    if "min_cell_count" not in km.columns:
        return None
    values = [int(value) for value in km["min_cell_count"] if not is_missing(value)]
    return max(values) if values else None


def numbers_at_risk_labels(km_arm: pd.DataFrame, times: Sequence[float]) -> list[str]:
    """The printed numbers at risk: :func:`numbers_at_risk`, with 1 to k - 1 as ``<k``.

    ``k`` is the table's ``min_cell_count``. A ``km_estimates`` table stops
    where fewer than ``k`` are at risk, so the count after its last row (the
    patients still followed then) can be between 1 and ``k - 1``; it prints
    as ``<k``, never as the number.
    """
    threshold = _min_cell_count(km_arm)
    return [format_at_risk(count, threshold) for count in numbers_at_risk(km_arm, times)]


def _step_curve(km_arm: pd.DataFrame) -> pd.DataFrame:
    """Curve rows sorted by time, starting at time 0 with survival 1."""
    curve = km_arm.sort_values("time_months")[
        ["time_months", "survival", "ci_lower", "ci_upper", "n_censored"]].copy()
    curve = curve.dropna(subset=["time_months", "survival"]).astype(float)
    if curve.empty or curve["time_months"].iloc[0] > 0:
        start = pd.DataFrame({"time_months": [0.0], "survival": [1.0], "ci_lower": [1.0],
                              "ci_upper": [1.0], "n_censored": [0.0]})
        curve = pd.concat([start, curve], ignore_index=True)
    curve["ci_lower"] = curve["ci_lower"].fillna(curve["survival"])
    curve["ci_upper"] = curve["ci_upper"].fillna(curve["survival"])
    return curve.reset_index(drop=True)


def _p_text(value: object) -> str:
    """``p = 0.042`` or ``p < 0.001``."""
    text = format_p_value(value)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def _summary_lines(summary: pd.DataFrame, arms: Sequence[str]) -> list[str]:
    """Annotation lines: medians per arm, log-rank p, hazard ratio."""
    lines = ["Median, months (95% CI)"]
    by_arm = {str(row["arm"]): row for _, row in summary.iterrows()}
    width = max((len(arm) for arm in arms), default=0) + 1
    for arm in arms:
        row = by_arm.get(arm)
        if row is not None:
            median = format_median(row["median_months"], row["median_ci_lower"],
                                   row["median_ci_upper"])
            lines.append(f"  {(arm + ':').ljust(width)} {median}")
    if summary.empty:
        return lines
    first = summary.iloc[0]
    lines.append(f"Log-rank {_p_text(first['logrank_p_value'])}")
    hr = format_estimate_ci(first["hr_ici_vs_non_ici"], first["hr_ci_lower"],
                            first["hr_ci_upper"])
    lines.append("HR ICI vs non-ICI (95% CI)")
    lines.append(f"  {hr}, {_p_text(first['hr_p_value'])}")
    return lines


# --------------------------------------------------------------------------- Kaplan-Meier

def km_figure(km: pd.DataFrame, summary: pd.DataFrame, cohort: str, endpoint: str) -> bytes:
    """Kaplan-Meier curves of one cohort and endpoint, with a numbers-at-risk table.

    Curves are right-continuous step functions of ``survival`` with the
    pointwise ``ci_lower``/``ci_upper`` band shaded, and ``+`` marks at
    censoring times. The box in the upper right gives each arm's median (CI),
    the log-rank p and the Cox hazard ratio of ICI vs non-ICI from
    ``survival_summary``. Under the plot, the numbers at risk at 0, 3, 6, ...
    months (see :func:`numbers_at_risk` and :func:`at_risk_times`).

    Parameters
    ----------
    km : DataFrame
        ``km_estimates`` (any cohorts and endpoints; filtered here).
    summary : DataFrame
        ``survival_summary`` (filtered here).
    cohort : str
        ``all`` or ``matched``.
    endpoint : str
        ``PFS`` or ``OS``.

    Returns
    -------
    bytes
        The PNG image.
    """
    endpoint_name = ENDPOINT_NAMES.get(endpoint, endpoint)
    title = f"{endpoint_name}, {COHORT_NAMES.get(cohort, cohort)}"
    rows = km[(km["cohort"] == cohort) & (km["endpoint"] == endpoint)]
    if rows.empty:
        return _empty_figure(title, f"km_estimates has no rows for cohort {cohort!r}, "
                                    f"endpoint {endpoint!r}.")
    rows_summary = summary[(summary["cohort"] == cohort) & (summary["endpoint"] == endpoint)]
    arms = arm_order(rows["arm"])
    max_time = float(rows["time_months"].max())
    times = at_risk_times(max_time)

    risk_height = 0.45 + 0.3 * len(arms)
    figure = Figure(figsize=(7.2, 4.9 + risk_height))
    grid = figure.add_gridspec(2, 1, height_ratios=[4.0, risk_height], hspace=0.3,
                               left=0.14, right=0.97, top=0.93, bottom=0.03)
    axes = figure.add_subplot(grid[0])
    risk_axes = figure.add_subplot(grid[1], sharex=axes)

    sizes = {str(row["arm"]): row["n"] for _, row in rows_summary.iterrows()}
    for position, arm in enumerate(arms):
        colour = arm_colour(arm, position)
        arm_rows = rows[rows["arm"] == arm]
        curve = _step_curve(arm_rows)
        size = sizes.get(arm)
        if is_missing(size):
            size = numbers_at_risk(arm_rows, [0.0])[0]
        axes.step(curve["time_months"], curve["survival"], where="post", color=colour,
                  linewidth=2.0, label=f"{_plain(arm)} (n={int(size)})")
        axes.fill_between(curve["time_months"], curve["ci_lower"], curve["ci_upper"],
                          step="post", color=colour, alpha=0.15, linewidth=0)
        censored = curve[curve["n_censored"] > 0]
        axes.plot(censored["time_months"], censored["survival"], linestyle="none",
                  marker="+", markersize=7, color=colour)

    axes.axhline(0.5, color="#999999", linestyle=":", linewidth=0.8)
    axes.set_xlim(0, times[-1] if times[-1] > 0 else max(max_time, 1.0))
    axes.set_ylim(0, 1.03)
    axes.set_xticks(times)
    axes.tick_params(labelbottom=True, labelsize=10)
    axes.set_xlabel("Months since start of second-line therapy", fontsize=10.5)
    axes.set_ylabel(f"{endpoint_name} probability", fontsize=10.5)
    axes.set_title(_plain(title), fontsize=12.5, loc="left")
    axes.grid(True, color="#eeeeee", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="lower left", frameon=False, fontsize=10)
    axes.text(0.985, 0.975, _plain("\n".join(_summary_lines(rows_summary, arms))),
              transform=axes.transAxes, ha="right", va="top", multialignment="left",
              fontsize=9.5,
              family="monospace", linespacing=1.3,
              bbox={"boxstyle": "round,pad=0.45", "facecolor": "white",
                    "edgecolor": "#bbbbbb", "alpha": 0.92})

    risk_axes.set_title("Number at risk", fontsize=10, loc="left", pad=4)
    for position, arm in enumerate(arms):
        labels = numbers_at_risk_labels(rows[rows["arm"] == arm], times)
        y = len(arms) - 1 - position
        for time, label in zip(times, labels, strict=True):
            risk_axes.text(time, y, label, ha="center", va="center", fontsize=10,
                           color=arm_colour(arm, position))
    risk_axes.set_ylim(-0.6, len(arms) - 0.4)
    risk_axes.set_yticks(range(len(arms)))
    risk_axes.set_yticklabels([_plain(arm) for arm in reversed(arms)], fontsize=10)
    for tick, arm in zip(risk_axes.get_yticklabels(), reversed(arms), strict=True):
        tick.set_color(arm_colour(arm, arms.index(arm)))
    # The pad keeps the arm names clear of the counts centred on time 0.
    risk_axes.tick_params(axis="y", length=0, pad=16)
    risk_axes.tick_params(axis="x", length=0, labelbottom=False)
    for spine in risk_axes.spines.values():
        spine.set_visible(False)
    return _png(figure)


# --------------------------------------------------------------------------- forest plots

def _log_limits(values: Sequence[float]) -> tuple[float, float]:
    """x limits of a forest plot on a log scale, always including 1."""
    finite = [value for value in values if math.isfinite(value) and value > 0] + [1.0]
    low, high = min(finite), max(finite)
    span = math.log(high / low) if high > low else math.log(2.0)
    pad = math.exp(0.08 * span)
    return low / pad, high * pad


def _forest_panels(panels: Sequence[tuple[str, pd.DataFrame]], labels: Sequence[str],
                   title: str, x_label: str) -> bytes:
    """Draw forest panels side by side, one row per label, with an estimate column each.

    Each panel frame is aligned to ``labels`` and has ``hr``, ``ci_lower``,
    ``ci_upper`` (nulls allowed: the row then reads "not estimable").
    """
    n_rows = len(labels)
    label_width = 0.3 + 0.068 * max(len(label) for label in labels)
    panel_width, text_width = 3.0, 1.55
    width = label_width + len(panels) * (panel_width + text_width) + 0.2
    height = 1.25 + 0.3 * n_rows
    figure = Figure(figsize=(width, height))
    figure.suptitle(_plain(title), x=0.01, ha="left", fontsize=12)
    bottom, top = 0.62 / height, 1 - 0.62 / height
    all_values = []
    for _, frame in panels:
        for column in ("hr", "ci_lower", "ci_upper"):
            all_values += [float(value) for value in frame[column] if not is_missing(value)]
    x_low, x_high = _log_limits(all_values)
    ticks = [tick for tick in HR_TICKS if x_low <= tick <= x_high]
    if len(ticks) < 4:
        ticks = [tick for tick in HR_TICKS_FINE if x_low <= tick <= x_high]
    y_positions = np.arange(n_rows)[::-1]

    for index, (panel_title, frame) in enumerate(panels):
        left = label_width + index * (panel_width + text_width)
        axes = figure.add_axes((left / width, bottom, panel_width / width, top - bottom))
        axes.set_xscale("log")
        axes.set_xlim(x_low, x_high)
        axes.set_ylim(-0.7, n_rows - 0.3)
        axes.axvline(1.0, color="#444444", linewidth=0.9)
        text_transform = blended_transform_factory(axes.transAxes, axes.transData)
        axes.text(1.04, n_rows - 0.3, "HR (95% CI)", transform=text_transform, fontsize=8.5,
                  fontweight="bold", va="bottom")
        for y, (_, row) in zip(y_positions, frame.iterrows(), strict=True):
            if y % 2 == 0:
                axes.axhspan(y - 0.5, y + 0.5, color="#f4f4f4", zorder=0, linewidth=0)
            estimable = not is_missing(row["hr"]) and 0 < float(row["hr"]) < math.inf
            if estimable:
                hr = float(row["hr"])
                low = hr if is_missing(row["ci_lower"]) else float(row["ci_lower"])
                high = hr if is_missing(row["ci_upper"]) else float(row["ci_upper"])
                low, high = max(low, x_low), min(high, x_high)
                axes.plot([low, high], [y, y], color="#333333", linewidth=1.3)
                axes.plot([hr], [y], marker="s", markersize=6, color="#0072B2")
                text = format_estimate_ci(row["hr"], row["ci_lower"], row["ci_upper"])
                colour = "#222222"
            else:
                text = "not estimable"
                colour = "#888888"
            axes.text(1.04, y, text, transform=text_transform, fontsize=8.5, va="center",
                      color=colour)
        axes.set_yticks(y_positions)
        if index == 0:
            axes.set_yticklabels([_plain(label) for label in labels], fontsize=9)
        else:
            axes.set_yticklabels([])
        axes.tick_params(axis="y", length=0)
        axes.xaxis.set_major_locator(FixedLocator(ticks))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.set_xlabel(x_label, fontsize=9)
        axes.set_title(_plain(panel_title), fontsize=10)
        axes.spines[["top", "right", "left"]].set_visible(False)
    return _png(figure)


def forest_cox_figure(cox: pd.DataFrame, cohort: str = "all", model: str = "multivariate",
                      endpoints: Sequence[str] = ("PFS", "OS")) -> bytes:
    """Forest plot of a Cox model: one panel per endpoint, one row per term.

    Parameters
    ----------
    cox : DataFrame
        ``cox_results`` (filtered here on ``cohort`` and ``model``).
    cohort : str, default "all"
        Cohort to plot.
    model : str, default "multivariate"
        ``univariate`` or ``multivariate``.
    endpoints : sequence of str, default ("PFS", "OS")
        Panels, left to right.

    Returns
    -------
    bytes
        The PNG image; hazard ratios on a log axis with a reference line at 1.
    """
    title = f"Cox model ({model}), {COHORT_NAMES.get(cohort, cohort)}"
    rows = cox[(cox["cohort"] == cohort) & (cox["model"] == model)
               & cox["endpoint"].isin(list(endpoints))]
    if rows.empty:
        return _empty_figure(title, f"cox_results has no {model} rows for cohort {cohort!r}.")
    terms = list(dict.fromkeys(rows["term"].astype(str)))
    panels = []
    for endpoint in endpoints:
        frame = rows[rows["endpoint"] == endpoint].drop_duplicates("term").set_index("term")
        frame.index = frame.index.astype(str)
        frame = frame.reindex(terms)[["hr", "ci_lower", "ci_upper"]]
        panels.append((ENDPOINT_NAMES.get(endpoint, endpoint), frame))
    return _forest_panels(panels, [humanise(term) for term in terms], title,
                          "Hazard ratio (log scale)")


def forest_subgroups_figure(subgroups: pd.DataFrame) -> bytes:
    """Forest plot of the ICI vs non-ICI hazard ratio within subgroups.

    One row per subgroup level, one panel per (cohort, endpoint) present in
    the table. Rows whose hazard ratio is null (see the ``note`` column of
    the table in the report) read "not estimable".

    Parameters
    ----------
    subgroups : DataFrame
        ``subgroup_hr``.

    Returns
    -------
    bytes
        The PNG image; hazard ratios on a log axis with a reference line at 1.
    """
    title = "Hazard ratio of ICI vs non-ICI by subgroup"
    if subgroups.empty:
        return _empty_figure(title, "subgroup_hr has no rows.")
    frame = subgroups.assign(_label=[
        str(subgroup) if is_missing(level) else f"{subgroup}: {level}"
        for subgroup, level in zip(subgroups["subgroup"], subgroups["level"], strict=True)])
    labels = list(dict.fromkeys(frame["_label"]))
    keys = list(dict.fromkeys(zip(frame["cohort"].astype(str), frame["endpoint"].astype(str),
                                  strict=True)))
    panels = []
    for cohort, endpoint in keys:
        block = frame[(frame["cohort"].astype(str) == cohort)
                      & (frame["endpoint"].astype(str) == endpoint)]
        block = block.drop_duplicates("_label").set_index("_label").reindex(labels)
        panels.append((f"{ENDPOINT_NAMES.get(endpoint, endpoint)}, "
                       f"{COHORT_NAMES.get(cohort, cohort)}",
                       block[["hr", "ci_lower", "ci_upper"]]))
    return _forest_panels(panels, labels, title, "Hazard ratio, ICI vs non-ICI (log scale)")


# --------------------------------------------------------------------------- balance

def love_plot_figure(balance: pd.DataFrame) -> bytes:
    """Love plot: absolute SMD of each covariate before and after matching.

    Parameters
    ----------
    balance : DataFrame
        ``covariate_balance`` with cohorts ``all`` (before matching) and
        ``matched`` (after).

    Returns
    -------
    bytes
        The PNG image; covariates sorted by |SMD| before matching, a dashed
        line at the usual balance threshold 0.1.
    """
    title = "Covariate balance before and after propensity-score matching"
    if balance.empty:
        return _empty_figure(title, "covariate_balance has no rows.")
    frame = balance.assign(
        _label=[covariate_label(covariate, level) for covariate, level
                in zip(balance["covariate"], balance["level"], strict=True)],
        _abs=balance["smd"].astype(float).abs())
    before = frame[frame["cohort"] == "all"].drop_duplicates("_label").set_index("_label")["_abs"]
    after = (frame[frame["cohort"] == "matched"].drop_duplicates("_label")
             .set_index("_label")["_abs"])
    labels = list(dict.fromkeys(frame["_label"]))
    order = sorted(labels, key=lambda label: before.get(label, -1.0))
    values = [value for value in frame["_abs"] if math.isfinite(value)]
    x_high = max(max(values, default=0.0) * 1.12, 0.25)

    label_width = 0.3 + 0.068 * max(len(label) for label in labels)
    width = max(8.0, label_width + 5.0)
    height = 1.75 + 0.3 * len(labels)
    figure = Figure(figsize=(width, height))
    axes = figure.add_axes((label_width / width, 0.95 / height,
                            1 - (label_width + 0.3) / width, 1 - 1.5 / height))
    y = np.arange(len(order))
    for position in y:
        if position % 2 == 0:
            axes.axhspan(position - 0.5, position + 0.5, color="#f4f4f4", zorder=0, linewidth=0)
    axes.axvline(BALANCE_THRESHOLD, color="#666666", linestyle="--", linewidth=1.0,
                 label=f"|SMD| = {BALANCE_THRESHOLD}")
    axes.scatter([before.get(label, np.nan) for label in order], y, s=36,
                 facecolors="white", edgecolors="#D55E00", linewidths=1.4, zorder=3,
                 label="before matching (all patients)")
    axes.scatter([after.get(label, np.nan) for label in order], y, s=36, color="#0072B2",
                 zorder=3, label="after matching")
    axes.set_yticks(y)
    axes.set_yticklabels([_plain(label) for label in order], fontsize=9)
    axes.tick_params(axis="y", length=0)
    axes.set_ylim(-0.7, len(order) - 0.3)
    # A little room left of 0 so a perfectly balanced marker is not cut in half.
    axes.set_xlim(-0.015 * x_high, x_high)
    axes.set_xlabel("Absolute standardised mean difference")
    figure.suptitle(_plain(title), x=0.01, ha="left", fontsize=12)
    axes.spines[["top", "right", "left"]].set_visible(False)
    handles, legend_labels = axes.get_legend_handles_labels()
    figure.legend(handles, legend_labels, loc="lower center", ncol=3, fontsize=9,
                  frameon=False, bbox_to_anchor=(0.5, 0.0))
    return _png(figure)
