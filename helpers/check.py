"""Student self-check: run the checks in tests/assignment/ and report per function.

    python -m helpers.check [part ...]

``part`` is one of ``PARTS`` (default: all). Prints one line per student function, then a
summary (with what the passing functions are worth in grading), and exits with 0 only when
every function passes; ``--points`` lists what each function is worth. A function is

- ``PASS`` when every check of it passed;
- ``FAIL: <what is wrong, in words>`` when one failed (the first failure is shown), or when
  it breaks a rule of ``helpers/functions.py`` (``FAIL: Linear.backward uses torch.autograd
  (line N): write the backward pass by hand``; ``helpers/rules.py`` reads your files and
  watches your code run), or ``FAIL: blocked by <part> (fix it first)`` when only the checks
  that use your own parts failed and one of those parts fails its own checks;
- ``WAITING for a, b, c`` when its own checks passed but a check that combines it with other
  functions of yours could not run yet, because those (all listed at once) still hold their
  stubs; WAITING is not a failure;
- ``NOT IMPLEMENTED`` while its ``NotImplementedError`` stub is still in the file.

Each check names the function it exercises with ``@pytest.mark.student("name")``. Such a check
runs the function **alone**: every other function you write is replaced by a given stand-in
(``helpers/stand_ins.py``), so a function can PASS before the rest is written.
``@pytest.mark.student("name", composed=True)`` marks a check that runs the function with your
own versions of the functions it is built from, listed once, with the reason, in ``COMPOSED``
(followed transitively); it waits until all of them are written.
"""
import argparse
import io
import re
import sys
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers import rules
from helpers.functions import FUNCTIONS, composed, functions_of, points, worth
from helpers.i18n import _
from helpers.submission import PARTS, STUB_MARK, stubbed_functions
from helpers.utils import KIT_ROOT

PASS, FAIL, WAITING, NOT_IMPLEMENTED = "PASS", "FAIL", "WAITING", "NOT IMPLEMENTED"
STATUSES = (PASS, FAIL, WAITING, NOT_IMPLEMENTED)


def shown_status(status):
    """``status`` (one of ``STATUSES``, the value the grader reads) as the student reads it."""
    return {
        # Translators: the self-check's verdict on a function: all its checks passed.
        PASS: _("PASS"),
        # Translators: the self-check's verdict on a function: a check of it failed.
        FAIL: _("FAIL"),
        # Translators: the self-check's verdict on a function: its own checks passed, a check
        # that combines it with other functions of the student waits until those are written.
        WAITING: _("WAITING"),
        # Translators: the self-check's verdict on a function: it still holds its stub.
        NOT_IMPLEMENTED: _("NOT IMPLEMENTED"),
    }.get(status, status)


# The functions each composing function is built from, and why (``helpers/functions.py``, the
# table of student functions): its ``composed=True`` checks use your own versions of these (and
# of what they are built from in turn). The kit's tests prove that with only the function
# itself written it reports PASS or WAITING for exactly these.
COMPOSED = composed()


def composed_parts(name):
    """Every function ``name`` is built from (``COMPOSED``, followed transitively), in order."""
    parts, todo = [], list(COMPOSED.get(name, ((), ""))[0])
    while todo:
        part = todo.pop(0)
        if part != name and part not in parts:
            parts.append(part)
            todo += COMPOSED.get(part, ((), ""))[0]
    return parts


