"""Instructor side: grade a folder of submission zips into a gradebook.

    python -m helpers.grade SUBMISSIONS_DIR [--out grades.csv] [--feedback DIR]
                            [--jobs N] [--timeout S] [--memory-mb M] [--rubric PATH]

For every ``*_submission.zip`` (several at a time, ``--jobs``):

1. verify the zip: only expected paths, no absolute paths, no ``..``, no
   links, size limits, ``MANIFEST.json`` present and every sha256 matching
   (a mismatch is reported as "modified after packaging");
2. lay the student's ``assignment/*.py`` over a fresh copy of the student
   release in a temporary folder, so the checks and helpers are the
   instructor's own;
3. run the assignment checks and the hidden checks (``tests/hidden/``) in a
   separate process with a time limit, a memory limit, capped output and no
   network, and verify afterwards that no check or helper file was changed;
4. load each saved model with ``weights_only=True`` into the reference
   implementation and score it on the CIFAR-10 test split;
5. turn the results into points with the rubric (``helpers/rubric.json``) and
   write one CSV row per student and one feedback file per student.

What the sandbox stops: endless loops (time limit), unbounded memory
(address-space limit), endless printing (output cap), ``sys.exit`` at import,
network access (a network namespace where ``unshare`` is allowed, else a
Python-level block), and writes to the checks or helpers (detected by their
hashes). It does not stop code that rewrites the grader's objects in memory;
hidden checks and the manifest are the defence there.
"""
import argparse
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import torch
from tqdm import tqdm

from helpers import submission
from helpers.check import PARTS, PASS
from helpers.release import build_release
from helpers.utils import KIT_ROOT
from helpers.verdicts.runner import grade_checks

RUBRIC_PATH = KIT_ROOT / "helpers" / "rubric.json"
RUNNER = KIT_ROOT / "helpers" / "grade_runner.py"
HIDDEN_TESTS = KIT_ROOT / "tests" / "hidden"
EXPECTED_PATH = re.compile(
    r"^(assignment/[A-Za-z_][A-Za-z0-9_]*\.py"
    rf"|notebooks/({'|'.join(map(re.escape, submission.NOTEBOOKS))})"
    rf"|saved/({'|'.join(map(re.escape, submission.SAVED_MODELS))})"
    rf"|{re.escape(submission.MANIFEST)})$")
MAX_FILE_BYTES = 20 * 2**20
MAX_TOTAL_BYTES = 60 * 2**20
MAX_ENTRIES = 100
MAX_LOG_BYTES = 16 * 2**20
PROTECTED = ("helpers", "tests", "conftest.py", "pytest.ini", "_grade_runner.py")


# ------------------------------------------------------------ verification ---

@dataclass
class Submission:
    """One zip, as verified: who, when, and what is wrong with it."""

    zip_path: Path
    student_id: str = ""
    name: str = ""
    created_utc: str = ""
    problems: list = field(default_factory=list)
    fatal: bool = False   # a fatal problem means no grading at all: zero points

    def refuse(self, problem):
        self.problems.append(problem)
        self.fatal = True


def _is_link(info):
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def _unsafe_path(name):
    path = PurePosixPath(name)
    return name.startswith(("/", "\\")) or "\\" in name or ".." in path.parts or re.match(r"^[A-Za-z]:", name)


