"""Cox proportional-hazards models as R's ``coxph`` fits them: Efron ties, case weights, strata.

Newton-Raphson on the Efron partial likelihood, vectorised: per step a few
per-group sums (sparse products over the rows sorted once by
:mod:`rwe_stats._times`, passed in by the caller) and one information
product per covariate pattern; no Python loop over rows or times. As in
R (``coxfit6.c``) a risk set is the stratum's rows still at risk, each
counting ``w exp(eta)``, and the ``k``-th of ``d`` tied events removes
``k/d`` of their risk, counting with their mean case weight. Unweighted,
unstratified fits fall back to lifelines' ``CoxPHFitter`` when Newton
fails. Two things lifelines computes otherwise than R are done here as R
does: score residuals with Efron ties (``coxscore2.c``; for the robust
sandwich of ``cluster =`` and non-integer weights) and, in
:mod:`rwe_stats._zph`, the ``cox.zph`` test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from scipy import sparse, stats

from rwe_stats._checks import numeric_matrix, positive_weights, require_columns
from rwe_stats._status import NotEstimableError
from rwe_stats._times import SurvivalTimes, survival_times

TIES_METHOD = "efron"
MODEL_VARIANCE = "model-based (inverse observed information)"
# Newton stops when no coefficient moves by more than this (relative to
# max(1, |beta|)): after its quadratic convergence that leaves round-off only.
NEWTON_TOLERANCE = 1e-10
MAX_NEWTON_STEPS = 50
SEPARATION_INFORMATION = 1e-8
# lifelines' default stop leaves ~1e-6 in the coefficients: iterate to machine precision
FIT_OPTIONS = {"precision": 1e-12, "r_precision": 1e-15}


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model: estimates, and the Efron sums at them (for the PH test)."""

    terms: tuple[str, ...]
    coefficients: np.ndarray
    model_variance: np.ndarray
    variance: np.ndarray
    variance_method: str
    log_likelihood: float
    efron: _EfronAt = field(repr=False, compare=False)

    def wald(self, alpha: float) -> pd.DataFrame:
        """Hazard ratio, Wald CI on the log scale and two-sided Wald p, per term."""
        z = stats.norm.ppf(1 - alpha / 2)
        beta, se = self.coefficients, np.sqrt(np.diag(self.variance))
        return pd.DataFrame({
            "term": list(self.terms), "hr": np.exp(beta), "ci_lower": np.exp(beta - z * se),
            "ci_upper": np.exp(beta + z * se), "p_value": 2 * stats.norm.sf(np.abs(beta / se))})


def variance_method(cluster_col: str | None, weights_col: str | None, robust: bool) -> str:
    """The ``variance_method`` label of a fit."""
    weighted = f", case weights {weights_col}" if weights_col else ""
    if not robust:
        return MODEL_VARIANCE + weighted
    arguments = ["weights = "] if weights_col else []
    arguments.append("cluster = " if cluster_col else "robust = TRUE")
    clustered = f" clustered on {cluster_col}" if cluster_col else " (one cluster per row)"
    return (f"robust sandwich{clustered}{weighted} (Lin-Wei; "
            f"R coxph(..., {', '.join(arguments)}))")


def strata_method(strata_col: str) -> str:
    """The ``strata`` label of a stratified fit."""
    return f"{strata_col} (separate baseline hazards; R + strata({strata_col}))"


