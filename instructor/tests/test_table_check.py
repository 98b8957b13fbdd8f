"""The table of student functions (helpers/functions.py) and the code agree, or the kit says
exactly what is wrong (instructor/table_check.py)."""
import json
import shutil
from fractions import Fraction

import pytest

from helpers import functions
from helpers.check import points_table
from helpers.utils import KIT_ROOT
from instructor import release, table_check

COPIED = ("assignment", "helpers", "tests", "instructor/tests/hidden", "instructor/rubric.json",
          "conftest.py", "pytest.ini", "docs/CONTRACT.md")


def test_the_kit_agrees_with_its_table():
    assert table_check.problems(KIT_ROOT, checks=False) == []


@pytest.mark.long   # collects every check with pytest: about 10 s of CPU time
def test_every_function_has_a_visible_and_a_hidden_check():
    assert table_check.problems(KIT_ROOT) == []


def test_every_part_adds_up_to_its_total_and_equal_shares_keep_every_total():
    for part, total in functions.PART_POINTS.items():
        rows = functions.functions_of(part)
        assert sum(functions.points(row.name) for row in rows) == total
        assert {functions.points(row.name) for row in rows} == {Fraction(total, len(rows))}, \
            f"{part}: the default is an equal share (today's grading)"


@pytest.fixture
def broken_kit(tmp_path):
    """A copy of the kit with one mistake of each kind planted."""
    kit = tmp_path / "kit"
    for relpath in COPIED:
        source, target = KIT_ROOT / relpath, kit / relpath
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    with (kit / "assignment" / "metrics.py").open("a") as f:
        f.write("\n\ndef orphan(x):\n    # BEGIN SOLUTION\n    return x\n    # END SOLUTION\n")
    with (kit / "helpers" / "functions.py").open("a") as f:
        f.write('\nFUNCTIONS["ghost"] = StudentFunction("ghost", "metrics", built_from=("nobody",),'
                ' why="w", stand_in="no_such_stand_in", points=7)\n')
    rubric = json.loads((kit / "instructor" / "rubric.json").read_text())
    rubric["parts"]["model_selection"] = 6
    (kit / "instructor" / "rubric.json").write_text(json.dumps(rubric))
    return kit


def test_each_problem_is_one_line_with_the_file_and_the_fix(broken_kit):
    found = table_check.problems(broken_kit, checks=False)
    expected = [
        "assignment/metrics.py: orphan has a solution region but no row in helpers/functions.py:"
        " add one to FUNCTIONS (part 'metrics')",
        "helpers/functions.py: ghost has a row but no solution region in assignment/metrics.py: "
        "mark its body with # BEGIN SOLUTION / # END SOLUTION, or remove the row",
        "helpers/functions.py: ghost is built from 'nobody', which is no student function: fix "
        "the name in built_from, or add its row",
        "helpers/functions.py: ghost's stand-in 'no_such_stand_in' is not defined in "
        "helpers/stand_ins.py: write it there, or fix 'stand_in'",
        "helpers/functions.py: the points of metrics's functions add up to 7, but the part is "
        "worth 5 (PART_POINTS): change their 'points', or the part's total here and in "
        "instructor/rubric.json",
        "instructor/rubric.json: parts.model_selection is 6, but helpers/functions.py gives the "
        "part 5 (PART_POINTS): make them agree",
        "docs/CONTRACT.md: section 4 (Student API) does not name ghost: add its signature and "
        "shapes there",
    ]
    assert sorted(found) == sorted(expected)


@pytest.mark.long   # collects the checks of a copy of the kit with pytest
def test_a_function_without_checks_is_named_with_the_file_to_add_them_to(broken_kit):
    found = table_check.problems(broken_kit)
    assert 'tests/assignment/test_metrics.py: ghost has no visible check: add one marked ' \
        '@pytest.mark.student("ghost")' in found
    assert 'instructor/tests/hidden/test_metrics.py: ghost has no hidden check: add one ' \
        'marked @pytest.mark.student("ghost")' in found
    assert not [line for line in found if "has no visible" in line or "has no hidden" in line
                if "ghost" not in line], "every other function has both"


def test_the_release_writes_nothing_when_the_table_disagrees(broken_kit, tmp_path):
    out = tmp_path / "release"
    with pytest.raises(release.ReleaseError) as error:
        release.build_release(out, broken_kit)
    assert "orphan has a solution region but no row" in str(error.value)
    assert not out.exists()


def test_the_release_readme_and_the_self_check_show_each_functions_points(tmp_path):
    release.build_release(tmp_path / "release")
    readme = (tmp_path / "release" / "README.md").read_text()
    assert release.POINTS_PLACEHOLDER not in readme
    for line in functions.points_lines():
        assert line in readme
    assert points_table()[0] == "linear_classifier.svm_loss_naive: 2.5 points"
    assert len(points_table()) == len(functions.FUNCTIONS)


def test_a_function_the_contract_does_not_name_is_named(tmp_path):
    (tmp_path / "docs").mkdir()
    contract = (KIT_ROOT / "docs" / "CONTRACT.md").read_text()
    (tmp_path / "docs" / "CONTRACT.md").write_text(contract.replace("`nn_sgd_step(", "`step("))
    table = table_check.load_table(KIT_ROOT)
    assert table_check._contract_problems(tmp_path, table) == [
        "docs/CONTRACT.md: section 4 (Student API) does not name nn_sgd_step: add its signature "
        "and shapes there"]
