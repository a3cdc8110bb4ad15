"""R's ``cox.zph`` proportional-hazards test (survival >= 3.0) for Cox fits.

An exact score test for adding ``x * g(t)`` to the model (``zph1.c``), from
the Efron sums the fit ended on: with case weights and strata as in the fit,
``g(t) = 1 - KM(t-)`` for ``transform = "km"``. lifelines'
``proportional_hazard_test`` implements the older Grambsch-Therneau
approximation and a right-continuous KM transform, so its numbers differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from rwe_stats._cox import CoxFit
from rwe_stats._times import SurvivalTimes

ZPH_TRANSFORMS = ("km", "identity", "log", "rank")


def _time_transform(times: SurvivalTimes, transform: str) -> np.ndarray:
    """g(t) at every group, as R's ``cox.zph`` defines it (all rows; strata and weights ignored)."""
    if transform == "km":
        # left-continuous Kaplan-Meier: 1 - S(t-); at risk at t: every row with time >= t
        unique_times, index = np.unique(times.group_time, return_inverse=True)
        at_risk = np.cumsum(np.bincount(index, weights=np.diff(times.group_bounds))[::-1])[::-1]
        survival = np.cumprod(1.0 - np.bincount(index, weights=times.deaths) / at_risk)
        return (1.0 - np.concatenate(([1.0], survival[:-1])))[index]
    if transform == "identity":
        return times.group_time.astype(float)
    if transform == "log":
        if (times.group_time <= 0).any():
            raise ValueError("the 'log' time transform needs positive times")
        return np.log(times.group_time)
    if transform == "rank":
        ranks = stats.rankdata(times.durations, method="average")
        return ranks[times.order[times.group_bounds[:-1]]]
    raise ValueError(f"time transform must be one of {ZPH_TRANSFORMS}, not {transform!r}")


@dataclass(frozen=True)
class ZphTest:
    """Per-term and global chi-square statistics of the PH score test."""

    statistic: np.ndarray
    p_value: np.ndarray
    global_statistic: float
    global_p_value: float


def zph_test(fit: CoxFit, transform: str = "km") -> ZphTest:
    """R ``cox.zph(fit, transform)`` (survival >= 3.0) for a Cox model with Efron ties.

    Score test, at (beta-hat, gamma = 0), for adding ``x_j * g(t)`` to the
    model: ``u = (0, U_gamma)``, ``test = u' I^-1 u`` with ``I`` the full
    information of (beta, gamma). Per term, only that term's gamma is added
    (1 df); the global test adds all (p df). ``g`` is centred on its mean
    over events, which changes nothing but round-off. Case weights and
    strata enter as in the fit (R ``zph1.c``).
    """
    at = fit.efron
    times = at.sums.times
    g_time = _time_transform(times, transform)
    g_time = g_time - np.sum(times.deaths * g_time) / times.deaths.sum()
    p = len(fit.coefficients)
    u_gamma = (g_time[:, None] * (at.sums.death_x - at.mean_sum)).sum(axis=0)
    information = np.zeros((2 * p, 2 * p))
    information[:p, :p] = at.information
    information[:p, p:] = at.time_weighted_information(g_time)
    information[p:, :p] = information[:p, p:].T
    information[p:, p:] = at.time_weighted_information(g_time ** 2)
    statistic = np.empty(p)
    for j in range(p):
        keep = list(range(p)) + [p + j]
        u = np.zeros(p + 1)
        u[-1] = u_gamma[j]
        statistic[j] = u @ np.linalg.solve(information[np.ix_(keep, keep)], u)
    u_all = np.concatenate((np.zeros(p), u_gamma))
    global_statistic = float(u_all @ np.linalg.solve(information, u_all))
    return ZphTest(statistic, stats.chi2.sf(statistic, 1), global_statistic,
                   float(stats.chi2.sf(global_statistic, p)))
