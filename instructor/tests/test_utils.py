"""Seeds, quick mode, saved paths and the metrics file."""
import json
import time

import pytest
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


def test_a_floor_is_an_assertion_in_the_kits_runs(monkeypatch):
    monkeypatch.setenv("KIT_STRICT_FLOORS", "1")
    assert utils.expect_accuracy(0.60, 0.57, "best net", "Train longer.")
    with pytest.raises(AssertionError, match=r"best net: test accuracy 0.5500 is below 0.57"):
        utils.expect_accuracy(0.55, 0.57, "best net", "Train longer.")


def test_a_floor_only_warns_a_student_and_says_what_to_try(monkeypatch):
    monkeypatch.delenv("KIT_STRICT_FLOORS", raising=False)
    with pytest.warns(UserWarning, match=r"below 0.57.*Train longer\."):
        assert utils.expect_accuracy(0.55, 0.57, "best net", "Train longer.") is False


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
    assert utils.record_metrics("nb_b", acc=0.1) is None, "a cell ending with it shows nothing"
    metrics = json.loads(utils.metrics_path().read_text())
    assert metrics["nb_a"] == {"acc": 0.5, "per_class": [0.25, 0.75], "time_s": 1.234568,
                               "quick_mode": True}
    assert metrics["nb_b"]["acc"] == 0.1
    assert not list(tmp_path.glob("*.tmp")), "no temporary file is left behind"


def test_kit_seed_shifts_every_seed(monkeypatch):
    monkeypatch.setenv("KIT_SEED", "2")
    utils.reset_seed(1)
    shifted = torch.randn(4)
    monkeypatch.delenv("KIT_SEED")
    utils.reset_seed(3)
    assert torch.equal(shifted, torch.randn(4)), "KIT_SEED=2 with seed 1 is seed 3"
    monkeypatch.setenv("KIT_SEED", "two")
    with pytest.raises(ValueError, match="KIT_SEED must be an integer"):
        utils.reset_seed(0)


def test_thread_count_can_be_forced_and_is_never_below_one(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("KIT_THREADS", "1")
        assert utils.configure_cpu_threads() == 1 and torch.get_num_threads() == 1
        assert utils.configure_cpu_threads(2) == 2, "an argument wins over KIT_THREADS"
        monkeypatch.delenv("KIT_THREADS")
        chosen = utils.configure_cpu_threads()
        assert 1 <= chosen <= max(utils.available_cores(), 1)
        with pytest.raises(ValueError, match="at least 1"):
            utils.configure_cpu_threads(0)
    finally:
        torch.set_num_threads(before)


def test_busy_cores_sees_cpu_hogs():
    from instructor.benchmarks.load import cpu_hogs

    with cpu_hogs(3):
        time.sleep(0.5)   # let the hogs start running
        assert utils.busy_cores() >= 2, "three busy-looping processes keep at least 2 cores busy"


def test_a_timing_with_scattered_rounds_is_unreliable():
    assert not utils.timing_is_unreliable({"kit": [1.0, 1.05, 1.1], "torch": [2.0, 2.1, 2.0]})
    assert utils.timing_is_unreliable({"kit": [1.0, 3.0, 2.9], "torch": [2.0, 2.1, 2.0]})
    assert not utils.timing_is_unreliable({"kit": [1.0]}), "one round cannot be judged"


def test_show_run_mode_prints_outside_a_notebook(monkeypatch, capsys):
    monkeypatch.setenv("KIT_QUICK", "1")
    assert utils.run_mode_record() == {"quick_mode": True, "KIT_QUICK": "1"}
    utils.show_run_mode()
    assert capsys.readouterr().out.startswith("quick mode: True (KIT_QUICK=1")
    monkeypatch.setenv("KIT_QUICK", "0")
    assert utils.run_mode_record()["quick_mode"] is False
    utils.show_run_mode()
    assert capsys.readouterr().out == "quick mode: False\n"


def test_shown_path_never_shows_a_path_of_the_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_SAVED_DIR", str(tmp_path / "saved"))
    monkeypatch.delenv("KIT_RESULTS_DIR", raising=False)
    assert utils.shown_path(utils.KIT_ROOT / "saved" / "svm_best.pt") == "saved/svm_best.pt"
    assert utils.shown_path(tmp_path / "saved" / "fc.pt") == "$KIT_SAVED_DIR/fc.pt"
    assert utils.shown_path(tmp_path / "elsewhere" / "x.pt") == "x.pt"
