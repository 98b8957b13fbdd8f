"""The grader's end of the worker: start it, call it with deadlines, restart it when it breaks.

``WorkerSession.call(part, label, target, method, args, kwargs)`` sends one call to the worker
(peer.py) and returns its result. The first call starts the worker through a *launcher*: a
callable ``launcher(argv, cwd, env) -> subprocess.Popen`` with ``stdin``, ``stdout`` and
``stderr`` pipes (``plain_launcher`` by default), or a Popen-like handle whose ``kill()`` ends
every process the worker started (``sandboxed.SandboxLauncher``, which grading uses). Each
top-level call has a deadline: the smaller of ``Budget.call_seconds`` and what is left of its
part's ``Budget.part_seconds``. When the student's code times out, exits, crashes,
runs out of memory or garbles the channel, the call raises ``StudentCodeError`` and the worker
is stopped; the next call starts a fresh one. A function that timed out once fails at once
afterwards, and a module that cannot be imported fails every call into it, so a broken function
costs only its own checks.
"""
import builtins
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from . import inputs, peer, wire
from .watchdog import Watchdog

MAX_OUTPUT_BYTES = 16 * 2**20
WORKER_FILES = ("wire.py", "peer.py", "worker.py")
WORKER_FOLDER = "_verdict_worker"   # in the student's folder: the worker's program
SCRATCH_FOLDER = "_scratch"          # in the student's folder: the worker's home and temp
MAX_PART_CRASHES = 5                 # workers a part may end before the rest of it fails
CHECKS_TEMP = "pytest"               # in the scratch folder: pytest's basetemp (tmp_path)
STUDENT_CODE_FILE = "<the student's code>"  # the file name of every warning re-emitted here


class StudentCodeError(BaseException):
    """The student's code timed out, exited, crashed, ran out of memory or broke the channel.

    A ``BaseException``, so that no ``pytest.raises(Exception)`` of a check can mistake it for
    an error the check asked for."""


class _Aborted(Exception):
    """The worker stopped a call itself (``sys.exit``, ``MemoryError``)."""

    def __init__(self, kind, message, where):
        super().__init__(message)
        self.kind, self.where = kind, where


@dataclass(frozen=True)
class Budget:
    """Seconds of student code per part (starting the worker included) and per call, the most
    a start may take, and the limits on the whole worker: memory of its process tree and size
    of its scratch folder (watchdog.py)."""

    part_seconds: float = 300.0
    call_seconds: float = 60.0
    start_seconds: float = 120.0
    memory_mb: int = 6144
    scratch_mb: int = 1024


@dataclass(frozen=True)
class ImportRequest:
    """The worker imports ``assignment.<part>`` (before the checks, to report import errors)."""

    part: str


# --------------------------------------------------------------- launching ---

def _limit_worker(memory_mb):
    def apply():  # after a change of user (Popen's user=), which clears the parent-death signal
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 2**20, 256 * 2**20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:  # the worker dies with the process that started it
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    return apply


# What ``plain_launcher`` (grading with --no-sandbox) leaves open, and what it still enforces.
PLAIN_UNPROTECTED = (
    "no sandbox: the student's code runs as you, with your files, your processes and the network",
    "it can read and change the instructor's kit, the rubric, the hidden checks and other zips",
    "it can read the grader's environment and memory through /proc, and write the memory of the "
    "process that holds the verdicts",
    "network access is blocked in Python only (socket.connect); _socket or a child process "
    "gets through",
    "a setsid or daemonised process can outlive the run",
    "no limit on the number of processes",
    "still enforced: verdicts in a process that runs no student code, time per call and per "
    "part, memory per process (RLIMIT_AS), file size, one CPU thread and an environment without "
    "your variables (but PATH)",
)


def plain_launcher(argv, cwd, env, memory_mb=6144, net_prefix=(), as_user=None):
    """Start the worker as a plain subprocess: own session, memory and file-size limits, no
    core dumps, killed when its parent dies, and ``net_prefix`` (e.g. ``unshare --net``) in
    front. It runs as the grader's user, or as ``as_user`` (``(uid, gid)``, see
    unprivileged.py): it stops accidents and crude attacks on the checks' process, not writes
    to the grader's files (that needs a sandbox launcher or another user)."""
    user = {} if as_user is None else {"user": as_user[0], "group": as_user[1],
                                       "extra_groups": []}
    return subprocess.Popen([*net_prefix, *argv], cwd=cwd, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=_limit_worker(memory_mb), **user)


