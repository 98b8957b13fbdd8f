"""The release tool on a small fixture tree, and on the kit itself."""
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers.release import ANSWER_PLACEHOLDER, ReleaseError, build_release
from helpers.utils import KIT_ROOT

ASSIGNMENT = '''\
"""A fixture assignment."""
import torch


def double(x):
    """Return 2 * x."""
    # TODO: multiply by two.
    # BEGIN SOLUTION
    doubled_value_secret = x * 2
    # END SOLUTION
    return doubled_value_secret


class Model:
    def loss(self, x):
        """Sum of squares."""
        if x is None:
            return None
        else:
            # BEGIN SOLUTION
            squared_sum_secret = (x * x).sum()
            return squared_sum_secret
            # END SOLUTION
'''

MARKDOWN_ANSWER = "**Your answer:** <!-- BEGIN SOLUTION -->\nThe secret answer is 42.\n<!-- END SOLUTION -->"
CODE_CELL = "learning_rate = 1e-3\n# BEGIN SOLUTION\nbest_rate_secret = 0.5\n# END SOLUTION\n"
SECRET_LINES = ["doubled_value_secret = x * 2", "squared_sum_secret = (x * x).sum()",
                "return squared_sum_secret", "The secret answer is 42.", "best_rate_secret = 0.5"]


