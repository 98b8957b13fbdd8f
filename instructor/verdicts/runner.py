"""Trusted verdicts: the checks run in a process that runs no student code.

    report = run_trusted_checks(student_dir, parts, launcher, timeout)

``student_dir`` is a copy of the student release holding the student's ``assignment/*.py``.
A trusted process (forked from a server that imported torch, pytest, the given helpers and the
reference modules before any student code ran) writes the checks (the release's
``tests/assignment`` and the instructor's ``instructor/tests/hidden``, read into memory
beforehand) to a private folder (as ``tests/assignment`` and ``tests/hidden``), installs the
proxy modules (proxy.py), lets pytest collect every check, deletes the folder, imports each
part in the worker, and runs the checks. Only the worker (worker.py, started by ``launcher`` in
``student_dir``) runs the student's code, and it only returns values; every verdict is
pytest's, in the trusted process. The report has the shape grade.py
uses: part -> ``{"functions": [{"name", "status", "failures", "hidden"}], "errors": [...]}``,
plus ``"incidents"`` (time-outs, exits, crashes) and ``"log"`` (the worker's last output) for a
part that had any.
"""
import contextlib
import functools
import io
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
from multiprocessing import spawn
from pathlib import Path

import pytest
import torch

from helpers import stand_ins
from helpers.check import PARTS, PASS, FunctionResult, _Collector, _first_line, defining_part
from helpers.submission import stubbed_functions
from helpers.utils import KIT_ROOT
from instructor import HIDDEN_CHECKS
from instructor.grading import rules

from . import proxy
from .sandboxed import SandboxLauncher
from .session import CHECKS_TEMP, Budget, WorkerSession, plain_launcher
from .unprivileged import UserLauncher

CHECK_FOLDERS = ("tests/assignment", "tests/hidden")
# No __init__.py: the checks are imported by path (--import-mode=importlib), so pytest never
# reads a check file again once collected, and the folder is deleted before the worker starts.
SETTINGS = ("pytest.ini", "conftest.py", "tests/conftest.py")


# ------------------------------------------------------------ check files ---

def read_checks(release_dir=KIT_ROOT, hidden_dir=HIDDEN_CHECKS):
    """The check files in memory, relpath -> bytes: the release's settings and
    ``tests/assignment``, and the hidden checks (read once, before any student code runs)."""
    files = {}
    for relpath in SETTINGS:
        path = Path(release_dir) / relpath
        if path.is_file():
            files[relpath] = path.read_bytes()
    for folder, source in (("tests/assignment", Path(release_dir) / "tests" / "assignment"),
                           ("tests/hidden", Path(hidden_dir))):
        for path in sorted(source.glob("test_*.py")) if source.is_dir() else ():
            files[f"{folder}/{path.name}"] = path.read_bytes()
    return files


def write_checks(files, folder):
    """Write the check files under ``folder`` (a private folder); returns it."""
    for relpath, data in files.items():
        path = Path(folder) / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return Path(folder)


# -------------------------------------------------------------- reference ---

def load_references(parts=PARTS):
    """The reference modules, imported from this source (``KIT_ROOT/assignment``) only."""
    import importlib

    modules = {part: importlib.import_module(f"assignment.{part}") for part in parts}
    for part, module in modules.items():
        if Path(module.__file__).resolve() != (KIT_ROOT / "assignment" / f"{part}.py").resolve():
            raise RuntimeError(f"the reference assignment.{part} comes from {module.__file__}, "
                               f"not from the grader's source {KIT_ROOT}")
    return modules


def warm_up():
    """Import, before any student code runs, what a trusted process needs (the forkserver
    preloads this module): the references, the helpers the checks import, pytest's plugins."""
    import _pytest.config

    import helpers.gradcheck  # noqa: F401
    import helpers.solver  # noqa: F401
    import helpers.studies.two_layer_net  # noqa: F401
    import helpers.torch_nn_twins  # noqa: F401
    import instructor.verdicts.sandboxed  # noqa: F401 - the launcher grading sends
    for name in _pytest.config.default_plugins:
        with contextlib.suppress(ImportError):
            __import__(f"_pytest.{name}")
    load_references()


