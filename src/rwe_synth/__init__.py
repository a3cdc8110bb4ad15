"""Deterministic synthetic raw exports for the oncology RWE warehouse.

``python -m rwe_synth --patients 496 --centers 3 --seed 20250919 --out data/raw``
writes three hospital exports (one row per line, per administration, per line
with relative times) of a second-line ES-SCLC cohort calibrated to Zhang et
al., Front Immunol 2025 (doi:10.3389/fimmu.2025.1658017), plus recorded dirty
rows, the true lines of therapy (``<out>_truth/``) and ``manifest.json``;
``--centers 4`` adds an OMOP CDM v5.4 export. The same registry also holds
the companion study's cohort (Zhang et al., Front Immunol 2025,
doi:10.3389/fimmu.2025.1666373: ICI continuation beyond progression,
118 / 93 at 496), disjoint from the reference cohort. See docs/generator.md.
"""

from __future__ import annotations

__version__ = "1.1.0"

from rwe_synth.generator import generate  # noqa: E402
from rwe_synth.model import (  # noqa: E402
    companion_truth_frame,
    simulate_patients,
    study_truth_frames,
    truth_frame,
)
from rwe_synth.parameters import COMPANION_TARGETS, TARGETS, ModelParameters  # noqa: E402
from rwe_synth.vocabulary import seed_coverage_problems  # noqa: E402

__all__ = [
    "COMPANION_TARGETS",
    "TARGETS",
    "ModelParameters",
    "__version__",
    "companion_truth_frame",
    "generate",
    "seed_coverage_problems",
    "simulate_patients",
    "study_truth_frames",
    "truth_frame",
]
