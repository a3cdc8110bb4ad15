"""Time the project's Cox fit, Kaplan-Meier and log-rank test against lifelines and R.

One run, one cohort per size (``rwe_synth.truth_frame``: the analysis-cohort
columns the study reads), and for each method the three implementations in
turn, repeated (ours, lifelines, R; ours, lifelines, R; ...), so that the
load other processes put on the machine falls on all three alike. The result
is the ratio of the medians (ours / peer); absolute times are secondary.

- Cox: Efron ties, the study's 13 terms, PFS. Ours: ``rwe_stats._cox.fit_cox``
  on the frame (its sort of the times included); lifelines:
  ``CoxPHFitter().fit`` (defaults: Efron, no penalty, stop at a relative
  log-likelihood change of 1e-7); R: ``coxph(Surv(time, event) ~ ., ties =
  "efron")`` (defaults). The coefficients are checked against R's and
  against lifelines iterated to machine precision (an untimed extra fit).
- Kaplan-Meier by arm with log-log intervals. Ours: ``kaplan_meier_table``;
  lifelines: ``KaplanMeierFitter().fit`` per arm (the split is not timed); R:
  ``survfit(Surv(time, event) ~ arm, conf.type = "log-log")``.
- Log-rank by arm. Ours: ``logrank``; lifelines: ``logrank_test``; R:
  ``survdiff(Surv(time, event) ~ arm)``.

R (when ``Rscript`` with survival is installed) reads the cohort from a CSV
written once, then answers one command per call on stdin; each call is timed
inside R with ``system.time`` around the call alone, so neither the file
reading nor the pipe is counted. Each run also checks that the estimates
agree: Cox coefficients within 1e-6 (absolute) of both peers, survival
within 1e-9 at every time of each curve, the log-rank statistic within 1e-9
(relative). With ``--stages`` it also times the study's PSM, KM and Cox
stages alone (``benchmarks/isolated_stages.py --generated``).

The measurements go to ``benchmarks/results.json`` (key ``peers``) and
RESULTS.md is rewritten from it (``run_benchmarks.render``), with a dated
section for this run.

Usage: ``.venv/bin/python benchmarks/peers.py [--patients 100000 1000000]
[--repeats 5] [--stages]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from isolated_stages import REFERENCE_STUDY
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

from rwe_stats._cox import FIT_OPTIONS, fit_cox
from rwe_stats.survival import kaplan_meier_table, logrank
from rwe_study.studies import file_parameters
from rwe_synth import truth_frame

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
# the reference study's Cox terms: the generator's cohort is made for that study
TERMS = list(file_parameters(PROJECT_DIR, REFERENCE_STUDY)["cox_terms"])
DURATION, EVENT, ARM = "pfs_months", "is_pfs_event", "arm"
METHODS = ("cox", "km", "logrank")
COEFFICIENT_TOLERANCE = 1e-6   # absolute, on the log hazard ratios
CURVE_TOLERANCE = 1e-9         # absolute, on S(t)
STATISTIC_TOLERANCE = 1e-9     # relative, on the log-rank chi-square

R_SERVER = r"""
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
terms <- strsplit(args[2], ",")[[1]]
formula <- as.formula(paste("Surv(time, event) ~", paste(terms, collapse = " + ")))
input <- file("stdin")
open(input)
cat("ready", as.character(packageVersion("survival")), "\n")
while (length(command <- readLines(input, n = 1)) > 0) {
  if (command == "cox") {
    seconds <- system.time(fit <- coxph(formula, data, ties = "efron"))[["elapsed"]]
    values <- coef(fit)[terms]
  } else if (command == "km") {
    seconds <- system.time(
      fit <- survfit(Surv(time, event) ~ arm, data, conf.type = "log-log"))[["elapsed"]]
    arm <- rep(sub("arm=", "", names(fit$strata)), fit$strata)
    values <- c(rbind(match(arm, sort(unique(data$arm))) - 1, fit$time, fit$surv))
  } else if (command == "logrank") {
    seconds <- system.time(test <- survdiff(Surv(time, event) ~ arm, data))[["elapsed"]]
    values <- test$chisq
  } else break
  cat(seconds, sprintf("%.17g", values), "\n")
  flush(stdout())
}
"""


def _r_version() -> str | None:
    """R's version when Rscript runs and has the survival package, else None."""
    if shutil.which("Rscript") is None:
        return None
    probe = subprocess.run(["Rscript", "-e", "suppressMessages(library(survival)); "
                            "cat(R.version$major, R.version$minor, sep = '.')"],
                           capture_output=True, text=True, check=False)
    return probe.stdout.strip() if probe.returncode == 0 else None


