"""Each student function is checkable alone (instructor only).

For every student function, the release with ONLY that function's solution filled in (every
other function still a stub) must report it PASS, or WAITING for exactly the functions it is
built from (``helpers.check.COMPOSED``, the one place that lists them with the reason). One
release is built; each variant is that release's file with one function's stubs replaced by
its solution regions (``instructor.release.fill_stubs``), and only that function's checks run.
All variants run in one process (``instructor/tests/kit/variants.py``).
"""
import shutil

import pytest

from helpers.check import COMPOSED, PASS, WAITING, composed_parts
from helpers.utils import KIT_ROOT
from instructor import release
from instructor.tests.kit.test_student_workflow import functions_with_regions
from instructor.tests.kit.variants import run_variants

pytestmark = pytest.mark.long  # the long tier (pytest --all): see conftest.py


def single_function_variants(kit):
    """One variant per student function: its file with only that function filled in."""
    variants = []
    for qualified in sorted(functions_with_regions()):
        part, function = qualified.split(".", 1)
        relpath = f"assignment/{part}.py"
        text = release.fill_stubs((kit / relpath).read_text(),
                                  (KIT_ROOT / relpath).read_text(), function)
        variants.append({"id": qualified, "files": {relpath: text}, "parts": [part],
                         "functions": [function]})
    return variants


@pytest.fixture(scope="module")
def alone(student_kit, tmp_path_factory):
    """dict 'part.function' -> that function's result in the release with only it written."""
    kit = tmp_path_factory.mktemp("single") / "student_kit"
    shutil.copytree(student_kit, kit)
    results = run_variants(kit, single_function_variants(kit))
    return {qualified: result["functions"].get(qualified.split(".", 1)[1])
            for qualified, result in results.items()} | {"__errors__": [
                f"{qualified}: {error}" for qualified, result in results.items()
                for error in result["errors"]]}


def test_every_function_passes_alone_or_waits_only_for_its_parts(alone):
    assert not alone["__errors__"], "\n".join(alone["__errors__"])
    problems = []
    for qualified in sorted(functions_with_regions()):
        function = qualified.split(".", 1)[1]
        result = alone[qualified]
        expected = (WAITING, composed_parts(function)) if function in COMPOSED else (PASS, [])
        found = (result["status"], result["waiting"]) if result else ("no checks", [])
        if found != expected:
            problems.append(f"{qualified}: {found[0]} {found[1]} "
                            f"{result['failures'][:1] if result else ''}; expected {expected}")
    assert not problems, "functions that are not checkable alone:\n" + "\n".join(problems)


def test_composed_lists_only_student_functions_with_a_reason():
    names = {qualified.split(".", 1)[1] for qualified in functions_with_regions()}
    for function, (parts, reason) in COMPOSED.items():
        assert function in names, f"COMPOSED names {function}, which students do not write"
        unknown = set(parts) - names
        assert not unknown, f"COMPOSED[{function!r}] names {unknown}, which students do not write"
        assert function not in composed_parts(function), f"{function} is built from itself"
        assert len(reason) > 20, f"COMPOSED[{function!r}] needs a reason"
