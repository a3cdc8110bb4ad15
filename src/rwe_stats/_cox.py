"""Cox proportional-hazards machinery shared by survival, regression and subgroups.

The coefficients, the model-based variance and the log partial likelihood
come from a vectorised Newton-Raphson on the Efron partial likelihood
(:func:`_newton_efron`; per-time sums with ``bincount``, O(n p^2) per step and
no Python loop over subjects or times), which converges to lifelines'
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

from collections.abc import Sequence
from dataclasses import dataclass

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
        fitted = _fit_with_lifelines(durations, events, x)
    beta, model_variance, log_likelihood = fitted
    variance, method = model_variance, MODEL_VARIANCE
    if cluster_col is not None:
        require_columns(frame, [cluster_col], "a clustered Cox model")
        clusters = frame[cluster_col]
        if clusters.isna().any():
            raise ValueError(f"{cluster_col} has missing values: every row needs a cluster")
        variance = robust_variance(durations, events, x, beta, model_variance,
                                   clusters.to_numpy())
        method = (f"robust sandwich clustered on {cluster_col} (Lin-Wei; "
                  "R coxph(..., cluster = ))")
    return CoxFit(tuple(terms), beta, model_variance, variance, method,
                  log_likelihood, durations, events, x)


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
    per step: memory is O(n p + times p^2), never O(events p^2), and all work
    is vectorised (one ``bincount`` per column or column pair).
    """

    def __init__(self, durations: np.ndarray, events: np.ndarray, x: np.ndarray) -> None:
        self.events = np.asarray(events, dtype=bool)
        self.xc = x - x.mean(axis=0)  # centring changes no result, only round-off (as R does)
        self.unique_times, self.time_index = np.unique(durations, return_inverse=True)
        n_times = len(self.unique_times)
        self.deaths = np.bincount(self.time_index, weights=self.events.astype(float),
                                  minlength=n_times).astype(int)
        self.death_x = self._by_time(np.where(self.events[:, None], self.xc, 0.0))
        self.step_time = np.repeat(np.arange(n_times), self.deaths)
        first_step = np.concatenate(([0], np.cumsum(self.deaths)[:-1]))
        step_k = np.arange(len(self.step_time)) - first_step[self.step_time]
        self.step_fraction = step_k / self.deaths[self.step_time]

    def _by_time(self, values: np.ndarray) -> np.ndarray:
        n_times = len(self.unique_times)
        if values.ndim == 1:
            return np.bincount(self.time_index, weights=values, minlength=n_times)
        return np.stack([np.bincount(self.time_index, weights=values[:, j], minlength=n_times)
                         for j in range(values.shape[1])], axis=1)

    def _by_step(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.step_time, weights=values, minlength=len(self.unique_times))

    def at(self, beta: np.ndarray, second_moments: bool = True) -> _EfronAt:
        xc, events = self.xc, self.events
        p = xc.shape[1]
        eta = xc @ beta
        shift = eta.max()
        weights = np.exp(eta - shift)  # a common factor cancels in every ratio
        event_weight = np.where(events, weights, 0.0)

        def reverse_cumsum(values: np.ndarray) -> np.ndarray:
            return np.cumsum(values[::-1], axis=0)[::-1]

        # risk set at time j: everyone whose time is >= t_j
        r0 = reverse_cumsum(self._by_time(weights))
        d0 = self._by_time(event_weight)
        wx, ewx = weights[:, None] * xc, event_weight[:, None] * xc
        r1 = reverse_cumsum(self._by_time(wx))
        d1 = self._by_time(ewx)
        f = self.step_fraction
        s0 = r0[self.step_time] - f * d0[self.step_time]
        inv_s0 = 1.0 / s0
        inv_s0_sq = inv_s0 * inv_s0
        a, b = self._by_step(inv_s0), self._by_step(f * inv_s0)
        c, e, g = (self._by_step(inv_s0_sq), self._by_step(f * inv_s0_sq),
                   self._by_step(f * f * inv_s0_sq))
        # per time: sum over steps of the risk-set mean s1/s0 and of s1/s0^2
        mean_sum = r1 * a[:, None] - d1 * b[:, None]
        mean_over_s0_sum = r1 * c[:, None] - d1 * e[:, None]
        keep_mean_over_s0_sum = mean_over_s0_sum - (r1 * e[:, None] - d1 * g[:, None])
        log_likelihood = float(eta[events].sum() - np.log(s0).sum() - len(s0) * shift)
        info_by_time = None
        if second_moments:
            r2 = np.empty((len(r0), p, p))
            d2 = np.empty((len(r0), p, p))
            for j in range(p):
                for k in range(j, p):
                    product = xc[:, j] * xc[:, k]
                    r2[:, j, k] = r2[:, k, j] = self._by_time(weights * product)
                    d2[:, j, k] = d2[:, k, j] = self._by_time(event_weight * product)
            r2 = reverse_cumsum(r2)
            # sum over steps of the weighted risk-set covariance s2/s0 - s1 s1'/s0^2
            cross = r1[:, :, None] * d1[:, None, :]
            info_by_time = (
                r2 * a[:, None, None] - d2 * b[:, None, None]
                - r1[:, :, None] * r1[:, None, :] * c[:, None, None]
                + (cross + cross.transpose(0, 2, 1)) * e[:, None, None]
                - d1[:, :, None] * d1[:, None, :] * g[:, None, None]
            )
        return _EfronAt(weights, a, a - b, mean_sum, mean_over_s0_sum, keep_mean_over_s0_sum,
                        log_likelihood, self.death_x.sum(axis=0) - mean_sum.sum(axis=0),
                        info_by_time)


