"""At large N, the study's multivariate Cox model recovers the generator's true
PFS hazard ratios (the data are drawn from a Weibull PH model with known
coefficients, and censoring is independent of the covariates)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from dbt_harness import PROJECT_DIR
from rwe_stats.regression import cox_table
from rwe_synth import truth_frame

pytestmark = pytest.mark.slow


def test_multivariate_cox_recovers_true_pfs_log_hazard_ratios():
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    terms = project["models"]["rwe_warehouse"]["statistics"]["+meta"]["cox_terms"]
    manifest = json.loads((PROJECT_DIR / "data/raw/manifest.json").read_text(encoding="utf-8"))
    truth = manifest["truth"]["parameters"]["pfs"]["log_hr"]
    assert set(terms) == set(truth), "the study's Cox terms should be the generator's model"

    cohort = truth_frame(20_000, 3, 20251124)
    table = cox_table(cohort, "pfs_months", "is_pfs_event", terms, "multivariate")
    table = table.set_index("term")
    z = 1.959963984540054
    for term, true_log_hr in truth.items():
        estimate = np.log(table.loc[term, "hr"])
        standard_error = (np.log(table.loc[term, "ci_upper"]) - estimate) / z
        assert abs(estimate - true_log_hr) < 4 * standard_error, (term, estimate, true_log_hr)