def fit_cox(frame: pd.DataFrame, duration_col: str, event_col: str, terms: Sequence[str],
            cluster_col: str | None = None, *, weights_col: str | None = None,
            strata_col: str | None = None, robust: bool | None = None,
            times: SurvivalTimes | None = None) -> CoxFit:
    """Fit a Cox model with Efron ties, as R ``coxph(Surv(t, e) ~ terms, ...)``.

    ``weights_col``: case weights (``weights = w``); ``strata_col``: separate
    baseline hazards (``+ strata(s)``); ``cluster_col``: the robust variance
    clustered on it (``cluster = c``). ``robust`` as R: by default True with
    a cluster or non-integer weights (one cluster per row then), else the
    model-based variance. ``times``: :func:`survival_times` of the same rows.
    """
    terms = list(terms)
    x = numeric_matrix(frame, terms)
    if times is None:
        times = survival_times(frame, duration_col, event_col, strata_col)
    else:
        times.require_same_rows(frame, duration_col, event_col, strata_col)
    if not times.events.any():
        raise ValueError(f"{event_col} has no events: a Cox model cannot be estimated")
    weights = None if weights_col is None else positive_weights(frame, weights_col)
    if robust is None:
        robust = cluster_col is not None or (
            weights is not None and not np.array_equal(weights, np.floor(weights)))
    if cluster_col is not None and not robust:
        raise ValueError("a cluster_col needs the robust variance (robust=True)")
    sums = _EfronSums(times, x, weights)
    fitted = _newton(sums)
    if fitted is not None:
        beta, model_variance, efron = fitted
        log_likelihood = efron.log_likelihood
    elif weights is None and len(times.stratum_bounds) == 2:
        beta, model_variance, log_likelihood = _fit_with_lifelines(times, sums.x)
        efron = sums.at(beta)
    else:
        raise NotEstimableError(f"the Cox model of {terms} did not converge or its information "
                                "is singular (separation or collinear terms?)", "separation")
    variance = model_variance
    if robust:
        clusters = None if cluster_col is None else _cluster_codes(frame, cluster_col)
        variance = robust_variance(_score_residuals(efron), model_variance, clusters, weights)
    return CoxFit(tuple(terms), beta, model_variance, variance,
                  variance_method(cluster_col, weights_col, robust), log_likelihood, efron)


