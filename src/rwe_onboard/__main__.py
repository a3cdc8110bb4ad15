"""Command line: ``python -m rwe_onboard profile | draft | precheck``.

Exit codes: 0 done (precheck: every export is clean); 1 precheck found
problems; 2 the command could not do its job (the message says what to fix).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rwe_onboard.contract import OnboardingError
from rwe_onboard.draft import draft_center, format_profiles
from rwe_onboard.precheck import precheck


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rwe_onboard",
        description="A center is a mapping file and seed rows: profile a sample export, draft "
                    "the mapping, pre-check exports against it (docs/onboarding-a-center.md).")
    parser.add_argument("--project-dir", type=Path, default=Path("."),
                        help="the warehouse project (default: .)")
    commands = parser.add_subparsers(dest="command", required=True)
    profile = commands.add_parser("profile", help="show how each column of the samples looks")
    profile.add_argument("samples", nargs="+", type=Path, help="sample exports (CSV)")
    draft = commands.add_parser(
        "draft", help="write models/staging/<center>/_<center>__mapping.yml with TODOs and "
                      "print the seed rows its unknown spellings need")
    draft.add_argument("--center", required=True, help="new center id")
    draft.add_argument("--shape", required=True,
                       help="line_records, administrations or omop_cdm")
    draft.add_argument("samples", nargs="+", type=Path,
                       help="one sample per export file, named as the center delivers it")
    draft.add_argument("--force", action="store_true", help="replace an existing mapping")
    check = commands.add_parser(
        "precheck", help="check exports against the center's mapping: one line per problem, "
                         "<center> <file>:<row>:<column>: <problem> (no raw value is printed)")
    check.add_argument("--center", required=True, help="center id")
    check.add_argument("exports", nargs="+", type=Path, help="exports (CSV), named as mapped")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "profile":
            print(format_profiles(args.project_dir, args.samples))
            return 0
        if args.command == "draft":
            draft_center(args.project_dir, args.center, args.shape, args.samples,
                         force=args.force)
            return 0
        problems = precheck(args.project_dir, args.center, args.exports)
    except OnboardingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    print(f"{args.center}: {len(problems)} problem(s) in {len(args.exports)} export(s)",
          file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
