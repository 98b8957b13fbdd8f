"""Grading a folder of real submission zips: honest, partial, hostile and broken ones.

The submissions are built from a finished student kit (reference solutions,
notebooks run in quick mode): one with collect_submission.py itself, the
others with the same submission module after changing the student's files
as a student (or an attacker) would.
"""
import csv
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from helpers import grade, release, submission
from helpers.utils import KIT_ROOT
from tests.kit.runner import run_in

TIMEOUT = 40  # seconds for one run of every check; a normal run takes about 15


def fill_in(release_text, source_text, function):
    """The release file with ``function``'s stub replaced by its reference solution."""
    lines = source_text.splitlines(keepends=True)
    region, inside = [], False
    for index, line in enumerate(lines):
        begin = release.BEGIN.match(line.rstrip("\n"))
        if begin and release.enclosing_function(lines, index, begin["indent"]) == function:
            inside = True
        elif inside and release.END.match(line.rstrip("\n")):
            break
        elif inside:
            region.append(line)
    stub = f'raise NotImplementedError("{function}{submission.STUB_MARK}'
    out = []
    for line in release_text.splitlines(keepends=True):
        out.extend(region if stub in line else [line])
    assert region and len(out) > len(release_text.splitlines()), f"no region or stub for {function}"
    return "".join(out)


def pack(kit, folder, student_id, zip_id=None, created=None):
    """Zip ``kit`` as collect_submission would (without re-running the self-check)."""
    files = submission.submission_files(kit)
    manifest = submission.build_manifest(student_id, f"Student {student_id}", files,
                                         {"summary": "not run", "lines": [], "exit_code": None})
    if created:
        manifest["created_utc"] = created
    path = folder / submission.zip_name(zip_id or student_id)
    submission.write_zip(path, files, manifest)
    return path


