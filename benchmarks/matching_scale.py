"""Scale check for :func:`rwe_stats.matching.match_nearest_neighbour` (not a test).

Run ``.venv/bin/python benchmarks/matching_scale.py --patients 1000000``: it draws
logit scores for the given number of patients (40% treated, shifted by 0.5),
matches them with a 0.2-SD caliper and prints the wall time. Timing lives
here rather than in the unit tests, which check behaviour only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from rwe_stats.matching import match_nearest_neighbour


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20250919)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    treated = rng.random(args.patients) < 0.4
    scores = pd.DataFrame({
        "patient_id": np.char.add("p", np.arange(args.patients).astype(str)),
        # the provenance key matching breaks ties with (center:export:row)
        "tie_break_key": np.char.add("center_a:treatment_lines:",
                                     np.arange(args.patients).astype(str)),
        "is_treated": treated,
        "logit_ps": np.round(rng.normal(0.0, 1.0, args.patients) + 0.5 * treated, 6),
    })
    start = time.perf_counter()
    pairs = match_nearest_neighbour(scores, caliper_sd=0.2, seed=args.seed)
    elapsed = time.perf_counter() - start
    print(f"{args.patients:,} patients ({int(treated.sum()):,} treated): "
          f"{len(pairs):,} pairs in {elapsed:.2f} s")


if __name__ == "__main__":
    main()
