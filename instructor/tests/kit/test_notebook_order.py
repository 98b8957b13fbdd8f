"""Each released notebook, run as a student meets it (issue 28, items 2 and 3).

For every notebook: a release with the reference solutions of the earlier notebooks' parts in
place and this notebook's parts still stubs, run in quick mode. Run All must stop first at a
function that a Markdown cell above the failing cell asked for, and the stub's error must fit
on one screen: its message, the notebook line that called it and the file to write.
"""
import json
import re
import shutil
from pathlib import Path

import pytest

from helpers.utils import KIT_ROOT
from instructor.run_notebooks import environment, execute_notebook

# The parts each notebook asks students to write, in the order they are taught.
NOTEBOOK_PARTS = {
    "linear_classifier": ("linear_classifier", "metrics", "model_selection"),
    "two_layer_net": ("two_layer_net",),
    "fully_connected_networks": ("fully_connected_networks",),
}
MAX_ERROR_LINES = 15
STUB_MESSAGE = re.compile(r"^(?P<function>[\w.]+): not implemented yet; "
                          r"write your code in (?P<file>assignment/\w+\.py)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def kit_with_earlier_parts(student_kit, folder, notebook):
    """A copy of the release with the reference of every part taught before ``notebook``."""
    kit = folder / "student_kit"
    shutil.copytree(student_kit, kit)
    for name, parts in NOTEBOOK_PARTS.items():
        if name == notebook:
            break
        for part in parts:
            shutil.copy(KIT_ROOT / "assignment" / f"{part}.py", kit / "assignment")
    return kit


def first_error(cells):
    """``(index, error output)`` of the first cell with an error output."""
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                return index, output
    raise AssertionError("no cell failed, although this notebook's parts are stubs")


def introduced_before(cells, index, function):
    """True when a Markdown cell above ``index`` names ``function`` (or, for a method
    ``Class.method``, names the class and the method) in backticks."""
    text = "\n".join("".join(cell["source"]) for cell in cells[:index]
                     if cell["cell_type"] == "markdown")
    names = re.findall(r"`([^`]+)`", text)
    if any(function == name or name.startswith(function + "(") for name in names):
        return True
    owner, _, method = function.rpartition(".")
    return bool(owner) and any(owner in name for name in names) and \
        any(method in name for name in names)


@pytest.mark.long
@pytest.mark.parametrize("notebook", NOTEBOOK_PARTS)
def test_run_all_stops_first_at_a_function_the_text_asked_for(student_kit, tmp_path, notebook):
    kit = kit_with_earlier_parts(student_kit, tmp_path, notebook)
    executed = tmp_path / "executed.ipynb"
    with environment(KIT_QUICK="1", KIT_SAVED_DIR=tmp_path / "saved",
                     KIT_RESULTS_DIR=tmp_path / "results"):
        failure = execute_notebook(kit / "notebooks" / f"{notebook}.ipynb", executed, timeout=600)
    assert failure is not None, f"{notebook} ran through with its parts as stubs"
    cells = json.loads(executed.read_text())["cells"]
    index, error = first_error(cells)
    assert error["ename"] == "NotImplementedError", failure
    stub = STUB_MESSAGE.match(error["evalue"])
    assert stub, f"{notebook}: the first error is not a stub of the release: {failure}"
    assert Path(stub["file"]).stem in NOTEBOOK_PARTS[notebook], \
        f"{notebook} first stops at {stub['file']}, a part of another notebook"
    assert introduced_before(cells, index, stub["function"]), \
        f"{notebook}: Run All first stops at {stub['function']} (cell {index}), which no " \
        "Markdown cell above it has asked for"

    # The error fits on one screen and names the message, the calling line and the file.
    shown = ANSI.sub("", "\n".join(error["traceback"])).splitlines()
    assert len(shown) <= MAX_ERROR_LINES, "\n".join(shown)
    calling_lines = [line.strip() for line in "".join(cells[index]["source"]).splitlines()]
    assert error["evalue"] in shown[0]
    assert any(line.startswith("  called in your cell, line") and
               line.split(": ", 1)[1] in calling_lines for line in shown), "\n".join(shown)
    assert any(f"in {stub['file']}" in line for line in shown), "\n".join(shown)
    assert "# TODO" not in "\n".join(shown), "the stub's TODO comments are not repeated"
