"""A sample submission in one command: the grader takes it only when told it grades samples,
and a sample with a broken part gets a partial grade."""
import csv
import json
import shutil
import subprocess
import sys

import pytest

from helpers import submission
from helpers.utils import KIT_ROOT
from instructor import sample_submission
from instructor.tests.kit.runner import set_run_mode

pytestmark = pytest.mark.long  # runs the notebooks (quick mode) and grades: minutes


def rows_of(path):
    with open(path, newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_samples_are_graded_only_with_samples_and_a_broken_part_scores_0(
        working_sandbox, finished_kit, tmp_path):
    out = tmp_path / "samples"
    # The command itself, with a broken part: the notebooks run in quick mode.
    result = subprocess.run([sys.executable, "-m", "instructor.sample_submission", str(out),
                             "--broken", "fully_connected_networks"], cwd=KIT_ROOT,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "without encryption" not in result.stderr, "kernels run on IPC transport"
    broken = out / "sample-broken-fully-connected-networks_submission.zip"
    assert f"Wrote {broken}" in result.stdout
    # The intact sample from the same steps, on the session's finished kit (which ran in
    # quick mode too; it says so again, as a sample must).
    kit = shutil.copytree(finished_kit, tmp_path / "kit")
    for name in submission.NOTEBOOKS:
        set_run_mode(kit / "notebooks" / name, quick=True)
    sample = sample_submission.write_sample_zip(kit, out, sample_submission.SAMPLE_ID, "sample")
    assert sample.name == "sample_submission.zip"

    refused = subprocess.run([sys.executable, "-m", "instructor.grade", str(out),
                              "--out", str(tmp_path / "refused.csv")], cwd=KIT_ROOT,
                             capture_output=True, text=True, timeout=1800)
    assert refused.returncode == 0, refused.stderr[-3000:]
    for row in rows_of(tmp_path / "refused.csv").values():
        assert float(row["total"]) == 0 and "run in quick mode" in row["problems"] \
            and "--samples" in row["problems"], row

    graded = subprocess.run([sys.executable, "-m", "instructor.grade", str(out), "--samples",
                             "--out", str(tmp_path / "grades.csv"),
                             "--feedback", str(tmp_path / "feedback")], cwd=KIT_ROOT,
                            capture_output=True, text=True, timeout=1800)
    assert graded.returncode == 0, graded.stderr[-3000:]
    rows = rows_of(tmp_path / "grades.csv")
    parts = json.loads((KIT_ROOT / "instructor" / "rubric.json").read_text())["parts"]
    intact, partial = rows["sample"], rows["sample-broken-fully-connected-networks"]
    assert all(float(intact[part]) == points for part, points in parts.items()), intact
    assert float(partial["fully_connected_networks"]) == 0, partial
    assert all(float(partial[part]) == points for part, points in parts.items()
               if part != "fully_connected_networks"), partial
    assert 0 < float(partial["total"]) < float(intact["total"])
    assert "sample submission" in intact["problems"]
    assert (tmp_path / "feedback" / "sample.txt").is_file()
    assert (tmp_path / "feedback" / "sample-broken-fully-connected-networks.txt").is_file()
