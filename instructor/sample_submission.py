"""A sample submission in one command, to try the grader within minutes.

    python -m instructor.sample_submission OUT [--broken PART] [--id ID]

Builds the student release in a temporary folder, lays this source's reference solutions over
it, runs every notebook in quick mode (a CIFAR-10 subsample: minutes, not the 13 of a full run)
and writes ``OUT/<ID>_submission.zip`` as ``collect_submission.py`` would, but without its
refusal of quick-mode notebooks. The notebooks keep their quick-mode records
(``helpers.utils.show_run_mode``): that is what marks the zip as a sample. The grader refuses
such a zip unless told it grades samples (``python -m instructor.grade OUT --samples``).

``--broken PART`` puts the release's stubs of ``PART`` back after the notebooks ran, as a student
who broke a file before packaging would: the grade is partial (that part's checks score 0;
the grader runs every check with the student's own parts, so breaking ``metrics`` also costs
the functions of other parts that call ``accuracy``: ``--broken metrics`` kept 61.07 of the 90
check points in one run, though ``metrics`` is worth 5; ``--broken fully_connected_networks``,
which nothing else calls, keeps 60, the 90 less its 30).

The finished kit (release + reference solutions and answers + notebooks run in quick mode) is
``instructor.quick_sample.build_quick_sample``, which also serves the kit's tests (the
``finished_kit`` fixture).
"""
import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from helpers import submission
from instructor.quick_sample import build_quick_sample

SAMPLE_ID = "sample"
SAMPLE_NAME = "Sample submission (reference solutions, notebooks in quick mode)"
SAMPLES_HINT = ("a sample submission (python -m instructor.sample_submission): its notebooks "
                "ran in quick mode; grade samples with python -m instructor.grade DIR --samples")


def break_part(kit, part, release_dir):
    """Put the release's stubbed ``assignment/<part>.py`` (from ``release_dir``) into ``kit``."""
    if part not in submission.PARTS:
        raise ValueError(f"no part {part!r}; choose from {', '.join(submission.PARTS)}")
    name = f"assignment/{part}.py"
    shutil.copy(Path(release_dir) / name, Path(kit) / name)


def write_sample_zip(kit, out_dir, student_id, note):
    """Zip ``kit``'s submission files with a manifest, as ``collect_submission.py`` does (its
    self-check is not run: ``note`` stands in its manifest entry). Returns the zip's path."""
    files = submission.submission_files(kit)
    self_check = {"summary": note, "lines": [], "exit_code": None}
    manifest = submission.build_manifest(student_id, SAMPLE_NAME, files, self_check)
    zip_path = Path(out_dir) / submission.zip_name(student_id)
    submission.write_submission(zip_path, files, manifest)
    return zip_path


def make_sample_submission(out_dir, broken_part=None, student_id=None):
    """Write a sample submission zip into the folder ``out_dir`` (created if needed): the
    reference solutions, every notebook run in quick mode; with ``broken_part`` (a part of
    ``helpers.submission.PARTS``) that part's file holds the release's stubs again.
    ``student_id`` defaults to ``sample`` or ``sample-broken-<part>``. Returns the zip's path.
    Takes 3 to 6 minutes on 2 cores (the notebooks in quick mode)."""
    if broken_part is not None and broken_part not in submission.PARTS:
        raise ValueError(f"no part {broken_part!r}; choose from {', '.join(submission.PARTS)}")
    student_id = student_id or (f"{SAMPLE_ID}-broken-{broken_part.replace('_', '-')}"
                                if broken_part else SAMPLE_ID)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sample-submission-") as work:
        kit = build_quick_sample(Path(work) / "kit")
        note = "sample submission: self-check not run"
        if broken_part:
            from instructor.release import build_release

            build_release(Path(work) / "release")
            break_part(kit, broken_part, Path(work) / "release")
            note += f"; {broken_part} broken on purpose"
        return write_sample_zip(kit, out_dir, student_id, note)


def quick_mode_notebooks(members):
    """Names of the notebooks among ``members`` (name in the zip -> bytes) that recorded a
    quick-mode run (``helpers.utils.show_run_mode``): the mark of a sample submission. Unreadable
    notebooks are left to the other checks."""
    found = []
    for name, data in sorted(members.items()):
        if not (name.startswith("notebooks/") and name.endswith(".ipynb")):
            continue
        try:
            notebook = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            continue
        if not isinstance(notebook, dict):
            continue
        records = submission.run_mode_records(notebook)
        if any(record.get("quick_mode") is not False for record in records):
            found.append(name)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m instructor.sample_submission",
        description="Write a sample submission zip (reference solutions, notebooks in quick "
                    "mode) to try the grader: python -m instructor.grade OUT --samples.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for the zip (created if needed)")
    parser.add_argument("--broken", choices=submission.PARTS, default=None, metavar="PART",
                        help="put this part's stubs back (a partial grade); one of "
                             + ", ".join(submission.PARTS))
    parser.add_argument("--id", default=None,
                        help="student id of the zip (default: sample, or "
                             "sample-broken-<part>)")
    args = parser.parse_args(argv)
    from helpers.data import require_cifar10

    try:
        require_cifar10()
    except FileNotFoundError as err:
        print(f"sample_submission: error: {err}", file=sys.stderr)
        return 2
    print("Running the notebooks in quick mode with the reference solutions (3 to 6 minutes)...",
          flush=True)
    try:
        path = make_sample_submission(args.out, args.broken, args.id)
    except KeyboardInterrupt:
        print("\nsample_submission: interrupted; nothing written", file=sys.stderr)
        return 130
    print(f"Wrote {path}. Grade it: python -m instructor.grade {args.out} --samples "
          f"--feedback {args.out / 'feedback'} --out {args.out / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