@dataclass
class FunctionResult:
    """What the checks of one student function found."""

    part: str
    name: str
    not_implemented: bool = False
    failures: list = field(default_factory=list)
    waiting: list = field(default_factory=list)   # functions a combined check waits for
    own_check_failed: bool = False   # a check of this function alone failed (not composed)
    blocked_by: list = field(default_factory=list)   # failing parts a composed check uses

    @property
    def status(self):
        if self.not_implemented:
            return NOT_IMPLEMENTED
        if self.failures:
            return FAIL
        return WAITING if self.waiting else PASS

    @property
    def detail(self):
        """The words after the status: the first failure, or what the function waits for."""
        if self.status == FAIL:
            if self.blocked_by:
                # Translators: after "FAIL: ": {functions} are other functions of the student
                # that this one uses and that fail their own checks.
                return _("blocked by {functions} (fix it first)").format(
                    functions=", ".join(self.blocked_by))
            return rules.shown_message(self.failures[0])
        if self.status == WAITING:
            # Translators: after the verdict WAITING: {functions} are the functions of the
            # student still to be written that a check of this function needs.
            return _("for {functions}").format(functions=", ".join(self.waiting))
        return ""

    def wait_for(self, names):
        self.waiting += [name for name in names if name not in self.waiting]

    def line(self):
        text = f"{self.part}.{self.name}: {shown_status(self.status)}"
        if self.status == FAIL:
            text += f": {self.detail}"
        elif self.status == WAITING:
            text += f" {self.detail}"
        return text


def _first_line(text, limit=300):
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def stub_owner(error):
    """The function named by a release stub's ``NotImplementedError``, else None."""
    if not isinstance(error, NotImplementedError) or STUB_MARK not in str(error):
        return None
    return _first_line(error).split(STUB_MARK)[0].strip() or None


def _describe_failure(excinfo):
    """A failure in words: the assertion's message, or the error and its message."""
    error = excinfo.value
    rule = rules.first_rule_message(error)
    if rule:
        return rule
    if isinstance(error, AssertionError):
        return _first_line(error) or _("an assertion failed")
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


def student_marks(item):
    """``(names, composed)`` of a check: the functions it is marked with, and whether it
    uses your own versions of their parts (``composed=True``)."""
    markers = list(item.iter_markers("student"))
    names = dict.fromkeys(name for marker in markers for name in marker.args)
    return list(names), any(marker.kwargs.get("composed") for marker in markers)


