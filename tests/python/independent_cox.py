"""Independent reference code for the Cox tests (not the implementation under test)."""

from __future__ import annotations

import numpy as np


def efron_score_residuals_by_hand(times: np.ndarray, events: np.ndarray, x: np.ndarray,
                                beta: np.ndarray) -> np.ndarray:
    """Independent p-covariate Efron score residuals: explicit loops per death time.

    At a time with d tied deaths, Efron's step k (0..d-1) gives each tied death
    risk weight (1 - k/d); everyone else at risk (later times, censorings at this
    time) weight 1. Subject i collects (x_i - mean_k)/d at each step if it is one of
    the tied deaths, and loses share_i w_i (x_i - mean_k) / s0_k (R coxscore2.c)."""
    w = np.exp(x @ beta)
    residual = np.zeros_like(x, dtype=float)
    for time in np.unique(times[events]):
        tied = (times == time) & events
        d = tied.sum()
        for k in range(d):
            share = np.where(times > time, 1.0, 0.0)
            share[(times == time) & ~events] = 1.0
            share[tied] = 1 - k / d
            s0 = (share * w).sum()
            mean = (share * w) @ x / s0
            residual[tied] += (x[tied] - mean) / d
            residual -= (share * w)[:, None] * (x - mean) / s0
    return residual
