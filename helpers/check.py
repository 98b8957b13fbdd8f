"""Student self-check: run the checks in tests/assignment/ and report per function.

    python -m helpers.check [part ...]

``part`` is one of ``PARTS`` (default: all). Prints one line per student
function, ``PASS``, ``FAIL: <why>`` or ``NOT IMPLEMENTED``, then a summary.
Exits with 0 only when every function passes.

Each check in ``tests/assignment/`` names the functions it exercises with
``@pytest.mark.student("name", ...)``. A function is NOT IMPLEMENTED while its
``NotImplementedError`` stub is still in the file (or a check hits it); it
FAILS when a check fails otherwise (including when it needs another function
that is not implemented yet); it PASSES when all its checks pass.
"""
import argparse
import io
import re
import sys
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers.submission import stubbed_functions
from helpers.utils import KIT_ROOT

PARTS = ("linear_classifier", "metrics", "model_selection", "two_layer_net",
         "fully_connected_networks")
PASS, FAIL, NOT_IMPLEMENTED = "PASS", "FAIL", "NOT IMPLEMENTED"


@dataclass
class FunctionResult:
    """What the checks of one student function found."""

    part: str
    name: str
    not_implemented: bool = False
    failures: list = field(default_factory=list)

    @property
    def status(self):
        if self.not_implemented:
            return NOT_IMPLEMENTED
        return FAIL if self.failures else PASS

    def line(self):
        text = f"{self.part}.{self.name}: {self.status}"
        if self.status == FAIL:
            text += f": {self.failures[0]}"
        return text


def _first_line(text, limit=200):
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _describe_failure(excinfo):
    """A failure in words: the assertion's message, or the error and its message."""
    error = excinfo.value
    if isinstance(error, NotImplementedError):
        who = _first_line(error).split(":")[0]
        return f"needs {who}, which is not implemented yet"
    if isinstance(error, AssertionError):
        return _first_line(error) or "an assertion failed"
    return f"{type(error).__name__}: {_first_line(error)}"


def _module_source(part):
    path = KIT_ROOT / "assignment" / f"{part}.py"
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def defining_part(name, preferred):
    """The part (assignment module) that defines function ``name`` or ``Class.method``.

    ``preferred`` (the part of the check file) wins when it defines the name
    too, since two modules may both define e.g. ``TwoLayerNet``.
    """
    top = name.split(".")[0]
    pattern = re.compile(rf"^(?:def|class)\s+{re.escape(top)}\b", re.MULTILINE)
    candidates = [preferred] + [part for part in PARTS if part != preferred]
    return next((part for part in candidates if pattern.search(_module_source(part))), preferred)


def still_stubbed(part):
    """Names of the functions of ``part`` that still hold their ``NotImplementedError`` stub."""
    try:
        return set(stubbed_functions(_module_source(part)))
    except SyntaxError:
        return set()


class _Collector:
    """pytest plugin: maps checks to student functions and records their outcome."""

    def __init__(self):
        self.functions = {}   # (part, name) -> FunctionResult, in order of first appearance
        self.errors = []

    def owners(self, item):
        """The FunctionResults of the student functions ``item`` is marked with (markers
        may also be added while the check runs, with ``request.node.add_marker``)."""
        default_part = item.path.stem.removeprefix("test_")
        owners = []
        for name in dict.fromkeys(n for marker in item.iter_markers("student") for n in marker.args):
            part = defining_part(name, default_part)
            owners.append(self.functions.setdefault((part, name), FunctionResult(part, name)))
        return owners

    @pytest.hookimpl
    def pytest_collection_modifyitems(self, items):
        for item in items:  # registers every statically marked function, in file order
            self.owners(item)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or report.failed:
            for result in self.owners(item):
                self.record(result, item, call, report)

    def record(self, result, item, call, report):
        if not report.failed:
            return
        error = call.excinfo.value if call.excinfo else None
        if isinstance(error, NotImplementedError) and \
                _first_line(error).split(":")[0].split(".")[-1] == result.name.split(".")[-1]:
            result.not_implemented = True
        elif call.excinfo is not None:
            result.failures.append(_describe_failure(call.excinfo))
        else:
            result.failures.append(f"check {item.name} failed")

    @pytest.hookimpl
    def pytest_internalerror(self, excrepr, excinfo):
        # pytest gives up on a check file whose import raises SystemExit (sys.exit or
        # exit() in a student's module): say so instead of reporting nothing.
        where = next((f" in {Path(entry.path).relative_to(KIT_ROOT)}:{entry.lineno + 1}"
                      for entry in reversed(excinfo.traceback)
                      if KIT_ROOT / "assignment" in Path(entry.path).parents), "")
        hint = " (remove sys.exit() / exit() from your module)" if excinfo.errisinstance(SystemExit) else ""
        self.errors.append(f"the checks stopped{where}: {excinfo.typename}: "
                           f"{_first_line(excinfo.value)}{hint}")

    @pytest.hookimpl
    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append(f"{report.nodeid}: could not load the checks: "
                               f"{_first_line(report.longreprtext.splitlines()[-1])}")


