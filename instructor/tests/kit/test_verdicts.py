"""Trusted verdicts (instructor/verdicts): the visible and hidden checks run in the grader's trusted
process against the student's code in a worker, with the same verdicts as in one process."""
import functools
import json
import os
import shutil
import signal
import socket
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from helpers.check import FAIL, NOT_IMPLEMENTED, PARTS, PASS, WAITING
from helpers.utils import KIT_ROOT
from instructor import HIDDEN_CHECKS, sandbox
from instructor.tests.kit.runner import run_in
from instructor.verdicts.runner import run_trusted_checks
from instructor.verdicts.sandboxed import SandboxLauncher
from instructor.verdicts.session import SCRATCH_FOLDER, plain_launcher, worker_environment

# helpers.check in one process, part by part as grading always ran it, for the visible and
# the hidden checks, without stand-ins (the grader runs every check composed).
IN_PROCESS = textwrap.dedent("""
    import json
    from helpers import stand_ins
    from helpers.check import PARTS, run_checks
    stand_ins.ISOLATING = False  # as the grader runs them: each check with the student's own parts
    statuses = {}
    for part in PARTS:
        for folder, required in (("tests/assignment", True), ("tests/hidden", False)):
            results, errors = run_checks([part], folder, required)
            assert not errors, errors
            statuses.update({f"{folder}:{r.part}.{r.name}": r.status for r in results})
    print(json.dumps(statuses))
""")


def kit_with(student_kit, tmp_path, name, files=None, reference=False, checks=False):
    """A copy of the release with the reference solutions (``reference``) or with ``files``
    (name -> text) as the student's assignment files; without its checks, as graded, unless
    ``checks``."""
    kit = tmp_path / name
    shutil.copytree(student_kit, kit, ignore=None if checks else shutil.ignore_patterns("tests"))
    if reference:
        for path in (KIT_ROOT / "assignment").glob("*.py"):
            shutil.copy(path, kit / "assignment" / path.name)
    for filename, text in (files or {}).items():
        (kit / "assignment" / filename).write_text(text)
    return kit


def trusted_statuses(report):
    folder = {False: "tests/assignment", True: "tests/hidden"}
    return {f"{folder[f['hidden']]}:{part}.{f['name']}": f["status"]
            for part, entry in report.items() for f in entry["functions"]}


def in_process_statuses(kit):
    shutil.copytree(HIDDEN_CHECKS, kit / "tests" / "hidden")
    result = run_in(kit, "-c", IN_PROCESS)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def mixed_files(student_kit):
    """Reference files, but metrics as stubs and an SGD step that is not done in place."""
    two_layer = (KIT_ROOT / "assignment" / "two_layer_net.py").read_text()
    in_place = "        params[name].add_(grad, alpha=-learning_rate)\n"
    assert in_place in two_layer
    return {"metrics.py": (student_kit / "assignment" / "metrics.py").read_text(),
            "two_layer_net.py": two_layer.replace(
                in_place, "        params[name] = params[name] - learning_rate * grad\n")}


@pytest.mark.long  # over 20 s (the long tier: pytest --all)
@pytest.mark.parametrize("kind, expected", [
    ("reference", {PASS}), ("stubs", {NOT_IMPLEMENTED}),
    ("mixed", {PASS, FAIL, NOT_IMPLEMENTED, WAITING})])  # composed checks wait for metrics' stubs
def test_trusted_verdicts_equal_the_in_process_ones(student_kit, tmp_path, kind, expected):
    files = mixed_files(student_kit) if kind == "mixed" else None
    report = run_trusted_checks(kit_with(student_kit, tmp_path, "kit", files, kind != "stubs"),
                                PARTS, timeout=300)
    trusted = trusted_statuses(report)
    assert all(not e["errors"] and "incidents" not in e for e in report.values()), report
    assert set(trusted.values()) == expected, trusted
    assert trusted == in_process_statuses(kit_with(student_kit, tmp_path, "alone", files,
                                                   kind != "stubs", checks=True))
    if kind == "mixed":
        assert trusted["tests/assignment:two_layer_net.nn_sgd_step"] == FAIL


