"""The Gradescope autograder at work, in its container (instructor only).

    python -m instructor.autograder run            (run_autograder: grade one submission)
    python -m instructor.autograder prepare-data   (setup.sh's data step)

The kit's folder (``KIT_ROOT``) is ``$AUTOGRADER_ROOT/source``, the zip that
``python -m instructor.gradescope`` built, unpacked by Gradescope (``AUTOGRADER_ROOT`` defaults
to ``/autograder``). ``run`` is a supervisor: it writes a valid ``results/results.json`` saying
that grading did not finish, then grades in a child process (``grade``) under a deadline below
Gradescope's time limit, and writes a results file that says why whenever that child does not
finish with one of its own. The child grades with the local grader's own functions
(``instructor.grade``: ``make_context``, ``grade_guarded``, ``function_passes``), so both front ends
give the same points; only the translation into Gradescope's format lives here.
"""
import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from helpers import submission
from helpers.check import PARTS, PASS
from helpers.functions import FUNCTIONS, points
from helpers.utils import KIT_ROOT
from instructor import sandbox
from instructor.grade import (
    RUBRIC_PATH,
    function_passes,
    grade_guarded,
    load_rubric,
    make_context,
    max_total,
)
from instructor.grade_report import clean, function_line
from instructor.grade_zip import (
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    SubmissionError,
    new_submission,
    read_capped_file,
    shown,
    verify_bytes,
    verify_zip,
)
from instructor.grading import written
from instructor.verdicts import unprivileged
from instructor.verdicts.session import PLAIN_UNPROTECTED

SETTINGS_FILE = "autograder.json"      # in the zip's root: what the instructor chose at build
RELEASE_FOLDER = "student_release"     # in the zip's root: the student release, prebuilt
DATA_FOLDER = "data"                   # in the zip's root: holds cifar-10-batches-py/
DEFAULT_SETTINGS = {"timeout": 300.0, "call_timeout": None, "memory_mb": 6144,
                    "time_limit": 1800, "allow_unprotected": False,
                    "worker_user": unprivileged.WORKER_USER}
MARGIN_SECONDS = 60                    # the supervisor stops grading this long before the limit
VISIBLE, AFTER_PUBLISHED, HIDDEN = "visible", "after_published", "hidden"
NOT_FINISHED = "Grading did not finish; tell the course staff."
GRADED_FILE = ".graded.json"           # in results/: the grading child's results, made final
                                       # by the supervisor once the worker's user is gone
REFUSED = ("The autograder could not protect grading in this container (no working bubblewrap "
           "and no unprivileged worker user); tell the course staff.")


# --------------------------------------------------------------- settings ---

def autograder_root():
    """``$AUTOGRADER_ROOT``, else Gradescope's ``/autograder``."""
    return Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))


def load_settings(source=KIT_ROOT):
    """The settings written at build time (``autograder.json``) over the defaults."""
    path = Path(source) / SETTINGS_FILE
    chosen = json.loads(path.read_text()) if path.is_file() else {}
    return {**DEFAULT_SETTINGS, **{k: v for k, v in chosen.items() if k in DEFAULT_SETTINGS}}


def deadline_seconds(settings):
    """Seconds the supervisor lets grading run: the time limit less a margin (at least 10 s)."""
    return max(10.0, float(settings["time_limit"]) - MARGIN_SECONDS)


# ------------------------------------------------------------- submission ---

def upload_files(folder):
    """The plain files under ``folder`` (relative posix name -> path), refusing links and more
    files than a submission zip may hold; raises ``SubmissionError``."""
    files = {}
    for current, dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(dirs + names):
            path = Path(current) / name
            relpath = path.relative_to(folder).as_posix()
            if path.is_symlink():
                raise SubmissionError(f"link in the upload: '{shown(relpath)}'")
            if path.is_file():
                files[relpath] = path
        if len(files) > MAX_ENTRIES:
            raise SubmissionError(f"more than {MAX_ENTRIES} files in the upload")
    return files