def install_worker(folder):
    """Copy the worker's three files into ``folder/_verdict_worker``; returns its argv."""
    target = Path(folder) / WORKER_FOLDER
    target.mkdir(exist_ok=True)
    for name in WORKER_FILES:
        shutil.copy(Path(__file__).with_name(name), target / name)
    return [sys.executable, "-E", "-s", "-B", str(target / "worker.py")]


def worker_environment(scratch, block_network=False):
    """The worker's environment: nothing of the grader's but ``PATH``."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch),
            "TMPDIR": str(scratch), "KIT_QUICK": "1", "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1", "KIT_SAVED_DIR": str(scratch / "saved"),
            "KIT_RESULTS_DIR": str(scratch / "results"),
            "KIT_GRADE_BLOCK_NETWORK": "1" if block_network else "0"}


class OutputTail:
    """Drains what the worker prints (a thread), keeping the total and the last bytes. Past
    ``cap`` bytes it stops reading: endless printing then blocks the worker (no CPU burnt)
    until its call's deadline."""

    def __init__(self, stream, keep=32 * 1024, cap=MAX_OUTPUT_BYTES):
        self.stream, self.keep, self.cap, self.total, self.tail = stream, keep, cap, 0, b""
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        while self.total <= self.cap and (chunk := os.read(self.stream.fileno(), 1 << 16)):
            self.total += len(chunk)
            self.tail = (self.tail + chunk)[-self.keep:]

    def lines(self, count=15):
        return "\n".join(self.tail.decode(errors="replace").strip().splitlines()[-count:])


# ----------------------------------------------------------------- session ---