def report_of(student_kit, tmp_path, files, parts=("metrics",), timeout=40, **options):
    kit = kit_with(student_kit, tmp_path, "kit", files)
    return kit, run_trusted_checks(kit, list(parts), timeout=timeout, **options)


def statuses(report, part="metrics"):
    return {f["name"]: (f["status"], f["failures"][:1]) for f in report[part]["functions"]
            if not f["hidden"]}


METRICS = (KIT_ROOT / "assignment" / "metrics.py").read_text()


def test_the_worker_never_sees_a_check_file(student_kit, tmp_path):
    spy = METRICS + textwrap.dedent("""
        _accuracy = accuracy

        def accuracy(y_true, y_pred):
            import glob, json, os
            found = glob.glob("/tmp/checks-*/**/*.py", recursive=True)
            found += glob.glob(os.path.join(os.getcwd(), "**", "test_*.py"), recursive=True)
            with open("found.json", "w") as f:
                json.dump(found, f)
            return _accuracy(y_true, y_pred)
    """)
    kit, report = report_of(student_kit, tmp_path, {"metrics.py": spy})
    assert statuses(report)["accuracy"][0] == PASS
    assert json.loads((kit / "found.json").read_text()) == [], \
        "the checks are collected, then deleted, before the worker starts"


@pytest.mark.long  # over 20 s (the long tier: pytest --all)
def test_an_endless_loop_costs_only_its_function(student_kit, tmp_path):
    looping = METRICS + "\ndef confusion_matrix(y_true, y_pred, num_classes):\n    while True:\n" \
        "        pass\n"
    _, report = report_of(student_kit, tmp_path, {"metrics.py": looping}, call_timeout=3)
    found = statuses(report)
    assert found["accuracy"][0] == PASS
    assert found["confusion_matrix"][0] == "FAIL"
    assert "timed out after 3 s" in found["confusion_matrix"][1][0]
    assert any("confusion_matrix timed out after 3 s" in i for i in report["metrics"]["incidents"])


@pytest.mark.long  # over 20 s (the long tier: pytest --all)
@pytest.mark.parametrize("body, why", [
    ("import sys\n    sys.exit(3)", "called sys.exit(3) in assignment/metrics.py"),
    ("import os\n    os._exit(0)",
     "ended the worker process during confusion_matrix: it exited with code 0"),
    ("import os\n    os.write(4, b'garbage' * 10)\n    return 1", "garbled the channel"),
    ("return bytearray(2**40)", "ran out of memory"),
])
def test_exits_crashes_and_garbage_fail_the_call_and_restart_the_worker(student_kit, tmp_path,
                                                                       body, why):
    broken = METRICS + f"\ndef confusion_matrix(y_true, y_pred, num_classes):\n    {body}\n"
    _, report = report_of(student_kit, tmp_path, {"metrics.py": broken})
    found = statuses(report)
    assert found["accuracy"][0] == PASS, "the next call gets a fresh worker"
    assert found["confusion_matrix"][0] == "FAIL" and why in found["confusion_matrix"][1][0], found


@pytest.mark.long  # 14 s alone, more on a busy machine
def test_an_import_that_fails_fails_its_part_only(student_kit, tmp_path):
    _, report = report_of(student_kit, tmp_path, {"model_selection.py": "import sys\nsys.exit(3)\n",
                                                  "metrics.py": METRICS},
                          parts=("metrics", "model_selection"))
    assert report["model_selection"]["errors"] == [
        "importing assignment/model_selection.py called sys.exit(3) in "
        "assignment/model_selection.py:2 (remove sys.exit() / exit() from your code)"]
    assert {f["status"] for f in report["metrics"]["functions"]} == {PASS}


