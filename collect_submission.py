"""Write your submission zip: python collect_submission.py STUDENT_ID [--name NAME]

Checks your work first and writes nothing if a problem is found; each problem
is listed with what to do. See README.md, section "Submitting".
"""
import argparse
import sys
from pathlib import Path

from helpers import submission


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python collect_submission.py",
        description="Validate your work and write <STUDENT_ID>_submission.zip.",
    )
    parser.add_argument("student_id", help=f"your student id ({submission.STUDENT_ID_RULE})")
    parser.add_argument("--name", default="", help="your full name, for the manifest")
    parser.add_argument(
        "--out", type=Path, default=Path("."), help="folder for the zip (default: here)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing zip")
    args = parser.parse_args(argv)

    problems = []
    if not submission.valid_student_id(args.student_id):
        problems.append(f"student id {args.student_id!r}: use {submission.STUDENT_ID_RULE}")
    if submission.name_problem(args.name):
        problems.append(submission.name_problem(args.name))
    zip_path = args.out / submission.zip_name(args.student_id)
    if not args.out.is_dir():
        problems.append(f"{args.out}: no such folder; create it or choose another --out")
    elif zip_path.exists() and not args.overwrite:
        problems.append(f"{zip_path} exists; pass --overwrite to replace it")
    problems += submission.validate_kit()
    if problems:
        print(
            f"No submission written. Fix these {len(problems)} problem(s) and run again:",
            file=sys.stderr,
        )
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2

    print("Running the self-check (python -m helpers.check)...")
    self_check = submission.self_check_summary()
    print(f"  {self_check['summary']}")
    files = submission.submission_files()
    manifest = submission.build_manifest(args.student_id, args.name, files, self_check)
    try:
        size = submission.write_submission(zip_path, files, manifest)
    except ValueError as err:
        print(f"No submission written: {err}", file=sys.stderr)
        return 2
    print(f"Wrote {zip_path} ({size / 1024:.0f} KB, {len(files)} files + {submission.MANIFEST}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
