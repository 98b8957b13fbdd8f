"""Grading a folder of submission zips into a gradebook: the steps behind
``python -m instructor.grade`` (its command line, in ``instructor/grade.py``, imports this
module only once the arguments are read, so that ``--help`` is quick).

For every ``*_submission.zip``` (several at a time, ``--jobs``), each on its own:

1. read the zip into memory once and verify it (``instructor.grade_zip``): the
   file name's student id, entries and sizes before inflating, the manifest's
   schema and every sha256;
2. lay the student's ``assignment/*.py`` over a fresh copy of the student
   release without its checks, so the helpers are the instructor's own;
3. run the assignment checks and the hidden checks (``instructor/tests/hidden/``) with
   trusted verdicts (``instructor.verdicts``): pytest runs in a trusted process
   that runs no student code; the student's functions run in a worker inside
   the bubblewrap sandbox (``instructor.verdicts.sandboxed``, ``instructor.sandbox``:
   no network, the release copy and Python read-only, only a scratch folder
   writable, limits on memory, processes and file size, nothing left running)
   that only returns values; each call has a deadline and each part a budget;
4. check each saved model's tensors and score it with the grader's own
   forward pass on the CIFAR-10 test split (``instructor.grade_models``);
5. turn the results into points with the rubric (``instructor/rubric.json``) and
   write one CSV row and one feedback file per student (``instructor.grade_report``);
6. write the written answers, question by question, for grading by hand
   (``instructor.grading.written``: ``written/`` next to the gradebook); ``--written`` merges
   the filled-in ``scores.csv`` into the gradebook and feedback without grading again.

A submission that breaks any step scores 0 with the reason; every other
submission is still graded and the CSV is always written.
"""
import hashlib
import json
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from helpers import functions, submission
from helpers.check import PARTS, PASS
from instructor import HIDDEN_CHECKS, RUBRIC_PATH, grade_models, grade_report, sandbox
from instructor.grade_report import clean
from instructor.grade_zip import new_submission, shown, verify_zip
from instructor.grading import written
from instructor.release import build_release
from instructor.sample_submission import SAMPLES_HINT, quick_mode_notebooks
from instructor.verdicts.runner import grade_checks

MODEL_SECONDS = 60


# ----------------------------------------------------------------- context ---

@dataclass
class Context:
    """What every grading job shares."""

    workdir: Path
    release_dir: Path
    rubric: dict
    timeout: float
    memory_mb: int
    protected: bool = True          # the worker in the bubblewrap sandbox (not --no-sandbox)
    secrets: frozenset = frozenset()
    call_timeout: float = None      # seconds per call into student code (None: timeout / 4)
    worker_user: str = None         # unsandboxed: run the worker as this user (unprivileged.py)
    test_sets: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)  # set on Ctrl-C
    samples: bool = False           # grade sample submissions (notebooks run in quick mode)


def hidden_sources():
    """Source texts of the hidden checks (kept out of feedback)."""
    if not HIDDEN_CHECKS.is_dir():
        return []
    return [path.read_text(errors="replace") for path in sorted(HIDDEN_CHECKS.rglob("*.py"))]


def make_context(workdir, rubric, timeout, memory_mb, protected, call_timeout=None,
                 release_dir=None):
    """The ``Context`` of a grading run in ``workdir``: the student release (built there
    unless ``release_dir`` holds one already) and the lines of the hidden checks to keep out
    of feedback."""
    if release_dir is None:
        release_dir = Path(workdir) / "release"
        build_release(release_dir)
    secrets = frozenset(grade_report.secret_lines(hidden_sources()))
    return Context(Path(workdir), Path(release_dir), rubric, timeout, memory_mb, protected,
                   secrets, call_timeout=call_timeout)


# ----------------------------------------------------------------- checks ---

