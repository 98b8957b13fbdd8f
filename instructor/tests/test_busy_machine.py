"""Nothing a student runs fails because other programs keep the CPU busy.

The main job runs every notebook in quick mode while CPU hogs (one per core, plus
one) keep every core busy, as on a student's laptop with a browser open or on a
shared CI runner. It must pass: notebooks print timings, they never assert on them.
The same run checks that the main job's reports show their figures and save them
as PNG files.
"""
import os
import subprocess
import sys
import time

import pytest

from helpers.utils import KIT_ROOT
from instructor.benchmarks.load import cpu_hogs, default_hog_count
from instructor.run_notebooks import NOTEBOOKS

pytestmark = pytest.mark.long  # the long tier (pytest --all): see conftest.py


def user_environment(tmp_path):
    """The environment of a user who runs the main job: no thread count forced by the tests."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("OMP_NUM_THREADS", "KIT_RESULTS_DIR", "KIT_SAVED_DIR")}
    env["KIT_SAVED_DIR"] = str(tmp_path / "saved")
    return env


def test_main_job_passes_on_a_busy_machine(tmp_path):
    out = tmp_path / "results"
    with cpu_hogs() as hogs:
        assert len(hogs) == default_hog_count()
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "instructor.run_notebooks", "--quick",
                                 "--out", str(out)], cwd=KIT_ROOT, env=user_environment(tmp_path),
                                capture_output=True, text=True, timeout=3000)
        seconds = time.perf_counter() - start
    print(f"main job, quick mode, beside {len(hogs)} CPU hogs: {seconds:.0f} s")
    assert result.returncode == 0, f"a notebook failed on a busy machine:\n{result.stdout[-3000:]}"
    for name in NOTEBOOKS:
        assert (out / f"{name}.ipynb").is_file(), f"{name} was not executed"
        report = (out / f"{name}.html").read_text()
        assert 'src="data:image/png' in report, f"the {name} report shows no figure"
        pngs = sorted((out / "figures").glob(f"{name}--*.png"))
        assert pngs, f"no PNG file of {name}"
        first_of = {}
        shown_twice = [png.name for png in pngs
                       if first_of.setdefault(png.read_bytes(), png) is not png]
        assert not shown_twice, (f"{name} shows a figure twice (a cell that ends in a plots call "
                                 f"without ';' also displays the returned figure): {shown_twice}")
    assert not any(os.path.exists(f"/proc/{pid}") for pid in hogs), "a CPU hog survived"
