"""CPU hogs: other programs that keep every core busy, to test the kit on a busy machine.

    with cpu_hogs():            # one hog per core, plus one
        run_something()

A student's laptop runs a browser beside the notebook; a shared CI runner runs
other jobs. The kit's tests and ``python -m instructor.benchmarks --hogs N`` use these hogs
to check that nothing a student runs fails, or slows down out of proportion,
when the cores are not theirs alone.
"""
import contextlib
import os
import signal
import subprocess
import sys

from helpers.utils import available_cores

HOG_PROGRAM = "while True: pass"


def default_hog_count():
    """One hog per core this process may use, plus one: every core stays busy."""
    return available_cores() + 1


@contextlib.contextmanager
def cpu_hogs(count=None):
    """Run ``count`` busy-looping Python processes for the duration of the block.

    Yields the list of their pids. They are killed by pid when the block ends,
    whatever happens in it.
    """
    count = default_hog_count() if count is None else count
    hogs = []
    try:
        for _ in range(count):
            hogs.append(subprocess.Popen([sys.executable, "-c", HOG_PROGRAM],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL))
        yield [hog.pid for hog in hogs]
    finally:
        for hog in hogs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(hog.pid, signal.SIGKILL)
            hog.wait()