def _no_checks(release_dir):
    """A ``copytree`` ignore function that leaves out the release's top-level ``tests``."""
    def ignore(folder, names):
        return ["tests"] if Path(folder) == Path(release_dir) else []
    return ignore


def make_kit(ctx, sub):
    """A fresh copy of the release without its checks, with the student's assignment files laid
    over it: ``(root, kit)``. The worker runs there (the checks are the trusted process's)."""
    root = Path(tempfile.mkdtemp(prefix="submission-", dir=ctx.workdir))
    kit = root / "kit"
    shutil.copytree(ctx.release_dir, kit, ignore=_no_checks(ctx.release_dir))
    for filename in submission.ASSIGNMENT_FILES:
        name = f"assignment/{filename}"
        if name in sub.members:
            (kit / name).write_bytes(sub.members[name])
        else:
            sub.note(f"{name}: missing from the zip; its part scores 0")
            (kit / name).unlink(missing_ok=True)
    return root, kit


# ----------------------------------------------------------------- models ---

def test_set(ctx, preprocess):
    """The CIFAR-10 test split preprocessed as ``preprocess`` says, and the first
    ``TRAIN_SAMPLE`` training images the same way: ``(X_test, y_test, X_train, y_train)``,
    cached per setting."""
    key = json.dumps(preprocess, sort_keys=True)
    with ctx.lock:
        if key not in ctx.test_sets:
            from helpers.data import preprocess_cifar10

            options = dict(preprocess)
            options["dtype"] = getattr(torch, options.get("dtype", "float64"))
            data = preprocess_cifar10(**options, device="cpu")
            ctx.test_sets[key] = (data["X_test"], data["y_test"],
                                  data["X_train"][:TRAIN_SAMPLE].clone(),
                                  data["y_train"][:TRAIN_SAMPLE].clone())
        return ctx.test_sets[key]


# Every student has the test split's labels, so a model can be fitted to it. Such a model scores
# far better on the test split than on the training images it claims to have learnt from, where
# an honest model scores at least about as well (it has seen them, or images like them).
TRAIN_SAMPLE = 5000
FIT_ON_TEST_MARGIN = 0.03


def points_for_accuracy(accuracy, thresholds):
    """Points of the first ``[min_accuracy, points]`` pair (highest first) that ``accuracy``
    reaches."""
    for minimum, points in sorted(thresholds, reverse=True):
        if accuracy >= minimum:
            return points
    return 0


def score_models(ctx, sub):
    """dict file -> (accuracy or None, points, note), from the zip's verified bytes."""
    scores = {}
    for spec in ctx.rubric["models"]:
        data = sub.members.get(f"saved/{spec['file']}")
        if data is None:
            scores[spec["file"]] = (None, 0, "missing")
            continue
        preprocess = spec.get("preprocess", {})
        X_test, y_test, X_train, y_train = test_set(ctx, preprocess)
        try:
            accuracy = grade_models.score(spec["kind"], data, X_test, y_test, preprocess,
                                          MODEL_SECONDS)
            train_accuracy = grade_models.score(spec["kind"], data, X_train, y_train,
                                                preprocess, MODEL_SECONDS)
        except grade_models.ModelError as err:
            scores[spec["file"]] = (None, 0, f"could not be scored: {err}")
            continue
        if accuracy > train_accuracy + FIT_ON_TEST_MARGIN:
            scores[spec["file"]] = (accuracy, 0, (
                f"test accuracy {accuracy:.4f} but {train_accuracy:.4f} on training images: "
                "fitted to the test split? 0 points"))
            continue
        points = points_for_accuracy(accuracy, spec["thresholds"])
        scores[spec["file"]] = (accuracy, points, f"test accuracy {accuracy:.4f}")
    return scores


# ------------------------------------------------------------------ points ---

