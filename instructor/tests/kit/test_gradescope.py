"""The Gradescope autograder, end to end, without a Gradescope account (instructor only).

``python -m instructor.gradescope`` builds a real ``autograder.zip`` (CIFAR-10 shipped in it);
the tests unpack it as Gradescope does (into ``$AUTOGRADER_ROOT/source``, modes kept), run
``setup.sh`` with ``KIT_SETUP_SKIP_INSTALL=1`` (this virtual environment already has the pinned
requirements, and there is no network: only the data step runs), put real uploads in
``submission/`` and run ``run_autograder`` as a subprocess. Every ``results.json`` is checked
against a schema written from Gradescope's documentation (``GRADESCOPE_RESULTS``), and the
scores against the CSV row and feedback file that ``python -m instructor.grade`` writes for the
same zip.
"""
import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest

from helpers import submission
from helpers.check import PARTS
from helpers.data import default_root
from helpers.utils import KIT_ROOT
from instructor import autograder, grade
from instructor.tests.kit import hostile
from instructor.tests.kit.hostile import pack
from instructor.tests.kit.runner import run_in
from instructor.verdicts import unprivileged

pytestmark = pytest.mark.long  # the long tier (pytest --all): see conftest.py

TIMEOUT, CALL_TIMEOUT = 600, 60  # as test_grade.py: a busy machine changes no grade
RUN_SECONDS = 900
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
NUMBER = {"type": "number"}
GRADESCOPE_TEST = {
    "type": "object",
    "required": ["name", "score", "max_score", "output", "visibility"],
    "properties": {"name": {"type": "string", "minLength": 1}, "number": {"type": "string"},
                   "score": NUMBER, "max_score": NUMBER,
                   "status": {"enum": ["passed", "failed"]}, "output": {"type": "string"},
                   "visibility": VISIBILITY},
    "additionalProperties": False,
}
GRADESCOPE_RESULTS = {
    "type": "object",
    "required": ["score", "execution_time", "output", "stdout_visibility", "tests"],
    "properties": {
        "score": NUMBER, "execution_time": {"type": "integer", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "visibility": VISIBILITY, "stdout_visibility": VISIBILITY,
        "tests": {"type": "array", "minItems": 1, "items": GRADESCOPE_TEST},
        "leaderboard": {"type": "array", "items": {
            "type": "object", "required": ["name", "value"],
            "properties": {"name": {"type": "string"}, "value": NUMBER,
                           "order": {"enum": ["asc", "desc"]}}}},
    },
    "additionalProperties": False,
}
# Test variables that Gradescope's container does not have.
TEST_VARIABLES = ("CIFAR10_ROOT", "KIT_SAVED_DIR", "KIT_RESULTS_DIR", "KIT_QUICK")


# ------------------------------------------------------------------ helpers ---

def unpack(zip_path, folder):
    """Unpack like unzip: files with the Unix modes the zip records."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = archive.extract(info, folder)
            if info.external_attr >> 16 & 0o777:
                os.chmod(target, info.external_attr >> 16 & 0o777)
    return Path(folder)


def clean_env(**extra):
    """This environment without the test session's variables, python's folder first in PATH."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_VARIABLES}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def bin_without_bwrap(folder):
    """A PATH of python's folder and the few tools run_autograder needs, but no bwrap: a
    container where the sandbox cannot run."""
    folder.mkdir()
    for tool in ("bash", "cat", "mkdir"):
        (folder / tool).symlink_to(shutil.which(tool))
    return f"{Path(sys.executable).parent}{os.pathsep}{folder}"


def fresh_root(template, folder, settings=None, rubric_text=None):
    """A fresh $AUTOGRADER_ROOT (as a new container): ``source/`` is the unpacked zip (a copy
    when ``settings`` or the rubric change), ``run_autograder`` copied next to it, an empty
    ``submission/``."""
    root = folder / "autograder"
    root.mkdir(parents=True)
    source = root / "source"
    if settings is None and rubric_text is None:
        source.symlink_to(template)
    else:
        shutil.copytree(template, source, ignore=lambda d, names: ["data"] if Path(d) == template
                        else [])
        (source / "data").symlink_to(template / "data")
        settings_path = source / "autograder.json"
        settings_path.write_text(json.dumps({**json.loads(settings_path.read_text()),
                                             **(settings or {})}))
        if rubric_text is not None:
            (source / "instructor" / "rubric.json").write_text(rubric_text)
    shutil.copy(source / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    return root


def run_autograder(root, path=None):
    """Run ``root/run_autograder`` as Gradescope does; returns (process, results, seconds)."""
    env = clean_env(AUTOGRADER_ROOT=str(root), TMPDIR=str(root.parent))
    if path:
        env["PATH"] = path
    start = time.monotonic()
    process = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, text=True,
                             capture_output=True, timeout=RUN_SECONDS)
    seconds = time.monotonic() - start
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_RESULTS)
    return process, results, seconds