# ---------------------------------------------------------------- pytest ---

class _TrustedCollector(_Collector):
    """helpers.check's collector, keeping visible and hidden checks apart, judging each part by
    its own check files only (``test_<part>.py``, as when each part ran alone), and doing the
    worker's part of the session: import each part before the first check runs."""

    def __init__(self, checks_dir, parts, session):
        super().__init__()
        self.checks_dir, self.parts, self.session = checks_dir, parts, session
        self.load_errors, self.defining = {}, {}
        self.checks_of = {}   # id(FunctionResult) -> node ids of the checks it owns
        self.passed = set()   # node ids of the checks whose call passed
        self.exit_status = None

    def owners(self, item):
        hidden = self.checks_dir / "tests" / "hidden" in item.path.parents
        default_part = item.path.stem.removeprefix("test_")
        names = dict.fromkeys(n for marker in item.iter_markers("student") for n in marker.args)
        owners = []
        for name in names:
            if (name, default_part) not in self.defining:  # known at collection, from the source
                self.defining[name, default_part] = defining_part(name, default_part)
            part = self.defining[name, default_part]
            if part == default_part:  # a part is judged by its own check files, as it always was
                owners.append(self.functions.setdefault((hidden, part, name),
                                                        FunctionResult(part, name)))
        return owners

    @pytest.hookimpl
    def pytest_collection_finish(self, session):
        for item in session.items:  # a function passes only with a PASS for each of these
            for result in self.owners(item):
                self.checks_of.setdefault(id(result), []).append(item.nodeid)
        # The checks are in memory now; nothing of them stays on disk for the worker to find.
        for path in self.checks_dir.iterdir():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        for part in self.parts:
            error = self.session.load(part)
            if error:
                self.load_errors[part] = error

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item):
        # a worker of another user writes the check's tmp_path (saved models)
        give = getattr(self.session.launcher, "give", None)
        path = getattr(item, "funcargs", {}).get("tmp_path")
        if give is not None and path is not None:
            give(path)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed:
            self.passed.add(report.nodeid)

    def unverified(self, result):
        """Whether a check of ``result``'s function gave no recorded PASS (it never ran: the
        run stopped early)."""
        return any(nodeid not in self.passed for nodeid in self.checks_of.get(id(result), ()))

    @pytest.hookimpl
    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append((Path(report.nodeid.split("::")[0]).stem.removeprefix("test_"),
                                f"{report.nodeid}: could not load the checks: "
                                f"{_first_line(report.longreprtext.splitlines()[-1])}"))


def run_pytest(checks_dir, parts, session):
    """Run the checks of ``parts`` under ``checks_dir``; returns the collector."""
    files = [str(checks_dir / folder / f"test_{part}.py") for folder in CHECK_FOLDERS
             for part in parts if (checks_dir / folder / f"test_{part}.py").is_file()]
    collector = _TrustedCollector(checks_dir, parts, session)
    basetemp = session.scratch / CHECKS_TEMP  # checks' tmp_path: the worker saves models there
    args = ["-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=",
            "--import-mode=importlib", "-W", "ignore::DeprecationWarning",
            "--rootdir", str(checks_dir), "--basetemp", str(basetemp), *files]
    with contextlib.redirect_stdout(io.StringIO()):
        collector.exit_status = pytest.main(args, plugins=[collector])
    return collector


def still_stubbed(student_dir, part):
    """Names of ``part``'s functions still holding their stub in the student's file (parsed,
    never imported)."""
    path = Path(student_dir) / "assignment" / f"{part}.py"
    try:
        return set(stubbed_functions(path.read_text(encoding="utf-8", errors="replace")))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return set()


