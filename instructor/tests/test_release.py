"""The release tool on a small fixture tree, and on the kit itself."""
import json
import shutil
import subprocess
import sys
import zipfile

import pytest

from helpers.utils import KIT_ROOT
from instructor import release
from instructor.release import ANSWER_PLACEHOLDER, ReleaseError, build_release

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

MARKDOWN_ANSWER = (
    "**Your answer:** <!-- BEGIN SOLUTION -->\nThe secret answer is 42.\n<!-- END SOLUTION -->"
)
CODE_CELL = "learning_rate = 1e-3\n# BEGIN SOLUTION\nbest_rate_secret = 0.5\n# END SOLUTION\n"
SECRET_LINES = ["doubled_value_secret = x * 2", "squared_sum_secret = (x * x).sum()",
                "return squared_sum_secret", "The secret answer is 42.", "best_rate_secret = 0.5"]


def notebook_json():
    def cell(kind, text, **extra):
        return {
            "cell_type": kind,
            "metadata": {},
            "source": text.splitlines(keepends=True),
            **extra,
        }

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
        "instructor/release.py": "# instructor tool\n",
        "instructor/grade.py": "# instructor tool\n",
        "instructor/gradescope.py": "# instructor tool\n",
        "tests/__init__.py": "",
        "tests/assignment/test_fixture.py": "def test_nothing():\n    assert True\n",
        "instructor/tests/hidden/test_secret.py": "HIDDEN = 1\n",
        "instructor/benchmarks/__main__.py": "print('bench')\n",
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


# The kit's own student layout (the tests below replace release.STUDENT_LAYOUT).
KIT_LAYOUT = release.STUDENT_LAYOUT
# The student layout of the miniature kit.
FIXTURE_LAYOUT = ("requirements.txt", "assignment/__init__.py", "assignment/fixture.py",
                  "helpers/__init__.py", "helpers/utils.py", "tests/__init__.py",
                  "tests/assignment/test_fixture.py", "notebooks/fixture.ipynb")


@pytest.fixture(autouse=True)
def fixture_layout(monkeypatch):
    """Releases in these tests ship the miniature kit's layout (the tests of the kit itself
    pass ``KIT_LAYOUT`` explicitly)."""
    monkeypatch.setattr(release, "STUDENT_LAYOUT", FIXTURE_LAYOUT)


def release_main(*args, capsys):
    """``python -m instructor.release *args`` in this process: (exit code, stderr)."""
    code = release.main([str(arg) for arg in args])
    return code, capsys.readouterr().err