def files_as_zip(files):
    """Zip bytes holding ``files`` (name -> path), each read under the zip's size cap."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files.items()):
            archive.writestr(name, read_capped_file(path, MAX_FILE_BYTES))
    return buffer.getvalue()


def manifest_id(files):
    """The student id that an uploaded MANIFEST.json names, when it reads as one, else None."""
    path = files.get(submission.MANIFEST)
    try:
        student_id = json.loads(read_capped_file(path, 2**20))["student_id"]
    except (TypeError, AttributeError, KeyError, ValueError, SubmissionError, OSError):
        return None
    return student_id if submission.valid_student_id(student_id) else None


def verify_upload(folder):
    """Verify the files of an upload that are not one zip, as the zip they came from: they are
    zipped in memory under their own names and checked like any zip. Gradescope knows who
    submitted; the id shown is the manifest's (or ``submission``)."""
    try:
        files = upload_files(folder)
        data = files_as_zip(files)
    except SubmissionError as err:
        sub = new_submission(Path(submission.zip_name("submission")))
        sub.refuse(str(err))
        return sub
    sub = new_submission(Path(submission.zip_name(manifest_id(files) or "submission")))
    verify_bytes(sub, data)
    return sub


def submission_source(folder):
    """``(verify, path)`` for the upload in ``folder``: ``verify()`` returns the verified
    ``Submission``; ``path`` names it if verification itself breaks. One zip is graded as the
    zip; anything else as the unpacked files of one."""
    folder = Path(folder)
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    zips = [path for path in entries if path.suffix == ".zip"]
    if len(entries) == 1 and len(zips) == 1 and zips[0].is_file():
        return (lambda: verify_zip(zips[0])), zips[0]
    if zips:
        def refuse():
            sub = new_submission(Path(submission.zip_name("submission")))
            sub.refuse(f"upload either one {submission.ZIP_SUFFIX} (from collect_submission.py) "
                       "or its files, not several zips or a zip with other files")
            return sub
        return refuse, folder
    return (lambda: verify_upload(folder)), Path(submission.zip_name("submission"))


# ---------------------------------------------------------------- results ---

def test_entry(name, score, max_score, output, passed, visibility=VISIBLE):
    """One entry of results.json's ``tests``."""
    return {"name": name, "score": float(score), "max_score": float(max_score),
            "status": "passed" if passed else "failed", "output": output,
            "visibility": visibility}


def function_tests(part, entry, max_points):
    """The entries of one part: one per student function with its points (its row of
    ``helpers/functions.py``; earned as ``instructor.grade.function_passes`` says), its visible
    checks' verdict shown, and one per function with hidden checks, shown after grades are
    published (PASS/FAIL and a generic line, as in the feedback file). A part without verdicts
    gets one entry that says why."""
    passes = function_passes({part: entry}, part)
    problems = [clean(why) for why in entry.get("errors", []) + [entry.get("sandbox")] if why]
    if not passes:
        return [test_entry(part, 0, max_points, "\n".join(problems) or "no checks ran", False)]
    tests = []
    for name, passed in passes.items():
        share = float(points(name)) if name in FUNCTIONS else 0.0   # helpers/functions.py
        checks = [f for f in entry["functions"] if f["name"] == name]
        shown_lines = [function_line(f) for f in checks if not f.get("hidden")] + problems
        tests.append(test_entry(f"{part}: {name}", share if passed else 0, share,
                                "\n".join(shown_lines), passed))
        tests += [test_entry(f"{part}: {name} (hidden checks)", 0, 0, function_line(f),
                             f["status"] == PASS, AFTER_PUBLISHED)
                  for f in checks if f.get("hidden")]
    return tests


def model_tests(rubric, model_scores):
    """One entry per saved model of the rubric: its test accuracy (or why none) and points."""
    tests = []
    for spec in rubric["models"]:
        _, points, note = model_scores.get(spec["file"], (None, 0, "not scored"))
        best = max(points for _, points in spec["thresholds"])
        tests.append(test_entry(f"saved model: {spec['file']}", points, best, clean(note),
                                points >= best))
    return tests


