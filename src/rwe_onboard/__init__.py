"""Onboard a new center into the warehouse: profile, map, scaffold, pre-check.

``python -m rwe_onboard onboard-center --name <center_id> --sample <export.csv>``
profiles a sample export and writes a draft mapping onto the line-level
contract together with the center's staging folder (sources YAML, models
YAML, a staging model with every column it could map), disabled until the
mapping's TODOs are resolved; rerun with the completed ``--mapping`` it
writes the enabled folder and registers the model.
``python -m rwe_onboard precheck --center <center_id> --file <export.csv>``
validates a raw export against the center's contract before it enters the
warehouse, one ``file:row:column: problem`` line per problem.
See docs/onboarding-a-center.md.
"""

from __future__ import annotations

__version__ = "1.0.0"

from rwe_onboard.contract import (  # noqa: E402
    FIELDS,
    LAYOUTS,
    InvalidNameError,
    OnboardingError,
    validate_center_id,
    validate_table_name,
)
from rwe_onboard.onboard import onboard_center  # noqa: E402
from rwe_onboard.precheck import Problem, precheck  # noqa: E402

__all__ = [
    "FIELDS",
    "LAYOUTS",
    "InvalidNameError",
    "OnboardingError",
    "Problem",
    "__version__",
    "onboard_center",
    "precheck",
    "validate_center_id",
    "validate_table_name",
]