def run_release(*args):
    return subprocess.run([sys.executable, "-m", "instructor.release", *map(str, args)],
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
        with pytest.raises(
            ReleaseError, match="refusing to write the release into the source tree"
        ):
            build_release(target, source, force=True)
    assert (source / "assignment/fixture.py").read_text() == ASSIGNMENT


def test_command_refuses_the_kit_source_with_exit_code_2():
    result = run_release(KIT_ROOT / "student_release")
    assert result.returncode == 2
    assert "refusing to write the release into the source tree" in result.stderr
    assert "choose a folder outside it" in result.stderr
    assert not (KIT_ROOT / "student_release").exists()


def test_non_empty_folder_needs_force_and_keeps_its_files(source, tmp_path, capsys):
    out = tmp_path / "release"
    out.mkdir()
    (out / "keep.txt").write_text("student work")
    code, stderr = release_main(out, "--source", source, capsys=capsys)
    assert code == 2
    assert "is not empty" in stderr and "--force" in stderr
    assert (out / "keep.txt").read_text() == "student work", "a refused release must lose nothing"
    code, stderr = release_main(out, "--source", source, "--force", capsys=capsys)
    assert code == 0, stderr
    assert not (out / "keep.txt").exists() and (out / "assignment/fixture.py").exists()


def test_empty_folder_is_accepted_and_zip_is_written(source, tmp_path, capsys):
    out = tmp_path / "release"
    out.mkdir()
    code, stderr = release_main(out, "--source", source, "--zip", capsys=capsys)
    assert code == 0, stderr
    with zipfile.ZipFile(tmp_path / "release.zip") as archive:
        names = set(archive.namelist())
    assert "release/assignment/fixture.py" in names and "release/README.md" in names
    assert not any("hidden" in name or "grade" in name for name in names)


def test_unbalanced_markers_are_refused_with_file_and_line(source, tmp_path):
    path = source / "assignment/fixture.py"
    path.write_text(
        ASSIGNMENT.replace("    # END SOLUTION\n    return doubled", "    return doubled", 1)
    )
    with pytest.raises(ReleaseError, match=r"assignment/fixture.py:\d+: BEGIN SOLUTION inside"):
        build_release(tmp_path / "release", source)
    assert not (tmp_path / "release").exists(), "nothing is written when the release fails"


def test_a_solution_line_copied_outside_regions_is_caught(source, tmp_path, monkeypatch):
    monkeypatch.setattr(release, "STUDENT_LAYOUT", FIXTURE_LAYOUT + ("helpers/copy.py",))
    (source / "helpers/copy.py").write_text("def f(x):\n    doubled_value_secret = x * 2\n")
    with pytest.raises(ReleaseError, match=r"leak solutions:\n  helpers/copy.py: solution line "
                                           r"survived: 'doubled_value_secret = x \* 2'"):
        build_release(tmp_path / "release", source)
    (source / "helpers/copy.py").write_text("VALUE = 2\n")
    (source / "helpers/notes.txt").write_text("hint:\n  squared_sum_secret = (x * x).sum()\n")
    with pytest.raises(ReleaseError, match="helpers/notes.txt: solution line survived"):
        build_release(tmp_path / "release", source, layout=FIXTURE_LAYOUT + (
            "helpers/copy.py", "helpers/notes.txt"))
    assert not (tmp_path / "release").exists()


def test_a_file_out_of_the_layout_is_unexpected_and_a_listed_file_must_exist(source, tmp_path):
    (source / "helpers/new_tool.py").write_text("X = 1\n")
    with pytest.raises(ReleaseError, match=r"unexpected file helpers/new_tool.py: list it in "
                                           r"STUDENT_LAYOUT"):
        build_release(tmp_path / "release", source)
    (source / "helpers/new_tool.py").unlink()
    (source / "helpers/utils.py").unlink()
    with pytest.raises(ReleaseError, match=r"missing file helpers/utils.py"):
        build_release(tmp_path / "release", source)
    assert not (tmp_path / "release").exists()


def copy_of_the_kit(folder):
    """A copy of this source tree (what a release reads), without data, results and caches."""
    ignore = shutil.ignore_patterns(".git", "data", "results", "saved", "__pycache__",
                                    ".ipynb_checkpoints", ".pytest_cache")
    return shutil.copytree(KIT_ROOT, folder, ignore=ignore)


def test_a_new_instructor_file_never_ships_and_a_new_helper_is_unexpected(tmp_path):
    kit = copy_of_the_kit(tmp_path / "source")
    (kit / "instructor" / "new_tool.py").write_text("INSTRUCTOR_SECRET = 1\n")
    (kit / "instructor" / "notes").mkdir()
    (kit / "instructor" / "notes" / "answers.md").write_text("# answers\n")
    files = build_release(tmp_path / "first", kit, layout=KIT_LAYOUT)
    assert not [p for p in files if p.parts[0] == "instructor"], "instructor/ never ships"
    assert not (tmp_path / "first" / "instructor").exists()

    (kit / "helpers" / "new_helper.py").write_text("HELPER = 1\n")
    with pytest.raises(ReleaseError, match=r"unexpected file helpers/new_helper.py"):
        build_release(tmp_path / "second", kit, layout=KIT_LAYOUT)
    assert not (tmp_path / "second").exists(), "nothing is written when the release fails"
    files = build_release(tmp_path / "third", kit,
                          layout=KIT_LAYOUT + ("helpers/new_helper.py",))
    assert (tmp_path / "third" / "helpers" / "new_helper.py").read_text() == "HELPER = 1\n"


def test_the_kit_itself_releases_cleanly(tmp_path):
    out = tmp_path / "student_kit"
    files = build_release(out, layout=KIT_LAYOUT)
    names = {p.as_posix() for p in files}
    assert "helpers/data.py" in names and "tests/assignment/test_metrics.py" in names
    assert not any(name.startswith(("instructor/", ".ci")) for name in names)
    for path in out.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")
