"""helpers.stub_errors: the brief lines that show a stub's error in a notebook."""
import linecache
import re

from helpers import stub_errors
from helpers.utils import KIT_ROOT

STUB = ("def helper(values):\n"
        "    return [stub(v) for v in values]\n"
        "def stub(value):\n"
        "    # TODO: write me.\n"
        "    raise NotImplementedError('stub: not implemented yet; write your code in "
        "assignment/fake.py')\n")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def raised_in_a_cell():
    """Raise the stub's error from a 'cell' (code run in its own namespace)."""
    module = {}
    exec(compile(STUB, str(KIT_ROOT / "assignment" / "fake.py"), "exec"), module)
    cell = {"helper": module["helper"]}
    source = "x = 1\nhelper([1, 2])\n"
    # IPython keeps each cell's source in linecache, under the cell's own file name.
    linecache.cache["<cell>"] = (len(source), None, source.splitlines(keepends=True), "<cell>")
    try:
        exec(compile(source, "<cell>", "exec"), cell)
    except NotImplementedError as error:
        return error, cell
    raise AssertionError("the stub did not raise")


def test_a_stub_error_shows_message_calling_line_and_file():
    error, cell = raised_in_a_cell()
    assert stub_errors.is_stub_error(error)
    lines = [ANSI.sub("", line) for line in
             stub_errors.brief_stub_error(error, error.__traceback__, cell)]
    assert lines[0] == f"NotImplementedError: {error}"
    assert lines[1] == "  called in your cell, line 2: helper([1, 2])"
    assert lines[2] == "  write stub in assignment/fake.py (the stub is at line 5)"
    assert len(lines) <= 4 and "TODO" not in "\n".join(lines)
    assert str(KIT_ROOT) not in "\n".join(lines), "no path of the machine"


def test_other_errors_are_not_stub_errors():
    assert not stub_errors.is_stub_error(NotImplementedError("abstract method"))
    assert not stub_errors.is_stub_error(ValueError("x: not implemented yet"))