class WorkerSession(peer.Hooks):
    """Calls into one student's worker (see the module docstring); also the grader's hooks."""

    def __init__(self, folder, launcher=None, budget=Budget(), block_network=False,
                 limits=wire.Limits()):
        self.folder, self.budget, self.limits = Path(folder), budget, limits
        self.launcher = launcher or plain_launcher
        self.argv = install_worker(self.folder)
        self.scratch = self.folder / SCRATCH_FOLDER
        self.scratch.mkdir(exist_ok=True)
        self.env = worker_environment(self.scratch, block_network)
        self.process = self.link = self.output = self.watchdog = None
        self.proxies = {}         # part -> proxy module (set by proxy.install)
        self.trusted = {}         # "helpers.module:name" -> the grader's class or function
        self.spent = defaultdict(float)
        self.broken = {}          # part -> why its module cannot be imported
        self.stuck = {}           # label -> why it fails at once (it timed out, crashed twice)
        self.crashes = defaultdict(int)  # part, and (part, label) -> workers it ended
        self.incidents = defaultdict(list)
        self.logs = {}            # part -> the worker's last output at its latest incident
        self.handles, self.handle_ids = {}, {}
        self.depth, self.part, self.pending, self._deadline = 0, None, None, None
        self.start_error = None
        self.originals = {}       # id(private copy) -> the check's own tensor (inputs.py)

    # ---------------------------------------------------------- the worker ---

    def start(self):
        """Start the worker and wait for its hello (not counted in any budget)."""
        self.process = process = self.launcher(self.argv, str(self.folder), dict(self.env))
        self.output = OutputTail(self.process.stderr)
        self.watchdog = Watchdog(process, self.scratch, self.budget.memory_mb << 20,
                                 self.budget.scratch_mb << 20, lambda: _end(process, None))
        pipe = wire.Pipe(self.process.stdout.fileno(), self.process.stdin.fileno(), self.limits,
                         deadlines=True)
        try:
            hello, _ = pipe.receive(time.monotonic() + self.budget.start_seconds)
        except (wire.WireError, wire.PeerGone, wire.WireTimeout) as err:
            limit = self.watchdog.reason
            code = self.stop(grace=0 if limit else 2)
            how = limit or _exit_text(code)
            raise StudentCodeError(f"the worker did not start ({type(err).__name__}; "
                                   f"{how}): {self.output.lines(3)}") from None
        if hello.get("op") != "hello":
            self.stop()
            raise StudentCodeError("the worker did not start: no hello")
        self.link = peer.Peer(pipe, self, self.limits)

    def _start_once(self, part):
        """Start the worker; a worker that failed to start once is not started again."""
        if self.start_error is None:
            try:
                self.start()
                return
            except StudentCodeError as err:
                self.start_error = str(err)
        if self.start_error not in self.incidents[part]:
            self.incidents[part].append(self.start_error)
        raise StudentCodeError(self.start_error)

    def stop(self, grace=0.0):
        """Kill the worker (its whole process group), after ``grace`` seconds to end by
        itself; returns its exit code."""
        process, self.process, self.link = self.process, None, None
        if self.watchdog is not None:
            self.watchdog.stop()
        code = None if process is None else _reap(process, self.output, grace)
        if self.watchdog is not None and self.watchdog.kind == "scratch":
            self._clear_scratch()  # else every fresh worker would find it full again
        self.watchdog = None
        return code

    def _clear_scratch(self):
        """Empty the scratch folder (it overflowed), keeping the checks' ``tmp_path`` root."""
        for path in self.scratch.iterdir():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        (self.scratch / CHECKS_TEMP).mkdir(exist_ok=True)

    close = stop

    # ------------------------------------------------------------- calling ---

    def call(self, part, label, target, method=None, args=(), kwargs=None):
        """Call ``target`` (or its ``method``) in the worker on behalf of the checks of
        ``part``; ``label`` names the student function in messages. The worker gets private
        copies of the arguments but those the contract lets it change (inputs.py)."""
        args, kwargs, originals = inputs.guard(target, method, tuple(args), dict(kwargs or {}),
                                               self._copyable)
        self.originals.update(originals)
        if self.depth:
            return self._call(label, target, method, args, kwargs)
        if part in self.broken:
            raise StudentCodeError(self.broken[part])
        if label in self.stuck:
            raise StudentCodeError(self.stuck[label])
        self._check_budget(part)
        if self.link is None:  # starting the worker is student time too (a crash loop)
            started = time.monotonic()
            try:
                self._start_once(part)
            finally:
                self.spent[part] += time.monotonic() - started
            self._check_budget(part)
        left = self.budget.part_seconds - self.spent[part]
        limit = min(self.budget.call_seconds, left)
        started, self._deadline, self.depth, self.part = time.monotonic(), None, 1, part
        self._deadline = started + limit
        try:
            result = self._call(label, target, method, args, kwargs, limit)
        except Exception:
            self._raise_pending()
            raise
        finally:
            self.depth, self._deadline = 0, None
            self.spent[part] += time.monotonic() - started
            self.handles.clear()
            self.handle_ids.clear()
            self.originals.clear()
        self._raise_pending()
        return result

    def _check_budget(self, part):
        """Raise when ``part`` has spent its time or crashed its worker too often."""
        why = None
        if self.spent[part] >= self.budget.part_seconds:
            why = f"the time for {part} ({self.budget.part_seconds:g} s) is used up; the rest " \
                  "of its checks were not run"
        elif self.crashes[part] >= MAX_PART_CRASHES:
            why = f"your code ended the worker {self.crashes[part]} times in {part}; the rest " \
                  "of its checks were not run"
        if why is not None:
            if why not in self.incidents[part]:
                self.incidents[part].append(why)
            raise StudentCodeError(why)

    def _raise_pending(self):
        """Raise what a callback of the checks raised beyond ``Exception`` (``pytest.fail``)."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            raise pending

    def _call(self, label, target, method, args, kwargs, limit=None):
        try:
            return self.link.call(target, method, args, kwargs)
        except wire.WireTimeout:
            seconds = limit or self.budget.call_seconds
            why = f"{label} timed out after {seconds:g} s (an endless loop?)"
            self.stuck[label] = f"{label} timed out before; its other checks were not run"
            raise self._incident(why) from None
        except wire.PeerGone:
            limit = self.watchdog.reason if self.watchdog else None
            if limit:
                raise self._incident(f"{label} was stopped: {limit}", label) from None
            raise self._incident(f"your code ended the worker process during {label}: it "
                                 f"{_exit_text(self.stop(grace=2))}", label) from None
        except wire.WireError as err:
            raise self._incident(f"your code garbled the channel to the grader during {label} "
                                 f"({err})", label) from None
        except _Aborted as err:
            where = f" in {err.where}" if err.where else ""
            if err.kind == "exit":
                why = f"{label} called {err}{where} (remove sys.exit() / exit() from your code)"
            elif err.kind == "memory":
                why = f"{label} ran out of memory{where}"
            else:
                why = f"{label} stopped with {err}{where}"
            raise self._incident(why, label) from None

    def _incident(self, why, crashed=None):
        """Stop the worker, note what happened for the part, and make the error to raise;
        ``crashed`` names the function that ended the worker (twice, and it is stuck)."""
        self.stop()
        part = self.part or "?"
        if crashed is not None:
            self.crashes[part] += 1
            self.crashes[part, crashed] += 1
            if self.crashes[part, crashed] >= 2:
                self.stuck[crashed] = f"{crashed} ended the worker twice; its other checks " \
                                      "were not run"
        if self.output and self.output.total > MAX_OUTPUT_BYTES:
            why += f"; it printed more than {MAX_OUTPUT_BYTES >> 20} MB of output"
        if why not in self.incidents[part]:
            self.incidents[part].append(why)
        if self.output:
            self.logs[part] = self.output.lines()
        return StudentCodeError(why)

    def load(self, part):
        """Import ``assignment.<part>`` in the worker; returns why it failed, or None."""
        label = f"importing assignment/{part}.py"
        try:
            self.call(part, label, ImportRequest(part))
        except StudentCodeError as err:
            self.broken[part] = str(err)
        except Exception as err:  # the module raised: every check of it would fail the same way
            where = "".join(f" {note}" for note in getattr(err, "__notes__", ()))
            self.broken[part] = (f"assignment/{part}.py could not be imported: "
                                 f"{type(err).__name__}: {err}{where}")
        return self.broken.get(part)

    # ---------------------------------------------------------------- hooks ---

    def deadline(self):
        return self._deadline

    def original(self, value):
        return self.originals.get(id(value), value)

    def _copyable(self, value):
        """Whether ``value`` is an object of the checks' classes (copied with its state)."""
        cls = type(value)
        return _verdict_name(cls) is not None or any(cls is t for t in self.trusted.values())

    def export(self, value):
        name = _verdict_name(value)
        if name is not None:
            kind = "cls" if isinstance(value, type) else "fn"
            return {"t": kind, "name": name}
        if isinstance(value, ImportRequest):
            return {"t": "import", "part": value.part}
        if isinstance(value, RemoteFunction):
            return {"t": "handle", "side": "w", "id": value.handle}
        class_name = _verdict_name(type(value)) or next(
            (name for name, cls in self.trusted.items() if type(value) is cls), None)
        if class_name is not None:
            return {"t": "obj", "cls": class_name, "state": vars(value)}
        if id(value) not in self.handle_ids:
            self.handle_ids[id(value)] = len(self.handles)
            self.handles[len(self.handles)] = value
        return {"t": "handle", "side": "g", "id": self.handle_ids[id(value)],
                "name": str(getattr(value, "__name__", type(value).__name__))[:100]}

    def resolve(self, node):
        kind, name = node.get("t"), node.get("name")
        if kind in ("fn", "cls") and isinstance(name, str):
            value = self._named(name)
            if isinstance(value, type) != (kind == "cls"):
                raise wire.Unsendable(f"{name[:80]} is not a {kind}")
            return value
        if kind == "handle" and node.get("side") == "w" and type(node.get("id")) is int:
            return RemoteFunction(self, node["id"], str(node.get("name", "function"))[:100],
                                  self.part)
        if kind == "handle" and node.get("side") == "g" and node.get("id") in self.handles:
            return self.handles[node["id"]]
        raise wire.WireError(f"unknown value node {str(kind)[:40]!r}")

    def _named(self, name):
        """The proxy (or trusted helper) that ``part:qualname`` names on the grader's side."""
        if name in self.trusted:
            return self.trusted[name]
        part, _, qualname = name.partition(":")
        value = self.proxies.get(part)
        for attribute in qualname.split(".") if value is not None else ():
            value = vars(value).get(attribute) if isinstance(value, (type, types.ModuleType)) \
                else None
            value = getattr(value, "__func__", value)  # a static or class method's function
        if value is None or _verdict_name(value) != name:
            raise wire.Unsendable(f"{name[:80]} is nothing the checks know")
        return value

    def instance(self, cls_name):
        cls = self._named(cls_name)
        if not isinstance(cls, type):
            raise wire.Unsendable(f"{cls_name[:80]} is not a class")
        return object.__new__(cls)

    def authorize(self, target, method):
        if id(target) not in self.handle_ids or self.handles[self.handle_ids[id(target)]] \
                is not target:
            raise wire.WireError("the worker called something the checks did not give it")
        if method is None:
            return target
        function = getattr(target, method, None) if not method.startswith("_") else None
        if isinstance(target, types.FunctionType) or not callable(function):
            raise wire.WireError(f"the worker called {method[:40]!r}, which it may not call")
        return function

    def on_error(self, error):
        if isinstance(error, Exception):
            # The checks' own code raised (an assertion in a callback): the check fails with
            # it after the call, even if the student's code catches it.
            if self.pending is None:
                self.pending = error
            return "raise", peer.error_payload(error)
        if isinstance(error, (StudentCodeError, KeyboardInterrupt)):
            raise error
        self.pending = error  # pytest.fail/skip in a callback: re-raised after the call
        return "raise", peer.error_payload(RuntimeError("the checks stopped here"))

    def aborted(self, message):
        return _Aborted(str(message.get("kind")), str(message.get("message", ""))[:2000],
                        str(message.get("where", ""))[:200])

    def incoming(self, message):
        for entry in message.get("warnings", ())[:100]:
            if isinstance(entry, list) and len(entry) == 4:
                category = getattr(builtins, str(entry[0]), None)
                if not (isinstance(category, type) and issubclass(category, Warning)):
                    category = UserWarning
                # Under a fixed name: formatting a warning opens its file (linecache), and a
                # name the student's code chose could be a FIFO that blocks this process.
                where = f"{str(entry[2])[:200]}:{entry[3] if type(entry[3]) is int else 0}"
                warnings.warn_explicit(f"{str(entry[1])[:peer.MAX_MESSAGE]} (at {where})",
                                       category, STUDENT_CODE_FILE, 0)