def grade_upload(template, folder, upload, **options):
    """A fresh root with ``upload`` (a zip, or a folder of files) in ``submission/``, graded."""
    root = fresh_root(template, folder, options.pop("settings", None),
                      options.pop("rubric_text", None))
    if Path(upload).is_dir():
        shutil.copytree(upload, root / "submission", dirs_exist_ok=True)
    else:
        shutil.copy(upload, root / "submission")
    return (root, *run_autograder(root, **options))


def entries(results, prefix):
    """The tests of results.json whose name starts with ``prefix``."""
    return [test for test in results["tests"] if test["name"].startswith(prefix)]


def part_score(results, part):
    """The points results.json gives ``part``: its functions' entries (hidden ones carry none)."""
    return sum(test["score"] for test in entries(results, part))


def processes_of(root):
    """Host pids whose environment names ``root`` or whose folder is under it."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            if (f"AUTOGRADER_ROOT={root}".encode() in (entry / "environ").read_bytes()
                    or os.readlink(entry / "cwd").startswith(str(root.parent))):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


# ----------------------------------------------------------------- fixtures ---

@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    """autograder.zip built by the command, with the offline CIFAR-10 copy shipped in it."""
    out = tmp_path_factory.mktemp("gradescope")
    result = subprocess.run(
        [sys.executable, "-m", "instructor.gradescope", str(out),
         "--with-data", str(default_root()), "--timeout", str(TIMEOUT),
         "--call-timeout", str(CALL_TIMEOUT)],
        cwd=KIT_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    path = out / "autograder.zip"
    print(f"autograder.zip: {path.stat().st_size / 2**20:.1f} MB with CIFAR-10")
    return path


@pytest.fixture(scope="module")
def template(autograder_zip, tmp_path_factory):
    """The zip unpacked into source/ and set up by setup.sh (data step only, offline)."""
    root = tmp_path_factory.mktemp("image")
    source = unpack(autograder_zip, root / "source")
    result = subprocess.run(["bash", str(source / "setup.sh")], cwd=root, text=True,
                            capture_output=True, timeout=600,
                            env=clean_env(AUTOGRADER_ROOT=str(root), KIT_SETUP_SKIP_INSTALL="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(shipped in the zip): 50000 training and 10000 test images" in result.stdout
    return source


@pytest.fixture(scope="module")
def uploads(working_sandbox, finished_kit, student_kit, tmp_path_factory):
    """Real submission zips from a finished kit: the reference (collect_submission.py), one
    part stubbed, a file changed after packaging, an endless loop."""
    folder = tmp_path_factory.mktemp("uploads")
    work = tmp_path_factory.mktemp("upload-kits")

    def variant(name, change):
        kit = work / name
        shutil.copytree(finished_kit, kit)
        change(kit)
        return pack(kit, folder, name)

    result = run_in(finished_kit, "collect_submission.py", "ref01", "--name", "Ref Erence",
                    "--out", str(folder))
    assert result.returncode == 0, result.stderr
    stub = variant("part01", lambda kit: shutil.copy(student_kit / "assignment" / "metrics.py",
                                                     kit / "assignment" / "metrics.py"))

    def loop(kit):
        path = kit / "assignment" / "linear_classifier.py"
        path.write_text(path.read_text() + "\ndef svm_loss_naive(W, X, y, reg):\n"
                        "    while True:\n        pass\n")
    endless = variant("loop01", loop)
    tampered = variant("modified01", lambda kit: None)
    with zipfile.ZipFile(tampered) as source:
        members = [(info, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(tampered, "w") as target:
        for info, data in members:
            if info.filename == "assignment/metrics.py":
                data += b"\n# changed after packaging\n"
            target.writestr(info, data)
    unpacked = work / "part01-files"
    with zipfile.ZipFile(stub) as archive:
        archive.extractall(unpacked)
    return {"ref": folder / submission.zip_name("ref01"), "part": stub, "part_files": unpacked,
            "loop": endless, "tampered": tampered}


@pytest.fixture(scope="module")
def local_grades(uploads, tmp_path_factory):
    """python -m instructor.grade on the reference and the stubbed zip: CSV rows and feedback."""
    folder, out = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("local-out")
    for name in ("ref", "part"):
        shutil.copy(uploads[name], folder)
    result = subprocess.run(
        [sys.executable, "-m", "instructor.grade", str(folder), "--out", str(out / "grades.csv"),
         "--feedback", str(out / "feedback"), "--timeout", str(TIMEOUT),
         "--call-timeout", str(CALL_TIMEOUT)],
        cwd=KIT_ROOT, capture_output=True, text=True, timeout=1800,
        env=clean_env(CIFAR10_ROOT=str(default_root())))
    assert result.returncode == 0, result.stderr
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    return rows, out / "feedback"


@pytest.fixture(scope="module")
def reference_run(template, uploads, tmp_path_factory):
    """The reference zip graded in the sandbox."""
    return grade_upload(template, tmp_path_factory.mktemp("run-ref"), uploads["ref"])


@pytest.fixture(scope="module")
def partial_run(template, uploads, tmp_path_factory):
    """The stubbed-part submission uploaded as its unpacked files."""
    return grade_upload(template, tmp_path_factory.mktemp("run-part"), uploads["part_files"])


# -------------------------------------------------------------------- tests ---

def test_the_zip_holds_what_gradescope_runs_and_the_grader_needs(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    for script in ("setup.sh", "run_autograder"):
        assert infos[script].external_attr >> 16 & 0o111, f"{script} must be executable"
    needed = ("autograder.json", "instructor/rubric.json", "instructor/grade.py",
              "assignment/metrics.py", "instructor/tests/hidden/test_metrics.py",
              "tests/assignment/test_metrics.py", "instructor/autograder.py",
              "student_release/assignment/metrics.py", "data/cifar-10-batches-py/test_batch")
    assert not [name for name in needed if name not in infos]
    assert not [n for n in infos if n.startswith(("tests/kit/", "benchmarks/", ".ci/", "saved/"))]
    released = [n for n in infos if n.startswith("student_release/")]
    assert not [n for n in released if "/instructor/" in n or "/tests/hidden/" in n
                or n.endswith(("grade.py", "rubric.json"))], "the release inside is a student's"
    assert json.loads(zipfile.ZipFile(autograder_zip).read("autograder.json"))["timeout"] == TIMEOUT


def test_the_student_release_never_ships_the_instructor_package(student_kit):
    assert (KIT_ROOT / "instructor").is_dir() and not (student_kit / "instructor").exists()


def test_the_reference_gets_every_check_point(reference_run):
    root, process, results, seconds = reference_run
    print(f"run_autograder on the reference: {seconds:.0f} s")
    rubric = grade.load_rubric(grade.RUBRIC_PATH)
    for part in PARTS:
        assert part_score(results, part) == pytest.approx(rubric["parts"][part]), part
    functions = [t for t in results["tests"] if ": " in t["name"]
                 and not t["name"].startswith("saved model")]
    assert all(t["status"] == "passed" for t in functions), [t for t in functions
                                                              if t["status"] != "passed"]
    hidden = [t for t in results["tests"] if t["name"].endswith("(hidden checks)")]
    assert hidden and all(t["visibility"] == "after_published" and t["max_score"] == 0
                          for t in hidden)
    models = entries(results, "saved model: ")
    assert [t["name"] for t in models] == [f"saved model: {m}" for m in submission.SAVED_MODELS]
    assert all("test accuracy 0." in t["output"] for t in models)
    assert results["stdout_visibility"] == "hidden"
    assert "sandbox: bubblewrap works" in process.stdout


def test_scores_and_output_equal_the_local_grader(reference_run, partial_run, local_grades):
    rows, feedback = local_grades
    rubric = grade.load_rubric(grade.RUBRIC_PATH)
    for (_, _, results, _), student_id in ((reference_run, "ref01"), (partial_run, "part01")):
        row = rows[student_id]
        assert results["score"] == float(row["total"]), student_id
        for part in PARTS:
            assert part_score(results, part) == pytest.approx(float(row[part]), abs=0.01), part
        for spec in rubric["models"]:
            test, = entries(results, f"saved model: {spec['file']}")
            assert test["score"] == float(row[spec["file"]]), spec["file"]
        assert results["output"] == (feedback / f"{student_id}.txt").read_text()


def test_one_part_stubbed_gets_partial_points(partial_run, reference_run):
    _, _, results, _ = partial_run
    assert 0 < results["score"] < reference_run[2]["score"]
    assert part_score(results, "metrics") == 0
    stubs = entries(results, "metrics: ")
    assert stubs and all(t["status"] == "failed" for t in stubs)
    assert any("NOT IMPLEMENTED" in t["output"] for t in stubs if t["visibility"] == "visible")
    composed = entries(results, "linear_classifier: test_one_param_set")[0]
    assert composed["score"] == 0 and composed["output"] == "test_one_param_set: WAITING", \
        "a function built on a stubbed one waits for it, as in the local grader"
    assert part_score(results, "fully_connected_networks") == part_score(
        reference_run[2], "fully_connected_networks")


def test_a_tampered_zip_scores_zero_with_the_reason(template, uploads, tmp_path):
    _, _, results, _ = grade_upload(template, tmp_path, uploads["tampered"])
    assert results["score"] == 0
    # One entry a student sees; the staff-only sandbox entry is always there besides.
    test, = [entry for entry in results["tests"] if entry.get("visibility") != "hidden"]
    assert test["name"] == "submission verification" and test["score"] == 0
    assert "assignment/metrics.py: modified after packaging" in test["output"]
    assert test["max_score"] == grade.max_total(grade.load_rubric(grade.RUBRIC_PATH))


@pytest.fixture(scope="module")
def worker_user(template):
    """The unprivileged worker user that setup.sh created, able to run this test session's
    python: search rights for others on the folders above the virtual environment (restored
    afterwards). Gradescope's venv, /autograder/venv, is readable as it is."""
    if os.geteuid() != 0:
        pytest.skip("setup.sh creates the worker's user as root only (Gradescope runs it so)")
    ids = unprivileged.worker_ids()
    assert ids is not None, f"setup.sh did not create the user {unprivileged.WORKER_USER!r}"
    changed = {}
    for start in (Path(sys.prefix), Path(os.path.realpath(sys.executable)).parent):
        for folder in [start, *start.parents]:
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH:
                changed.setdefault(folder, mode)
                os.chmod(folder, mode | stat.S_IXOTH)
    yield ids
    for folder, mode in changed.items():
        os.chmod(folder, stat.S_IMODE(mode))


