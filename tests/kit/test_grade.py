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
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from helpers import grade, release, submission
from helpers.utils import KIT_ROOT
from tests.kit.runner import run_in

TIMEOUT = 60  # seconds of student code per part (15 s per call); a normal run takes about 15

# Hostile submissions. FORGE writes the result file the runner of the checks would write and
# leaves; PATCH rewrites the runner's result objects and pytest's reports in memory; REWRITE
# replaces the check files with ones that pass (and put the originals back when they are
# imported) and dies, so that each part is run again with them.
FORGE = """
import json as _json, os as _os, sys as _sys
_parts = [_a for _a in _sys.argv[1:] if not _a.endswith(".json")]
for _arg in _sys.argv[1:]:
    if _arg.endswith(".json"):
        with open(_arg, "w") as _f:
            _json.dump({_p: {"errors": [], "functions": [
                {"name": "forged", "status": "PASS", "failures": [], "hidden": False}]}
                for _p in _parts}, _f)
_os._exit(0)
"""
PATCH = """
import _pytest.reports as _reports
import helpers.check as _check
_check.FunctionResult.status = property(lambda self: "PASS")
_reports.BaseReport.failed = property(lambda self: False)
"""
REWRITE = """
import base64 as _b64, os as _os, pathlib as _pl
_NAMES = NAMES_HERE
_found = sorted(_pl.Path(__file__).resolve().parent.parent.glob("tests/*/test_*.py"))
if _found and not any(b"FORGED" in _p.read_bytes() for _p in _found):
    for _p in _found:
        _text = "# FORGED\\nimport base64, pathlib, pytest\\n"
        _text += "pathlib.Path(__file__).write_bytes(base64.b64decode(%r))\\n" % (
            _b64.b64encode(_p.read_bytes()).decode())
        for _i, _n in enumerate(_NAMES.get(_p.stem[5:], [])):
            _text += "@pytest.mark.student(%r)\\ndef test_forged_%d():\\n    pass\\n" % (_n, _i)
        _p.write_text(_text)
    _os._exit(1)
"""


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
    def hostile(code, wrong=False):
        """Stubs (or, with ``wrong``, functions that return None) with ``code`` in metrics.py."""
        def change(kit):
            release_files_with()(kit)
            for path in (kit / "assignment").glob("*.py"):
                text = path.read_text()
                if wrong:
                    stub = r'raise NotImplementedError\(".*?' + re.escape(submission.STUB_MARK)
                    text = re.sub(stub + r'.*?"\)', "return None", text)
                path.write_text(code + "\n" + text if path.name == "metrics.py" else text)
        return change

    names = {p.stem: submission.stubbed_functions(p.read_text())
             for p in (student_kit / "assignment").glob("*.py")}
    pack(variant("forge01", hostile(FORGE)), folder, "forge01")
    pack(variant("patch01", hostile(PATCH)), folder, "patch01")
    pack(variant("rewrite01", hostile(REWRITE.replace("NAMES_HERE", repr(names)), wrong=True)),
         folder, "rewrite01")
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


def test_endless_loop_costs_only_its_function(graded):
    row = graded["rows"]["loop01"]
    assert f"linear_classifier: svm_loss_naive timed out after {TIMEOUT // 4} s" in row["problems"]
    assert 0 < row["linear_classifier"] < full_parts()["linear_classifier"]
    assert row["metrics"] == full_parts()["metrics"]


def test_exit_at_import_is_reported(graded):
    row = graded["rows"]["exit01"]
    assert ("model_selection: importing assignment/model_selection.py called sys.exit(3) in "
            "assignment/model_selection.py:2 (remove sys.exit() / exit() from your code)"
            ) in row["problems"]
    assert row["model_selection"] == 0
    assert row["metrics"] == full_parts()["metrics"]


def test_overwriting_the_checks_changes_nothing(graded):
    row = graded["rows"]["overwrite01"]
    assert row["problems"] == "" and all(row[p] == v for p, v in full_parts().items()), \
        "the worker's folder holds no check to overwrite: the reference code gets every point"


@pytest.mark.parametrize("student_id", ["forge01", "patch01", "rewrite01"])
def test_forged_verdicts_earn_nothing(graded, student_id):
    row = graded["rows"][student_id]
    assert [row[part] for part in full_parts()] == [0] * len(full_parts()), row


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


# Appends to the grader's own reference module (found through the worker's parent processes),
# which the grader imports to score the saved models: code that would then run in the grader.
SCORING_ATTACK = """
import os as _os, pathlib as _pl


def _grader_kit(pid):
    for _ in range(6):
        cwd = _pl.Path(f"/proc/{pid}/cwd").resolve()
        if "victim-kit" in str(cwd) and (cwd / "helpers" / "grade.py").is_file():
            return cwd
        pid = int(_pl.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


_kit = _grader_kit(_os.getppid())
if _kit:
    _target = _kit / "assignment" / "linear_classifier.py"
    if "PWNED" not in _target.read_text():
        _target.write_text(_target.read_text() + "\\nimport pathlib\\npathlib.Path(__file__)"
                           ".resolve().parent.parent.joinpath('PWNED').write_text('ran')\\n")
"""


def test_scoring_never_imports_what_student_code_wrote(finished_kit, tmp_path):
    victim = tmp_path / "victim-kit"
    shutil.copytree(KIT_ROOT, victim, ignore=shutil.ignore_patterns(
        ".git", "data", "results", "saved", "__pycache__", ".pytest_cache"))
    kit = tmp_path / "student"
    shutil.copytree(finished_kit, kit)
    metrics = kit / "assignment" / "metrics.py"
    metrics.write_text(SCORING_ATTACK + metrics.read_text())
    folder = tmp_path / "submissions"
    folder.mkdir()
    pack(kit, folder, "score01")
    result = run_in(victim, "-m", "helpers.grade", str(folder), "--out", str(tmp_path / "g.csv"),
                    "--jobs", "1", "--timeout", str(TIMEOUT), "--memory-mb", "4096")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "PWNED" in (victim / "assignment" / "linear_classifier.py").read_text(), \
        "the attack reached the grader's file (the plain launcher shares the grader's user)"
    assert not (victim / "PWNED").exists(), "the grader ran code that a submission wrote"
