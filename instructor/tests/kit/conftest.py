"""Fixtures for the tests that work on whole student kits (instructor only)."""
import json
import os

import pytest

from helpers import submission
from instructor import release, sandbox
from instructor.run_notebooks import INLINE_BACKEND, environment, execute_notebook
from instructor.tests.kit.runner import lay_reference_solutions, set_run_mode


@pytest.fixture(scope="session")
def student_kit(tmp_path_factory):
    """The student release of this kit, as students get it."""
    out = tmp_path_factory.mktemp("release") / "student_kit"
    release.build_release(out)
    return out


@pytest.fixture(scope="session")
def finished_kit(tmp_path_factory):
    """A release with the reference solutions copied in and every notebook run, as a student
    who finished would have it. The notebooks run in quick mode (a full run takes minutes);
    their run-mode records, which say so, are then set to a full run, since
    collect_submission.py refuses quick-mode notebooks."""
    kit = tmp_path_factory.mktemp("finished") / "student_kit"
    release.build_release(kit)
    lay_reference_solutions(kit)
    results = tmp_path_factory.mktemp("results")
    # Figures inline, as Jupyter stores them in a student's notebooks (and the reports show).
    with environment(KIT_QUICK="1", KIT_SAVED_DIR=kit / "saved", KIT_RESULTS_DIR=results,
                     MPLBACKEND=INLINE_BACKEND):
        for name in submission.NOTEBOOKS:
            path = kit / "notebooks" / name
            failure = execute_notebook(path, path, timeout=900)
            assert failure is None, f"{name} failed with the reference solutions: {failure}"
            records = submission.run_mode_records(json.loads(path.read_text()))
            assert records and all(r["quick_mode"] is True for r in records), \
                f"{name}: the set-up cell must record the quick-mode run, found {records}"
            set_run_mode(path, quick=False)
    return kit


@pytest.fixture(scope="session")
def working_sandbox():
    """Skip (or, with KIT_REQUIRE_SANDBOX=1 as in CI, fail) where bubblewrap does not work."""
    reason = sandbox.unavailable_reason()
    if reason and os.environ.get("KIT_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"KIT_REQUIRE_SANDBOX=1 but the sandbox does not work: {reason}")
    if reason:
        pytest.skip(reason)
