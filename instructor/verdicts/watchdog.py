"""Limits over the whole worker, not per process: memory of its process tree, its scratch folder.

``RLIMIT_AS`` bounds each process of the worker, so five children of 1.4 GB each hold 7 GB;
``RLIMIT_FSIZE`` bounds each file, so many files fill the host's disk. While a worker runs,
``Watchdog`` sums the resident memory of every process it started (from ``/proc``) and the
size of its scratch folder a few times a second, and kills the worker when either passes its
limit; the call then fails with ``reason``.
"""
import os
import threading
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
POLL_SECONDS = 0.5


def process_tree(pid):
    """``pid`` and every process below it (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parents.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(
                int(entry.name))
        except (OSError, ValueError):
            continue
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for parent in frontier for child in parents.get(parent, ())]
        tree += frontier
    return tree


def tree_memory(pid):
    """Bytes of resident memory of ``pid``'s process tree."""
    total = 0
    for member in process_tree(pid):
        try:
            total += int(Path(f"/proc/{member}/statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


def folder_size(folder):
    """Bytes on disk under ``folder`` (allocated blocks, so sparse files count as written)."""
    total = 0
    for current, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(current, name)).st_blocks * 512
            except OSError:
                continue
    return total


class Watchdog:
    """Watch the worker ``process`` (a Popen or a handle with ``pid`` and ``kill()``): kill it
    when its process tree holds more than ``memory_bytes`` or ``scratch`` more than
    ``scratch_bytes``; ``reason`` then says which."""

    def __init__(self, process, scratch, memory_bytes, scratch_bytes, kill):
        self.process, self.scratch, self.kill = process, Path(scratch), kill
        self.memory_bytes, self.scratch_bytes = memory_bytes, scratch_bytes
        self.reason = self.kind = None   # kind: "memory" or "scratch"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        while not self.stopped.wait(POLL_SECONDS):
            memory = tree_memory(self.process.pid)
            if memory > self.memory_bytes:
                self.kind = "memory"
                self.reason = (f"its processes held {memory >> 20} MB of memory together, more "
                               f"than the {self.memory_bytes >> 20} MB allowed")
            elif self.scratch_bytes and folder_size(self.scratch) > self.scratch_bytes:
                self.kind = "scratch"
                self.reason = (f"it wrote more than {self.scratch_bytes >> 20} MB to its "
                               "scratch folder")
            if self.reason:
                self.kill()
                return

    def stop(self):
        """Stop watching; once this returns, a kill the watchdog began has ended (so the
        caller's own kill and clean-up come after it, never beside it)."""
        self.stopped.set()
        if threading.current_thread() is not self.thread:
            self.thread.join()