def verify_zip(zip_path):
    """Check a submission zip without unpacking it; returns a ``Submission``."""
    sub = Submission(Path(zip_path), student_id=Path(zip_path).name.removesuffix("_submission.zip"))
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        sub.refuse(f"corrupt zip: {err}")
        return sub
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            sub.refuse(f"{len(infos)} entries, more than the {MAX_ENTRIES} allowed")
        for info in infos:
            if _unsafe_path(info.filename):
                sub.refuse(f"unsafe path in zip: {info.filename!r}")
            elif _is_link(info):
                sub.refuse(f"link in zip: {info.filename!r}")
            elif info.is_dir():
                continue
            elif not EXPECTED_PATH.match(info.filename):
                sub.problems.append(f"unexpected file ignored: {info.filename}")
            if info.file_size > MAX_FILE_BYTES:
                sub.refuse(f"{info.filename} is {info.file_size / 2**20:.0f} MB, over the limit")
        if sum(info.file_size for info in infos) > MAX_TOTAL_BYTES:
            sub.refuse("the unpacked zip would exceed the size limit")
        if sub.fatal:
            return sub
        try:
            manifest = json.loads(archive.read(submission.MANIFEST))
            files = manifest["files"]
        except KeyError:
            sub.refuse("no MANIFEST.json: the zip was not made by collect_submission.py")
            return sub
        except (json.JSONDecodeError, UnicodeDecodeError, zipfile.BadZipFile, TypeError) as err:
            sub.refuse(f"MANIFEST.json is unreadable: {err}")
            return sub
        sub.student_id = str(manifest.get("student_id") or sub.student_id)
        sub.name = str(manifest.get("name", ""))
        sub.created_utc = str(manifest.get("created_utc", ""))
        file_id = Path(zip_path).name.removesuffix("_submission.zip")
        if file_id != sub.student_id:
            sub.problems.append(f"the file name says {file_id!r} but the manifest says {sub.student_id!r}")
        names = {info.filename for info in infos if not info.is_dir()} - {submission.MANIFEST}
        for name in sorted(names - set(files)):
            if EXPECTED_PATH.match(name):
                sub.refuse(f"{name}: modified after packaging (not in the manifest)")
        for name, digest in sorted(files.items()):
            if name not in names:
                sub.refuse(f"{name}: listed in the manifest but missing from the zip")
            else:
                try:
                    actual = hashlib.sha256(archive.read(name)).hexdigest()
                except (zipfile.BadZipFile, OSError) as err:
                    sub.refuse(f"{name}: unreadable ({err})")
                    continue
                if actual != digest:
                    sub.refuse(f"{name}: modified after packaging (sha256 differs from the manifest)")
    return sub


def pick_newest(submissions):
    """Group submissions by student id; the newest manifest time is graded.

    Returns the list to grade; every older duplicate is named in the graded
    one's problems.
    """
    by_student = {}
    for sub in submissions:
        by_student.setdefault(sub.student_id, []).append(sub)
    chosen = []
    for subs in by_student.values():
        subs.sort(key=lambda s: (not s.fatal, s.created_utc, s.zip_path.name), reverse=True)
        newest, older = subs[0], subs[1:]
        if older:
            newest.problems.append(
                f"{len(subs)} submissions for this id: graded {newest.zip_path.name} (newest); ignored "
                + ", ".join(f"{s.zip_path.name} ({s.created_utc or 'no time'})" for s in older))
        chosen.append(newest)
    return chosen


# ----------------------------------------------------------------- sandbox ---

def fingerprint(root, names=PROTECTED):
    """sha256 of every file under ``root/<names>`` (caches excluded): dict relpath -> digest."""
    digests = {}
    for name in names:
        base = Path(root) / name
        paths = [base] if base.is_file() else sorted(base.rglob("*")) if base.is_dir() else []
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts and ".pytest_cache" not in path.parts:
                digests[str(path.relative_to(root))] = submission.sha256_of(path)
    return digests


def network_isolation():
    """The command prefix that runs a process without network, and whether Python must block it instead."""
    for prefix in (["unshare", "--net"], ["unshare", "--net", "--map-root-user"]):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix, False
        except (OSError, subprocess.SubprocessError):
            pass
    return [], True


