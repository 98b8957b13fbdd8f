"""Run untrusted code (a student's) in a bubblewrap sandbox (instructor only).

    with sandbox.start([sys.executable, "worker.py"], read_only=[kit], writable=[scratch],
                       cwd=kit, limits=sandbox.Limits(seconds=60)) as box:
        box.stdin.write(request); box.stdin.flush(); reply = box.stdout.readline()

    result = sandbox.run([sys.executable, "-c", "print(1)"], limits=sandbox.Limits(seconds=10))

Every process runs under ``bwrap`` (bubblewrap) in its own user, PID, network,
IPC and UTS namespaces, as uid 65534 without capabilities, with:

- a file system of its own: a read-only empty root, read-only ``/usr`` (and the
  ``/lib*``, ``/bin`` links), a few ``/etc`` files, the Python installation
  that runs the grader (read-only), the caller's ``read_only`` and ``writable``
  folders at their own paths, a private ``/tmp`` (tmpfs, size-capped), a new
  ``/proc`` that shows only the sandbox, a minimal ``/dev``; no host socket,
  no home folder, no source tree unless the caller binds it;
- no network but its own loopback (TCP to the host's 127.0.0.1 is refused,
  abstract unix sockets are per network namespace);
- an environment made only of ``BASE_ENV`` and what the caller adds;
- limits: wall clock (the whole sandbox is killed), memory (``RLIMIT_AS`` per
  process), processes (``RLIMIT_NPROC`` counted inside the user namespace, or
  a pids cgroup when the grader runs as root, whom ``RLIMIT_NPROC`` exempts),
  file size (``RLIMIT_FSIZE``), output (``run`` reads at most ``output_bytes``),
  one CPU thread (``OMP_NUM_THREADS`` and friends);
- nothing outlives it: ``--die-with-parent``, and ``kill()`` ends the PID
  namespace's first process, which takes every other process of the sandbox
  with it (a ``setsid`` daemon included).

``start`` and ``run`` with ``protected=False`` run the same command without
bubblewrap (rlimits, time, output cap and environment only): ``UNPROTECTED``
lists what is then open.
"""
import functools
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SANDBOX_UID = 65534
BWRAP = "bwrap"
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: "
                "sudo dnf install bubblewrap), or pass --no-sandbox to grade without it")
# Read-only system files the dynamic linker and Python need; nothing else of /etc.
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
MERGED_USR_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
BASE_ENV = {"LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp", "USER": "student",
            "LOGNAME": "student", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib", "CUDA_VISIBLE_DEVICES": "",
            **{name: "1" for name in THREAD_VARIABLES}}
UNPROTECTED = (
    "no sandbox: the student's code runs as you, with your files, your processes and the network",
    "it can read and change the instructor's kit, the rubric, the hidden checks and other zips",
    "it can read the grader's environment and memory through /proc",
    "a setsid or daemonised process can outlive the run",
    "no limit on the number of processes",
    "still enforced: wall-clock time, memory per process (RLIMIT_AS), file size, output size, "
    "one CPU thread and an environment without your variables",
)
# Runs first inside the sandbox: sets the rlimits (after the user namespace exists, so
# RLIMIT_NPROC counts only the sandbox's processes), then becomes the command.
LAUNCHER = ("import os, resource, sys\n"
            "args = sys.argv[1:]\n"
            "cut = args.index('--')\n"
            "for spec in args[:cut]:\n"
            "    name, value = spec.split('=')\n"
            "    resource.setrlimit(getattr(resource, name), (int(value), int(value)))\n"
            "os.execvp(args[cut + 1], args[cut + 1:])\n")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here."""


@dataclass(frozen=True)
class Limits:
    """What one sandbox may use."""

    seconds: float = 300.0          # wall clock of the whole sandbox (``run``; ``start`` callers)
    memory_mb: int = 4096           # address space of each process
    processes: int = 64             # processes and threads of the sandbox's user
    file_mb: int = 64               # largest file it may write
    output_bytes: int = 16 * 2**20  # what ``run`` reads from its output before killing it
    tmp_mb: int = 256               # size of its private /tmp


@dataclass
class Result:
    """What ``run`` saw."""

    returncode: int
    output: bytes
    timed_out: bool = False
    flooded: bool = False
    seconds: float = 0.0


# ------------------------------------------------------------- availability ---

def bwrap_path():
    """Absolute path of the bwrap program, or None."""
    return shutil.which(BWRAP)


@functools.lru_cache(maxsize=1)
def unavailable_reason():
    """None when the sandbox works here, else a sentence saying why not and what to do."""
    if bwrap_path() is None:
        return f"bubblewrap (bwrap) is not installed; {INSTALL_HINT}"
    try:
        result = run([sys.executable, "-S", "-c", "pass"], limits=Limits(seconds=60))
    except OSError as err:
        return f"bwrap could not start ({err}); {INSTALL_HINT}"
    if result.returncode != 0:
        why = result.output.decode(errors="replace").strip()[-300:]
        return (f"bwrap cannot create its namespaces here ({why}); allow unprivileged user "
                f"namespaces (sysctl kernel.unprivileged_userns_clone=1) or {INSTALL_HINT}")
    return None


def require():
    """Raise ``SandboxUnavailable`` with what to do when the sandbox does not work here."""
    reason = unavailable_reason()
    if reason:
        raise SandboxUnavailable(reason)


# ------------------------------------------------------------------ mounts ---

def python_roots():
    """Folders that hold the running Python and its packages (real paths, outside /usr)."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  str(Path(sys.executable).resolve().parent.parent)}
    roots = sorted({Path(p).resolve() for p in candidates if p and Path(p).is_dir()})
    kept = []
    for root in roots:
        if root == Path("/usr") or Path("/usr") in root.parents:
            continue
        if not any(parent in root.parents for parent in kept):
            kept.append(root)
    return kept


