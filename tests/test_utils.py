"""Seeds, quick mode, saved paths and the metrics file."""
import json

import torch

from helpers import utils


def test_reset_seed_makes_runs_repeatable():
    utils.reset_seed(3)
    first = torch.randn(4)
    utils.reset_seed(3)
    assert torch.equal(first, torch.randn(4))


def test_quick_mode_follows_the_environment(monkeypatch):
    monkeypatch.setenv("KIT_QUICK", "1")
    assert utils.quick_mode()
    monkeypatch.setenv("KIT_QUICK", "0")
    assert not utils.quick_mode()
    monkeypatch.delenv("KIT_QUICK")
    assert not utils.quick_mode()


def test_default_device_matches_cuda_availability():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert utils.default_device().type == expected


def test_saved_path_uses_the_saved_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_SAVED_DIR", str(tmp_path / "models"))
    path = utils.saved_path("net.pt")
    assert path == tmp_path / "models" / "net.pt" and path.parent.is_dir()


def test_record_metrics_merges_and_converts(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("KIT_QUICK", "1")
    utils.record_metrics("nb_a", acc=torch.tensor(0.5), per_class=torch.tensor([0.25, 0.75]))
    utils.record_metrics("nb_a", time_s=1.2345678)
    path = utils.record_metrics("nb_b", acc=0.1)
    metrics = json.loads(path.read_text())
    assert metrics["nb_a"] == {"acc": 0.5, "per_class": [0.25, 0.75], "time_s": 1.234568,
                               "quick_mode": True}
    assert metrics["nb_b"]["acc"] == 0.1
    assert not list(tmp_path.glob("*.tmp")), "no temporary file is left behind"