class RSession:
    """One R process holding the cohort; ``run(method)`` -> (seconds inside R, values)."""

    def __init__(self, csv: Path) -> None:
        script = csv.with_suffix(".R")
        script.write_text(R_SERVER, encoding="utf-8")
        self.process = subprocess.Popen(["Rscript", str(script), str(csv), ",".join(TERMS)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.survival_version = self.process.stdout.readline().split()[1]

    def run(self, method: str) -> tuple[float, np.ndarray]:
        self.process.stdin.write(method + "\n")
        self.process.stdin.flush()
        fields = self.process.stdout.readline().split()
        return float(fields[0]), np.array(fields[1:], dtype=float)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def cohort(patients: int, seed: int) -> pd.DataFrame:
    frame = truth_frame(patients, 3, seed)
    return frame[[DURATION, EVENT, ARM, *TERMS]].reset_index(drop=True)


def _ours(frame: pd.DataFrame):
    return {
        "cox": lambda: fit_cox(frame, DURATION, EVENT, TERMS).coefficients,
        "km": lambda: kaplan_meier_table(frame, DURATION, EVENT, ARM),
        "logrank": lambda: float(logrank(frame, DURATION, EVENT, ARM)["chi_square"].iloc[0]),
    }


def _lifelines(frame: pd.DataFrame):
    numeric = frame[[DURATION, EVENT, *TERMS]].astype(float)
    arms = sorted(frame[ARM].unique())
    split = {arm: (frame.loc[frame[ARM] == arm, DURATION].to_numpy(),
                   frame.loc[frame[ARM] == arm, EVENT].to_numpy()) for arm in arms}

    def km():
        return {arm: KaplanMeierFitter().fit(times, events) for arm, (times, events)
                in split.items()}

    def test():
        (times_a, events_a), (times_b, events_b) = split.values()
        return float(logrank_test(times_a, times_b, events_a, events_b).test_statistic)

    return {"cox": lambda: CoxPHFitter().fit(numeric, DURATION, EVENT).params_[TERMS].to_numpy(),
            "km": km, "logrank": test}


def _converged_lifelines(frame: pd.DataFrame) -> np.ndarray:
    """lifelines' coefficients iterated to machine precision (the agreement check, untimed).

    Its default stop (a relative log-likelihood change of 1e-7) leaves ~1e-6 in
    the coefficients, which is what the timed call returns.
    """
    numeric = frame[[DURATION, EVENT, *TERMS]].astype(float)
    fitter = CoxPHFitter().fit(numeric, DURATION, EVENT, fit_options=FIT_OPTIONS)
    return fitter.params_[TERMS].to_numpy()


def _timed(call):
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def _agreement(method: str, ours, lifelines, r_values) -> dict:
    """Largest differences of our estimate from each peer's, and whether they pass."""
    result = {}
    if method == "cox":
        result["lifelines"] = float(np.max(np.abs(ours - lifelines)))
        if r_values is not None:
            result["R"] = float(np.max(np.abs(ours - r_values)))
        tolerance = COEFFICIENT_TOLERANCE
    elif method == "km":
        arms = sorted(ours["group"].unique())
        worst = 0.0
        for arm in arms:
            curve = ours[ours["group"] == arm].set_index("time_months")["survival"]
            theirs = lifelines[arm].survival_function_.iloc[:, 0]
            worst = max(worst, float(np.max(np.abs(curve.reindex(theirs.index) - theirs))))
        result["lifelines"] = worst
        if r_values is not None:
            r_curve = r_values.reshape(-1, 3)
            worst = 0.0
            for code, arm in enumerate(arms):
                rows = r_curve[r_curve[:, 0] == code]
                curve = ours[ours["group"] == arm].set_index("time_months")["survival"]
                worst = max(worst, float(np.max(np.abs(curve.loc[rows[:, 1]].to_numpy()
                                                       - rows[:, 2]))))
            result["R"] = worst
        tolerance = CURVE_TOLERANCE
    else:
        result["lifelines"] = abs(ours / lifelines - 1)
        if r_values is not None:
            result["R"] = abs(ours / float(r_values[0]) - 1)
        tolerance = STATISTIC_TOLERANCE
    result["tolerance"] = tolerance
    result["pass"] = all(value <= tolerance for key, value in result.items()
                         if key in ("lifelines", "R"))
    return result


def measure(patients: int, repeats: int, seed: int, use_r: bool, workdir: Path) -> dict:
    frame = cohort(patients, seed)
    session = None
    if use_r:
        csv = workdir / f"cohort_{patients}.csv"
        frame.rename(columns={DURATION: "time", EVENT: "event"}).astype(
            {"event": int, **{term: float for term in TERMS}}).to_csv(csv, index=False)
        session = RSession(csv)
    ours, peers = _ours(frame), _lifelines(frame)
    converged = _converged_lifelines(frame)
    times = {method: {"ours": [], "lifelines": [], "R": []} for method in METHODS}
    agreement = {}
    try:
        for _ in range(repeats):
            for method in METHODS:
                seconds, our_value = _timed(ours[method])
                times[method]["ours"].append(seconds)
                seconds, their_value = _timed(peers[method])
                times[method]["lifelines"].append(seconds)
                r_values = None
                if session is not None:
                    seconds, r_values = session.run(method)
                    times[method]["R"].append(seconds)
                if method == "cox":
                    their_value = converged
                agreement[method] = _agreement(method, our_value, their_value, r_values)
    finally:
        if session is not None:
            session.close()
    medians = {method: {peer: statistics.median(values) for peer, values in by_peer.items()
                        if values} for method, by_peer in times.items()}
    return {"patients": patients, "events": int(frame[EVENT].sum()),
            "distinct_times": int(frame[DURATION].nunique()), "repeats": repeats,
            "times_s": times, "median_s": medians, "agreement": agreement,
            "r_survival": session.survival_version if session else None}


def stages(patients: int, seed: int) -> dict | None:
    """The PSM, KM and Cox stage functions timed alone (a fresh process)."""
    command = [sys.executable, str(BENCH_DIR / "isolated_stages.py"), "--generated",
               str(patients), "--seed", str(seed)]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        print(run.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(run.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-r", action="store_true", help="leave R out even if installed")
    parser.add_argument("--stages", action="store_true",
                        help="also time the PSM, KM and Cox stages alone per size")
    args = parser.parse_args(argv)
    r_version = None if args.no_r else _r_version()
    run = {"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
           "load_average_start": os.getloadavg(), "R": r_version, "sizes": {}}
    with tempfile.TemporaryDirectory() as workdir:
        for patients in args.patients:
            result = measure(patients, args.repeats, args.seed, r_version is not None,
                             Path(workdir))
            if args.stages:
                result["stages"] = stages(patients, args.seed)
            run["sizes"][str(patients)] = result
            print(json.dumps({"patients": patients, "median_s": result["median_s"],
                              "agreement": result["agreement"]}), flush=True)
    run["load_average_end"] = os.getloadavg()
    sys.path.insert(0, str(BENCH_DIR))
    import run_benchmarks  # the renderer of RESULTS.md, beside this script

    store = run_benchmarks.load_store()
    store.setdefault("peers", []).append(run)
    run_benchmarks.save_store(store)
    return 0 if all(agreement["pass"] for size in run["sizes"].values()
                    for agreement in size["agreement"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
