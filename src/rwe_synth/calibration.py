"""Re-derive the calibrated constants of :mod:`rwe_synth.parameters`.

Run ``python -m rwe_synth.calibration`` after changing any parameter; it
prints the constants to paste into ``parameters.py``. It is a development
tool: the generator itself never calibrates at run time, so its output does
not depend on how long a calibration ran.

Method (all on one large simulated cohort, default 400,000 patients):

* PFS: the marginal survival of an arm is the mean of the patients'
  conditional Weibull survival curves, ``S_arm(t) = mean(exp(-scale * t**k *
  exp(eta_i)))``, which needs no event-time draws. For a given ICI log-HR the
  scale that puts the ICI median at its target is found by bisection; the ICI
  log-HR is then bisected until the non-ICI median hits its target.
* DCR and ORR: given the simulated PFS times and first-assessment days, the
  expected DCR of an arm is ``mean(evaluable * expit(a_dc + slope * log(T/3)))``
  and its ORR ``mean(evaluable * p_dc * expit(a_or + slope * log(T/3)))``;
  each arm's two intercepts are bisected to the targets.
* OS: the post-progression scale is bisected (common random numbers) until
  the pooled median of the latent OS equals its target.

The companion study's constants (:class:`~rwe_synth.parameters.CompanionStudy`)
are solved the same way on the companion population's eligible patients
(:func:`calibrate_companion`): the non-continuation arm's median fixes each
baseline scale (its linear predictor has no ``is_ici`` term), then
``is_ici`` is bisected to the continuation arm's median; for OS the marginal
survival is ``mean(1[T_i > t] + 1[T_i <= t, progression] * S_pps,i(t - T_i))``
over the simulated PFS times ``T_i``, which needs no post-progression draws.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

from rwe_synth.model import (
    COMPANION_ELIGIBLE,
    POPULATION_COMPANION,
    STATUS_ELIGIBLE,
    linear_predictor,
    simulate_companion_population,
    simulate_patients,
    simulate_reference_population,
)
from rwe_synth.parameters import COMPANION_TARGETS, DAYS_PER_MONTH, TARGETS, ModelParameters


def _bisect(function, low: float, high: float, iterations: int = 80) -> float:
    f_low = function(low)
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        f_middle = function(middle)
        if np.sign(f_middle) == np.sign(f_low):
            low, f_low = middle, f_middle
        else:
            high = middle
    return 0.5 * (low + high)


def marginal_median(eta: np.ndarray, scale: float, shape: float) -> float:
    """Median of the mixture of Weibull PH survival curves ``exp(-scale t^k e^eta)``."""
    return _bisect(lambda t: np.mean(np.exp(-scale * t ** shape * np.exp(eta))) - 0.5,
                   1e-6, 1000.0)


def calibrate_pfs(params: ModelParameters, n_patients: int = 400_000, seed: int = 1
                  ) -> tuple[float, float]:
    """(baseline_scale, log_hr_ici) hitting the target arm medians."""
    frame = simulate_patients(n_patients, 3, seed, params)
    frame = frame.loc[frame["status"] == STATUS_ELIGIBLE]
    target = TARGETS["median_pfs_months"]["value"]
    is_ici = frame["is_ici"].to_numpy()
    others = {term: value for term, value in params.pfs.log_hr.items() if term != "is_ici"}
    eta0 = linear_predictor(frame, others)
    shape = params.pfs.shape

    def scale_for(log_hr_ici: float) -> float:
        eta = eta0[is_ici] + log_hr_ici
        return float(np.exp(_bisect(
            lambda log_scale: marginal_median(eta, np.exp(log_scale), shape) - target["ICI"],
            -10.0, 5.0, 60)))

    def gap(log_hr_ici: float) -> float:
        scale = scale_for(log_hr_ici)
        return marginal_median(eta0[~is_ici], scale, shape) - target["non-ICI"]

    log_hr_ici = _bisect(gap, -2.0, 0.5, 40)
    return scale_for(log_hr_ici), log_hr_ici


def calibrate_response(params: ModelParameters, n_patients: int = 400_000, seed: int = 1
                       ) -> dict[str, dict[str, float]]:
    """Disease-control and objective-response intercepts per arm hitting the
    target DCRs and ORRs (expected values given the simulated PFS times)."""
    frame = simulate_patients(n_patients, 3, seed, params)
    frame = frame.loc[frame["status"] == STATUS_ELIGIBLE]
    return _response_intercepts(frame, params.response, {
        name: TARGETS[name]["value"] for name in ("disease_control_rate",
                                                  "objective_response_rate")})


def _response_intercepts(frame, rsp, targets: dict[str, dict[str, float]]
                         ) -> dict[str, dict[str, float]]:
    """Per arm, the disease-control and objective-response intercepts whose
    expected rates on ``frame`` (simulated PFS times) are the targets."""
    log_time = np.log(frame["pfs_latent_days"].to_numpy() / 30.4375 / 3.0)
    first = frame["second_line_first_assessment_offset"].to_numpy()
    evaluable = ((first < frame["pfs_latent_days"].to_numpy())
                 & (first <= frame["censor_days"].to_numpy()))
    intercepts: dict[str, dict[str, float]] = {"disease_control": {}, "objective": {}}
    for arm, mask in (("ICI", frame["is_ici"].to_numpy()),
                      ("non-ICI", ~frame["is_ici"].to_numpy())):
        x, e = log_time[mask], evaluable[mask]

        def dcr(intercept: float, x=x, e=e, arm=arm) -> float:
            p = 1 / (1 + np.exp(-(intercept + rsp.disease_control_slope_per_log_pfs * x)))
            return float(np.mean(e * p)) - targets["disease_control_rate"][arm]

        control = _bisect(dcr, -10.0, 10.0, 60)
        p_control = 1 / (1 + np.exp(-(control + rsp.disease_control_slope_per_log_pfs * x)))

        def orr(intercept: float, x=x, e=e, p_control=p_control, arm=arm) -> float:
            p = 1 / (1 + np.exp(-(intercept + rsp.objective_slope_per_log_pfs * x)))
            return (float(np.mean(e * p_control * p))
                    - targets["objective_response_rate"][arm])

        intercepts["disease_control"][arm] = control
        intercepts["objective"][arm] = _bisect(orr, -10.0, 10.0, 60)
    return intercepts


def calibrate_post_progression(params: ModelParameters, n_patients: int = 400_000,
                               seed: int = 1) -> float:
    """Post-progression baseline scale giving the pooled median OS target."""
    target = params.post_progression.target_pooled_median_os_months

    def gap(log_scale: float) -> float:
        changed = dataclasses.replace(
            params, post_progression=dataclasses.replace(
                params.post_progression, baseline_scale=float(np.exp(log_scale))))
        frame = simulate_patients(n_patients, 3, seed, changed)
        frame = frame.loc[frame["status"] == STATUS_ELIGIBLE]
        return target - float(np.median(frame["os_latent_days"])) / 30.4375

    return float(np.exp(_bisect(gap, -6.0, 2.0, 30)))


def log_rank_z(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> float:
    """The log-rank statistic (O - E) / sqrt(V) of ``group`` (positive when
    it has fewer events than expected), ties as in the usual hypergeometric
    variance."""
    order = np.argsort(time, kind="stable")
    time, event, group = time[order], event[order].astype(float), group[order].astype(float)
    unique, first = np.unique(time, return_index=True)
    at_risk = len(time) - first
    at_risk_group = group.sum() - np.concatenate([[0.0], np.cumsum(group)])[first]
    deaths = np.add.reduceat(event, first)
    deaths_group = np.add.reduceat(event * group, first)
    share = at_risk_group / at_risk
    expected = float(np.sum(deaths * share))
    variance = float(np.sum(deaths * share * (1 - share) * (at_risk - deaths)
                            / np.maximum(at_risk - 1, 1)))
    return (expected - float(deaths_group.sum())) / np.sqrt(variance)


def _companion_cohort(params: ModelParameters, n_patients: int, seed: int):
    frame = simulate_patients(n_patients, 3, seed, params)
    return frame.loc[(frame["population"] == POPULATION_COMPANION)
                     & (frame["companion_status"] == COMPANION_ELIGIBLE)]


def _with_companion(params: ModelParameters, **changes) -> ModelParameters:
    return dataclasses.replace(params, companion=dataclasses.replace(params.companion,
                                                                     **changes))


def calibrate_companion(params: ModelParameters, n_patients: int = 400_000, seed: int = 1
                        ) -> ModelParameters:
    """The parameters with the companion's calibrated constants (PFS scale and
    ``is_ici``, post-progression scale and ``is_ici``, response intercepts)
    hitting the companion's targets (``COMPANION_TARGETS``)."""
    targets = {name: COMPANION_TARGETS[name]["value"] for name in
               ("median_pfs_months", "median_os_months", "objective_response_rate",
                "disease_control_rate")}
    companion = params.companion

    # PFS: the discontinuation arm's median fixes the scale, then is_ici
    frame = _companion_cohort(params, n_patients, seed)
    is_ici = frame["is_ici"].to_numpy()
    pfs = companion.pfs
    others = {term: value for term, value in pfs.log_hr.items() if term != "is_ici"}
    eta0 = linear_predictor(frame, others)
    log_scale = _bisect(lambda x: marginal_median(eta0[~is_ici], np.exp(x), pfs.shape)
                        - targets["median_pfs_months"]["non-ICI"], -10.0, 5.0, 60)
    log_hr = _bisect(lambda b: marginal_median(eta0[is_ici] + b, np.exp(log_scale), pfs.shape)
                     - targets["median_pfs_months"]["ICI"], -3.0, 1.0, 60)
    params = _with_companion(params, pfs=dataclasses.replace(
        pfs, baseline_scale=round(float(np.exp(log_scale)), 4),
        log_hr={**pfs.log_hr, "is_ici": round(log_hr, 4)}))
    companion = params.companion

    # OS: the discontinuation arm's median (a mixture of the simulated PFS
    # times and the post-progression Weibull) fixes the scale; is_ici is set
    # so the expected OS log-rank statistic at the published size is the
    # abstract's (P = 0.016): the abstract's OS medians (8.66 vs 7.90) and
    # its P cannot both hold in this model (see docs/generator.md)
    frame = _companion_cohort(params, n_patients, seed)
    is_ici = frame["is_ici"].to_numpy()
    pps = companion.post_progression
    others = {term: value for term, value in pps.log_hr.items() if term != "is_ici"}
    eta0 = linear_predictor(frame[~is_ici], others)
    time = frame["pfs_latent_days"].to_numpy()[~is_ici] / DAYS_PER_MONTH
    progressed = ~frame["is_death_without_progression"].to_numpy()[~is_ici]

    def os_median(scale: float) -> float:
        def survival(t: float) -> float:
            after = np.exp(-scale * np.maximum(t - time, 0.0) ** pps.shape * np.exp(eta0))
            return float(np.mean(np.where(time > t, 1.0, progressed * after)))

        return _bisect(lambda t: survival(t) - 0.5, 1e-6, 1000.0, 50)

    scale = round(float(np.exp(_bisect(
        lambda x: os_median(np.exp(x)) - targets["median_os_months"]["non-ICI"],
        -8.0, 3.0, 40))), 4)
    z_target = float(stats.norm.isf(COMPANION_TARGETS["os_log_rank_p"]["value"] / 2))
    published = companion.published_patients
    reference = simulate_reference_population(n_patients, 3, seed, params)

    def z_gap(log_hr_ici: float) -> float:
        changed = _with_companion(params, post_progression=dataclasses.replace(
            pps, baseline_scale=scale, log_hr={**pps.log_hr, "is_ici": log_hr_ici}))
        cohort = simulate_companion_population(n_patients, 3, seed, changed, reference)
        cohort = cohort.loc[cohort["companion_status"] == COMPANION_ELIGIBLE]
        z = log_rank_z(cohort["os_days"].to_numpy(), cohort["is_os_event"].to_numpy(),
                       cohort["is_ici"].to_numpy())
        return z * np.sqrt(published / len(cohort)) - z_target

    log_hr = _bisect(z_gap, -1.5, 1.5, 25)
    params = _with_companion(params, post_progression=dataclasses.replace(
        pps, baseline_scale=scale, log_hr={**pps.log_hr, "is_ici": round(log_hr, 4)}))

    # response: expected DCR and ORR given the simulated PFS times
    intercepts = _response_intercepts(frame, params.companion.response, {
        "disease_control_rate": targets["disease_control_rate"],
        "objective_response_rate": targets["objective_response_rate"]})
    return _with_companion(params, response=dataclasses.replace(
        params.companion.response,
        disease_control_intercept={arm: round(v, 4) for arm, v in
                                   intercepts["disease_control"].items()},
        objective_intercept={arm: round(v, 4) for arm, v in intercepts["objective"].items()}))