def _fit_with_lifelines(times: SurvivalTimes,
                        x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    columns = [f"_x{index}" for index in range(x.shape[1])]
    data = pd.DataFrame(x, columns=columns)
    data["_duration"], data["_event"] = times.durations, times.events.astype(int)
    fitter = CoxPHFitter()  # penalizer=0: unpenalised partial likelihood, Efron ties
    # batch mode: its per-unique-time computation of the same Efron sums
    fitter.fit(data, duration_col="_duration", event_col="_event", fit_options=FIT_OPTIONS,
               batch_mode=True)
    beta = fitter.params_[columns].to_numpy(dtype=float)
    model_variance = fitter.variance_matrix_.loc[columns, columns].to_numpy(dtype=float)
    return beta, model_variance, float(fitter.log_likelihood_)


def _numbered(key: np.ndarray, size: int) -> np.ndarray:
    """``key`` (in ``range(size)``) renumbered 0, 1, ... over the values present."""
    return (np.cumsum(np.bincount(key, minlength=size) > 0) - 1)[key]


def _patterns(x: np.ndarray) -> np.ndarray:
    """Per row, the number of its covariate pattern (its distinct row of ``x``).

    The linear predictor and the information are computed per pattern: tens
    of thousands for a million patients with booleans and an age. Each row
    is its own pattern when there could be more patterns than rows.
    """
    key, size = np.zeros(len(x), dtype=np.intp), 1
    for column in x.T:
        codes = column.astype(np.intp)
        low, high = codes.min(), codes.max()
        if high - low < len(x) and (codes == column).all():  # whole numbers: no hashing
            codes, levels = codes - low, high - low + 1
        else:
            codes, uniques = pd.factorize(column)
            levels = len(uniques)
        size *= levels
        if size > len(x):
            return np.arange(len(x))
        key = key * levels + codes
    return _numbered(key, size)


class _EfronSums:
    """One fit's rows on their grouping, and the per-group sums every Efron quantity uses.

    At a group with ``d`` tied events, Efron's ``k``-th step (``f = k/d``)
    uses ``s_k = R - f D``: ``R`` sums ``r``, ``r x``, ``r x x'`` (``r = w
    exp(eta)``) over the risk set, ``D`` over the tied events; each step
    counts with the events' mean case weight ``m``. Only ``m/s0`` and
    ``m/s0^2`` are summed per step (:meth:`at`). The sums run over units:
    rows, or cells of rows alike in group, event and covariate pattern when
    there can be no more cells than rows. A cell counts with its rows'
    total weight (the same likelihood in fewer terms: a univariate model of
    a boolean has a few thousand cells for a million rows).
    """

    def __init__(self, times: SurvivalTimes, x: np.ndarray, weights: np.ndarray | None) -> None:
        self.times, self.x = times, x
        pattern, n_groups = _patterns(x), len(times.group_time)
        n_patterns = pattern.max() + 1
        if 2 * n_groups * n_patterns <= len(x):
            self.unit_of_row = _numbered((times.group * 2 + times.events) * n_patterns + pattern,
                                         2 * n_groups * n_patterns)
            units = np.empty(self.unit_of_row.max() + 1, dtype=np.intp)
            units[self.unit_of_row] = np.arange(len(x))  # a row of each cell
            self.unit_weight = np.bincount(self.unit_of_row, weights=weights).astype(float)
        else:
            self.unit_of_row, units, self.unit_weight = None, slice(None), weights
        self.group, self.events = times.group[units], times.events[units]
        self.pattern = pattern[units]
        rows_of_patterns = np.empty(n_patterns, dtype=np.intp)
        rows_of_patterns[pattern] = np.arange(len(x))
        # centring changes no result, only round-off (as R does)
        self.patterns = x[rows_of_patterns] - x.mean(axis=0)
        self.xc = self.patterns[self.pattern]
        n_units, n_steps = len(self.group), len(times.step_group)
        # (group, then group of the events) x unit and group x step indicators:
        # one product sums all columns per group over all units and over the
        # events (unit weights as the matrix's data: no units x p product)
        self._event_units = np.flatnonzero(self.events)
        self._unit_slots = np.arange(n_units) + np.cumsum(self.events) - self.events
        self._event_slots = self._unit_slots[self._event_units] + 1
        indices = np.empty(n_units + len(self._event_units), dtype=np.intp)
        indices[self._unit_slots] = self.group
        indices[self._event_slots] = n_groups + self.group[self._event_units]
        self._by_unit = sparse.csc_matrix(
            (np.empty(len(indices)), indices, np.append(self._unit_slots, len(indices))),
            shape=(2 * n_groups, n_units))
        self._by_step = sparse.csr_matrix(
            (np.ones(n_steps), np.arange(n_steps), np.concatenate(([0], np.cumsum(times.deaths)))),
            shape=(n_groups, n_steps))
        event_weight = self.events * (1.0 if self.unit_weight is None else self.unit_weight)
        self.death_weight = self.group_sums(event_weight)
        self.mean_weight = self.death_weight / np.maximum(times.deaths, 1)
        self.death_x = self.group_sums(event_weight, self.xc)[1]
        self.pattern_death_weight = self.pattern_sums(event_weight)

    def pattern_sums(self, unit_weights: np.ndarray) -> np.ndarray:
        """Per covariate pattern, the sum of ``unit_weights``."""
        return np.bincount(self.pattern, weights=unit_weights, minlength=len(self.patterns))

    def group_sums(self, unit_weights: np.ndarray, values: np.ndarray | None = None):
        """Per group, the sum of ``unit_weights``; with ``values`` (rows per unit), the
        sums of ``unit_weights`` x ``values`` over the group's units and over its events."""
        n_groups = len(self.times.group_time)
        if values is None:
            return np.bincount(self.group, weights=unit_weights, minlength=n_groups)
        data = self._by_unit.data
        data[self._unit_slots] = unit_weights
        data[self._event_slots] = unit_weights[self._event_units]
        both = self._by_unit @ values
        return both[:n_groups], both[n_groups:]

    def at(self, beta: np.ndarray) -> _EfronAt:
        times, events = self.times, self.events
        eta = self.patterns @ beta
        shift = eta.max()
        exp_eta = np.exp(eta - shift)[self.pattern]  # a common factor cancels in every ratio
        risk = exp_eta if self.unit_weight is None else exp_eta * self.unit_weight
        event_risk = np.where(events, risk, 0.0)
        r0 = times.cumulative(self.group_sums(risk), reverse=True)
        d0 = self.group_sums(event_risk)
        r1, d1 = self.group_sums(risk, self.xc)
        r1 = times.cumulative(r1, reverse=True)
        group = times.step_group
        s0 = r0[group] - times.step_fraction * d0[group]
        inv_s0 = 1.0 / s0
        m = self.mean_weight
        a, c = (self._by_step @ inv_s0) * m, (self._by_step @ (inv_s0 * inv_s0)) * m
        # the sums with f = k/d follow from f = (R - s0) / D: no more per-step arrays
        # (their cancellation is at the round-off of the terms they multiply)
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(d0 > 0, (r0 * a - m * times.deaths) / d0, 0.0)
            e = np.where(d0 > 0, (r0 * c - a) / d0, 0.0)
            g = np.where(d0 > 0, (r0 * r0 * c - 2 * r0 * a + m * times.deaths) / (d0 * d0), 0.0)
        log_likelihood = float(eta @ self.pattern_death_weight - m @ (self._by_step @ np.log(s0))
                               - m @ times.deaths * shift)
        return _EfronAt(self, exp_eta, risk, event_risk, r1, d1, a, b, c, e, g, log_likelihood)


@dataclass(frozen=True, eq=False)
class _EfronAt:
    """The Efron sums at one coefficient vector (see :class:`_EfronSums`)."""

    sums: _EfronSums
    exp_eta: np.ndarray        # per unit: exp(linear predictor), rescaled
    risk: np.ndarray           # per unit: its weight x exp_eta
    event_risk: np.ndarray     # per unit: risk of the events, 0 for censorings
    r1: np.ndarray             # per group: sum of r x over the risk set
    d1: np.ndarray             # per group: sum of r x over the tied events
    a: np.ndarray              # per group, sums over its steps of m/s0,
    b: np.ndarray              # m f/s0,
    c: np.ndarray              # m/s0^2,
    e: np.ndarray              # m f/s0^2
    g: np.ndarray              # and m f^2/s0^2
    log_likelihood: float      # Efron log partial likelihood

    @cached_property
    def mean_sum(self) -> np.ndarray:          # per group: sum over steps of m s1/s0
        return self.r1 * self.a[:, None] - self.d1 * self.b[:, None]

    @property
    def mean_over_s0_sum(self) -> np.ndarray:  # per group: sum over steps of m s1/s0^2
        return self.r1 * self.c[:, None] - self.d1 * self.e[:, None]

    @property
    def score(self) -> np.ndarray:             # gradient of the log partial likelihood
        return self.sums.death_x.sum(axis=0) - self.mean_sum.sum(axis=0)

    @cached_property
    def information(self) -> np.ndarray:
        return self.time_weighted_information(None)

    def time_weighted_information(self, h: np.ndarray | None) -> np.ndarray:
        """Sum over groups of ``h`` times the risk-set covariance summed over the steps.

        Per step, that covariance is ``s2/s0 - s1 s1'/s0^2``; summed over a
        group's steps it is ``R2 a - D2 b - R1 R1' c + (R1 D1' + D1 R1') e -
        D1 D1' g``. ``R2`` sums ``r x x'`` over the stratum's rows with time
        >= t, so summed over groups with weights ``h a`` each row counts once
        with ``r_i cumsum(h a)[t_i]``; ``D2`` only at its own group. ``h =
        None`` is ``h = 1``: the observed information.
        """
        a, b, c, e, g = ((self.a, self.b, self.c, self.e, self.g) if h is None else
                         (h * self.a, h * self.b, h * self.c, h * self.e, h * self.g))
        sums = self.sums
        q = sums.pattern_sums(self.risk * sums.times.cumulative(a)[sums.group]
                              - self.event_risk * b[sums.group])
        r1, d1 = self.r1, self.d1
        cross = (r1 * e[:, None]).T @ d1
        information = ((sums.patterns * q[:, None]).T @ sums.patterns - (r1 * c[:, None]).T @ r1
                       + cross + cross.T - (d1 * g[:, None]).T @ d1)
        return (information + information.T) / 2  # exactly symmetric, as the sums are


def _newton(sums: _EfronSums) -> tuple[np.ndarray, np.ndarray, _EfronAt] | None:
    """Maximise the Efron partial likelihood by Newton-Raphson (step halving if it drops).

    Returns (beta, inverse information, the Efron sums at beta), or None if
    the information is singular, Newton does not converge, or a
    coefficient's information fell below ``SEPARATION_INFORMATION`` of its
    value at 0 (the likelihood rising toward an infinite coefficient).
    """
    beta = np.zeros(sums.x.shape[1])
    current = sums.at(beta)
    initial_information = np.diag(current.information)
    for _ in range(MAX_NEWTON_STEPS):
        try:
            delta = np.linalg.solve(current.information, current.score)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(delta)):
            return None
        step = 1.0
        while True:
            candidate = sums.at(beta + step * delta)
            if candidate.log_likelihood >= current.log_likelihood - 1e-12 * abs(
                    current.log_likelihood) or step < 1e-4:
                break
            step /= 2
        beta, current = beta + step * delta, candidate
        if np.max(np.abs(step * delta)) <= NEWTON_TOLERANCE * max(1.0, np.max(np.abs(beta))):
            if (np.diag(current.information) < SEPARATION_INFORMATION * initial_information).any():
                return None
            try:
                return beta, np.linalg.inv(current.information), current
            except np.linalg.LinAlgError:
                return None
    return None