def check_files(parts, folder="tests/assignment", required=True):
    """Paths of the check files ``<folder>/test_<part>.py`` of ``parts``.

    Raises ``ValueError`` for an unknown part, or (when ``required``) a missing file.
    """
    unknown = [part for part in parts if part not in PARTS]
    if unknown:
        raise ValueError(f"unknown part {', '.join(unknown)}; choose from: {', '.join(PARTS)}")
    files = [KIT_ROOT / folder / f"test_{part}.py" for part in parts]
    missing = [str(path) for path in files if not path.is_file()]
    if missing and required:
        raise ValueError(f"check file missing: {', '.join(missing)}; restore it from the release")
    return [path for path in files if path.is_file()]


def run_checks(parts=PARTS, folder="tests/assignment", required=True):
    """Run the checks of ``parts`` found in ``folder``; returns ``(results, errors)``.

    ``results`` is a list of ``FunctionResult``, ``errors`` a list of messages
    for check files that could not even be loaded.
    """
    files = check_files(parts, folder, required)
    if not files:
        return [], []
    collector = _Collector()
    for path in files:  # one session per file: a file that stops pytest spares the others
        pytest.main(["-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=",
                     "-W", "ignore::DeprecationWarning", "--rootdir", str(KIT_ROOT), str(path)],
                    plugins=[collector])
    results = [r for r in collector.functions.values() if r.part in parts]
    stubbed = {part: still_stubbed(part) for part in parts}
    for result in results:
        # A function whose own stub is still there is not implemented, even
        # when its checks first stopped at another function's stub.
        if result.name in stubbed[result.part]:
            result.not_implemented = True
    return results, collector.errors


def summarize(results, errors=()):
    """One-line summary, e.g. ``12 of 20 functions pass, 3 fail, 5 not implemented``."""
    counts = {status: sum(r.status == status for r in results) for status in (PASS, FAIL, NOT_IMPLEMENTED)}
    text = (f"{counts[PASS]} of {len(results)} functions pass, {counts[FAIL]} fail, "
            f"{counts[NOT_IMPLEMENTED]} not implemented")
    if errors:
        text += f"; {len(errors)} check file(s) could not be loaded"
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m helpers.check",
                                     description="Check your assignment files, one line per function.")
    parser.add_argument("parts", nargs="*", metavar="part",
                        help=f"one or more of: {', '.join(PARTS)} (default: all)")
    args = parser.parse_args(argv)
    parts = args.parts or list(PARTS)
    try:
        check_files(parts)
    except ValueError as err:
        print(f"check: error: {err}", file=sys.stderr)
        return 2
    with redirect_stdout(io.StringIO()):  # pytest's own report is not for students
        results, errors = run_checks(parts)
    for result in results:
        print(result.line())
    for error in errors:
        print(f"ERROR: {error}")
    print(summarize(results, errors))
    all_pass = results and not errors and all(r.status == PASS for r in results)
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
