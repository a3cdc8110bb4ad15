"""Cox proportional-hazards machinery shared by survival, regression and subgroups.

The coefficients, the model-based variance and the log partial likelihood
come from a vectorised Newton-Raphson on the Efron partial likelihood
(:func:`_newton_efron`; per-time sums with ``bincount`` and the information
as one matrix product, O(n p^2) per step and no Python loop over subjects or
times), which converges to lifelines'
``CoxPHFitter`` estimates (Efron ties, no penalty) and falls back to it when
the information is singular or the iterations do not converge. Two things are
computed here because lifelines does not match R's ``survival`` on them:

- **Score residuals with Efron ties** (for the robust, cluster-summed
  sandwich variance of ``coxph(..., cluster = id)``). lifelines' own score
  residuals ignore tied event times (its source says "doesn't handle ties"),
  and real-world months have many ties.
- **The proportional-hazards test of ``cox.zph``** as R computes it since
  survival 3.0: an exact score test for adding ``x * g(t)`` to the model,
  with ``g(t) = 1 - KM(t-)`` for ``transform = "km"``. lifelines'
  ``proportional_hazard_test`` implements the older Grambsch-Therneau
  approximation and a right-continuous KM transform, so its numbers differ.

Both follow the C code of R's survival package (``coxscore2.c``,
``zph1.c``): Efron's approximation removes ``k/d`` of the tied deaths' risk
from the risk set at the ``k``-th of ``d`` tied deaths.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from scipy import stats

from rwe_stats._checks import numeric_design, require_columns, survival_arrays

TIES_METHOD = "efron"
MODEL_VARIANCE = "model-based (inverse observed information)"
ZPH_TRANSFORMS = ("km", "identity", "log", "rank")
# lifelines' Newton-Raphson stops by default at a relative log-likelihood change
# of 1e-9, which leaves ~1e-6 in the coefficients; iterate to machine precision.
FIT_OPTIONS = {"precision": 1e-12, "r_precision": 1e-15}
# The fit itself is a vectorised Newton-Raphson on the Efron partial
# likelihood (_newton_efron): lifelines' own loops run in Python per subject
# or per unique time and took most of a 1,000,000-patient build. It stops when
# no coefficient moves by more than this (relative to max(1, |beta|)), which
# after Newton's quadratic convergence leaves round-off only.
NEWTON_TOLERANCE = 1e-10
MAX_NEWTON_STEPS = 50
# Fallback (singular information, no convergence): lifelines, as before, in
# its per-unique-time "batch" mode; its heuristic picks the per-subject Python
# loop above ~100,000 rows. Both compute the same Efron quantities.
BATCH_MODE = True


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model: estimates plus what the residual-based methods need."""

    terms: tuple[str, ...]
    coefficients: np.ndarray
    model_variance: np.ndarray
    variance: np.ndarray
    variance_method: str
    log_likelihood: float
    durations: np.ndarray
    events: np.ndarray
    design: np.ndarray
    # the Efron sums at the estimate, kept for the PH test (not part of the result)
    efron: tuple[_EfronSums, _EfronAt] | None = field(default=None, repr=False, compare=False)

    @property
    def standard_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.variance))

    def wald(self, alpha: float) -> pd.DataFrame:
        """Hazard ratio, Wald CI on the log scale and two-sided Wald p, per term."""
        z = stats.norm.ppf(1 - alpha / 2)
        beta, se = self.coefficients, self.standard_errors
        return pd.DataFrame({
            "term": list(self.terms),
            "hr": np.exp(beta),
            "ci_lower": np.exp(beta - z * se),
            "ci_upper": np.exp(beta + z * se),
            "p_value": 2 * stats.norm.sf(np.abs(beta / se)),
        })


