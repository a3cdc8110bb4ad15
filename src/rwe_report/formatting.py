"""Number and label formatting shared by the report's tables and figures.

Every function is pure and returns plain text (not HTML): callers escape it.
Missing values follow one rule throughout the report: a median or a CI bound
that is null was *not reached* and prints as ``NR``; any other null prints as
an en dash.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

NOT_REACHED = "NR"
MISSING = "\u2013"
# A cell hidden by disclosure control. One neutral word for every suppressed
# cell: a complementary suppression hides a count that is not small, so "<5"
# would be false, and telling the two kinds apart would narrow them down.
SUPPRESSED = "suppressed"
ABBREVIATIONS = {"ecog": "ECOG", "ici": "ICI", "pfs": "PFS", "os": "OS", "ps": "PS"}
UNITS = ("years", "months", "days")
ARM_ORDER = ("ICI", "non-ICI")
ENDPOINT_NAMES = {"PFS": "Progression-free survival", "OS": "Overall survival"}
COHORT_NAMES = {"all": "all patients", "matched": "propensity-score matched cohort"}
# |SMD| above which a covariate is called imbalanced (table 1 and the love plot).
BALANCE_THRESHOLD = 0.1


def is_missing(value: Any) -> bool:
    """Return True for None, NaN, NaT and ``pd.NA``.

    Parameters
    ----------
    value : Any
        A scalar read from a result table.

    Returns
    -------
    bool
        Whether the value is a null of any kind.
    """
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_number(value: Any, digits: int = 2, missing: str = MISSING) -> str:
    """Format a number with a fixed number of decimals.

    Parameters
    ----------
    value : Any
        Number or null.
    digits : int, default 2
        Decimals to print.
    missing : str, default en dash
        Text for a null or NaN value (an infinite bound prints as the infinity sign).

    Returns
    -------
    str
        For example ``"0.62"``.
    """
    if is_missing(value):
        return missing
    number = float(value)
    if math.isnan(number):
        return missing
    if math.isinf(number):
        return "\u221e" if number > 0 else "-\u221e"
    return f"{number:.{digits}f}"


def format_count(value: Any) -> str:
    """Format a count as an integer, or an en dash when null."""
    if is_missing(value):
        return MISSING
    return str(int(round(float(value))))


def format_at_risk(count: int, min_cell_count: Any = None) -> str:
    """A number at risk: the count, or ``<k`` when it is between 1 and ``k - 1``.

    Parameters
    ----------
    count : int
        Patients at risk.
    min_cell_count : Any, optional
        The tables' ``min_cell_count``; null or None shows every count.

    Returns
    -------
    str
        For example ``"42"``, ``"0"`` or ``"<5"``.
    """
    if not is_missing(min_cell_count) and 0 < count < int(min_cell_count):
        return f"<{int(min_cell_count)}"
    return str(int(count))


def format_p_value(value: Any) -> str:
    """Format a p-value: three decimals, ``<0.001`` below that, en dash when null.

    Parameters
    ----------
    value : Any
        A p-value in [0, 1] or null.

    Returns
    -------
    str
        For example ``"0.042"`` or ``"<0.001"``.
    """
    if is_missing(value):
        return MISSING
    number = float(value)
    if number < 0.001:
        return "<0.001"
    return f"{number:.3f}"


def format_estimate_ci(estimate: Any, lower: Any, upper: Any, digits: int = 2,
                       missing: str = MISSING) -> str:
    """Format ``estimate (lower-upper)``.

    Parameters
    ----------
    estimate, lower, upper : Any
        The point estimate and its confidence bounds (any may be null).
    digits : int, default 2
        Decimals to print.
    missing : str, default en dash
        Text for a null value; use ``NR`` for medians that were not reached.

    Returns
    -------
    str
        For example ``"0.62 (0.50\u20130.77)"``.
    """
    point = format_number(estimate, digits, missing)
    if is_missing(lower) and is_missing(upper) and missing == MISSING:
        return point
    return (f"{point} ({format_number(lower, digits, missing)}"
            f"\u2013{format_number(upper, digits, missing)})")


def format_median(median: Any, lower: Any, upper: Any) -> str:
    """Format a median survival time in months with its CI; nulls print ``NR``.

    Parameters
    ----------
    median, lower, upper : Any
        Median and CI bounds in months; null means not reached.

    Returns
    -------
    str
        For example ``"4.1 (3.5\u20134.9)"`` or ``"NR (8.2\u2013NR)"``.
    """
    return format_estimate_ci(median, lower, upper, digits=1, missing=NOT_REACHED)


def format_percent(value: Any, digits: int = 1, scale: float = 100.0) -> str:
    """Format a proportion (``scale=100``) or a percentage (``scale=1``) as ``x.x%``."""
    if is_missing(value):
        return MISSING
    return f"{float(value) * scale:.{digits}f}%"


def format_percent_ci(value: Any, lower: Any, upper: Any, scale: float = 100.0) -> str:
    """Format ``x.x% (l.l\u2013u.u)`` from a proportion and its CI bounds."""
    if is_missing(value):
        return MISSING
    text = format_percent(value, scale=scale)
    if is_missing(lower) and is_missing(upper):
        return text
    low = format_number(None if is_missing(lower) else float(lower) * scale, 1)
    high = format_number(None if is_missing(upper) else float(upper) * scale, 1)
    return f"{text} ({low}\u2013{high})"


def humanise(name: Any) -> str:
    """Turn a column-style name into a label: ``has_liver_metastases`` -> ``liver metastases``.

    The boolean prefixes ``is_`` and ``has_`` are dropped (``had_`` reads well
    and stays), a trailing unit becomes a parenthesis (``age_years`` ->
    ``age (years)``), the study abbreviations are upper-cased (``ECOG``,
    ``ICI``, ``PFS``, ``OS``) and underscores become spaces.

    Parameters
    ----------
    name : Any
        A covariate or term name.

    Returns
    -------
    str
        The label (plain text, not escaped).
    """
    if is_missing(name):
        return MISSING
    words = str(name).split("_")
    if len(words) > 1 and words[0] in ("is", "has"):
        words = words[1:]
    unit = ""
    if len(words) > 1 and words[-1] in UNITS:
        unit = f" ({words.pop()})"
    return " ".join(ABBREVIATIONS.get(word, word) for word in words) + unit


def covariate_label(covariate: Any, level: Any) -> str:
    """Label of a covariate row, with its level when the row is one level of a category."""
    label = humanise(covariate)
    if is_missing(level) or str(level) == "":
        return label
    return f"{label}: {level}"


def arm_order(arms: Sequence[object]) -> list[str]:
    """Arms in report order: ICI, non-ICI, then any other arm alphabetically.

    Parameters
    ----------
    arms : sequence
        Arm values as found in a table (duplicates and nulls allowed).

    Returns
    -------
    list of str
        Distinct arms, ordered.
    """
    present = {str(arm) for arm in arms if not is_missing(arm)}
    known = [arm for arm in ARM_ORDER if arm in present]
    return known + sorted(present - set(known))