class _Collector:
    """pytest plugin: maps checks to student functions and records their outcome.

    ``stubbed``: names of the student functions still holding their stub, when known; a
    ``composed=True`` check whose parts include one of them is not run (it waits).
    ``functions``: when given, only the checks of these functions run.
    """

    def __init__(self, stubbed=None, functions=None):
        self.functions = {}   # (part, name) -> FunctionResult, in order of first appearance
        self.errors = []
        self.stubbed = set(stubbed or ())
        self.only = set(functions) if functions else None

    def owners(self, item):
        """The FunctionResults of the student functions ``item`` is marked with (markers
        may also be added while the check runs, with ``request.node.add_marker``)."""
        default_part = item.path.stem.removeprefix("test_")
        owners = []
        for name in student_marks(item)[0]:
            part = defining_part(name, default_part)
            owners.append(self.functions.setdefault((part, name), FunctionResult(part, name)))
        return owners

    def waits_for(self, item):
        """The stubbed functions a ``composed=True`` check needs (empty for other checks)."""
        names, composed = student_marks(item)
        if not composed:
            return []
        return [part for name in names for part in composed_parts(name) if part in self.stubbed]

    @pytest.hookimpl
    def pytest_collection_modifyitems(self, config, items):
        if self.only is not None:
            kept = [item for item in items if self.only & set(student_marks(item)[0])]
            config.hook.pytest_deselected(items=[item for item in items if item not in kept])
            items[:] = kept
        for item in items:  # registers every statically marked function, in file order
            self.owners(item)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        missing = self.waits_for(item)
        if missing:
            pytest.skip(f"waiting for {', '.join(missing)}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "setup" and report.skipped:
            for result in self.owners(item):
                result.wait_for(self.waits_for(item))
        elif report.when == "call" or report.failed:
            for result in self.owners(item):
                self.record(result, item, call, report)

    def record(self, result, item, call, report):
        if not report.failed:
            return
        error = call.excinfo.value if call.excinfo else None
        stub = stub_owner(error)
        if stub is not None and stub == result.name:
            result.not_implemented = True
        elif stub is not None:
            # The check reached another function's stub (a stand-in could not take its
            # place): it waits for that function; it is no failure of this one.
            result.wait_for([stub])
        else:
            result.failures.append(_describe_failure(call.excinfo) if call.excinfo is not None
                                   else f"check {item.name} failed")
            result.own_check_failed |= not student_marks(item)[1]

    @pytest.hookimpl
    def pytest_internalerror(self, excrepr, excinfo):
        # pytest gives up on a check file whose import raises SystemExit (sys.exit or
        # exit() in a student's module): say so instead of reporting nothing.
        where = next((f"{Path(entry.path).relative_to(KIT_ROOT)}:{entry.lineno + 1}"
                      for entry in reversed(excinfo.traceback)
                      if KIT_ROOT / "assignment" in Path(entry.path).parents), "")
        error = f"{excinfo.typename}: {_first_line(excinfo.value)}"
        if where:
            # Translators: {place} is a file and line of the student's, e.g.
            # assignment/metrics.py:12; {error} an exception and its message.
            text = _("the checks stopped in {place}: {error}").format(place=where, error=error)
        else:
            text = _("the checks stopped: {error}").format(error=error)
        if excinfo.errisinstance(SystemExit):
            text += " " + _("(remove sys.exit() / exit() from your module)")
        self.errors.append(text)

    @pytest.hookimpl
    def pytest_collectreport(self, report):
        if report.failed:
            # Translators: {file} is a check file, {error} the error that stopped its import.
            self.errors.append(_("{file}: could not load the checks: {error}").format(
                file=report.nodeid, error=_first_line(report.longreprtext.splitlines()[-1])))


def check_files(parts, folder="tests/assignment", required=True):
    """Paths of the check files ``<folder>/test_<part>.py`` of ``parts``.

    Raises ``ValueError`` for an unknown part, or (when ``required``) a missing file.
    """
    unknown = [part for part in parts if part not in PARTS]
    if unknown:
        raise ValueError(_("unknown part {parts}; choose from: {choices}").format(
            parts=", ".join(unknown), choices=", ".join(PARTS)))
    files = [KIT_ROOT / folder / f"test_{part}.py" for part in parts]
    missing = [str(path) for path in files if not path.is_file()]
    if missing and required:
        raise ValueError(_("check file missing: {files}; restore it from the release").format(
            files=", ".join(missing)))
    return [path for path in files if path.is_file()]


def definition_line(part, name):
    """Line number of the definition of ``name`` (``function`` or ``Class.method``) in
    ``part``'s file, for listing functions in file order (a large number when not found)."""
    lines = _module_source(part).splitlines()
    *outer, last = name.split(".")
    start = 0
    for cls in outer:
        start = next((i for i, line in enumerate(lines) if re.match(rf"class\s+{cls}\b", line)),
                     start)
    pattern = re.compile(rf"\s*def\s+{re.escape(last)}\b")
    return next((i for i in range(start, len(lines)) if pattern.match(lines[i])), len(lines))


def stubbed_everywhere():
    """Names of the student functions, in every part, that still hold their stub."""
    return set().union(*(still_stubbed(part) for part in PARTS))


def run_checks(parts=PARTS, folder="tests/assignment", required=True, *, functions=None):
    """Run the checks of ``parts`` found in ``folder``; returns ``(results, errors)``.

    ``results`` is a list of ``FunctionResult``, ``errors`` a list of messages
    for check files that could not even be loaded. ``functions`` (names) limits the run to
    the checks of those functions.
    """
    files = check_files(parts, folder, required)
    if not files:
        return [], []
    stubbed = stubbed_everywhere()
    collector = _Collector(stubbed=stubbed, functions=functions)
    guard = rules.Guard(KIT_ROOT / "assignment")
    for path in files:  # one session per file: a file that stops pytest spares the others
        with guard:
            code = pytest.main(["-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=",
                                "-W", "ignore::DeprecationWarning", "--rootdir", str(KIT_ROOT),
                                str(path)], plugins=[collector])
        if code == pytest.ExitCode.INTERRUPTED:  # pytest.main swallows Ctrl-C: pass it on
            raise KeyboardInterrupt
    results = [r for r in collector.functions.values()
               if r.part in parts and (not functions or r.name in functions)]
    results.sort(key=lambda r: (PARTS.index(r.part) if r.part in PARTS else len(PARTS),
                                definition_line(r.part, r.name)))
    for result in results:
        # A function whose own stub is still there is not implemented, even
        # when its checks first stopped at another function's stub.
        if result.name in still_stubbed(result.part):
            result.not_implemented = True
    apply_rules(results, guard.findings)
    blame_failing_parts(results)
    return results, collector.errors


def apply_rules(results, running_findings):
    """A function that breaks a rule of ``helpers/functions.py`` fails with the rule's words,
    whatever its checks found: first what reading its file found, else what running it did."""
    findings = {}
    for part in {result.part for result in results}:
        findings.update(rules.file_findings(KIT_ROOT / "assignment" / f"{part}.py", part))
    for result in results:
        finding = findings.get(result.name) or running_findings.get(result.name)
        if finding and not result.not_implemented:
            result.failures.insert(0, finding.message)
            result.own_check_failed = True


def blame_failing_parts(results):
    """A function whose only failures are in composed checks, built from functions of yours
    that fail their own checks, is blocked by those (``COMPOSED``): fix them first."""
    failing = {result.name for result in results if result.status == FAIL}
    for result in results:
        if result.status == FAIL and not result.own_check_failed:
            result.blocked_by = [part for part in composed_parts(result.name) if part in failing]


def _worth_of(results):
    """`` (worth 12.5 of 30 points in grading)``: the points of the passing functions among
    ``results`` (``helpers/functions.py``; grading also runs hidden checks)."""
    known = [r for r in results if r.name in FUNCTIONS]
    if not known:
        return ""
    passing = sum(points(r.name) for r in known if r.status == PASS)
    total = sum(points(r.name) for r in known)
    # Translators: follows "{passed} of {total} functions pass" in the summary line, hence
    # the leading space.
    return _(" (worth {passing:.4g} of {total:.4g} points in grading)").format(
        passing=float(passing), total=float(total))


def points_table(parts=PARTS):
    """What each student function of ``parts`` is worth in grading, one line each."""
    return [_("{function}: {points} points").format(function=f"{row.part}.{row.name}",
                                                     points=worth(row.name))
            for part in parts for row in functions_of(part)]


def summarize(results, errors=()):
    """One-line summary that counts the four kinds apart, e.g.
    ``12 of 20 functions pass, 1 fail, 2 waiting, 5 not implemented``."""
    counts = {status: sum(r.status == status for r in results) for status in STATUSES}
    # Translators: the self-check's summary line; {worth} is empty or " (worth 12.5 of 30
    # points in grading)".
    text = _("{passed} of {total} functions pass{worth}, {failed} fail, {waiting} waiting, "
             "{not_implemented} not implemented").format(
        passed=counts[PASS], total=len(results), worth=_worth_of(results),
        failed=counts[FAIL], waiting=counts[WAITING], not_implemented=counts[NOT_IMPLEMENTED])
    if errors:
        text = _("{summary}; {count} check file(s) could not be loaded").format(
            summary=text, count=len(errors))
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m helpers.check",
        description=_("Check your assignment files, one line per function."),
    )
    parser.add_argument("parts", nargs="*", metavar="part",
                        help=_("one or more of: {parts} (default: all)").format(
                            parts=", ".join(PARTS)))
    parser.add_argument("--points", action="store_true",
                        help=_("list what each function is worth in grading, and stop"))
    args = parser.parse_args(argv)
    parts = args.parts or list(PARTS)
    try:
        check_files(parts)
    except ValueError as err:
        print(_("check: error: {error}").format(error=err), file=sys.stderr)
        return 2
    if args.points:
        print("\n".join(points_table(parts)))
        return 0
    with redirect_stdout(io.StringIO()):  # pytest's own report is not for students
        results, errors = run_checks(parts)
    for result in results:
        print(result.line())
    for error in errors:
        print(_("ERROR: {error}").format(error=error))
    print(summarize(results, errors))
    all_pass = results and not errors and all(r.status == PASS for r in results)
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