def test_a_worker_that_cannot_start_is_started_once(student_kit, tmp_path):
    launcher = functools.partial(plain_launcher, memory_mb=64)  # too little to import torch
    _, report = report_of(student_kit, tmp_path, {"metrics.py": METRICS}, launcher=launcher)
    assert {f["status"] for f in report["metrics"]["functions"]} == {FAIL}
    assert len(report["metrics"]["incidents"]) == 1
    assert "the worker did not start" in report["metrics"]["incidents"][0]


# --------------------------------------------------------- the sandboxed worker ---

# The student's accuracy notes what the worker can reach, in its home (the scratch folder).
PROBE = textwrap.dedent("""
    _accuracy = accuracy

    def accuracy(y_true, y_pred):
        import json, os, pathlib, socket
        facts = {"uid": os.getuid(), "pids": sorted(p for p in os.listdir("/proc") if p.isdigit()),
                 "env": sorted(os.environ), "home": os.environ["HOME"]}
        for name, path in (("kit", "assignment/metrics.py"), ("tmp", "/tmp/" + TOKEN),
                           ("scratch", os.path.join(os.environ["HOME"], "note"))):
            try:
                with open(path, "a") as f:
                    f.write("#" + "probe-was-here")
                facts[name] = "written"
            except OSError as err:
                facts[name] = type(err).__name__
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=5)
            facts["network"] = "connected"
        except OSError as err:
            facts["network"] = type(err).__name__
        pathlib.Path(os.environ["HOME"], "facts.json").write_text(json.dumps(facts))
        return _accuracy(y_true, y_pred)
""")


def test_the_worker_runs_in_the_sandbox(working_sandbox, student_kit, tmp_path):
    token = f"kit-probe-{os.urandom(4).hex()}"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    probe = PROBE.replace("TOKEN", repr(token)).replace("PORT", str(listener.getsockname()[1]))
    try:
        kit, report = report_of(student_kit, tmp_path, {"metrics.py": METRICS + probe},
                                launcher=SandboxLauncher(memory_mb=4096))
    finally:
        listener.close()
    assert statuses(report)["accuracy"][0] == PASS, report
    facts = json.loads((kit / SCRATCH_FOLDER / "facts.json").read_text())
    assert facts["uid"] == sandbox.SANDBOX_UID and len(facts["pids"]) <= 3, facts
    assert facts["kit"] == "OSError"
    assert "#probe-was-here" not in (kit / "assignment" / "metrics.py").read_text()
    assert facts["scratch"] == "written" and facts["home"] == str(kit / SCRATCH_FOLDER)
    assert facts["tmp"] == "written" and not Path("/tmp", token).exists(), "a private /tmp"
    assert facts["network"] != "connected"
    assert set(facts["env"]) <= set(sandbox.BASE_ENV) | set(worker_environment(kit)) | {
        "PATH",
        "PWD",
    }


ECHO = "import sys\nfor line in sys.stdin:\n    print(line.strip(), flush=True)\n"


def test_the_sandbox_lives_as_long_as_its_handle(working_sandbox, tmp_path):
    (tmp_path / SCRATCH_FOLDER).mkdir()
    launcher = SandboxLauncher(memory_mb=1024)
    started = []
    thread = threading.Thread(target=lambda: started.append(
        launcher([sys.executable, "-c", ECHO], str(tmp_path), {})))
    thread.start()
    thread.join()   # the thread that called the launcher has ended: the sandbox must not
    worker = started[0]
    time.sleep(0.5)
    worker.stdin.write(b"still here\n")
    worker.stdin.flush()
    assert worker.stdout.readline() == b"still here\n" and worker.poll() is None
    worker.kill()
    assert worker.wait(timeout=10) == -signal.SIGKILL, "a signal reads as Popen reports it"
    worker.kill()   # twice is harmless