def function_passes(report, part):
    """dict function -> whether it earns its share of the part: all its checks pass, visible
    and hidden (the report lists a function once per check folder), and the part was not lost
    as a whole (a module that cannot be imported, a failed sandbox). In the report's order."""
    entry = report.get(part, {})
    broken = bool(entry.get("errors") or entry.get("sandbox"))
    passes = {}
    for function in entry.get("functions", []):
        passes[function["name"]] = (passes.get(function["name"], True) and not broken
                                    and function["status"] == PASS)
    return passes


def function_points(report, part):
    """``[(function, earned, possible)]`` of ``part``: each function of the table of student
    functions (``helpers/functions.py``) earns its points when ``function_passes`` says so."""
    passes = function_passes(report, part)
    return [(row.name, functions.points(row.name) if passes.get(row.name) else 0,
             functions.points(row.name)) for row in functions.functions_of(part)]


def part_points(report, part):
    """Points for one part: the sum of its functions' earned points (``function_points``)."""
    return round(float(sum(earned for _, earned, _ in function_points(report, part))), 2)


def max_total(rubric):
    """The most points a submission can earn."""
    return (sum(rubric["parts"].values())
            + sum(max(points for _, points in m["thresholds"]) for m in rubric["models"]))


def make_row(ctx, sub, part_scores, model_scores):
    """The CSV row of one submission."""
    row = {"student_id": clean(sub.student_id, 100), "name": clean(sub.name),
           "zip": clean(sub.zip_name), "created_utc": clean(sub.created_utc, 40)}
    for part in PARTS:
        row[part] = part_scores.get(part, 0)
    for spec in ctx.rubric["models"]:
        row[spec["file"]] = model_scores.get(spec["file"], (None, 0, ""))[1]
    total = round(sum(row[p] for p in PARTS) + sum(row[m["file"]] for m in ctx.rubric["models"]), 2)
    row.update(total=total, max_total=max_total(ctx.rubric),
               problems=clean("; ".join(sub.problems), grade_report.MAX_CELL))
    return row


@dataclass
class Graded:
    """Everything grading found for one submission (the local grader writes ``row`` and
    ``feedback``; the Gradescope autograder also reads the rest)."""

    sub: object                     # the verified ``grade_zip.Submission``
    report: dict                    # part -> the trusted checks' report
    part_scores: dict               # part -> points
    model_scores: dict              # model file -> (accuracy or None, points, note)
    row: dict                       # the CSV row
    feedback: str                   # the feedback file's text


def check_sample(ctx, sub):
    """A zip whose notebooks ran in quick mode is a sample submission
    (``instructor.sample_submission``): refused unless ``ctx.samples``, else noted."""
    quick = quick_mode_notebooks(sub.members)
    if quick and not ctx.samples:
        sub.refuse(f"{', '.join(quick)}: run in quick mode, so not a student's submission but "
                   f"{SAMPLES_HINT}")
    elif quick:
        sub.note(f"sample submission: {', '.join(quick)} ran in quick mode (graded: --samples)")


def grade_submission(ctx, sub):
    """Grade one verified submission; returns a ``Graded``."""
    report, model_scores = {}, {}
    if not sub.fatal:
        check_sample(ctx, sub)
    if not sub.fatal:
        root, kit = make_kit(ctx, sub)
        try:
            report = grade_checks(ctx, sub, kit)
            if not sub.fatal:
                model_scores = score_models(ctx, sub)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    for part in PARTS:  # check files that the student's code broke at import
        for error in report.get(part, {}).get("errors", []):
            sub.note(f"{part}: {error}")
    part_scores = {} if sub.fatal else {p: part_points(report, p) for p in PARTS}
    if sub.fatal:
        model_scores = {}
    row = make_row(ctx, sub, part_scores, model_scores)
    earned = {} if sub.fatal else {p: function_points(report, p) for p in PARTS}
    feedback = grade_report.feedback_text(sub, report, part_scores, model_scores, row["total"],
                                          row["max_total"], PARTS, ctx.secrets, earned)
    return Graded(sub, report, part_scores, model_scores, row, feedback)