@pytest.mark.long
def test_without_bwrap_the_worker_runs_as_an_unprivileged_user(worker_user, template,
                                                               student_kit, finished_kit,
                                                               tmp_path):
    """A do-nothing submission whose setsid daemon goes for the source, the results and the
    supervisor: it reads and writes nothing, is killed before results.json is written, and the
    upload scores what its honest part deserves (its saved models only)."""
    report = tmp_path / "report"
    report.mkdir()
    os.chmod(report, 0o1777)
    kit = tmp_path / "daemon01"
    shutil.copytree(finished_kit, kit)
    for path in (student_kit / "assignment").glob("*.py"):
        shutil.copy(path, kit / "assignment" / path.name)
    root_dir = tmp_path / "container"
    metrics = kit / "assignment" / "metrics.py"
    metrics.write_text(hostile.results_daemon(root_dir / "autograder", report / "seen.json")
                       + metrics.read_text())
    upload = pack(kit, tmp_path, "daemon01")
    path = bin_without_bwrap(tmp_path / "bin")
    root, process, results, _ = grade_upload(template, root_dir, upload, path=path)
    seen = json.loads((report / "seen.json").read_text())
    assert seen["rubric"] == "PermissionError" and seen["hidden"] == "PermissionError", seen
    assert seen["results"] == "PermissionError" and seen["signalled"] == 0, seen
    assert not unprivileged.user_processes(worker_user[0]), "a process of the worker outlived"
    models = sum(t["score"] for t in entries(results, "saved model:"))
    assert models > 0 and results["score"] == models, results["score"]
    staff, = entries(results, "sandbox (staff only)")
    assert staff["visibility"] == "hidden" and "bubblewrap FAILED" in staff["output"]
    assert "bubblewrap FAILED" in process.stdout and "kitworker" in process.stdout
    assert "forged" not in json.dumps(results)