def _score_residuals(at: _EfronAt) -> np.ndarray:
    """Score residuals with Efron ties, unweighted (R ``residuals(fit, "score")``, coxscore2.c).

    Row i gets ``int (x_i - xbar) dN_i - int Y_i exp(eta_i) (x_i - xbar)
    dLambda``: at the ``k``-th of ``d`` tied events the hazard increment is
    ``m/s0_k``, the tied events take part with weight ``1 - k/d`` and
    censorings at that time with weight 1; each tied event collects ``1/d``
    of ``x_i - xbar_k`` per step.
    """
    sums = at.sums
    times, events = sums.times, sums.events
    mean_over_s0 = at.mean_over_s0_sum
    keep_mean_over_s0 = mean_over_s0 - (at.r1 * at.e[:, None] - at.d1 * at.g[:, None])
    mean_of_means = at.mean_sum / np.where(times.deaths > 0, sums.death_weight, 1.0)[:, None]
    j, cell = sums.group, 2 * sums.group + events  # per unit: its group, and (group, event)
    a = times.cumulative(at.a, exclusive=True)[j] + np.where(events, (at.a - at.b)[j], at.a[j])
    b_before = times.cumulative(mean_over_s0, exclusive=True)
    # residual = x (event - exp(eta) a) + exp(eta) b - event x mean: per-(group, event)
    # tables gathered once each, no other units x p temporaries
    b = np.stack((b_before + mean_over_s0, b_before + keep_mean_over_s0), axis=1)
    residuals = sums.xc * (events - at.exp_eta * a)[:, None]
    compensated = b.reshape(-1, b.shape[-1])[cell]
    compensated *= at.exp_eta[:, None]
    residuals += compensated
    means = np.stack((np.zeros_like(mean_of_means), mean_of_means), axis=1)
    residuals -= means.reshape(-1, means.shape[-1])[cell]
    return residuals if sums.unit_of_row is None else residuals[sums.unit_of_row]