def build_report(collector, session, parts, student_dir):
    """The report dict of grade.py from the collector and the session."""
    report = {part: {"functions": [], "errors": []} for part in parts}
    for (hidden, part, name), result in collector.functions.items():
        if part not in report:
            continue
        if name in still_stubbed(student_dir, part):
            result.not_implemented = True
        elif result.status == PASS and collector.unverified(result):
            result.failures.append(NO_VERDICT)
        report[part]["functions"].append({"name": name, "status": result.status,
                                          "failures": result.failures[:3], "hidden": hidden})
    stopped = _stopped(collector.exit_status)
    for part in parts:
        if stopped:
            report[part]["sandbox"] = stopped
        report[part]["functions"].sort(key=lambda f: f["hidden"])  # visible first, as before
        if part in collector.load_errors:
            report[part]["errors"].append(collector.load_errors[part])
        report[part]["errors"] += [e if isinstance(e, str) else e[1] for e in collector.errors
                                   if isinstance(e, str) or e[0] == part]
        if session.incidents.get(part):
            report[part]["incidents"] = list(session.incidents[part])
            report[part]["log"] = session.logs.get(part, "")
    return report


NO_VERDICT = "a check of it gave no verdict (the run of the checks stopped before it)"


def _stopped(exit_status):
    """Why the pytest run counts as a grader failure (interrupted, crashed), or None."""
    if exit_status in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return None
    name = getattr(exit_status, "name", repr(exit_status)).lower().replace("_", " ")
    return f"the grader failed: the run of the checks ended {name}, not with a verdict for " \
           "every check"


def check_in_this_process(student_dir, parts, launcher, budget, checks, block_network=False):
    """Run the checks of ``parts`` in this (trusted) process against the worker; the report."""
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    torch.set_num_threads(1)
    stand_ins.ISOLATING = False  # every check composed: see helpers/stand_ins.py
    student_dir = Path(student_dir)
    rules.leave_out_answers(student_dir)
    session = WorkerSession(student_dir, launcher, budget, block_network)
    modules = proxy.build_modules(load_references(), session)
    private = Path(tempfile.mkdtemp(prefix="checks-"))
    try:
        with proxy.installed(modules), temporary_files_in(private / "tmp"):
            collector = run_pytest(write_checks(checks, private / "checks"), parts, session)
        return rules.apply_rules(build_report(collector, session, parts, student_dir),
                                 student_dir)
    finally:
        session.close()
        shutil.rmtree(private, ignore_errors=True)