@pytest.mark.long
def test_without_bwrap_or_worker_user_grading_is_refused(template, uploads, tmp_path):
    """Where neither protection is available, the autograder refuses unless built with
    --allow-unprotected; the staff entry says why."""
    path = bin_without_bwrap(tmp_path / "bin")
    _, process, results, _ = grade_upload(template, tmp_path, uploads["ref"], path=path,
                                          settings={"worker_user": "no-such-user"})
    assert results["score"] == 0 and "could not protect grading" in results["output"]
    staff, = entries(results, "sandbox (staff only)")
    assert staff["visibility"] == "hidden" and "--allow-unprotected" in staff["output"]


def test_an_endless_loop_without_bwrap_costs_only_its_function(template, uploads, tmp_path,
                                                               worker_user):
    """In a container where bwrap cannot run, the worker runs as the unprivileged user and
    the log says so."""
    path = bin_without_bwrap(tmp_path / "bin")
    root, process, results, seconds = grade_upload(template, tmp_path, uploads["loop"], path=path)
    settings = json.loads((root / "source" / "autograder.json").read_text())
    assert seconds < settings["time_limit"] and results["execution_time"] < settings["time_limit"]
    looping = entries(results, "linear_classifier: svm_loss_naive")[0]
    assert looping["score"] == 0 and looping["status"] == "failed"
    assert f"svm_loss_naive timed out after {CALL_TIMEOUT} s" in results["output"]
    rubric = grade.load_rubric(grade.RUBRIC_PATH)
    assert 0 < part_score(results, "linear_classifier") < rubric["parts"]["linear_classifier"]
    assert part_score(results, "metrics") == rubric["parts"]["metrics"]
    assert "sandbox: bubblewrap FAILED in this container" in process.stdout
    assert "the network is blocked in Python only" in process.stdout
    assert not processes_of(root)


