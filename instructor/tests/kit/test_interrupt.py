"""Ctrl-C stops a grading run, a test run mid-way through grading and the main job:
promptly, with nothing left running and no temporary folder left behind (and pytest still
prints its summary).

Ctrl-C in a terminal sends SIGINT to the foreground process group; each run here starts in a
session of its own, so the test can send exactly that, and with a private TMPDIR, so every
temporary folder the run makes is visible.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from helpers.utils import KIT_ROOT
from instructor.tests.kit.hostile import pack

pytestmark = pytest.mark.long

ZIPS = 3            # grading them all takes minutes; an interrupted run must end long before
STOPPED_WITHIN = 60  # seconds after Ctrl-C; one honest zip alone takes 30 to 50 s to grade


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    """A folder of ZIPS reference submissions (the assignment files only: grading their checks
    is the long part)."""
    kit = tmp_path_factory.mktemp("reference")
    shutil.copytree(KIT_ROOT / "assignment", kit / "assignment",
                    ignore=shutil.ignore_patterns("__pycache__"))
    folder = tmp_path_factory.mktemp("zips")
    for number in range(ZIPS):
        pack(kit, folder, f"s{number:02d}")
    return folder


def processes_under(folder):
    """Processes whose command line, working folder or TMPDIR mentions ``folder``."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd", "environ"]):
        text = " ".join([*(process.info["cmdline"] or []), str(process.info["cwd"] or ""),
                         (process.info["environ"] or {}).get("TMPDIR", "")])
        if str(folder) in text and process.pid != os.getpid():
            found.append(process)
    return found


def start(argv, tmp, env_extra=None):
    """Start ``argv`` in a new session (its own process group) with TMPDIR=``tmp``."""
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), **(env_extra or {})}
    return subprocess.Popen(argv, cwd=KIT_ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_grading(tmp, process, seconds=600):
    """Wait until a worker runs student code for the run whose TMPDIR is ``tmp``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        if any("worker.py" in " ".join(p.info["cmdline"] or []) for p in processes_under(tmp)):
            time.sleep(3)   # well inside the first zip's checks
            return
        time.sleep(0.5)
    pytest.fail("grading did not start")


def interrupt(process):
    """Ctrl-C to the process group; returns the seconds until the run ended and its output."""
    os.killpg(process.pid, signal.SIGINT)
    start_time = time.monotonic()
    try:
        output, _ = process.communicate(timeout=STOPPED_WITHIN)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"still running {STOPPED_WITHIN} s after Ctrl-C:\n{output[-3000:]}")
    return time.monotonic() - start_time, output


def assert_clean(tmp, keep=()):
    """Nothing runs from ``tmp`` and nothing is left in it (but the names in ``keep``)."""
    deadline = time.monotonic() + 10   # the forkserver ends once it sees its parent gone
    while processes_under(tmp) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [" ".join(p.cmdline()) for p in processes_under(tmp) if p.is_running()]
    assert not left, f"left running: {left}"
    leftovers = sorted(p.name for p in tmp.iterdir() if p.name not in keep)
    assert not leftovers, f"left in the temporary folder: {leftovers}"


def test_ctrl_c_stops_a_grading_run(working_sandbox, zips, tmp_path):
    out = tmp_path / "grades.csv"
    process = start([sys.executable, "-m", "instructor.grade", str(zips), "--jobs", "1",
                     "--out", str(out)], tmp_path / "tmp")
    wait_for_grading(tmp_path / "tmp", process)
    seconds, output = interrupt(process)

    assert process.returncode == 130, output[-3000:]
    assert "interrupted; no gradebook written" in output and not out.exists(), output[-3000:]
    assert_clean(tmp_path / "tmp")
    print(f"grading run stopped {seconds:.1f} s after Ctrl-C")


def test_ctrl_c_stops_pytest_mid_way_through_a_grading_test(working_sandbox, zips, tmp_path):
    test = KIT_ROOT / "instructor" / "tests" / "kit" / "grading_to_interrupt.py"
    basetemp = tmp_path / "basetemp"
    process = start([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=",
                     "--basetemp", str(basetemp), f"{test}::test_grading_a_folder"],
                    tmp_path / "tmp", {"KIT_ZIPS_TO_INTERRUPT": str(zips)})
    wait_for_grading(tmp_path / "tmp", process)
    seconds, output = interrupt(process)

    assert process.returncode == 2, output[-3000:]   # pytest's exit code after Ctrl-C
    assert "KeyboardInterrupt" in output, output[-3000:]
    assert "no tests ran in" in output or " in " in output.splitlines()[-1], output[-3000:]
    assert_clean(tmp_path / "tmp")
    print(f"pytest stopped {seconds:.1f} s after Ctrl-C")


def test_ctrl_c_stops_the_main_job(tmp_path):
    out = tmp_path / "results"
    process = start([sys.executable, "-m", "instructor.run_notebooks", "--quick",
                     "linear_classifier", "--out", str(out)], tmp_path / "tmp")
    deadline = time.monotonic() + 300
    while not any("ipykernel" in " ".join(p.info["cmdline"] or [])
                  for p in processes_under(tmp_path / "tmp")):
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.5)
    time.sleep(5)   # inside the notebook's cells
    seconds, output = interrupt(process)

    assert process.returncode == 130 and "run_notebooks: interrupted" in output, output[-3000:]
    assert_clean(tmp_path / "tmp")
    print(f"main job stopped {seconds:.1f} s after Ctrl-C")