def system_args():
    """bwrap arguments for /usr, its merged-usr links, /etc files, /proc, /dev."""
    args = ["--ro-bind", "/usr", "/usr"]
    for link in MERGED_USR_LINKS:
        path = Path(link)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), link]
        elif path.is_dir():
            args += ["--ro-bind", link, link]
    for name in ETC_FILES:
        args += ["--ro-bind-try", name, name]
    return args + ["--proc", "/proc", "--dev", "/dev"]


def _checked(path):
    """An existing absolute folder or file that may be bound; raises ValueError otherwise."""
    path = Path(path).resolve()
    if path == Path("/") or not path.exists():
        raise ValueError(f"cannot bind {path} into the sandbox: it is '/' or does not exist")
    return path


def mount_args(read_only=(), writable=()):
    """bwrap arguments binding each path at its own path inside, parents before children."""
    mounts = [(_checked(p), "--ro-bind") for p in [*python_roots(), *read_only]]
    mounts += [(_checked(p), "--bind") for p in writable]
    args = []
    for path, option in sorted(mounts, key=lambda m: len(m[0].parts)):
        args += [option, str(path), str(path)]
    return args


def bwrap_argv(argv, *, read_only=(), writable=(), cwd=None, limits=Limits()):
    """The whole bwrap command line that runs ``argv`` (already wrapped by ``limited_argv``)."""
    return [bwrap_path() or BWRAP,
            "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--disable-userns", "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_UID), "--hostname", "sandbox", "--cap-drop", "ALL",
            "--die-with-parent", "--new-session",
            *system_args(), "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
            *mount_args(read_only, writable), "--remount-ro", "/",
            "--chdir", str(Path(cwd).resolve()) if cwd else "/tmp", "--", *argv]


def limited_argv(argv, limits, processes=True):
    """``argv`` behind a tiny Python launcher that sets the rlimits first."""
    specs = [f"RLIMIT_AS={limits.memory_mb * 2**20}", f"RLIMIT_FSIZE={limits.file_mb * 2**20}",
             "RLIMIT_CORE=0"]
    if processes:
        specs.append(f"RLIMIT_NPROC={limits.processes}")
    return [sys.executable, "-I", "-S", "-c", LAUNCHER, *specs, "--", *map(str, argv)]