def _cluster_codes(frame: pd.DataFrame, cluster_col: str) -> np.ndarray:
    """Codes 0, 1, ... of the clusters in order of first row: the variance's last bits
    (a sum over clusters) follow the frame's row order, not the order labels came in."""
    require_columns(frame, [cluster_col], "a clustered Cox model")
    clusters = frame[cluster_col]
    if clusters.isna().any():
        raise ValueError(f"{cluster_col} has missing values: every row needs a cluster")
    if isinstance(clusters.dtype, pd.CategoricalDtype):
        return pd.factorize(clusters.cat.codes.to_numpy())[0]  # integers: no label hashed
    return pd.factorize(clusters.to_numpy(), sort=False)[0]


def robust_variance(score_residuals: np.ndarray, model_variance: np.ndarray,
                    cluster_codes: np.ndarray | None, weights: np.ndarray | None = None
                    ) -> np.ndarray:
    """Lin-Wei sandwich: D'D with D the weighted dfbeta residuals summed within clusters.

    ``dfbeta = w x score residuals @ model variance`` (R ``residuals(fit,
    "dfbeta", weighted = TRUE)``); R's ``coxph`` robust variance is exactly
    this, with no small-sample factor. The residuals are summed per cluster
    before the product (the same D). ``cluster_codes`` numbers the clusters
    0, 1, ... (None: one cluster per row); a number no row has adds a zero
    row to D and changes nothing.
    """
    if weights is not None:
        score_residuals = score_residuals * weights[:, None]
    if cluster_codes is not None:
        score_residuals = np.stack([np.bincount(cluster_codes, weights=column)
                                    for column in score_residuals.T], axis=1)
    dfbeta = score_residuals @ model_variance
    return dfbeta.T @ dfbeta
