"""The worker as an unprivileged user: the protection where bubblewrap cannot run.

Gradescope's containers usually refuse the user namespaces bubblewrap needs (Docker's default
seccomp profile). There the grader runs as root, and ``UserLauncher`` starts the worker as a
user of its own (``WORKER_USER``, created by the autograder's ``setup.sh``): it can read the
student's copy of the release and write its scratch folder, but not read the kit's source (the
reference solutions, the hidden checks, the rubric: ``/autograder/source`` is closed to it),
write the results, or signal the grader's processes. Every process of that user is killed
before the results are written (``kill_user_processes``).
"""
import os
import pwd
import signal
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from .session import SCRATCH_FOLDER, plain_launcher

WORKER_USER = "kitworker"


def worker_ids(user=WORKER_USER):
    """``(uid, gid)`` of ``user``, or None when there is no such user (or it is root)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return None if entry.pw_uid == 0 else (entry.pw_uid, entry.pw_gid)


def open_to_worker(folder, uid, gid):
    """Let the worker read ``folder`` (its copy of the release) and own its scratch folder:
    read rights for others on the copy, and search rights (not listing) on every folder above
    it that lacks them (private temporary folders)."""
    folder = Path(folder)
    for path in [folder, *folder.parents]:
        mode = path.stat().st_mode
        wanted = mode | stat.S_IXOTH | (stat.S_IROTH if path == folder else 0)
        if wanted != mode:
            os.chmod(path, wanted)
    for current, dirs, files in os.walk(folder):
        for name in dirs:
            path = os.path.join(current, name)
            os.chmod(path, os.stat(path).st_mode | stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            path = os.path.join(current, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | stat.S_IROTH)
    give_to_worker(folder / SCRATCH_FOLDER, uid, gid)


def give_to_worker(path, uid, gid):
    """Make ``path`` and everything in it the worker's (a folder it writes: scratch, tmp_path)."""
    for current, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(current, name), uid, gid)
    os.lchown(path, uid, gid)


@dataclass(frozen=True)
class UserLauncher:
    """Start the worker as ``user`` (a plain subprocess with the memory and file limits of
    ``plain_launcher``). Picklable: the trusted process receives it."""

    memory_mb: int = 6144
    user: str = WORKER_USER

    def __call__(self, argv, cwd, env):
        ids = worker_ids(self.user)
        if ids is None:
            raise RuntimeError(f"there is no unprivileged user {self.user!r} to run the worker")
        open_to_worker(cwd, *ids)
        return plain_launcher(argv, cwd, env, memory_mb=self.memory_mb, as_user=ids)

    def give(self, path):
        """Hand ``path`` (a check's ``tmp_path``) to the worker's user."""
        ids = worker_ids(self.user)
        if ids is not None and Path(path).exists():
            give_to_worker(path, *ids)
            os.lchown(Path(path).parent, *ids)  # pytest's basetemp, made private


def user_processes(uid):
    """Process ids of ``uid`` (from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


def kill_user_processes(user=WORKER_USER, rounds=50):
    """SIGKILL every process of ``user`` until none is left (a process forking meanwhile is
    caught in a later round); returns how many were killed."""
    ids = worker_ids(user)
    if ids is None:
        return 0
    killed = 0
    for _ in range(rounds):
        pids = [pid for pid in user_processes(ids[0]) if pid != os.getpid()]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    return killed