def sandbox_env(extra=None):
    """``BASE_ENV``, a PATH with this Python's folder first, and ``extra``: nothing else."""
    env = dict(BASE_ENV, PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin")
    env.update({str(k): str(v) for k, v in (extra or {}).items()})
    return env


# ------------------------------------------------------------ pids cgroup ---

def _cgroup_bases():
    """Candidate parent folders for a pids cgroup: (v1 pids, or v2) mount + our own cgroup."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        own[controllers] = path
    bases = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        mount_point, fstype, options = fields[4], fields[-3], fields[-1]
        if fstype == "cgroup" and "pids" in options.split(","):
            key = next((k for k in own if "pids" in k.split(",")), None)
            if key is not None:
                bases.append(Path(mount_point + own[key]))
        elif fstype == "cgroup2" and "" in own:
            bases.append(Path(mount_point + own[""]))
    return bases


class PidsCgroup:
    """A pids cgroup holding one sandbox (used when the grader runs as root)."""

    _counter = 0

    def __init__(self, path):
        self.path = path

    @classmethod
    def create(cls, limit):
        """A new cgroup with ``pids.max = limit``, or None where none can be made."""
        if os.geteuid() != 0:
            return None
        cls._counter += 1
        name = f"kit-sandbox-{os.getpid()}-{cls._counter}-{os.urandom(3).hex()}"
        try:
            bases = _cgroup_bases()
        except OSError:
            return None
        for base in bases:
            path = base / name
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(limit))
                return cls(path)
            except OSError:
                _rmdir(path)
        return None

    def enter(self):
        """Move the calling process into the cgroup (runs in the child before exec)."""
        with open(self.path / "cgroup.procs", "w") as f:
            f.write(str(os.getpid()))

    def pids(self):
        """Host pids still in the cgroup."""
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def remove(self, wait=5.0):
        """Kill what is left in the cgroup (by pid), then remove it."""
        deadline = time.monotonic() + wait
        while self.pids() and time.monotonic() < deadline:
            for pid in self.pids():
                with _quiet():
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        _rmdir(self.path)


def _rmdir(path):
    with _quiet():
        os.rmdir(path)


class _quiet:
    """Ignore OSError (a process or folder already gone)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        return kind is not None and issubclass(kind, OSError)


# ----------------------------------------------------------------- process ---

class Sandbox:
    """A running sandbox: a ``subprocess.Popen``-like handle on its command.

    ``stdin``/``stdout``/``stderr`` are the pipes asked for; ``wait``, ``poll``
    and ``returncode`` are the command's. ``kill()`` ends every process of the
    sandbox; leaving a ``with`` block calls it. bubblewrap ties the sandbox to
    the thread that started it (``--die-with-parent``): start and wait in the
    same thread.
    """

    def __init__(self, popen, pid1_fd=None, cgroup=None, protected=True):
        self.popen, self.pid1_fd, self.cgroup, self.protected = popen, pid1_fd, cgroup, protected
        self.stdin, self.stdout, self.stderr = popen.stdin, popen.stdout, popen.stderr
        self.pid = popen.pid
        # A watchdog thread and the caller may kill at once: one at a time, or the second
        # would close the pidfd's number again, by then perhaps a new sandbox's pipe.
        self._killing = threading.Lock()

    @property
    def returncode(self):
        return self.popen.returncode

    def poll(self):
        return self.popen.poll()

    def wait(self, timeout=None):
        return self.popen.wait(timeout)

    def kill(self):
        """End every process of the sandbox and wait for them; safe to call twice, from two
        threads at once."""
        with self._killing:
            self._kill()

    def _kill(self):
        if self.pid1_fd is not None:
            with _quiet():
                signal.pidfd_send_signal(self.pid1_fd, signal.SIGKILL)
        if self.popen.returncode is None or not self.protected:
            with _quiet():  # bwrap's group; unprotected, what the command left in its group
                os.killpg(self.popen.pid, signal.SIGKILL)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with _quiet():
                self.popen.kill()
            self.popen.wait()
        self._wait_pid1()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def _wait_pid1(self, wait=5.0):
        """The PID namespace is gone once its first process is: wait for that."""
        if self.pid1_fd is None:
            return
        selector = selectors.DefaultSelector()
        try:
            selector.register(self.pid1_fd, selectors.EVENT_READ)
            selector.select(wait)  # a pidfd turns readable when its process has exited
        finally:
            selector.close()
            os.close(self.pid1_fd)
            self.pid1_fd = None

    def close(self):
        """Kill the sandbox and close its pipes."""
        self.kill()
        for pipe in (self.stdin, self.stdout, self.stderr):
            if pipe is not None:
                with _quiet():
                    pipe.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _preexec(cgroup):
    """Runs in the child before bwrap starts: into the sandbox's cgroup, no core files."""
    def apply():
        if cgroup is not None:
            cgroup.enter()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _read_pid1(info_read):
    """The host pid of the sandbox's first process, from bwrap's --info-fd (None if it failed).

    Reads until the first complete JSON object, or the end (bwrap failed to start).
    """
    data = b""
    with os.fdopen(info_read, "rb", buffering=0) as info:
        while len(data) < 65536:
            block = info.read(4096)
            if not block:
                break
            data += block
            try:
                return int(json.loads(data.decode())["child-pid"])
            except (ValueError, KeyError, TypeError):
                continue
    return None


def start(argv, *, read_only=(), writable=(), cwd=None, env=None, limits=Limits(),
          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, protected=True):
    """Start ``argv`` in a new sandbox; returns a ``Sandbox`` (use it in a ``with`` block).

    ``read_only`` and ``writable`` are host paths bound at the same path inside;
    ``cwd`` is the working folder inside; ``env`` adds variables to ``BASE_ENV``.
    ``protected=False`` runs without bubblewrap (see ``UNPROTECTED``).
    """
    if not protected:
        popen = subprocess.Popen(limited_argv(argv, limits, processes=False), cwd=cwd,
                                 env=sandbox_env(env), stdin=stdin, stdout=stdout, stderr=stderr,
                                 start_new_session=True, preexec_fn=_preexec(None))
        return Sandbox(popen, protected=False)
    cgroup = PidsCgroup.create(limits.processes)
    info_read, info_write = os.pipe()
    command = bwrap_argv(limited_argv(argv, limits), read_only=read_only, writable=writable,
                         cwd=cwd, limits=limits)
    command[1:1] = ["--info-fd", str(info_write)]
    try:
        popen = subprocess.Popen(command, env=sandbox_env(env), stdin=stdin, stdout=stdout,
                                 stderr=stderr, start_new_session=True, pass_fds=(info_write,),
                                 preexec_fn=_preexec(cgroup))
    except BaseException:
        os.close(info_read)
        if cgroup is not None:
            cgroup.remove()
        raise
    finally:
        os.close(info_write)
    pid1 = _read_pid1(info_read)
    pid1_fd = None
    if pid1 is not None:
        with _quiet():
            pid1_fd = os.pidfd_open(pid1)
    return Sandbox(popen, pid1_fd, cgroup)


def _read_capped(stream, cap, deadline):
    """Read ``stream`` until EOF, ``cap`` bytes or ``deadline``: (bytes, flooded, timed_out)."""
    chunks, size = [], 0
    fd = stream.fileno()
    os.set_blocking(fd, False)
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"".join(chunks), False, True
            if not selector.select(min(left, 1.0)):
                continue
            block = os.read(fd, 65536)
            if not block:
                return b"".join(chunks), False, False
            chunks.append(block[: cap - size])
            size += len(block)
            if size > cap:
                return b"".join(chunks), True, False


def _feed(pipe, data):
    """Write ``data`` to the sandbox's standard input and close it (in a thread)."""
    with _quiet():
        pipe.write(data)
    with _quiet():
        pipe.close()


def run(argv, *, input=None, limits=Limits(), **options):
    """Run ``argv`` in a new sandbox to the end, or until its time or output runs out.

    Standard output and error are read together, at most ``limits.output_bytes``;
    past that, or past ``limits.seconds``, the whole sandbox is killed. Returns a
    ``Result``. ``options`` go to ``start``.
    """
    began = time.monotonic()
    stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
    with start(argv, limits=limits, stdin=stdin, stdout=subprocess.PIPE,
               stderr=subprocess.STDOUT, **options) as box:
        if input is not None:
            threading.Thread(target=_feed, args=(box.stdin, input), daemon=True).start()
        output, flooded, timed_out = _read_capped(box.stdout, limits.output_bytes,
                                                  began + limits.seconds)
        if flooded or timed_out:
            box.kill()
        else:
            try:
                box.wait(timeout=max(0.1, began + limits.seconds - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
                box.kill()
        code = box.returncode
    return Result(code, output, timed_out, flooded, time.monotonic() - began)
