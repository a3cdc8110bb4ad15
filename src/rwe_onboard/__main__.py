"""Command line: ``python -m rwe_onboard onboard-center ...`` and ``... precheck ...``.

Exit codes: 0 done (precheck: the export is clean); 1 precheck found problems;
2 the command could not do its job (invalid name, unresolved TODOs, missing
vocabulary, unreadable input): the message says what to fix.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rwe_onboard.contract import OnboardingError, ensure_project
from rwe_onboard.onboard import onboard_center
from rwe_onboard.precheck import load_contract, precheck


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rwe_onboard",
        description="Onboard a new center: profile and scaffold (onboard-center), or check a "
                    "raw export against a center's contract (precheck). "
                    "See docs/onboarding-a-center.md.")
    commands = parser.add_subparsers(dest="command", required=True)

    onboard = commands.add_parser(
        "onboard-center",
        help="profile a sample export and write the center's staging folder (a disabled "
             "draft until the mapping is complete)",
        description="Without --mapping: profile the sample, write the draft mapping "
                    "models/staging/<name>/_<name>__mapping.yml and, from it, the draft "
                    "staging folder (sources YAML, a disabled staging model with every column "
                    "it could map and todo__ placeholders for the rest, models YAML); print "
                    "the TODOs. Nothing is registered, so dbt parse and builds are unaffected. "
                    "With a complete --mapping: write the enabled folder and register the "
                    "model in dbt_project.yml.")
    onboard.add_argument("--name", required=True, help="new center id, ^[a-z][a-z0-9_]{1,30}$")
    onboard.add_argument("--sample", required=True, type=Path, help="sample export (CSV)")
    onboard.add_argument("--table", default=None,
                         help="table name (default: the sample's file name without .csv)")
    onboard.add_argument("--mapping", type=Path, default=None, help="completed mapping YAML")
    onboard.add_argument("--project-dir", type=Path, default=Path("."),
                         help="the warehouse project (default: .)")
    onboard.add_argument("--force", action="store_true",
                         help="write the files of a center that is already onboarded "
                              "(registered in vars.line_record_models) again")
    onboard.add_argument("--overwrite-edits", action="store_true",
                         help="also replace scaffold files edited by hand since they were "
                              "written (files without the scaffold's marker: never)")
    onboard.add_argument("--allow-todo", action="store_true",
                         help="with --mapping: write the draft folder (disabled model, "
                              "nothing registered) although the mapping has TODOs")

    check = commands.add_parser(
        "precheck", help="validate a raw export against a center's contract",
        description="Print one line per problem, <file>:<row>:<column>: <problem> (row = "
                    "1-based data row, header excluded, numbered as the warehouse numbers "
                    "source_row_number; 0 = the file or its header; column * = the whole "
                    "row). Exit 1 if there is any problem, 0 if the export is clean.")
    check.add_argument("--center", required=True, help="center id")
    check.add_argument("--file", required=True, type=Path, help="raw export (CSV)")
    check.add_argument("--table", default=None,
                       help="table name (default: the file name without .csv)")
    check.add_argument("--project-dir", type=Path, default=Path("."),
                       help="the warehouse project (default: .)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "onboard-center":
            onboard_center(args.project_dir, args.name, args.sample, table=args.table,
                           mapping_file=args.mapping, force=args.force,
                           allow_todo=args.allow_todo, overwrite_edits=args.overwrite_edits)
            return 0
        project_dir = ensure_project(args.project_dir)
        problems = precheck(project_dir, args.center, args.file, args.table)
        contract = load_contract(project_dir, args.center, args.table or args.file.stem)
        if contract.mapping is None:
            print(f"note: {args.center} has no completed mapping (_{args.center}__mapping.yml): "
                  "only the structural checks ran (file, required columns, date layouts, "
                  "duplicates)", file=sys.stderr)
    except OnboardingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    rows = {p.row for p in problems}
    if problems:
        print(f"{args.file}: {len(problems)} problem(s) in {len(rows)} row(s)", file=sys.stderr)
        return 1
    print(f"{args.file}: clean: matches the contract of {args.center}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
