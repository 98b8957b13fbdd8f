"""Without CIFAR-10 and without a network, the test run, the main job and the grader stop at
once with the data loader's message: where it looked, why the download failed, how to fix it.

The network is cut for the download alone by a proxy that refuses every connection (urllib,
which torchvision downloads with, follows ``http_proxy`` / ``https_proxy``).
"""
import os
import subprocess
import sys

import pytest

from helpers.utils import KIT_ROOT

NO_NETWORK = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
              "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
              "no_proxy": "", "NO_PROXY": ""}
MESSAGE = ("CIFAR-10 not found: looked in", "The download failed:", "To fix it,")


def run_without_data(tmp_path, *args):
    """Start ``python *args`` in the kit with CIFAR10_ROOT an empty folder and no network."""
    empty = tmp_path / f"empty-{len(list(tmp_path.iterdir()))}"
    empty.mkdir()
    env = {**os.environ, **NO_NETWORK, "CIFAR10_ROOT": str(empty)}
    return subprocess.Popen([sys.executable, *args], cwd=KIT_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT), empty


@pytest.mark.long  # three runs side by side: 70 s on 2 busy cores
def test_without_data_the_test_run_the_main_job_and_the_grader_stop_at_once(tmp_path):
    zips = tmp_path / "zips"
    zips.mkdir()
    (zips / "s01_submission.zip").write_bytes(b"never read")
    runs = {   # side by side: each is mostly the import of torch
        "pytest": run_without_data(tmp_path, "-m", "pytest", "-p", "no:cacheprovider",
                                   "instructor/tests/test_data.py", "tests/assignment"),
        "main job": run_without_data(tmp_path, "-m", "instructor.run_notebooks", "--quick",
                                     "--out", str(tmp_path / "results")),
        "grader": run_without_data(tmp_path, "-m", "instructor.grade", str(zips),
                                   "--out", str(tmp_path / "grades.csv")),
    }
    outputs = {}
    for name, (process, empty) in runs.items():
        outputs[name], _ = process.communicate(timeout=300)
        output = outputs[name]
        assert process.returncode not in (0, None), f"{name} did not fail:\n{output[-2000:]}"
        assert all(part in output for part in MESSAGE), f"{name}:\n{output[-2000:]}"
        assert output.count("CIFAR-10 not found") == 1, f"{name} said it twice:\n{output}"
        assert not list(empty.iterdir()), f"{name} left files in {empty}"
    assert runs["pytest"][0].returncode == 4 and "no tests ran" in outputs["pytest"], \
        "pytest stops before the first test, even those that need no data"
    assert runs["main job"][0].returncode == 2 and runs["grader"][0].returncode == 2
    assert not (tmp_path / "grades.csv").exists() and not (tmp_path / "results").exists()
