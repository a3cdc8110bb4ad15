"""Command line: ``python -m rwe_synth --patients N --centers K --seed S --out DIR``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rwe_synth.generator import DEFAULT_CHUNK_PATIENTS, FORMATS, generate
from rwe_synth.model import LINE_HISTORIES, N_CENTERS
from rwe_synth.vocabulary import SEEDS_DIR


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the generator."""
    parser = argparse.ArgumentParser(
        prog="python -m rwe_synth",
        description=("Write deterministic synthetic raw exports of a second-line ES-SCLC "
                     "cohort (center_a, center_b, center_c formats; center_d as OMOP CDM "
                     "v5.4 tables), the true lines of therapy and manifest.json."),
    )
    parser.add_argument("--patients", type=int, required=True,
                        help="eligible patients N (round(N*200/496) ICI, the rest non-ICI)")
    parser.add_argument("--centers", type=int, required=True,
                        help="number of centers K, 1 to 4 (center_a, center_b, center_c, "
                             "center_d)")
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--format", choices=FORMATS, default="csv", dest="file_format",
                        help="csv (default) or parquet (every column a string)")
    parser.add_argument("--line-history", choices=LINE_HISTORIES, default="default",
                        help="hard: skipped doses, drug holidays, an ICI added on day 15, "
                             "third-line re-challenge (validating line derivation)")
    parser.add_argument("--seeds", type=Path, default=SEEDS_DIR, metavar="DIR",
                        help="terminology seeds the written spellings are checked against "
                             "(default: the project's seeds/terminology)")
    parser.add_argument("--chunk-patients", type=int, default=DEFAULT_CHUNK_PATIENTS,
                        metavar="N",
                        help="simulate and write the cohort in ceil(patients / N) blocks of "
                             "about N eligible patients, each simulated on its own with its "
                             "share of the arms, so memory follows the block, not the cohort "
                             "(default 1,000,000; a cohort of one block is written exactly as "
                             "without blocks)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the generator; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.centers not in N_CENTERS:
        parser.error(f"--centers must be 1, 2, 3 or 4 (center_a, center_b, center_c, center_d "
                     f"in that order), got {args.centers}")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    if args.patients < 1:
        parser.error(f"--patients must be a positive integer, got {args.patients}")
    if args.chunk_patients < 1:
        parser.error(f"--chunk-patients must be a positive integer, got {args.chunk_patients}")
    try:
        manifest = generate(args.patients, args.centers, args.seed, args.out, args.file_format,
                            line_history=args.line_history, seeds_dir=args.seeds,
                            chunk_patients=args.chunk_patients)
    except (ValueError, FileNotFoundError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    cohort = manifest["cohort"]
    print(f"rwe_synth {manifest['generator']['version']}: {cohort['eligible_patients']} "
          f"eligible patients ({cohort['per_arm']['ICI']} ICI / "
          f"{cohort['per_arm']['non-ICI']} non-ICI), {len(manifest['dirty_rows'])} dirty rows, "
          f"{len(manifest['excluded_patients'])} excluded patients -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