def tree_digest(root, names=("assignment", "helpers", "tests", "notebooks", "conftest.py", "pytest.ini")):
    digest = hashlib.sha256()
    for name in names:
        base = Path(root) / name
        for path in sorted([base] if base.is_file() else base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded(finished_kit, student_kit, tmp_path_factory):
    """Build every kind of submission, grade the folder once; returns rows by id and more."""
    folder = tmp_path_factory.mktemp("submissions")
    work = tmp_path_factory.mktemp("work")

    def variant(name, change=None):
        kit = work / name
        shutil.copytree(finished_kit, kit)
        if change:
            change(kit)
        return kit

    def append(relpath, code):
        def change(kit):
            path = kit / relpath
            path.write_text(path.read_text() + "\n" + code)
        return change

    def prepend(relpath, code):
        def change(kit):
            path = kit / relpath
            path.write_text(code + "\n" + path.read_text())
        return change

    # Honest work: the reference, as collect_submission.py writes it.
    kit = variant("ref01")
    result = run_in(kit, "collect_submission.py", "ref01", "--name", "Ref Erence", "--out", str(folder))
    assert result.returncode == 0, result.stderr

    # Partial work: the release's stubs with some parts or functions filled in.
    def release_files_with(full=(), functions=()):
        def change(kit):
            for path in (student_kit / "assignment").glob("*.py"):
                shutil.copy(path, kit / "assignment" / path.name)
            for filename in full:
                shutil.copy(KIT_ROOT / "assignment" / filename, kit / "assignment" / filename)
            for filename, function in functions:
                path = kit / "assignment" / filename
                path.write_text(fill_in(path.read_text(), (KIT_ROOT / "assignment" / filename).read_text(),
                                        function))
        return change

    pack(variant("part01", release_files_with(full=("metrics.py", "model_selection.py"))), folder, "part01")
    pack(variant("part02", release_files_with(functions=[("metrics.py", "accuracy"),
                                                         ("metrics.py", "confusion_matrix")])),
         folder, "part02")

    # Hostile work.
    pack(variant("loop01", append("assignment/linear_classifier.py",
                                  "def svm_loss_naive(W, X, y, reg):\n    while True:\n        pass\n")),
         folder, "loop01")
    pack(variant("exit01", prepend("assignment/model_selection.py", "import sys\nsys.exit(3)\n")),
         folder, "exit01")
    pack(variant("overwrite01", prepend(
        "assignment/metrics.py",
        "import pathlib\n"
        "for _p in pathlib.Path(__file__).resolve().parent.parent.glob('tests/*/test_*.py'):\n"
        "    _p.write_text('def test_everything():\\n    pass\\n')\n")), folder, "overwrite01")
    pack(variant("memory01", prepend("assignment/two_layer_net.py",
                                     "_hoard = [bytearray(2**28) for _ in range(10**6)]\n")),
         folder, "memory01")
    pack(variant("print01", prepend("assignment/fully_connected_networks.py",
                                    "while True:\n    print('x' * 10000)\n")), folder, "print01")

    path = pack(variant("modified01"), folder, "modified01")
    tampered = folder / "tampered.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "assignment/metrics.py":
                data += b"\n# changed after packaging\n"
            target.writestr(info, data)
    os.replace(tampered, path)

    escape = folder / submission.zip_name("escape01")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(escape, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        target.writestr("../../outside.py", "print('escaped')\n")
    (folder / submission.zip_name("corrupt01")).write_bytes(os.urandom(4096))

    # The same id twice: an older honest zip and a newer one of stubs (named for someone else).
    pack(variant("dup01"), folder, "dup01", created="2026-01-01T10:00:00+00:00")
    pack(variant("dup01-late", release_files_with()), folder, "dup01", zip_id="other02",
         created="2026-01-02T10:00:00+00:00")

    source_before = tree_digest(KIT_ROOT)
    submissions_before = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path_factory.mktemp("gradebook")
    rows = grade.grade_folder(folder, out / "grades.csv", out / "feedback", jobs=2, timeout=TIMEOUT,
                              memory_mb=4096, progress=False)
    with open(out / "grades.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    return {"rows": {row["student_id"]: row for row in rows}, "csv": csv_rows, "out": out,
            "source_before": source_before, "submissions_before": submissions_before, "folder": folder}


def full_parts():
    return json.loads(grade.RUBRIC_PATH.read_text())["parts"]


def test_reference_gets_every_check_point(graded):
    row = graded["rows"]["ref01"]
    for part, points in full_parts().items():
        assert row[part] == points, f"{part}: {row[part]} of {points}; problems: {row['problems']}"
    assert row["problems"] == "" and row["name"] == "Ref Erence"
    assert row["svm_best.pt"] > 0 and row["softmax_best.pt"] > 0, "quick-mode linear models beat 0.30"


def test_partial_work_gets_partial_points(graded):
    parts = full_parts()
    part01, part02 = graded["rows"]["part01"], graded["rows"]["part02"]
    assert part01["metrics"] == parts["metrics"] and part01["model_selection"] == parts["model_selection"]
    assert part01["linear_classifier"] == 0 and part01["two_layer_net"] == 0
    assert 0 < part02["metrics"] < parts["metrics"], "two of three metrics functions"
    assert part02["model_selection"] == 0
    assert 0 < part02["total"] < part01["total"] < graded["rows"]["ref01"]["total"]


def test_endless_loop_times_out_and_the_rest_is_graded(graded):
    row = graded["rows"]["loop01"]
    assert f"linear_classifier: timed out after {TIMEOUT} s" in row["problems"]
    assert row["linear_classifier"] == 0
    assert row["metrics"] == full_parts()["metrics"]


def test_exit_at_import_is_reported(graded):
    row = graded["rows"]["exit01"]
    assert ("model_selection: the checks stopped in assignment/model_selection.py:2: SystemExit: 3 "
            "(remove sys.exit() / exit() from your module)") in row["problems"]
    assert row["model_selection"] == 0
    assert row["metrics"] == full_parts()["metrics"]


def test_overwriting_the_checks_scores_zero(graded):
    row = graded["rows"]["overwrite01"]
    assert row["total"] == 0 and "your code changed the checks or helpers" in row["problems"]


def test_unbounded_memory_is_stopped(graded):
    row = graded["rows"]["memory01"]
    assert "ran out of memory" in row["problems"] and row["two_layer_net"] == 0
    assert row["metrics"] == full_parts()["metrics"]


def test_endless_printing_is_stopped(graded):
    row = graded["rows"]["print01"]
    assert "printed more than" in row["problems"] and row["fully_connected_networks"] == 0
    assert row["linear_classifier"] == full_parts()["linear_classifier"]


def test_a_file_changed_after_packaging_scores_zero(graded):
    row = graded["rows"]["modified01"]
    assert row["total"] == 0
    assert "assignment/metrics.py: modified after packaging" in row["problems"]


def test_paths_out_of_the_zip_score_zero(graded):
    row = graded["rows"]["escape01"]
    assert row["total"] == 0 and "unsafe path in zip: '../../outside.py'" in row["problems"]
    assert not (graded["folder"].parent / "outside.py").exists()


def test_a_corrupt_zip_scores_zero(graded):
    row = graded["rows"]["corrupt01"]
    assert row["total"] == 0 and "corrupt zip" in row["problems"]


def test_the_newest_of_two_submissions_counts(graded):
    row = graded["rows"]["dup01"]
    assert row["zip"] == "other02_submission.zip", "the newer manifest time is graded"
    assert "2 submissions for this id" in row["problems"] and "dup01_submission.zip" in row["problems"]
    assert "the file name says 'other02' but the manifest says 'dup01'" in row["problems"]
    assert row["total"] < graded["rows"]["ref01"]["total"]


def test_gradebook_and_feedback_files(graded):
    assert {r["student_id"] for r in graded["csv"]} == set(graded["rows"])
    feedback = (graded["out"] / "feedback" / "part02.txt").read_text()
    assert "precision_recall: NOT IMPLEMENTED" in feedback and "accuracy: PASS" in feedback
    assert "saved models:" in feedback


def test_nothing_outside_the_temporary_folders_changed(graded):
    assert tree_digest(KIT_ROOT) == graded["source_before"]
    after = {p.name: p.read_bytes() for p in graded["folder"].iterdir()}
    assert after == graded["submissions_before"]


def test_a_failing_hidden_check_costs_the_whole_share_of_its_function():
    def entry(name, status, hidden):
        return {"name": name, "status": status, "failures": [], "hidden": hidden}

    names = ("accuracy", "confusion_matrix", "precision_recall")
    visible = [entry(n, "PASS", False) for n in names]
    hidden = [entry(n, "FAIL" if n == "confusion_matrix" else "PASS", True) for n in names]
    report = {"metrics": {"errors": [], "functions": visible + hidden}}
    assert grade.part_points(report, "metrics", 6) == 4.0, \
        "two of three functions pass all their checks: 2/3 of the points, not 5/6"
    report["metrics"]["functions"].append(entry("k_fold_indices_helper", "PASS", True))
    assert grade.part_points(report, "metrics", 8) == 6.0, \
        "a function with hidden checks only counts once, like every other"
