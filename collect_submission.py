"""Write your submission zip: python collect_submission.py STUDENT_ID [--name NAME]

Checks your work first and writes nothing if a problem is found; each problem
is listed with what to do. Then it builds your lab report, report.html
(python -m helpers.report), and puts it in the zip; written answers still blank
are listed as a warning. See README.md, section "Submitting".
"""
import argparse
import sys
from pathlib import Path

from helpers import questions, report, submission
from helpers.utils import KIT_ROOT


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
    parser.add_argument("--sample", action="store_true",
                        help="for course staff and the kit's tests only: accept notebooks run in "
                             "quick mode (a sample zip of the kit, never a student's work)")
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
    problems += submission.validate_kit(allow_quick=args.sample)
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
    report_path = build_report(args, self_check["summary"])
    if report_path is not None:
        files[submission.REPORT] = report_path
    warn_blank_answers()
    manifest = submission.build_manifest(args.student_id, args.name, files, self_check)
    try:
        size = submission.write_submission(zip_path, files, manifest)
    except ValueError as err:
        print(f"No submission written: {err}", file=sys.stderr)
        return 2
    print(f"Wrote {zip_path} ({size / 1024:.0f} KB, {len(files)} files + {submission.MANIFEST}).")
    return 0


def build_report(args, self_check_summary):
    """Write report.html beside the notebooks; returns its path, or None (with a warning) when
    it cannot be built: the zip is still written without it."""
    print(f"Building your lab report ({submission.REPORT})...")
    try:
        path = report.write_report(KIT_ROOT / submission.REPORT,
                                   student_id=args.student_id, name=args.name,
                                   self_check=self_check_summary)
    except Exception as err:  # the report must never stop a submission
        print(f"WARNING: {submission.REPORT} not built ({type(err).__name__}: {err}); the zip "
              "is written without it. Tell the course staff.", file=sys.stderr)
        return None
    print(f"  {path.name}: open it in a browser to check it; Print -> Save as PDF gives one "
          "page per question")
    return path


def warn_blank_answers(kit_root=KIT_ROOT):
    """Warn, by question id, about written answers still blank or '*Your answer here.*'."""
    paths = [Path(kit_root) / "notebooks" / name for name in submission.NOTEBOOKS]
    try:
        blank = questions.blank_answers(paths)
    except questions.QuestionError as err:
        print(f"WARNING: the written answers could not be read: {err}", file=sys.stderr)
        return
    if blank:
        print(f"WARNING: {len(blank)} written answer(s) still blank or '*Your answer here.*': "
              f"{', '.join(blank)}. The zip is written anyway; to answer them, write in the "
              "cell below each question, save the notebook and run collect_submission.py "
              "again with --overwrite.", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
