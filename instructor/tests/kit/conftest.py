"""Fixtures for the tests that work on whole student kits (instructor only)."""
import json
import os

import pytest

from helpers import submission
from instructor import release, sandbox
from instructor.quick_sample import build_quick_sample
from instructor.tests.kit.runner import set_run_mode


@pytest.fixture(scope="session")
def student_kit(tmp_path_factory):
    """The student release of this kit, as students get it."""
    out = tmp_path_factory.mktemp("release") / "student_kit"
    release.build_release(out)
    return out


@pytest.fixture(scope="session")
def chinese_kit(tmp_path_factory):
    """The Chinese student release (``--lang zh-CN``), as its students get it."""
    out = tmp_path_factory.mktemp("release_zh") / "student_kit"
    release.build_release(out, lang="zh-CN")
    return out


@pytest.fixture(scope="session")
def finished_kit(tmp_path_factory):
    """A release with the reference solutions copied in and every notebook run, as a student
    who finished would have it. The notebooks run in quick mode (a full run takes minutes);
    their run-mode records, which say so, are then set to a full run, since
    collect_submission.py refuses quick-mode notebooks."""
    kit = build_quick_sample(tmp_path_factory.mktemp("finished") / "student_kit",
                             with_answers=False)
    for name in submission.NOTEBOOKS:
        path = kit / "notebooks" / name
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