@contextlib.contextmanager
def temporary_files_in(folder):
    """Make ``folder`` this process's temporary folder meanwhile, so what the checks' settings
    make there (conftest.py's scratch folder) goes when the private folder does."""
    folder.mkdir(parents=True)
    before = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir, os.environ["TMPDIR"] = str(folder), str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = before[0]
        if before[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before[1]


# --------------------------------------------------------------- process ---

_SERVER_LOCK = threading.Lock()
PROCESS_NAME = "trusted-checks"


def _context():
    """The forkserver context; its server preloads this package (``warm_up``) once."""
    context = multiprocessing.get_context("forkserver")
    with _SERVER_LOCK:
        context.set_forkserver_preload([f"{__package__}.preload"])
        if not getattr(spawn.get_preparation_data, "trusted", False):
            spawn.get_preparation_data = _without_main(spawn.get_preparation_data)
    return context


def _without_main(get_preparation_data):
    """multiprocessing re-runs the parent's ``__main__`` (e.g. instructor/grade.py) from its file
    in each new process; a trusted process must not read code a worker could have written
    since, so its preparation data leaves ``__main__`` out."""
    def get(name):
        data = get_preparation_data(name)
        if name.startswith(PROCESS_NAME):
            data.pop("init_main_from_name", None)
            data.pop("init_main_from_path", None)
        return data

    get.trusted = True
    return get


def _child(connection, *args):
    warm_up()
    try:
        connection.send(("report", check_in_this_process(*args)))
    except BaseException as err:  # noqa: B036 - the grader reports it as the parts' problem
        connection.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        connection.close()


def _wait_for_report(receiver, seconds, stop):
    """The trusted process's ``(kind, value)``, or an error when ``seconds`` pass first;
    ``("stopped", ...)`` as soon as the event ``stop`` is set (Ctrl-C in the grader)."""
    deadline = time.monotonic() + seconds
    while not receiver.poll(0.25):
        if stop is not None and stop.is_set():
            return "stopped", "the grading run was interrupted"
        if time.monotonic() > deadline:
            return "error", "no report in time"
    return receiver.recv()


def run_trusted_checks(student_dir, parts=PARTS, launcher=None, timeout=300.0, *,
                       call_timeout=None, checks=None, block_network=False, memory_mb=6144,
                       stop=None):
    """Grade the student's files in ``student_dir`` with the checks of ``parts``.

    ``launcher(argv, cwd, env) -> Popen`` starts the worker (picklable: a function of an
    importable module other than ``__main__``, or a ``functools.partial`` of one; default
    ``plain_launcher``); ``timeout`` is the time
    budget of each part, ``call_timeout`` of each call (default ``timeout / 4``); ``checks`` the
    check files from ``read_checks`` (default: this source's); ``stop`` an optional
    ``threading.Event``: once set, the trusted process is interrupted (it ends its worker and
    removes its folders) and ``KeyboardInterrupt`` is raised. Returns the report dict.
    """
    budget = Budget(float(timeout), float(call_timeout or max(5.0, timeout / 4)),
                    memory_mb=int(memory_mb))
    checks = read_checks() if checks is None else checks
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, name=f"{PROCESS_NAME}-{Path(student_dir).name}",
                              args=(sender, str(student_dir), list(parts),
                                    launcher or plain_launcher, budget, checks, block_network),
                              daemon=True)
    process.start()
    sender.close()
    limit = len(parts) * (budget.part_seconds + 2 * budget.start_seconds) + 120
    try:
        kind, value = _wait_for_report(receiver, limit, stop)
    except EOFError:
        kind, value = "error", f"the checks process ended with code {process.exitcode}"
    finally:
        if process.is_alive() and stop is not None and stop.is_set():
            os.kill(process.pid, signal.SIGINT)  # as Ctrl-C would: it cleans up, then ends
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()
    if kind == "report":
        return value
    if kind == "stopped":
        raise KeyboardInterrupt
    return {part: {"functions": [], "errors": [], "sandbox": f"the grader failed: {value}"}
            for part in parts}


# ------------------------------------------------------- grade.py's step 3 ---

_CHECKS = {}


def launcher_for(ctx):
    """The worker's launcher for grading: the bubblewrap sandbox, or with ``--no-sandbox``
    (``ctx.protected`` false) a plain subprocess; and whether the worker must block the network
    itself (it has no network namespace then)."""
    if ctx.protected:
        return SandboxLauncher(memory_mb=ctx.memory_mb), False
    if ctx.worker_user:
        return UserLauncher(memory_mb=ctx.memory_mb, user=ctx.worker_user), True
    return functools.partial(plain_launcher, memory_mb=ctx.memory_mb), True


def grade_checks(ctx, sub, kit):
    """Step 3 of instructor.grade: the checks of every part for ``sub``, whose files are in
    ``kit`` (from ``grade.make_kit``: the release without its checks, the student's files laid
    over it); adds time-outs, exits and crashes to its problems. Returns the report."""
    with ctx.lock:
        if ctx.release_dir not in _CHECKS:  # once per grading run, before any student code
            _CHECKS[ctx.release_dir] = read_checks(ctx.release_dir)
    launcher, block_network = launcher_for(ctx)
    report = run_trusted_checks(kit, PARTS, launcher, ctx.timeout,
                                call_timeout=ctx.call_timeout, checks=_CHECKS[ctx.release_dir],
                                block_network=block_network, memory_mb=ctx.memory_mb,
                                stop=ctx.stopping)
    # grade_submission reports the errors (an import that failed)
    for part, entry in report.items():
        sub.problems += [f"{part}: {why}" for why in entry.get("incidents", [])
                         if why not in entry["errors"]]
        if entry.get("sandbox"):
            sub.problems.append(f"{part}: {entry['sandbox']}")
    return report