def results_for(graded, rubric, seconds):
    """results.json for a ``instructor.grade.Graded``: the CSV row's total as ``score``, the
    feedback file as ``output``; a refused submission gets one entry that says why."""
    sub = graded.sub
    if sub.fatal:
        why = "; ".join(clean(problem) for problem in sub.problems)
        tests = [test_entry("submission verification", 0, max_total(rubric), why, False)]
    else:
        tests = [test for part in PARTS for test in function_tests(
            part, graded.report.get(part, {}), rubric["parts"][part])]
        tests += model_tests(rubric, graded.model_scores)
        tests += written.gradescope_entries(graded.sub.members, rubric.get("written", {}),
                                            test_entry)
    return results_document(graded.row["total"], seconds, graded.feedback, tests)


def results_document(score, seconds, output, tests):
    """The top level of results.json (Gradescope's format)."""
    return {"score": float(score), "execution_time": int(round(seconds)), "output": output,
            "output_format": "text", "visibility": VISIBLE, "stdout_visibility": HIDDEN,
            "tests": tests}


def failure_results(why, seconds):
    """results.json for a run that could not grade: score 0 and one entry saying why."""
    return results_document(0, seconds, why, [test_entry("autograder", 0, 0, why, False)])


def write_results(root, results):
    """Write ``root/results/results.json`` atomically."""
    folder = Path(root) / "results"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / ".results.json.partial"
    partial.write_text(json.dumps(results, indent=1))
    os.replace(partial, folder / "results.json")


# ---------------------------------------------------------------- grading ---

WORKER_USER_PROTECTS = (
    "the worker runs as the unprivileged user of the settings' worker_user (setup.sh makes "
    f"'{unprivileged.WORKER_USER}'): it cannot read {KIT_ROOT} (reference solutions, hidden "
    "checks, rubric), write the results or signal the grader; every process of that user is "
    "killed before results.json is written",
    "not isolated: it sees the container's other files and processes, and the network is "
    "blocked in Python only",
)


def protection(reason, settings):
    """How the worker runs here: ``("sandbox" | "user" | "none" | "refuse", log lines)``; the
    lines (stdout and a staff-only entry of results.json) say which protections held."""
    if reason is None:
        return "sandbox", ["sandbox: bubblewrap works in this container; the worker runs in the "
                           "sandbox (docs/grading.md, 'The sandbox'); verdicts in a trusted "
                           "process"]
    lines = [f"sandbox: bubblewrap FAILED in this container ({reason})"]
    if os.geteuid() == 0 and unprivileged.worker_ids(settings["worker_user"]) is not None:
        return "user", lines + [f"  - {line}" for line in WORKER_USER_PROTECTS]
    if not settings.get("allow_unprotected"):
        return "refuse", lines + ["no unprivileged worker user either: grading refused (build "
                                  "the autograder with --allow-unprotected to grade anyway)"]
    return "none", lines + ["graded as with --no-sandbox (built with --allow-unprotected):"] + [
        f"  - {line}" for line in PLAIN_UNPROTECTED]


def close_source(root):
    """The kit's source and the results folder, root's only (the worker's user is another)."""
    for folder in (KIT_ROOT, Path(root) / "results"):
        os.chmod(folder, 0o700)


