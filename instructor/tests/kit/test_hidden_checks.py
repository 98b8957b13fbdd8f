"""The hidden checks of Task 2 and Task 3 against a submission that hard-codes the visible
checks' answers (see instructor/tests/kit/cheating.py).

The cheating files are generated: the reference solutions wrapped so that they record the
signature of every call while the visible checks run, then the same wrappers answering like the
reference only for those signatures. The cheat must pass the self-check, and fail at least
one hidden check in every function it can be told apart in: first with one function cheating at
a time (so each function is caught by a check of its own), then graded as a whole by the real
grader, where every such function loses its share of the points.
"""
import json
import re
import shutil

import pytest

from helpers import functions
from instructor import HIDDEN_CHECKS, grade
from instructor.tests.kit import cheating
from instructor.tests.kit.runner import lay_reference_solutions, run_in
from instructor.tests.kit.test_grade import full_parts, pack

pytestmark = pytest.mark.long  # the long tier (pytest --all): see conftest.py

# pytest plugin run inside the cheating kit: every hidden check runs once honestly (it must
# pass), then once per student function it names, with only that function cheating, until a
# check has caught that function.
ISOLATION_PLUGIN = '''
import json
import os

import pytest
from _pytest.runner import runtestprotocol

import assignment.fully_connected_networks
import assignment.two_layer_net

MODULES = {"two_layer_net": assignment.two_layer_net,
           "fully_connected_networks": assignment.fully_connected_networks}
caught, broken = {}, []


def run(item, part, name):
    for module_part, module in MODULES.items():
        module._CHEAT_ONLY = name if module_part == part else "<nobody>"
    try:
        return any(report.failed for report in runtestprotocol(item, log=False, nextitem=None))
    finally:
        for module in MODULES.values():
            module._CHEAT_ONLY = None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    part = item.path.stem.removeprefix("test_")
    names = dict.fromkeys(name for marker in item.iter_markers("student") for name in marker.args)
    if run(item, part, "<nobody>"):
        broken.append(item.nodeid)
    for name in names:
        key = f"{part}.{name}"
        caught.setdefault(key, None)
        if caught[key] is None and run(item, part, name):
            caught[key] = item.nodeid
    return True


def pytest_sessionfinish(session):
    with open(os.environ["CHEAT_ISOLATION_REPORT"], "w") as f:
        json.dump({"caught": caught, "broken": broken}, f)
'''


def separable(part):
    return [name for name in cheating.student_functions(part)
            if name not in cheating.CONSTANT_FUNCTIONS[part]]


@pytest.fixture(scope="module")
def cheating_kit(student_kit, tmp_path_factory):
    """A student kit with the reference files, Task 2 and Task 3 replaced by the cheat."""
    kit = tmp_path_factory.mktemp("cheating") / "student_kit"
    shutil.copytree(student_kit, kit)
    lay_reference_solutions(kit)
    records = {part: kit.parent / f"{part}.signatures.json" for part in cheating.PARTS}
    for part in cheating.PARTS:
        recorder = cheating.source(part, record_to=records[part])
        (kit / "assignment" / f"{part}.py").write_text(recorder)
    result = run_in(kit, "-m", "helpers.check", *cheating.PARTS)
    assert result.returncode == 0, \
        f"the recording run must pass the visible checks:\n{result.stdout}"
    seen = {part: json.loads(records[part].read_text()) for part in cheating.PARTS}
    for part in cheating.PARTS:
        assert sorted(seen[part]) == sorted(cheating.student_functions(part)), \
            f"the cheat must wrap every student function of {part}, and visible checks call each"
        (kit / "assignment" / f"{part}.py").write_text(cheating.source(part, seen=seen[part]))
    result = run_in(kit, "-m", "helpers.check", *cheating.PARTS)
    assert result.returncode == 0, f"the cheat must pass the self-check:\n{result.stdout}"
    return kit