@dataclass(frozen=True)
class _EfronAt:
    """Per-time Efron sums at one coefficient vector (see :class:`_EfronSums`)."""

    weights: np.ndarray           # per subject: exp(linear predictor), rescaled
    inv_s0_sum: np.ndarray        # per time: sum over steps of 1/s0
    keep_inv_s0_sum: np.ndarray   # per time: sum over steps of (1 - k/d)/s0
    mean_sum: np.ndarray          # per time: sum over steps of s1/s0
    mean_over_s0_sum: np.ndarray  # per time: sum over steps of s1/s0^2
    keep_mean_over_s0_sum: np.ndarray  # per time: sum over steps of (1 - k/d) s1/s0^2
    log_likelihood: float         # Efron log partial likelihood
    score: np.ndarray             # gradient of the log partial likelihood
    info_by_time: np.ndarray | None  # per time: sum over steps of the risk-set covariance

    @property
    def information(self) -> np.ndarray:
        return self.info_by_time.sum(axis=0)


def _newton_efron(durations: np.ndarray, events: np.ndarray,
                  x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Maximise the Efron partial likelihood by Newton-Raphson (step halving if it drops).

    Returns (beta, inverse information, log-likelihood) at convergence, or
    None if the information is singular or the iterations do not converge
    (separation, collinearity): the caller then uses lifelines, which raises
    or warns as it always did.
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
            return beta, variance, current.log_likelihood
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
    sums = _EfronSums(durations, events, x)
    at = sums.at(beta, second_moments=False)
    xc, p = sums.xc, x.shape[1]
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


def robust_variance(durations: np.ndarray, events: np.ndarray, x: np.ndarray,
                    beta: np.ndarray, model_variance: np.ndarray,
                    clusters: np.ndarray) -> np.ndarray:
    """Lin-Wei sandwich: D'D with D the dfbeta residuals summed within clusters.

    ``dfbeta = score residuals @ model variance`` (R ``residuals(fit,
    "dfbeta")``); R ``coxph(..., cluster = id)`` reports exactly this, with
    no small-sample factor.
    """
    dfbeta = efron_score_residuals(durations, events, x, beta) @ model_variance
    # hash codes + bincount: a sorted groupby on the string pair ids took
    # ~1 s a fit at 1,000,000 patients; D'D does not depend on cluster order
    codes, uniques = pd.factorize(clusters, sort=False)
    summed = np.stack([np.bincount(codes, weights=dfbeta[:, j], minlength=len(uniques))
                       for j in range(dfbeta.shape[1])], axis=1)
    return summed.T @ summed


def _time_transform(durations: np.ndarray, events: np.ndarray, unique_times: np.ndarray,
                    transform: str) -> np.ndarray:
    """g(t) at every unique time, as R's ``cox.zph`` defines it."""
    if transform == "km":
        # left-continuous Kaplan-Meier of the whole data: 1 - S(t-)
        counts = np.searchsorted(np.sort(durations), unique_times, side="left")
        at_risk = len(durations) - counts
        deaths = _deaths_by_time(durations, events, unique_times)
        survival = np.cumprod(1.0 - deaths / at_risk)
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


def _deaths_by_time(durations: np.ndarray, events: np.ndarray,
                    unique_times: np.ndarray) -> np.ndarray:
    index = np.searchsorted(unique_times, durations)
    return np.bincount(index, weights=events.astype(float), minlength=len(unique_times))


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
    sums = _EfronSums(fit.durations, fit.events, fit.design)
    at = sums.at(fit.coefficients)
    g_time = _time_transform(fit.durations, fit.events, sums.unique_times, transform)
    g_time = g_time - np.sum(sums.deaths * g_time) / sums.deaths.sum()
    p = len(fit.coefficients)
    u_gamma = (g_time[:, None] * (sums.death_x - at.mean_sum)).sum(axis=0)
    information = np.zeros((2 * p, 2 * p))
    information[:p, :p] = at.information
    information[:p, p:] = (g_time[:, None, None] * at.info_by_time).sum(axis=0)
    information[p:, :p] = information[:p, p:].T
    information[p:, p:] = (g_time[:, None, None] ** 2 * at.info_by_time).sum(axis=0)
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