class RemoteFunction:
    """A callable the student's code made (a lambda, a closure), living in the worker."""

    def __init__(self, session, handle, name, part):
        self.session, self.handle, self.__name__, self.part = session, handle, name, part

    def __call__(self, *args, **kwargs):
        return self.session.call(self.part, self.__name__, self, None, args, kwargs)

    def __repr__(self):
        return f"<{self.__name__} of the student's code>"


def _reap(process, output, grace):
    """Stop a worker and its process group, close its pipes, let the output thread finish."""
    try:
        code = process.wait(timeout=grace) if grace else None
    except subprocess.TimeoutExpired:
        code = None
    _end(process, code)
    code = process.wait() if code is None else code
    for stream in (process.stdin, process.stdout):
        try:
            stream.close()
        except OSError:
            pass
    if output:
        output.thread.join(timeout=5)
    process.stderr.close()
    return code


def _end(process, code):
    """Kill everything the worker started: a plain ``Popen``'s process group (its own session),
    or what the ``kill()`` of a launcher's own handle ends (a sandbox: all of it)."""
    if not isinstance(process, subprocess.Popen):
        process.kill()
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if code is None:
            process.kill()


def _verdict_name(value):
    """The ``part:qualname`` of a proxy function or class (proxy.py), else None."""
    if isinstance(value, (types.FunctionType, type)):
        return vars(value).get("__verdict_name__")
    return None


def _exit_text(code):
    if code is None:
        return "stopped"
    if code < 0:
        name = signal.Signals(-code).name
        return {"SIGKILL": "was killed (out of memory?)", "SIGSEGV": "crashed the interpreter"}.get(
            name, f"died with {name}")
    return f"exited with code {code} (os._exit() or sys.exit() in your code?)"