def main() -> None:
    """Print the calibrated constants for the current parameters."""
    params = ModelParameters()
    scale, log_hr = calibrate_pfs(params)
    print(f"pfs.baseline_scale = {scale:.4f}   pfs.log_hr['is_ici'] = {log_hr:.4f} "
          f"(HR {np.exp(log_hr):.3f})")
    params = dataclasses.replace(params, pfs=dataclasses.replace(
        params.pfs, baseline_scale=round(scale, 4),
        log_hr={**params.pfs.log_hr, "is_ici": round(log_hr, 4)}))
    intercepts = calibrate_response(params)
    for kind, values in intercepts.items():
        print(f"response.{kind}_intercept = "
              + ", ".join(f"{arm}: {value:.4f}" for arm, value in values.items()))
    print(f"post_progression.baseline_scale = {calibrate_post_progression(params):.4f}")
    companion = calibrate_companion(ModelParameters()).companion
    print(f"companion.pfs.baseline_scale = {companion.pfs.baseline_scale}   "
          f"companion.pfs.log_hr['is_ici'] = {companion.pfs.log_hr['is_ici']}")
    print(f"companion.post_progression.baseline_scale = "
          f"{companion.post_progression.baseline_scale}   companion.post_progression."
          f"log_hr['is_ici'] = {companion.post_progression.log_hr['is_ici']}")
    print(f"companion.response.disease_control_intercept = "
          f"{companion.response.disease_control_intercept}")
    print(f"companion.response.objective_intercept = {companion.response.objective_intercept}")


if __name__ == "__main__":
    main()