def test_a_hidden_check_catches_each_function_cheating_alone(cheating_kit, tmp_path):
    shutil.copytree(HIDDEN_CHECKS, cheating_kit / "tests" / "hidden",
                    ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    (cheating_kit / "_isolate_cheats.py").write_text(ISOLATION_PLUGIN)
    report_path = tmp_path / "isolation.json"
    files = [f"tests/hidden/test_{part}.py" for part in cheating.PARTS]
    result = run_in(cheating_kit, "-m", "pytest", *files, "-p", "_isolate_cheats", "-q",
                    "-p", "no:cacheprovider", "-o", "addopts=", "-W", "ignore::DeprecationWarning",
                    env_extra={"CHEAT_ISOLATION_REPORT": str(report_path)})
    assert report_path.is_file(), \
        f"the isolation run wrote no report:\n{result.stdout}{result.stderr}"
    report = json.loads(report_path.read_text())
    assert report["broken"] == [], f"hidden checks fail with nobody cheating: {report['broken']}"
    for part in cheating.PARTS:
        for name in separable(part):
            assert report["caught"].get(f"{part}.{name}"), \
                f"{part}.{name} cheating alone passes every hidden check"
        for name in cheating.CONSTANT_FUNCTIONS[part]:
            key = f"{part}.{name}"
            assert key in report["caught"], f"{key} has no hidden check"
            assert report["caught"][key] is None, \
                f"{key} answers like the reference in every call, yet a hidden check failed"


def feedback_results(text):
    """dict part -> dict ``(name, hidden)`` -> status, read from a feedback file."""
    results, part = {}, None
    for line in text.splitlines():
        header = re.match(r"^(\w+): [\d.]+ points$", line)
        entry = re.match(r"^  (hidden check of )?(\S+): (PASS|FAIL|NOT IMPLEMENTED)", line)
        if header:
            part = header[1]
            results[part] = {}
        elif entry and part:
            results[part][(entry[2], bool(entry[1]))] = entry[3]
    return results


@pytest.fixture(scope="module")
def graded_cheat(cheating_kit, tmp_path_factory):
    """The cheat and the reference, packed as submissions and graded by the real grader."""
    folder = tmp_path_factory.mktemp("cheat-submissions")
    pack(cheating_kit, folder, "cheat01")
    honest = tmp_path_factory.mktemp("honest") / "student_kit"
    shutil.copytree(cheating_kit, honest)
    lay_reference_solutions(honest)
    pack(honest, folder, "ref02")
    out = tmp_path_factory.mktemp("cheat-gradebook")
    rows = grade.grade_folder(folder, out / "grades.csv", out / "feedback", jobs=2, progress=False)
    feedback = {row["student_id"]: (out / "feedback" / f"{row['student_id']}.txt").read_text()
                for row in rows}
    return {row["student_id"]: (row, feedback_results(feedback[row["student_id"]]))
            for row in rows}


def test_the_reference_passes_a_hidden_check_of_every_function(graded_cheat):
    row, results = graded_cheat["ref02"]
    for part, points in full_parts().items():
        assert row[part] == points, f"the reference gets {row[part]} of {points} for {part}"
    for part in cheating.PARTS:
        for name in cheating.student_functions(part):
            assert results[part].get((name, True)) == "PASS", \
                f"{part}.{name}: no passing hidden check in the reference's feedback"


def test_the_grader_takes_the_share_of_every_hard_coded_function(graded_cheat):
    # The cheat passes the self-check (cheating_kit), where each function runs beside
    # stand-ins; the grader runs the checks composed, where some of its visible answers meet
    # inputs from its own other functions. Either way no separable function keeps its share.
    row, results = graded_cheat["cheat01"]
    parts = full_parts()
    for part in cheating.PARTS:
        for name in separable(part):
            assert results[part][(name, True)] == "FAIL", f"{part}.{name} passes its hidden checks"
        for name in cheating.CONSTANT_FUNCTIONS[part]:
            assert results[part][(name, True)] == "PASS", \
                f"{part}.{name} answers like the reference in every call, yet fails a hidden check"
        # A function without arguments answers like the reference; it earns its share when its
        # visible checks, composed with the cheat's nets, pass too.
        earning = [name for name in cheating.CONSTANT_FUNCTIONS[part]
                   if results[part][(name, False)] == "PASS"]
        expected = round(float(sum(functions.points(name) for name in earning)), 2)
        assert row[part] == expected, \
            f"{part}: {row[part]} points; only {earning} earn theirs ({expected} of {parts[part]})"
    for part in set(parts) - set(cheating.PARTS):
        assert row[part] == parts[part], f"{part} is the reference in the cheat and earns all"
