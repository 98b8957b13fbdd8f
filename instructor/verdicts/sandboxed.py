"""The worker in the bubblewrap sandbox: the launcher that grading uses (instructor only).

    session = WorkerSession(student_dir, SandboxLauncher(memory_mb=6144))

``SandboxLauncher()(argv, cwd, env)`` is a launcher for ``session.WorkerSession``: it starts
the worker with ``instructor.sandbox.start`` (own user, PID, network, IPC and UTS namespaces,
uid 65534 without capabilities) where the worker sees the Python installation and its own
folder ``cwd`` (the release copy with the student's files and the worker's program, no check)
**read-only**, and can write only ``cwd/_scratch`` (its home and temp, the checks'
``tmp_path``) and a private, size-capped ``/tmp``. Memory (per process), processes and file
size are limited; its environment is ``sandbox.BASE_ENV`` plus the session's variables (not the
grader's ``PATH``). Time is the session's: a call past its deadline gets the sandbox killed.

bubblewrap ties a sandbox to the *thread* that started it (``--die-with-parent``). The
launcher starts it from a keeper thread of its own that lives until the handle is killed, so
the sandbox lives exactly as long as its handle (or the grading process), whatever thread
called the launcher or ends first.

A launcher must be picklable (runner.py sends it to the trusted process): ``SandboxLauncher``
is a frozen dataclass of numbers.
"""
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from instructor import sandbox

from .session import SCRATCH_FOLDER

FIRST_SIGNAL_CODE, LAST_SIGNAL_CODE = 129, 159   # bwrap reports a signal N as 128 + N


def popen_code(code):
    """bwrap's exit code as ``subprocess.Popen`` would give it: a signal N as ``-N``."""
    if code is not None and FIRST_SIGNAL_CODE <= code <= LAST_SIGNAL_CODE:
        return 128 - code
    return code


class SandboxedWorker:
    """Popen-like handle on the worker's sandbox: ``stdin``, ``stdout``, ``stderr``, ``pid``,
    ``poll``, ``wait``, ``returncode`` (a signal as ``-N``) and ``kill`` (every process of the
    sandbox, then the keeper thread is let go)."""

    def __init__(self, box, release):
        self.box, self._release = box, release
        self.stdin, self.stdout, self.stderr = box.stdin, box.stdout, box.stderr
        self.pid = box.pid

    @property
    def returncode(self):
        return popen_code(self.box.returncode)

    def poll(self):
        return popen_code(self.box.poll())

    def wait(self, timeout=None):
        return popen_code(self.box.wait(timeout))

    def kill(self):
        """End every process of the sandbox and wait for them; safe to call twice."""
        try:
            self.box.kill()
        finally:
            self._release.set()


def start_kept(start):
    """Call ``start()`` in a new thread that then stays until released (the sandbox's parent
    thread); returns ``(what start returned, the release event)``, or raises what it raised."""
    ready, release, outcome = threading.Event(), threading.Event(), {}

    def keep():
        try:
            outcome["box"] = start()
        except BaseException as err:  # noqa: B036 - raised again in the caller's thread
            outcome["error"] = err
        ready.set()
        if "box" in outcome:
            release.wait()

    threading.Thread(target=keep, name="worker-sandbox", daemon=True).start()
    ready.wait()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["box"], release


@dataclass(frozen=True)
class SandboxLauncher:
    """``launcher(argv, cwd, env) -> SandboxedWorker``: the worker in a bubblewrap sandbox."""

    memory_mb: int = 6144   # address space of each process of the sandbox
    processes: int = 64     # processes and threads
    file_mb: int = 64       # largest file it may write
    tmp_mb: int = 256       # size of its private /tmp

    def limits(self):
        """The sandbox's limits (its time is the session's deadlines)."""
        return sandbox.Limits(memory_mb=self.memory_mb, processes=self.processes,
                              file_mb=self.file_mb, tmp_mb=self.tmp_mb)

    def __call__(self, argv, cwd, env):
        folder = Path(cwd)
        variables = {name: value for name, value in env.items() if name != "PATH"}

        def start():
            return sandbox.start(argv, read_only=[folder], writable=[folder / SCRATCH_FOLDER],
                                 cwd=folder, env=variables, limits=self.limits(),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)

        box, release = start_kept(start)
        return SandboxedWorker(box, release)
