"""Fixtures for the tests that work on whole student kits (instructor only)."""
import os
import shutil

import pytest

from helpers import release, sandbox, submission
from helpers.run_notebooks import environment, execute_notebook
from helpers.utils import KIT_ROOT


@pytest.fixture(scope="session")
def student_kit(tmp_path_factory):
    """The student release of this kit, as students get it."""
    out = tmp_path_factory.mktemp("release") / "student_kit"
    release.build_release(out)
    return out


@pytest.fixture(scope="session")
def finished_kit(tmp_path_factory):
    """A release with the reference solutions copied in and every notebook run (quick mode),
    as a student who finished would have it."""
    kit = tmp_path_factory.mktemp("finished") / "student_kit"
    release.build_release(kit)
    for path in (KIT_ROOT / "assignment").glob("*.py"):
        shutil.copy(path, kit / "assignment" / path.name)
    results = tmp_path_factory.mktemp("results")
    with environment(KIT_QUICK="1", KIT_SAVED_DIR=kit / "saved", KIT_RESULTS_DIR=results):
        for name in submission.NOTEBOOKS:
            path = kit / "notebooks" / name
            failure = execute_notebook(path, path, timeout=900)
            assert failure is None, f"{name} failed with the reference solutions: {failure}"
    return kit


@pytest.fixture(scope="session")
def working_sandbox():
    """Skip (or, with KIT_REQUIRE_SANDBOX=1 as in CI, fail) where bubblewrap does not work."""
    reason = sandbox.unavailable_reason()
    if reason and os.environ.get("KIT_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"KIT_REQUIRE_SANDBOX=1 but the sandbox does not work: {reason}")
    if reason:
        pytest.skip(reason)
