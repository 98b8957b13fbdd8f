"""The benchmark command runs end to end (quick settings) and writes its JSON."""
import argparse
import json
import os
import subprocess
import sys

import pytest
import torch

from helpers.utils import KIT_ROOT


@pytest.mark.cifar10
def test_quick_benchmark_writes_every_figure(tmp_path):
    env = dict(os.environ, KIT_RESULTS_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "instructor.benchmarks", "--quick"],
        cwd=KIT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "two-layer net vs torch.nn (s/epoch)" in result.stdout
    figures = json.loads((tmp_path / "benchmarks.json").read_text())
    for name in ("svm", "softmax"):
        assert figures["losses"][name]["speedup"] > 1, (
            f"the vectorized {name} loss beats the naive one"
        )
    assert figures["two_layer_net"]["kit_seconds"] > 0 and figures["two_layer_net"]["ratio"] > 0
    assert figures["fully_connected_net"]["ratio"] > 0
    assert figures["cifar10"]["load_and_preprocess_s"] > 0
    assert figures["settings"]["dtype"] == "float32" and figures["settings"]["quick"] is True


def test_cuda_without_a_gpu_is_refused(monkeypatch, capsys):
    from instructor.benchmarks.__main__ import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a machine without a GPU
    assert main(["--device", "cuda"]) == 2
    assert "no CUDA device is available" in capsys.readouterr().err


def test_hog_counts_are_parsed_and_hogs_are_killed():
    from instructor.benchmarks.__main__ import hog_count
    from instructor.benchmarks.load import cpu_hogs, default_hog_count

    assert hog_count("auto") == default_hog_count() and hog_count("2") == 2
    with pytest.raises(argparse.ArgumentTypeError, match="expected a number of hogs"):
        hog_count("-1")
    with cpu_hogs(2) as pids:
        assert all(os.path.exists(f"/proc/{pid}") for pid in pids)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in pids), "hogs are killed at the end"