def fit_cox(frame: pd.DataFrame, duration_col: str, event_col: str, terms: Sequence[str],
            cluster_col: str | None = None) -> CoxFit:
    """Fit a Cox model with Efron ties; robust variance clustered on ``cluster_col`` if given."""
    terms = list(terms)
    design = numeric_design(frame, terms)
    durations, events = survival_arrays(frame, duration_col, event_col)
    if not events.any():
        raise ValueError(f"{event_col} has no events: a Cox model cannot be estimated")
    x = design.to_numpy(dtype=float)
    fitted = _newton_efron(durations, events, x)
    if fitted is None:
        beta, model_variance, log_likelihood = _fit_with_lifelines(durations, events, x)
        efron = None
    else:
        beta, model_variance, log_likelihood, efron = fitted
    variance, method = model_variance, MODEL_VARIANCE
    if cluster_col is not None:
        require_columns(frame, [cluster_col], "a clustered Cox model")
        clusters = frame[cluster_col]
        if clusters.isna().any():
            raise ValueError(f"{cluster_col} has missing values: every row needs a cluster")
        sums, at = efron if efron is not None else _efron_at(durations, events, x, beta)
        variance = robust_variance(_score_residuals(sums, at), model_variance,
                                   _cluster_codes(clusters))
        method = (f"robust sandwich clustered on {cluster_col} (Lin-Wei; "
                  "R coxph(..., cluster = ))")
    return CoxFit(tuple(terms), beta, model_variance, variance, method,
                  log_likelihood, durations, events, x, efron)


def _fit_with_lifelines(durations: np.ndarray, events: np.ndarray,
                        x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    columns = [f"_x{index}" for index in range(x.shape[1])]
    data = pd.DataFrame(x, columns=columns)
    data["_duration"], data["_event"] = durations, events.astype(int)
    fitter = CoxPHFitter()  # penalizer=0: unpenalised partial likelihood, Efron ties
    fitter.fit(data, duration_col="_duration", event_col="_event", fit_options=FIT_OPTIONS,
               batch_mode=BATCH_MODE)
    beta = fitter.params_[columns].to_numpy(dtype=float)
    model_variance = fitter.variance_matrix_.loc[columns, columns].to_numpy(dtype=float)
    return beta, model_variance, float(fitter.log_likelihood_)


class _EfronSums:
    """Risk-set sums of a Cox model with Efron ties, aggregated per unique time.

    At a time with ``d`` tied events, Efron's ``k``-th step (``k = 0..d-1``,
    ``f = k/d``) uses ``s_k = R - f D``, with ``R`` the sums over the risk
    set and ``D`` over the tied events, of ``w``, ``w x`` and ``w x x'``.
    Every quantity the fit, the score residuals and the PH test need is a sum
    over steps of ``1/s0_k``, ``f/s0_k``, ``1/s0_k^2``, ``f/s0_k^2`` or
    ``f^2/s0_k^2`` times ``R`` or ``D``, so only those five scalars are summed
    per step, and the second moments are never summed per time: a sum over
    times of ``w x x'`` over the risk set is ``X' diag(q) X`` for one weight
    ``q`` per subject (see :meth:`_EfronAt.time_weighted_information`).
    Memory is O(n p + times p), and all work is vectorised (one ``bincount``
    per column, one matrix product for the information).
    """

    def __init__(self, durations: np.ndarray, events: np.ndarray, x: np.ndarray) -> None:
        self.events = np.asarray(events, dtype=bool)
        self.xc = x - x.mean(axis=0)  # centring changes no result, only round-off (as R does)
        (self.unique_times, self.time_index, self.deaths, self.step_time,
         self.step_fraction) = _time_structure(np.asarray(durations), self.events)
        self.death_x = self._by_time(np.where(self.events[:, None], self.xc, 0.0))

    def _by_time(self, values: np.ndarray) -> np.ndarray:
        n_times = len(self.unique_times)
        if values.ndim == 1:
            return np.bincount(self.time_index, weights=values, minlength=n_times)
        return np.stack([np.bincount(self.time_index, weights=values[:, j], minlength=n_times)
                         for j in range(values.shape[1])], axis=1)

    def _by_step(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.step_time, weights=values, minlength=len(self.unique_times))

    def at(self, beta: np.ndarray) -> _EfronAt:
        xc, events = self.xc, self.events
        eta = xc @ beta
        shift = eta.max()
        weights = np.exp(eta - shift)  # a common factor cancels in every ratio
        event_weight = np.where(events, weights, 0.0)
        # risk set at time j: everyone whose time is >= t_j
        r0 = _reverse_cumsum(self._by_time(weights))
        d0 = self._by_time(event_weight)
        r1 = _reverse_cumsum(self._by_time(weights[:, None] * xc))
        d1 = self._by_time(event_weight[:, None] * xc)
        f = self.step_fraction
        s0 = r0[self.step_time] - f * d0[self.step_time]
        inv_s0 = 1.0 / s0
        inv_s0_sq = inv_s0 * inv_s0
        steps = _StepSums(self._by_step(inv_s0), self._by_step(f * inv_s0),
                          self._by_step(inv_s0_sq), self._by_step(f * inv_s0_sq),
                          self._by_step(f * f * inv_s0_sq))
        log_likelihood = float(eta[events].sum() - np.log(s0).sum() - len(s0) * shift)
        return _EfronAt(self, weights, event_weight, r1, d1, steps, log_likelihood)


# The fits of one table share their survival times: every term's univariate
# and the multivariable model of one cohort and endpoint, its null model, and
# the PH test. np.unique sorting the times took ~4 s of cox_results' 27 s at
# 1,000,000 patients when run once per fit. Only exactly equal inputs share
# (compared element by element against a copy); the shared arrays are
# read-only, so no fit can change another's; a lock, because dbt runs two
# Python models in threads of one process.
_TIME_STRUCTURES: list[tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]] = []
_TIME_STRUCTURES_KEPT = 4  # 32 MB each at 1,000,000 patients
_TIME_STRUCTURES_LOCK = threading.Lock()


