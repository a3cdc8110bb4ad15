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
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rwe_synth.model import (
    STATUS_ELIGIBLE,
    linear_predictor,
    simulate_patients,
)
from rwe_synth.parameters import TARGETS, ModelParameters


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
    rsp = params.response
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
            return float(np.mean(e * p)) - TARGETS["disease_control_rate"]["value"][arm]

        control = _bisect(dcr, -10.0, 10.0, 60)
        p_control = 1 / (1 + np.exp(-(control + rsp.disease_control_slope_per_log_pfs * x)))

        def orr(intercept: float, x=x, e=e, p_control=p_control, arm=arm) -> float:
            p = 1 / (1 + np.exp(-(intercept + rsp.objective_slope_per_log_pfs * x)))
            return (float(np.mean(e * p_control * p))
                    - TARGETS["objective_response_rate"]["value"][arm])

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


if __name__ == "__main__":
    main()