def test_grading_past_the_deadline_still_writes_results(template, uploads, tmp_path):
    root, _, results, seconds = grade_upload(template, tmp_path, uploads["loop"],
                                             settings={"time_limit": 70})
    assert seconds < 70 and results["score"] == 0
    test, = results["tests"]
    assert "longer than 10 s and was stopped" in test["output"]
    assert not processes_of(root), "nothing of a stopped grading run may go on"


def test_a_grader_that_crashes_still_writes_results(template, uploads, tmp_path):
    _, process, results, _ = grade_upload(template, tmp_path, uploads["ref"], rubric_text="{")
    assert results["score"] == 0
    assert "The autograder failed (exit code 1); tell the course staff." in results["output"]
    assert "JSONDecodeError" in process.stderr


def test_uploads_that_are_not_one_submission_are_refused_with_the_reason(tmp_path):
    several, linked, empty = (tmp_path / name for name in ("several", "linked", "empty"))
    for folder in (several, linked, empty):
        folder.mkdir()
    for name in ("a_submission.zip", "b_submission.zip"):
        (several / name).write_bytes(b"PK")
    (linked / "MANIFEST.json").symlink_to("/etc/passwd")
    reasons = {"several": "not several zips", "linked": "link in the upload: 'MANIFEST.json'",
               "empty": "no MANIFEST.json"}
    for folder in (several, linked, empty):
        verify, _ = autograder.submission_source(folder)
        sub = verify()
        assert sub.fatal and reasons[folder.name] in sub.problems[-1], sub.problems


def test_a_part_that_could_not_be_imported_is_one_entry_with_the_reason():
    error = "assignment/metrics.py could not be imported: NameError: name 'x' is not defined"
    test, = autograder.function_tests("metrics", {"errors": [error], "functions": []}, 5)
    assert (test["name"], test["score"], test["max_score"]) == ("metrics", 0, 5)
    assert test["output"] == error and test["status"] == "failed"
