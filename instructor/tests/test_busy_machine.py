"""Nothing a student runs fails because other programs keep the CPU busy.

The main job runs every notebook in quick mode while CPU hogs (one per core, plus
one) keep every core busy, as on a student's laptop with a browser open or on a
shared CI runner. It must pass: notebooks print timings, they never assert on them.
The same run checks that the main job's reports show their figures and save them
as PNG files, that no executed notebook or report shows a path of the machine, and that the
long cells' progress lines (helpers/progress.py) appear in the reports once, in their final
state.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers.utils import KIT_ROOT
from instructor.benchmarks.load import cpu_hogs, default_hog_count
from instructor.run_notebooks import NOTEBOOKS

pytestmark = pytest.mark.long  # the long tier (pytest --all): see conftest.py


def user_environment(tmp_path):
    """The environment of a user who runs the main job: no thread count or progress setting
    forced by the tests."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("OMP_NUM_THREADS", "KIT_RESULTS_DIR", "KIT_SAVED_DIR",
                           "KIT_PROGRESS")}
    env["KIT_SAVED_DIR"] = str(tmp_path / "saved")
    return env


def machine_paths(text, *folders):
    """Snippets of ``text`` that show a path of this machine: the kit's folder, the home
    and temporary folders, ``folders``, or a path object (``PosixPath('...')``)."""
    roots = {str(KIT_ROOT), str(Path.home()), tempfile.gettempdir(), *map(str, folders)}
    pattern = "|".join([r"PosixPath\(", r"WindowsPath\("]
                       + [re.escape(root.rstrip("/")) + "/" for root in roots])
    return [text[max(match.start() - 60, 0):match.end() + 60]
            for match in re.finditer(pattern, text)]


# A progress line of helpers/progress.py: "search: run 16/16 [02:10<00:00, ...]".
PROGRESS = re.compile(r"(?P<what>[\w .+-]+): (?:run|epoch|setting) (?P<n>\d+)/(?P<total>\d+) \[")
MAX_REDRAWS = 100   # \r per stream output of an executed notebook: tens, never hundreds


def check_progress_lines(notebook_path, report_path):
    """The progress lines of a notebook: text (no widget), redrawn a bounded number of
    times, and shown in the HTML report once each, in their final state."""
    cells = json.loads(notebook_path.read_text())["cells"]
    streams = ["".join(output.get("text", "")) for cell in cells
               for output in cell.get("outputs", []) if output["output_type"] == "stream"]
    widgets = [cell for cell in cells for output in cell.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert not widgets, f"{notebook_path.name}: a progress widget instead of a text line"
    assert all(text.count("\r") <= MAX_REDRAWS for text in streams), \
        f"{notebook_path.name}: a progress line redrawn hundreds of times"
    report = report_path.read_text()
    states = [(m["what"].strip(), int(m["n"]), int(m["total"])) for m in PROGRESS.finditer(report)]
    assert states, f"{report_path.name} shows no progress line"
    assert "HBox(children" not in report
    unfinished = [state for state in states if state[1] != state[2]]
    assert not unfinished, f"{report_path.name} shows progress lines not in their final state: " \
        f"{unfinished[:3]}"


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
        check_progress_lines(out / f"{name}.ipynb", out / f"{name}.html")
        for page in (out / f"{name}.ipynb", out / f"{name}.html"):
            found = machine_paths(page.read_text(), tmp_path)
            assert not found, f"{page.name} shows paths of the machine: {found[:3]}"
    assert not any(os.path.exists(f"/proc/{pid}") for pid in hogs), "a CPU hog survived"