def _time_structure(durations: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unique times, each subject's time index, deaths per time, and Efron's steps.

    Step ``k`` of the ``d`` tied deaths at a time has ``step_time`` = that
    time's index and ``step_fraction`` = ``k / d``.
    """
    with _TIME_STRUCTURES_LOCK:
        for position, (seen_durations, seen_events, structure) in enumerate(_TIME_STRUCTURES):
            # array_equal compares shapes first; equal values of another dtype
            # would give unique times of the wrong dtype
            if (seen_durations.dtype == durations.dtype
                    and np.array_equal(seen_durations, durations)
                    and np.array_equal(seen_events, events)):
                _TIME_STRUCTURES.append(_TIME_STRUCTURES.pop(position))  # most recent last
                return structure
    unique_times, time_index = np.unique(durations, return_inverse=True)
    n_times = len(unique_times)
    deaths = np.bincount(time_index, weights=events.astype(float),
                         minlength=n_times).astype(int)
    step_time = np.repeat(np.arange(n_times), deaths)
    first_step = np.concatenate(([0], np.cumsum(deaths)[:-1]))
    step_k = np.arange(len(step_time)) - first_step[step_time]
    structure = (unique_times, time_index, deaths, step_time, step_k / deaths[step_time])
    for array in structure:
        array.flags.writeable = False
    with _TIME_STRUCTURES_LOCK:
        _TIME_STRUCTURES.append((durations.copy(), events.copy(), structure))
        del _TIME_STRUCTURES[:-_TIME_STRUCTURES_KEPT]
    return structure


def _reverse_cumsum(values: np.ndarray) -> np.ndarray:
    return np.cumsum(values[::-1], axis=0)[::-1]


@dataclass(frozen=True)
class _StepSums:
    """Per time, sums over its Efron steps of 1/s0, f/s0, 1/s0^2, f/s0^2, f^2/s0^2."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    e: np.ndarray
    g: np.ndarray


@dataclass(frozen=True)
class _EfronAt:
    """The Efron sums at one coefficient vector (see :class:`_EfronSums`)."""

    sums: _EfronSums
    weights: np.ndarray        # per subject: exp(linear predictor), rescaled
    event_weight: np.ndarray   # per subject: weights of the events, 0 for censorings
    r1: np.ndarray             # per time: sum of w x over the risk set
    d1: np.ndarray             # per time: sum of w x over the tied events
    steps: _StepSums
    log_likelihood: float      # Efron log partial likelihood

    @property
    def inv_s0_sum(self) -> np.ndarray:       # per time: sum over steps of 1/s0
        return self.steps.a

    @property
    def keep_inv_s0_sum(self) -> np.ndarray:  # per time: sum over steps of (1 - k/d)/s0
        return self.steps.a - self.steps.b

    @cached_property
    def mean_sum(self) -> np.ndarray:         # per time: sum over steps of s1/s0
        return self.r1 * self.steps.a[:, None] - self.d1 * self.steps.b[:, None]

    @property
    def mean_over_s0_sum(self) -> np.ndarray:  # per time: sum over steps of s1/s0^2
        return self.r1 * self.steps.c[:, None] - self.d1 * self.steps.e[:, None]

    @property
    def keep_mean_over_s0_sum(self) -> np.ndarray:  # ... of (1 - k/d) s1/s0^2
        return self.mean_over_s0_sum - (self.r1 * self.steps.e[:, None]
                                        - self.d1 * self.steps.g[:, None])

    @property
    def score(self) -> np.ndarray:            # gradient of the log partial likelihood
        return self.sums.death_x.sum(axis=0) - self.mean_sum.sum(axis=0)

    @cached_property
    def information(self) -> np.ndarray:
        return self.time_weighted_information(None)

    def time_weighted_information(self, h: np.ndarray | None) -> np.ndarray:
        """Sum over times of ``h_t`` times the risk-set covariance summed over the steps.

        Per step, that covariance is ``s2/s0 - s1 s1'/s0^2``; summed over a
        time's steps it is ``R2 a - D2 b - R1 R1' c + (R1 D1' + D1 R1') e -
        D1 D1' g``. ``R2`` sums ``w x x'`` over everyone with time >= t, so
        summed over times with weights ``h a`` each subject i counts once with
        ``w_i cumsum(h a)[t_i]``; ``D2`` only at its own time. ``h = None``
        is ``h = 1``: the observed information.
        """
        s = self.steps
        a, b, c, e, g = ((s.a, s.b, s.c, s.e, s.g) if h is None else
                         (h * s.a, h * s.b, h * s.c, h * s.e, h * s.g))
        index, xc = self.sums.time_index, self.sums.xc
        q = self.weights * np.cumsum(a)[index] - self.event_weight * b[index]
        r1, d1 = self.r1, self.d1
        cross = (r1 * e[:, None]).T @ d1
        information = ((xc * q[:, None]).T @ xc - (r1 * c[:, None]).T @ r1
                       + cross + cross.T - (d1 * g[:, None]).T @ d1)
        return (information + information.T) / 2  # exactly symmetric, as the sums are


EfronState = tuple[_EfronSums, _EfronAt]


def _efron_at(durations: np.ndarray, events: np.ndarray, x: np.ndarray,
              beta: np.ndarray) -> EfronState:
    sums = _EfronSums(durations, events, x)
    return sums, sums.at(beta)


def _newton_efron(durations: np.ndarray, events: np.ndarray, x: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, float, EfronState] | None:
    """Maximise the Efron partial likelihood by Newton-Raphson (step halving if it drops).

    Returns (beta, inverse information, log-likelihood, the Efron sums at
    beta) at convergence, or None if the information is singular or the
    iterations do not converge (separation, collinearity): the caller then
    uses lifelines, which raises or warns as it always did.
    """
    sums = _EfronSums(durations, events, x)
    beta = np.zeros(x.shape[1])
    current = sums.at(beta)
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
            try:
                variance = np.linalg.inv(current.information)
            except np.linalg.LinAlgError:
                return None
            return beta, variance, current.log_likelihood, (sums, current)
    return None


def efron_score_residuals(durations: np.ndarray, events: np.ndarray, x: np.ndarray,
                          beta: np.ndarray) -> np.ndarray:
    """Score residuals of a Cox model with Efron ties (R ``residuals(fit, "score")``).

    Subject i gets ``int (x_i - xbar) dN_i - int Y_i w_i (x_i - xbar) dLambda``
    where, at a time with ``d`` tied events, the ``k``-th Efron step uses the
    risk set with ``k/d`` of the tied events' risk removed, the tied events
    take part in it with weight ``1 - k/d`` and censorings at that time with
    weight 1.
    """
    return _score_residuals(*_efron_at(durations, events, x, beta))


def _score_residuals(sums: _EfronSums, at: _EfronAt) -> np.ndarray:
    xc, events, p = sums.xc, sums.events, sums.xc.shape[1]
    a_at, b_at = at.inv_s0_sum, at.mean_over_s0_sum
    a_before = np.concatenate(([0.0], np.cumsum(a_at)[:-1]))
    b_before = np.vstack([np.zeros((1, p)), np.cumsum(b_at, axis=0)[:-1]])
    mean_of_means = at.mean_sum / np.maximum(sums.deaths, 1)[:, None]

    j = sums.time_index
    a = a_before[j] + np.where(events, at.keep_inv_s0_sum[j], a_at[j])
    b = b_before[j] + np.where(events[:, None], at.keep_mean_over_s0_sum[j], b_at[j])
    compensator = at.weights[:, None] * (xc * a[:, None] - b)
    observed = np.where(events[:, None], xc - mean_of_means[j], 0.0)
    return observed - compensator


def _cluster_codes(clusters: pd.Series) -> np.ndarray:
    """Non-negative integer codes, one per cluster (their order does not matter)."""
    if isinstance(clusters.dtype, pd.CategoricalDtype):
        # the codes are already there: to_numpy() would rebuild a million
        # strings and factorize would hash them again at every fit
        return clusters.cat.codes.to_numpy(dtype=np.int64)
    return pd.factorize(clusters.to_numpy(), sort=False)[0]


def robust_variance(score_residuals: np.ndarray, model_variance: np.ndarray,
                    cluster_codes: np.ndarray) -> np.ndarray:
    """Lin-Wei sandwich: D'D with D the dfbeta residuals summed within clusters.

    ``dfbeta = score residuals @ model variance`` (R ``residuals(fit,
    "dfbeta")``); R ``coxph(..., cluster = id)`` reports exactly this, with
    no small-sample factor. ``cluster_codes`` numbers the clusters 0, 1, ...;
    a number no row has adds a zero row to D and changes nothing.
    """
    dfbeta = score_residuals @ model_variance
    # codes + bincount: a sorted groupby on the string pair ids took ~1 s a
    # fit at 1,000,000 patients; D'D does not depend on cluster order
    summed = np.stack([np.bincount(cluster_codes, weights=dfbeta[:, j])
                       for j in range(dfbeta.shape[1])], axis=1)
    return summed.T @ summed


def _time_transform(sums: _EfronSums, durations: np.ndarray, transform: str) -> np.ndarray:
    """g(t) at every unique time of ``sums``, as R's ``cox.zph`` defines it."""
    unique_times = sums.unique_times
    if transform == "km":
        # left-continuous Kaplan-Meier of the whole data: 1 - S(t-); the
        # number at risk at t is everyone whose time is >= t
        at_risk = _reverse_cumsum(np.bincount(sums.time_index, minlength=len(unique_times)))
        survival = np.cumprod(1.0 - sums.deaths / at_risk)
        before = np.concatenate(([1.0], survival[:-1]))
        return 1.0 - before
    if transform == "identity":
        return unique_times.astype(float)
    if transform == "log":
        if (unique_times <= 0).any():
            raise ValueError("the 'log' time transform needs positive times")
        return np.log(unique_times)
    if transform == "rank":
        ranks = stats.rankdata(durations, method="average")
        return pd.Series(ranks).groupby(durations).first().to_numpy()
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
    over events, which changes nothing but round-off.
    """
    sums, at = fit.efron if fit.efron is not None else _efron_at(
        fit.durations, fit.events, fit.design, fit.coefficients)
    g_time = _time_transform(sums, fit.durations, transform)
    g_time = g_time - np.sum(sums.deaths * g_time) / sums.deaths.sum()
    p = len(fit.coefficients)
    u_gamma = (g_time[:, None] * (sums.death_x - at.mean_sum)).sum(axis=0)
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