def grade(root, settings):
    """Grade the upload in ``root/submission`` with the local grader's functions; returns
    the results dict. Student code runs only in the worker (sandboxed where bwrap works, else
    as an unprivileged user)."""
    start = time.monotonic()
    reason = sandbox.unavailable_reason()
    mode, lines = protection(reason, settings)
    print("\n".join(lines), flush=True)
    staff = test_entry("sandbox (staff only)", 0, 0, "\n".join(lines), mode != "refuse", HIDDEN)
    if mode == "refuse":
        results = failure_results(REFUSED, time.monotonic() - start)
        results["tests"].append(staff)
        return results
    if mode == "user":
        close_source(root)
    rubric = load_rubric(RUBRIC_PATH)
    verify, path = submission_source(Path(root) / "submission")
    with tempfile.TemporaryDirectory(prefix="autograder-") as workdir:
        ctx = make_context(workdir, rubric, settings["timeout"], settings["memory_mb"],
                           reason is None, settings["call_timeout"],
                           release_dir=KIT_ROOT / RELEASE_FOLDER)
        ctx.worker_user = settings["worker_user"] if mode == "user" else None
        graded = grade_guarded(ctx, verify, path)
    print(graded.feedback, flush=True)
    results = results_for(graded, rubric, time.monotonic() - start)
    results["tests"].append(staff)
    return results


# ------------------------------------------------------------- supervisor ---

def descendants(pid):
    """Process ids of every descendant of ``pid`` (from /proc), children first."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
        except (ValueError, OSError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def signal_all(pids, signum):
    """Send ``signum`` to each of ``pids`` (gone ones are skipped)."""
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def kill_tree(process):
    """Kill ``process`` and everything it started (worker sessions and sandboxes included):
    stop the tree from the top until no new process appears, then kill every stopped one."""
    stopped, pending = set(), [process.pid]
    while pending:
        signal_all(pending, signal.SIGSTOP)
        stopped.update(pending)
        pending = [pid for pid in descendants(process.pid) if pid not in stopped]
    signal_all(stopped, signal.SIGKILL)
    process.wait()


def supervise(root, settings):
    """Grade in a child process under the deadline; returns the exit code. A results.json
    is on disk from the first moment, and says why whenever the child did not write one."""
    start = time.monotonic()
    write_results(root, failure_results(NOT_FINISHED, 0))
    graded = Path(root) / "results" / GRADED_FILE
    graded.unlink(missing_ok=True)
    child = subprocess.Popen([sys.executable, "-m", "instructor.autograder", "grade"],
                             cwd=KIT_ROOT)
    limit = deadline_seconds(settings)
    try:
        code = child.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        kill_tree(child)
        code = None
    # Last: no process of the worker's user is left to change anything after this.
    unprivileged.kill_user_processes(settings["worker_user"])
    if code is None:
        why = (f"Grading took longer than {limit:.0f} s and was stopped; endless loops in "
               "several functions can do that. Fix them and submit again.")
        write_results(root, failure_results(why, time.monotonic() - start))
        return 1
    try:
        results = json.loads(graded.read_text()) if code == 0 else None
    except (OSError, ValueError):
        results = None
    if results is None:
        code = code or 1
        why = f"The autograder failed (exit code {code}); tell the course staff."
        results = failure_results(why, time.monotonic() - start)
    write_results(root, results)
    graded.unlink(missing_ok=True)
    return code


def prepare_data():
    """setup.sh's data step: check the CIFAR-10 copy shipped in the zip, or download it."""
    from helpers.data import FOLDER, load_cifar10

    root = KIT_ROOT / DATA_FOLDER
    shipped = (root / FOLDER).is_dir()
    x_train, _, x_test, _ = load_cifar10(root=root, download=not shipped)
    print(f"CIFAR-10 in {root / FOLDER} ({'shipped in the zip' if shipped else 'downloaded'}): "
          f"{len(x_train)} training and {len(x_test)} test images")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m instructor.autograder",
                                     description="The Gradescope autograder's steps.")
    parser.add_argument("step", choices=("run", "grade", "prepare-data"))
    step = parser.parse_args(argv).step
    if step == "prepare-data":
        prepare_data()
        return 0
    root, settings = autograder_root(), load_settings()
    if step == "run":
        return supervise(root, settings)
    results = grade(root, settings)
    partial = Path(root) / "results" / f"{GRADED_FILE}.partial"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(json.dumps(results))
    os.replace(partial, partial.with_name(GRADED_FILE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