@dataclass
class Context:
    """What every grading job shares."""

    workdir: Path
    release_dir: Path
    rubric: dict
    timeout: float
    memory_mb: int
    net_prefix: list
    python_blocks_network: bool
    test_sets: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_sandbox(ctx, sub):
    """A fresh copy of the release with the student's assignment files laid over it."""
    root = Path(tempfile.mkdtemp(prefix="sandbox-", dir=ctx.workdir))
    kit = root / "kit"
    shutil.copytree(ctx.release_dir, kit)
    if HIDDEN_TESTS.is_dir():
        shutil.copytree(HIDDEN_TESTS, kit / "tests" / "hidden",
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(RUNNER, kit / "_grade_runner.py")
    with zipfile.ZipFile(sub.zip_path) as archive:
        for filename in submission.ASSIGNMENT_FILES:
            name = f"assignment/{filename}"
            if name in archive.namelist():
                (kit / name).write_bytes(archive.read(name))
            else:
                sub.problems.append(f"{name}: missing from the zip; its part scores 0")
                (kit / name).unlink(missing_ok=True)
    return root, kit


def _limits(memory_mb):
    def apply():
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_LOG_BYTES, MAX_LOG_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _log_tail(path, lines=15):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def run_sandboxed(ctx, kit, parts):
    """Run the checks of ``parts`` in ``kit``; returns ``(report or None, problem or None, log tail)``."""
    result_path = kit.parent / f"result-{os.urandom(8).hex()}.json"
    log_path = kit.parent / "output.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(kit.parent),
           "KIT_QUICK": "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
           "OMP_NUM_THREADS": "1", "KIT_SAVED_DIR": str(kit.parent / "saved"),
           "KIT_RESULTS_DIR": str(kit.parent / "results"),
           "KIT_GRADE_BLOCK_NETWORK": "1" if ctx.python_blocks_network else "0"}
    command = [*ctx.net_prefix, sys.executable, "_grade_runner.py", str(result_path), *parts]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=kit, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                   preexec_fn=_limits(ctx.memory_mb))
        try:
            code = process.wait(timeout=ctx.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None, f"timed out after {ctx.timeout:g} s (an endless loop?)", _log_tail(log_path)
    tail = _log_tail(log_path)
    flooded = (log_path.stat().st_size >= MAX_LOG_BYTES or "File too large" in tail
               or code in (120, -signal.SIGXFSZ))  # 120: Python could not flush its output
    if flooded:
        return None, f"the checks printed more than {MAX_LOG_BYTES // 2**20} MB of output", tail
    if result_path.is_file() and code == 0:
        return json.loads(result_path.read_text()), None, tail
    if code < 0:
        name = signal.Signals(-code).name
        why = {"SIGKILL": "was killed (out of memory?)", "SIGSEGV": "crashed the interpreter"}
        return None, f"the checks {why.get(name, f'died with {name}')}", tail
    if "MemoryError" in tail:
        return None, f"ran out of memory (limit {ctx.memory_mb} MB)", tail
    return None, f"the checks process exited early with code {code} (sys.exit() or exit() in your code?)", tail


def run_checks_for(ctx, sub, kit):
    """Checks of every part; a crash or time-out is retried part by part to keep what works."""
    before = fingerprint(kit)
    report, problem, tail = run_sandboxed(ctx, kit, list(PARTS))
    if report is None:
        sub.problems.append(f"all checks together: {problem}")
        report = {}
        for part in PARTS:
            part_report, part_problem, tail = run_sandboxed(ctx, kit, [part])
            if part_report is None:
                report[part] = {"functions": [], "errors": [], "sandbox": part_problem, "log": tail}
                sub.problems.append(f"{part}: {part_problem}")
            else:
                report.update(part_report)
    changed = sorted(path for path, digest in fingerprint(kit).items() if before.get(path) != digest)
    changed += sorted(set(before) - set(fingerprint(kit)))
    if changed:
        sub.refuse("your code changed the checks or helpers: " + ", ".join(changed[:5]))
    return report


# ----------------------------------------------------------------- models ---

def test_set(ctx, preprocess):
    """The CIFAR-10 test split preprocessed as ``preprocess`` says, cached per setting."""
    key = json.dumps(preprocess, sort_keys=True)
    with ctx.lock:
        if key not in ctx.test_sets:
            from helpers.data import preprocess_cifar10

            options = dict(preprocess)
            options["dtype"] = getattr(torch, options.get("dtype", "float64"))
            data = preprocess_cifar10(**options, device="cpu")
            ctx.test_sets[key] = (data["X_test"], data["y_test"])
        return ctx.test_sets[key]


def _linear_predictions(path, X):
    from assignment.linear_classifier import LinearClassifier

    classifier = LinearClassifier().load(path, map_location="cpu")
    return classifier.predict(X.to(classifier.W.dtype))


def _two_layer_predictions(path, X):
    from assignment.two_layer_net import TwoLayerNet

    W1, W2 = (torch.load(path, map_location="cpu", weights_only=True)[k] for k in ("W1", "W2"))
    net = TwoLayerNet(W1.shape[0], W1.shape[1], W2.shape[1], dtype=W1.dtype)
    net.load(path)
    return net.predict(X.to(W1.dtype))


def _fully_connected_predictions(path, X, batch_size=1000):
    from assignment.fully_connected_networks import FullyConnectedNet

    params = torch.load(path, map_location="cpu", weights_only=True)["params"]
    depth = sum(name.startswith("W") for name in params)
    hidden_dims = [params[f"W{i}"].shape[1] for i in range(1, depth)]
    net = FullyConnectedNet(hidden_dims, input_dim=params["W1"].shape[0],
                            num_classes=params[f"W{depth}"].shape[1], dtype=params["W1"].dtype)
    net.load(path)
    X = X.to(params["W1"].dtype)
    return torch.cat([net.loss(X[i:i + batch_size]).argmax(dim=1) for i in range(0, len(X), batch_size)])


# How to load each kind of saved model into the reference implementation
# (this source's own assignment code, never the student's) and predict.
PREDICTORS = {"linear": _linear_predictions, "two_layer_net": _two_layer_predictions,
              "fully_connected_net": _fully_connected_predictions}


def score_model(ctx, spec, model_bytes, folder):
    """Test accuracy of a saved model (bytes), read with ``weights_only=True``."""
    path = Path(folder) / spec["file"]
    path.write_bytes(model_bytes)
    X_test, y_test = test_set(ctx, spec.get("preprocess", {}))
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        predictions = PREDICTORS[spec["kind"]](str(path), X_test)
    return (predictions.cpu() == y_test).to(torch.float64).mean().item()


def points_for_accuracy(accuracy, thresholds):
    """Points of the first ``[min_accuracy, points]`` pair (highest first) that ``accuracy`` reaches."""
    for minimum, points in sorted(thresholds, reverse=True):
        if accuracy >= minimum:
            return points
    return 0


def score_models(ctx, sub, workdir):
    """dict file -> (accuracy or None, points, note)."""
    scores = {}
    with zipfile.ZipFile(sub.zip_path) as archive:
        names = set(archive.namelist())
        for spec in ctx.rubric["models"]:
            name = f"saved/{spec['file']}"
            if name not in names:
                scores[spec["file"]] = (None, 0, "missing")
                continue
            try:
                accuracy = score_model(ctx, spec, archive.read(name), workdir)
            except Exception as err:  # a model that cannot be scored earns no points, with the reason
                scores[spec["file"]] = (None, 0, f"could not be scored ({type(err).__name__}: {err})")
                continue
            points = points_for_accuracy(accuracy, spec["thresholds"])
            scores[spec["file"]] = (accuracy, points, f"test accuracy {accuracy:.4f}")
    return scores


# ------------------------------------------------------------------ points ---

def part_points(report, part, max_points):
    """Points for one part: its share of passing student functions (visible and hidden checks)."""
    functions = report.get(part, {}).get("functions", [])
    if not functions or report[part].get("errors") or report[part].get("sandbox"):
        return 0.0
    passed = sum(f["status"] == PASS for f in functions)
    return round(max_points * passed / len(functions), 2)


def feedback_text(sub, report, part_scores, model_scores, total, maximum):
    lines = [f"Feedback for {sub.student_id} ({sub.name or 'no name'}), {sub.zip_path.name}",
             f"Total: {total:g} / {maximum:g}", ""]
    if sub.problems:
        lines += ["Problems:"] + [f"  - {p}" for p in sub.problems] + [""]
    for part in PARTS:
        entry = report.get(part, {})
        lines.append(f"{part}: {part_scores.get(part, 0):g} points")
        for function in entry.get("functions", []):
            label = "hidden check of " if function["hidden"] else ""
            why = f": {function['failures'][0]}" if function["status"] == "FAIL" and function["failures"] else ""
            lines.append(f"  {label}{function['name']}: {function['status']}{why}")
        for error in entry.get("errors", []) + ([entry["sandbox"]] if entry.get("sandbox") else []):
            lines.append(f"  error: {error}")
        if entry.get("log"):
            lines += ["  last output:"] + [f"    {line}" for line in entry["log"].splitlines()]
    if model_scores:
        lines.append("saved models:")
        for filename, (_, points, note) in model_scores.items():
            lines.append(f"  {filename}: {points:g} points ({note})")
    return "\n".join(lines) + "\n"


def _plain_error(error, ctx):
    if "MemoryError" in error:
        return f"ran out of memory (limit {ctx.memory_mb} MB) while loading the checks"
    return error


def grade_one(ctx, sub):
    """Grade one verified submission; returns ``(row dict, feedback text)``."""
    report, model_scores = {}, {}
    if not sub.fatal:
        root, kit = make_sandbox(ctx, sub)
        try:
            report = grade_checks(ctx, sub, kit)
            if not sub.fatal:
                model_scores = score_models(ctx, sub, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    for part in PARTS:  # check files that the student's code broke at import
        sub.problems += [f"{part}: {_plain_error(error, ctx)}" for error in report.get(part, {}).get("errors", [])]
    parts = ctx.rubric["parts"]
    part_scores = {} if sub.fatal else {p: part_points(report, p, parts[p]) for p in PARTS}
    maximum = sum(parts.values()) + sum(max(pts for _, pts in m["thresholds"]) for m in ctx.rubric["models"])
    row = {"student_id": sub.student_id, "name": sub.name, "zip": sub.zip_path.name,
           "created_utc": sub.created_utc}
    for part in PARTS:
        row[part] = part_scores.get(part, 0)
    for spec in ctx.rubric["models"]:
        row[spec["file"]] = model_scores.get(spec["file"], (None, 0, ""))[1]
    total = round(sum(row[p] for p in PARTS) + sum(row[m["file"]] for m in ctx.rubric["models"]), 2)
    row.update(total=total, max_total=maximum, problems="; ".join(sub.problems))
    return row, feedback_text(sub, report, part_scores, model_scores, total, maximum)


# -------------------------------------------------------------------- main ---

def load_rubric(path):
    rubric = json.loads(Path(path).read_text())
    missing = [p for p in PARTS if p not in rubric.get("parts", {})]
    if missing or "models" not in rubric:
        raise ValueError(f"{path}: the rubric needs 'parts' for {', '.join(PARTS)} and a 'models' list")
    for spec in rubric["models"]:
        if spec.get("kind") not in PREDICTORS or spec.get("file") not in submission.SAVED_MODELS:
            raise ValueError(f"{path}: model {spec.get('file')!r} needs a 'file' among "
                             f"{', '.join(submission.SAVED_MODELS)} and a 'kind' among {', '.join(PREDICTORS)}")
    return rubric


def grade_folder(folder, out, feedback_dir=None, jobs=2, timeout=300, memory_mb=6144,
                 rubric_path=RUBRIC_PATH, progress=True):
    """Grade every ``*_submission.zip`` in ``folder``; returns the list of CSV rows."""
    zips = sorted(Path(folder).glob("*_submission.zip"))
    if not zips:
        raise FileNotFoundError(f"no *_submission.zip in {folder}")
    rubric = load_rubric(rubric_path)
    with tempfile.TemporaryDirectory(prefix="grading-") as workdir:
        workdir = Path(workdir)
        release_dir = workdir / "release"
        build_release(release_dir)
        net_prefix, python_blocks = network_isolation()
        ctx = Context(workdir, release_dir, rubric, timeout, memory_mb, net_prefix, python_blocks)
        submissions = pick_newest([verify_zip(path) for path in zips])
        rows = []
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(grade_one, ctx, sub): sub for sub in submissions}
            for future in tqdm(as_completed(futures), total=len(futures), desc="grading",
                               unit="submission", disable=not progress):
                row, feedback = future.result()
                rows.append(row)
                if feedback_dir is not None:
                    Path(feedback_dir).mkdir(parents=True, exist_ok=True)
                    (Path(feedback_dir) / f"{row['student_id'] or 'unknown'}.txt").write_text(feedback)
    rows.sort(key=lambda r: r["student_id"])
    write_csv(out, rows)
    return rows


def write_csv(path, rows):
    """Write the gradebook atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(buffer.getvalue())
    os.replace(partial, path)


def summary(rows):
    failed = [r for r in rows if r["total"] == 0 and r["problems"]]
    lines = [f"graded {len(rows)} submission(s); {len(failed)} scored 0 with a problem"]
    for part in PARTS:
        lines.append(f"  mean {part}: {sum(r[part] for r in rows) / len(rows):.2f}")
    lines.append(f"  mean total: {sum(r['total'] for r in rows) / len(rows):.2f} / {rows[0]['max_total']:g}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m helpers.grade",
                                     description="Grade a folder of submission zips into a CSV gradebook.")
    parser.add_argument("folder", type=Path, help="folder holding *_submission.zip files")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write")
    parser.add_argument("--feedback", type=Path, help="folder for one feedback .txt per student")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed for one run of the checks")
    parser.add_argument("--memory-mb", type=int, default=6144, help="memory limit of the checks process")
    parser.add_argument("--rubric", type=Path, default=RUBRIC_PATH, help="points per part and per model")
    args = parser.parse_args(argv)
    try:
        rows = grade_folder(args.folder, args.out, args.feedback, args.jobs, args.timeout,
                            args.memory_mb, args.rubric)
    except (FileNotFoundError, ValueError) as err:
        print(f"grade: error: {err}", file=sys.stderr)
        return 2
    print(summary(rows))
    print(f"wrote {args.out}" + (f" and feedback in {args.feedback}" if args.feedback else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