def grade_guarded(ctx, verify, path):
    """Verify (``verify()`` returns a ``Submission``) and grade one submission; any error
    becomes a 0 row with the reason (``path`` names the submission then). Returns a
    ``Graded``."""
    sub = None
    try:
        sub = verify()
        return grade_submission(ctx, sub)
    except Exception as err:  # one broken submission must never stop the others
        if sub is None:
            sub = new_submission(path)
        sub.fatal = False
        sub.refuse(f"the grader failed on this zip ({type(err).__name__}: {shown(err, 150)}); "
                   "tell the course staff")
        row = make_row(ctx, sub, {}, {})
        feedback = grade_report.feedback_text(sub, {}, {}, {}, 0, row["max_total"], PARTS)
        return Graded(sub, {}, {}, {}, row, feedback)


def grade_path(ctx, path):
    """Verify and grade the zip at ``path``; any error becomes a 0 row with the reason."""
    graded = grade_guarded(ctx, lambda: verify_zip(path), path)
    return graded.sub, graded.row, graded.feedback


# -------------------------------------------------------------------- main ---

def load_rubric(path):
    """The rubric at ``path``, checked: it gives every part of the table of student functions
    (``helpers/functions.py``) the total its functions' points add up to, and names only
    models the grader knows. Raises ``ValueError`` that says what to fix."""
    rubric = json.loads(Path(path).read_text())
    if "models" not in rubric or not isinstance(rubric.get("parts"), dict):
        raise ValueError(f"{path}: the rubric needs 'parts' for {', '.join(PARTS)} "
                         "and a 'models' list")
    wrong = rubric_part_problems(rubric["parts"])
    if wrong:
        raise ValueError(f"{path}: " + "; ".join(wrong))
    written_points = rubric.setdefault("written", {})
    known = {question.id for question in written.reference_questions()}
    for question_id, points in written_points.items():
        if question_id not in known:
            raise ValueError(f"{path}: 'written' names {question_id!r}, which is no question "
                             f"of the notebooks (their ids: {', '.join(sorted(known))})")
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points < 0:
            raise ValueError(f"{path}: 'written' gives {question_id!r} {points!r} points; "
                             "write a number, 0 or more")
    for spec in rubric["models"]:
        if (spec.get("kind") not in grade_models.KINDS
                or spec.get("file") not in submission.SAVED_MODELS):
            raise ValueError(f"{path}: model {spec.get('file')!r} needs a 'file' among "
                             f"{', '.join(submission.SAVED_MODELS)} and a 'kind' among "
                             f"{', '.join(grade_models.KINDS)}")
    return rubric


def rubric_part_problems(parts):
    """What is wrong with a rubric's ``parts`` (part -> points), measured against the table of
    student functions: a part it does not know, one it misses, a total its functions' points
    do not add up to."""
    wrong = [f"parts.{part} is no part of the assignment ({', '.join(PARTS)}): remove it"
             for part in parts if part not in PARTS]
    wrong += [f"parts.{part} is missing: give it {functions.PART_POINTS[part]:g} points"
              for part in PARTS if part not in parts]
    for part in PARTS:
        table_total = sum(functions.points(r.name) for r in functions.functions_of(part))
        if part in parts and parts[part] != table_total:
            wrong.append(f"parts.{part} is {parts[part]}, but its functions' points in "
                         f"helpers/functions.py add up to {float(table_total):g}: make them agree")
    return wrong


def feedback_name(sub, zip_path):
    """The feedback file's name: the student id, or a hash of a bad file name."""
    if sub.valid_id:
        return sub.student_id
    return "_bad-file-name-" + hashlib.sha256(os.fsencode(Path(zip_path).name)).hexdigest()[:12]


