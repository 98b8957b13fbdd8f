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
from helpers.i18n import _
from helpers.utils import KIT_ROOT


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python collect_submission.py",
        description=_("Validate your work and write <STUDENT_ID>_submission.zip."),
    )
    parser.add_argument("student_id", help=_("your student id ({rule})").format(
        rule=submission.student_id_rule()))
    parser.add_argument("--name", default="", help=_("your full name, for the manifest"))
    parser.add_argument(
        "--out", type=Path, default=Path("."), help=_("folder for the zip (default: here)")
    )
    parser.add_argument("--overwrite", action="store_true", help=_("replace an existing zip"))
    parser.add_argument("--sample", action="store_true",
                        help=_("for course staff and the kit's tests only: accept notebooks run "
                               "in quick mode (a sample zip of the kit, never a student's work)"))
    args = parser.parse_args(argv)

    problems = []
    if not submission.valid_student_id(args.student_id):
        problems.append(_("student id {student_id!r}: use {rule}").format(
            student_id=args.student_id, rule=submission.student_id_rule()))
    if submission.name_problem(args.name):
        problems.append(submission.name_problem(args.name))
    zip_path = args.out / submission.zip_name(args.student_id)
    if not args.out.is_dir():
        problems.append(_("{folder}: no such folder; create it or choose another --out").format(
            folder=args.out))
    elif zip_path.exists() and not args.overwrite:
        problems.append(_("{zip} exists; pass --overwrite to replace it").format(zip=zip_path))
    problems += submission.validate_kit(allow_quick=args.sample)
    if problems:
        print(
            _("No submission written. Fix these {count} problem(s) and run again:").format(
                count=len(problems)),
            file=sys.stderr,
        )
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2

    print(_("Running the self-check (python -m helpers.check)..."))
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
        print(_("No submission written: {error}").format(error=err), file=sys.stderr)
        return 2
    print(_("Wrote {zip} ({size:.0f} KB, {count} files + {manifest}).").format(
        zip=zip_path, size=size / 1024, count=len(files), manifest=submission.MANIFEST))
    return 0


def build_report(args, self_check_summary):
    """Write report.html beside the notebooks; returns its path, or None (with a warning) when
    it cannot be built: the zip is still written without it."""
    print(_("Building your lab report ({report})...").format(report=submission.REPORT))
    try:
        path = report.write_report(KIT_ROOT / submission.REPORT,
                                   student_id=args.student_id, name=args.name,
                                   self_check=self_check_summary)
    except Exception as err:  # the report must never stop a submission
        print(_("WARNING: {report} not built ({error}); the zip is written without it. Tell "
                "the course staff.").format(report=submission.REPORT,
                                            error=f"{type(err).__name__}: {err}"),
              file=sys.stderr)
        return None
    # Translators: "Print -> Save as PDF" names the browser's menu items.
    print("  " + _("{report}: open it in a browser to check it; Print -> Save as PDF gives one "
                   "page per question").format(report=path.name))
    return path


def warn_blank_answers(kit_root=KIT_ROOT):
    """Warn, by question id, about written answers still blank or '*Your answer here.*'."""
    paths = [Path(kit_root) / "notebooks" / name for name in submission.NOTEBOOKS]
    try:
        blank = questions.blank_answers(paths)
    except questions.QuestionError as err:
        print(_("WARNING: the written answers could not be read: {error}").format(error=err),
              file=sys.stderr)
        return
    if blank:
        # Translators: '*Your answer here.*' is the answer placeholder of the notebooks, in the
        # student's language; {questions} are question ids.
        print(_("WARNING: {count} written answer(s) still blank or '*Your answer here.*': "
                "{questions}. The zip is written anyway; to answer them, write in the cell below "
                "each question, save the notebook and run collect_submission.py again with "
                "--overwrite.").format(count=len(blank), questions=", ".join(blank)),
              file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
