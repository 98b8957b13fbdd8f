"""Instructor side: grade a folder of submission zips into a gradebook.

    python -m instructor.grade SUBMISSIONS_DIR [--out grades.csv] [--feedback DIR] [--jobs N]
                            [--timeout S] [--call-timeout S] [--memory-mb M] [--rubric PATH]
                            [--no-sandbox] [--samples] [--written-dir DIR] [--show-names]
                            [--similarity [DIR]]
    python -m instructor.grade SUBMISSIONS_DIR --written written/scores.csv [--out grades.csv]
                            [--feedback DIR]

Grades every ``*_submission.zip`` of the folder into a CSV gradebook and one feedback file per
student; the steps are in ``instructor/grading/gradebook.py``, which this command line imports
only once its arguments are read (``--help`` answers at once, without loading torch). Names of
that module are readable here too (``grade.grade_folder``, ``grade.load_rubric``, ...).
"""
import argparse
import sys
from pathlib import Path

from instructor import RUBRIC_PATH


def __getattr__(name):
    """``instructor.grade.<name>``: the grading module's ``name`` (loaded on first use)."""
    if name.startswith("__"):
        raise AttributeError(name)
    from instructor.grading import gradebook

    return getattr(gradebook, name)


def warn_unprotected():
    """Say on stderr what --no-sandbox leaves open."""
    from instructor.verdicts.session import PLAIN_UNPROTECTED

    print("grade: WARNING: --no-sandbox: student code is NOT isolated:", file=sys.stderr)
    for line in PLAIN_UNPROTECTED:
        print(f"  - {line}", file=sys.stderr)


def parse_args(argv):
    """The command line's options."""
    parser = argparse.ArgumentParser(
        prog="python -m instructor.grade",
        description="Grade a folder of submission zips into a CSV gradebook.")
    parser.add_argument("folder", type=Path, help="folder holding *_submission.zip files")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"),
                        help="the CSV to write (default: %(default)s)")
    parser.add_argument("--feedback", type=Path, help="folder for one feedback .txt per student")
    parser.add_argument("--jobs", type=int, default=2,
                        help="submissions graded at once (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds of student code allowed for each part's checks "
                             "(default: %(default)s)")
    parser.add_argument("--call-timeout", type=float, default=None,
                        help="seconds allowed for each call into student code (an endless "
                             "loop costs its function this long; default: --timeout / 4)")
    parser.add_argument("--memory-mb", type=int, default=6144,
                        help="memory limit of each process running student code "
                             "(default: %(default)s)")
    parser.add_argument("--rubric", type=Path, default=RUBRIC_PATH,
                        help="points per part and per model (default: the kit's "
                             "instructor/rubric.json)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap (prints what is then unprotected)")
    parser.add_argument("--written-dir", type=Path, default=None,
                        help="folder for the written answers' pages and scores.csv "
                             "(default: written/ beside --out)")
    parser.add_argument("--show-names", action="store_true",
                        help="show student ids on the written pages (default: anonymous codes)")
    parser.add_argument("--written", type=Path, metavar="SCORES_CSV",
                        help="do not grade: merge this filled-in written/scores.csv into the "
                             "gradebook --out (and the --feedback files)")
    parser.add_argument("--samples", action="store_true",
                        help="grade sample submissions (python -m instructor.sample_submission: "
                             "notebooks run in quick mode), which are otherwise refused")
    parser.add_argument("--similarity", nargs="?", const=True, metavar="DIR",
                        help="then write the similarity report (instructor.similarity) into DIR "
                             "(default: beside the CSV, e.g. grades-similarity/)")
    return parser.parse_args(argv)


def merge_written(args):
    """``--written``: merge the filled-in scores into the gradebook; returns the exit code."""
    from instructor.grading import gradebook, written

    try:
        rubric = gradebook.load_rubric(args.rubric)
        rows = written.merge_scores(args.written, args.out, rubric["written"], args.feedback)
    except (ValueError, OSError) as err:
        print(f"grade: error: {err}\nNothing was changed: fix the file and run again.",
              file=sys.stderr)
        return 2
    graded = sum(1 for row in rows if row[written.WRITTEN_STATUS] == "complete")
    print(f"merged the written scores into {args.out}: {graded} of {len(rows)} student(s) "
          "fully graded" + (f"; feedback in {args.feedback} updated" if args.feedback else ""))
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.written is not None:
        return merge_written(args)
    from instructor import sandbox
    from instructor.grading import gradebook

    if args.no_sandbox:
        warn_unprotected()
    try:
        rows = gradebook.grade_folder(
            args.folder, args.out, args.feedback, args.jobs, args.timeout, args.memory_mb,
            args.rubric, no_sandbox=args.no_sandbox, call_timeout=args.call_timeout,
            written_dir=args.written_dir, show_names=args.show_names, samples=args.samples)
    except (FileNotFoundError, ValueError, sandbox.SandboxUnavailable) as err:
        print(f"grade: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ngrade: interrupted; no gradebook written", file=sys.stderr)
        return 130
    print(gradebook.summary(rows))
    print(f"wrote {args.out}" + (f" and feedback in {args.feedback}" if args.feedback else ""))
    written_dir = args.written_dir or args.out.parent / "written"
    if (written_dir / "index.html").exists():
        print(f"written answers: {written_dir}/index.html; fill in {written_dir}/scores.csv and "
              f"merge it with --written {written_dir}/scores.csv")
    if args.similarity:
        from instructor.similarity.run import after_grading
        print(after_grading(args.folder, args.out, args.similarity))
    return 0


if __name__ == "__main__":
    sys.exit(main())