def save_feedback(folder, sub, zip_path, text):
    """Write one feedback file; a failure to write it is added to the row's problems."""
    try:
        grade_report.write_feedback(folder, feedback_name(sub, zip_path), text)
        return None
    except (OSError, ValueError) as err:
        return f"feedback not written ({shown(err, 100)})"


def grade_all(ctx, zips, feedback_dir, jobs, progress, on_graded=None):
    """Grade every zip (``jobs`` at a time); returns the CSV rows. ``on_graded(sub)`` is called
    with each verified submission."""
    rows = []
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {pool.submit(grade_path, ctx, path): path for path in zips}
        for future in tqdm(as_completed(futures), total=len(futures), desc="grading",
                           unit="submission", disable=not progress):
            sub, row, feedback = future.result()
            if on_graded is not None:
                on_graded(sub)
            if feedback_dir is not None:
                trouble = save_feedback(feedback_dir, sub, futures[future], feedback)
                if trouble:
                    row["problems"] = "; ".join(filter(None, [row["problems"], trouble]))
            rows.append(row)
    except BaseException:
        # Ctrl-C (or a failure): zips not started are dropped, running ones stop their
        # trusted processes (runner.run_trusted_checks watches ctx.stopping); a plain
        # ``with`` would wait for every zip still queued.
        ctx.stopping.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return rows


def grade_folder(folder, out, feedback_dir=None, jobs=2, timeout=300, memory_mb=6144,
                 rubric_path=RUBRIC_PATH, progress=True, no_sandbox=False, call_timeout=None,
                 written_dir=None, show_names=False, samples=False):
    """Grade every ``*_submission.zip`` in ``folder``; returns the list of CSV rows.

    ``timeout`` is each part's budget of student code in seconds, ``call_timeout`` each call's
    (default ``timeout / 4``); ``samples`` grades sample submissions (quick-mode notebooks,
    ``instructor.sample_submission``), which are otherwise refused. Raises
    ``sandbox.SandboxUnavailable`` when bubblewrap does not work here, unless ``no_sandbox``
    (the worker then runs as a plain subprocess), and ``FileNotFoundError`` when CIFAR-10 is
    missing and cannot be downloaded (the saved models are scored on its test split). The
    written answers go to ``written_dir`` (default: ``written/`` beside ``out``), under
    anonymous codes unless ``show_names``.
    """
    zips = sorted(Path(folder).glob(f"*{submission.ZIP_SUFFIX}"))
    if not zips:
        raise FileNotFoundError(f"no *{submission.ZIP_SUFFIX} in {folder}")
    rubric = load_rubric(rubric_path)
    from helpers.data import require_cifar10

    require_cifar10()   # stop before any grading when the models cannot be scored
    if not no_sandbox:
        sandbox.require()
    with tempfile.TemporaryDirectory(prefix="grading-") as workdir:
        ctx = make_context(Path(workdir), rubric, timeout, memory_mb, not no_sandbox,
                           call_timeout)
        ctx.samples = samples
        answers = {}

        def collect_answers(sub):
            if sub.valid_id and not sub.fatal:
                answers[sub.student_id] = written.answers_from_members(sub.members)

        rows = grade_all(ctx, zips, feedback_dir, jobs, progress, collect_answers)
    rows.sort(key=lambda r: r["student_id"])
    grade_report.write_csv(out, rows)
    if rubric.get("written"):
        written.write_written(written_dir or Path(out).parent / "written", answers,
                              rubric["written"], show_names)
    return rows


def summary(rows):
    failed = [r for r in rows if r["total"] == 0 and r["problems"]]
    lines = [f"graded {len(rows)} submission(s); {len(failed)} scored 0 with a problem"]
    for part in PARTS:
        lines.append(f"  mean {part}: {sum(r[part] for r in rows) / len(rows):.2f}")
    mean = sum(r["total"] for r in rows) / len(rows)
    lines.append(f"  mean total: {mean:.2f} / {rows[0]['max_total']:g}")
    return "\n".join(lines)