def notebook_json():
    def cell(kind, text, **extra):
        return {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True), **extra}
    return {
        "cells": [
            cell("markdown", "# Fixture notebook\nWhat is the answer?"),
            cell("markdown", MARKDOWN_ANSWER),
            cell("code", "print('hello')", execution_count=3,
                 outputs=[{"output_type": "stream", "name": "stdout", "text": ["hello\n"]}]),
            cell("code", CODE_CELL, execution_count=4, outputs=[]),
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }


@pytest.fixture
def source(tmp_path):
    """A miniature kit: one assignment file, a notebook, student and instructor files."""
    root = tmp_path / "source"
    files = {
        "assignment/__init__.py": "",
        "assignment/fixture.py": ASSIGNMENT,
        "helpers/__init__.py": "",
        "helpers/utils.py": "VALUE = 1\n",
        "helpers/release.py": "# instructor tool\n",
        "helpers/grade.py": "# instructor tool\n",
        "instructor/__init__.py": "",
        "instructor/gradescope.py": "# instructor tool\n",
        "tests/__init__.py": "",
        "tests/assignment/test_fixture.py": "def test_nothing():\n    assert True\n",
        "tests/hidden/test_secret.py": "HIDDEN = 1\n",
        "tests/test_instructor.py": "X = 1\n",
        "benchmarks/__main__.py": "print('bench')\n",
        ".ci/run": "pytest\n",
        "results/metrics.json": "{}\n",
        "data/cifar-10-batches-py/data_batch_1": "bytes",
        "saved/model.pt": "bytes",
        "README.md": "instructor readme\n",
        "STUDENT_README.md": "# Student readme\n",
        "requirements.txt": "torch\n",
        "notebooks/fixture.ipynb": json.dumps(notebook_json()),
    }
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def run_release(*args):
    return subprocess.run([sys.executable, "-m", "helpers.release", *map(str, args)],
                          cwd=KIT_ROOT, capture_output=True, text=True, timeout=120)


def released_text(out):
    return {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file()}


def test_regions_become_stubs_at_their_indentation(source, tmp_path):
    out = tmp_path / "release"
    build_release(out, source)
    text = (out / "assignment/fixture.py").read_text()
    assert '    raise NotImplementedError("double: not implemented yet; write your code in ' \
           'assignment/fixture.py")\n' in text
    assert '            raise NotImplementedError("Model.loss: ' in text
    assert "    # TODO: multiply by two.\n" in text, "TODO comments above a region must stay"
    assert "    return doubled_value_secret\n" in text, "code after a region must stay"
    compile(text, "fixture.py", "exec")


def test_stubbed_functions_raise_and_name_themselves(source, tmp_path):
    out = tmp_path / "release"
    build_release(out, source)
    namespace = {}
    exec(compile((out / "assignment/fixture.py").read_text(), "fixture.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r"^double: not implemented yet"):
        namespace["double"](1)
    with pytest.raises(NotImplementedError, match=r"^Model.loss: "):
        namespace["Model"]().loss(2)


def test_no_marker_and_no_solution_line_survives(source, tmp_path):
    out = tmp_path / "release"
    build_release(out, source)
    for relpath, text in released_text(out).items():
        assert "SOLUTION" not in text, f"a marker survived in {relpath}"
        for line in SECRET_LINES:
            assert line not in text, f"solution line {line!r} survived in {relpath}"


def test_notebooks_are_cleared_and_answers_replaced(source, tmp_path):
    out = tmp_path / "release"
    build_release(out, source)
    cells = json.loads((out / "notebooks/fixture.ipynb").read_text())["cells"]
    assert "".join(cells[0]["source"]).startswith("# Fixture notebook"), "question cells stay"
    assert "".join(cells[1]["source"]) == ANSWER_PLACEHOLDER
    for cell in cells[2:]:
        assert cell["outputs"] == [] and cell["execution_count"] is None
    code = "".join(cells[3]["source"])
    assert code.startswith("learning_rate = 1e-3\nraise NotImplementedError(")
    compile(code, "cell", "exec")


def test_instructor_only_parts_are_left_out(source, tmp_path):
    out = tmp_path / "release"
    build_release(out, source)
    files = set(released_text(out))
    assert files == {
        "README.md", "requirements.txt", "assignment/__init__.py", "assignment/fixture.py",
        "helpers/__init__.py", "helpers/utils.py", "tests/__init__.py",
        "tests/assignment/test_fixture.py", "notebooks/fixture.ipynb",
    }
    assert (out / "README.md").read_text() == "# Student readme\n"


def test_refuses_the_source_tree_itself(source):
    for target in (source, source / "release", source.parent):
        with pytest.raises(ReleaseError, match="refusing to write the release into the source tree"):
            build_release(target, source, force=True)
    assert (source / "assignment/fixture.py").read_text() == ASSIGNMENT


def test_command_refuses_the_kit_source_with_exit_code_2():
    result = run_release(KIT_ROOT / "student_release")
    assert result.returncode == 2
    assert "refusing to write the release into the source tree" in result.stderr
    assert "choose a folder outside it" in result.stderr
    assert not (KIT_ROOT / "student_release").exists()


def test_non_empty_folder_needs_force_and_keeps_its_files(source, tmp_path):
    out = tmp_path / "release"
    out.mkdir()
    (out / "keep.txt").write_text("student work")
    result = run_release(out, "--source", source)
    assert result.returncode == 2
    assert "is not empty" in result.stderr and "--force" in result.stderr
    assert (out / "keep.txt").read_text() == "student work", "a refused release must lose nothing"
    result = run_release(out, "--source", source, "--force")
    assert result.returncode == 0, result.stderr
    assert not (out / "keep.txt").exists() and (out / "assignment/fixture.py").exists()


def test_empty_folder_is_accepted_and_zip_is_written(source, tmp_path):
    out = tmp_path / "release"
    out.mkdir()
    result = run_release(out, "--source", source, "--zip")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "release.zip") as archive:
        names = set(archive.namelist())
    assert "release/assignment/fixture.py" in names and "release/README.md" in names
    assert not any("hidden" in name or "grade" in name for name in names)


def test_unbalanced_markers_are_refused_with_file_and_line(source, tmp_path):
    path = source / "assignment/fixture.py"
    path.write_text(ASSIGNMENT.replace("    # END SOLUTION\n    return doubled", "    return doubled", 1))
    with pytest.raises(ReleaseError, match=r"assignment/fixture.py:\d+: BEGIN SOLUTION inside"):
        build_release(tmp_path / "release", source)
    assert not (tmp_path / "release").exists(), "nothing is written when the release fails"


def test_a_solution_line_copied_outside_regions_is_caught(source, tmp_path):
    (source / "helpers/copy.py").write_text("def f(x):\n    doubled_value_secret = x * 2\n")
    with pytest.raises(ReleaseError, match=r"leak solutions:\n  helpers/copy.py: solution line "
                                           r"survived: 'doubled_value_secret = x \* 2'"):
        build_release(tmp_path / "release", source)
    (source / "helpers/copy.py").unlink()
    (source / "helpers/notes.txt").write_text("hint:\n  squared_sum_secret = (x * x).sum()\n")
    with pytest.raises(ReleaseError, match="helpers/notes.txt: solution line survived"):
        build_release(tmp_path / "release", source)
    assert not (tmp_path / "release").exists()


def test_the_kit_itself_releases_cleanly(tmp_path):
    out = tmp_path / "student_kit"
    files = build_release(out)
    names = {p.as_posix() for p in files}
    assert "helpers/release.py" not in names and "helpers/data.py" in names
    assert not any(name.startswith(("tests/hidden", "benchmarks", ".ci")) for name in names)
    for path in out.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")
