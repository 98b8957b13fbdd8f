"""Checks of the given code behind the two-layer-net notebook.

helpers/reference_models.py (the torch.nn + autograd + torch.optim twin, the
side-by-side loss check and timing) and helpers/nn_studies.py (evaluation and
parameter studies), on toy data so that they run in about a second.
"""
import warnings

import pytest
import torch

from helpers.data import subsample
from helpers.gradcheck import rel_error
from helpers.nn_studies import (STUDY_PARAMETERS, append_bias_column, best_value,
                                comparison_table, evaluate, make_toy_params, make_toy_split,
                                parameter_study, study_series)
from helpers.reference_models import (TorchTwoLayerNet, sgd_losses_side_by_side,
                                      time_per_epoch, torch_train)

PARAM_NAMES = ("W1", "b1", "W2", "b2")
ALL_STUDENT_PARTS = ("nn_forward_pass", "nn_forward_backward", "nn_predict", "nn_sample_batch",
                     "nn_sgd_step")


def test_torch_twin_copies_the_parameters(device):
    params = make_toy_params(input_size=5, hidden_size=6, num_classes=4, device=device)
    model = TorchTwoLayerNet(params)
    back = model.params_dict()
    for name in PARAM_NAMES:
        assert torch.equal(back[name], params[name]), f"{name} must survive the round trip"
    assert model.fc1.weight.dtype == torch.float64, "the twin must take the parameters' dtype"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward", "nn_sgd_step")
def test_same_losses_as_torch_nn_for_the_first_steps():
    data = make_toy_split(200, 10, input_size=6, num_classes=4, seed=0)
    params = make_toy_params(input_size=6, hidden_size=8, num_classes=4, std=0.3)
    check = sgd_losses_side_by_side(params, data["X_train"], data["y_train"], learning_rate=0.3,
                                    reg=1e-2, num_steps=8, batch_size=20)
    assert check["kit_losses"].shape == (8,), "one loss per step"
    assert check["kit_losses"][-1] < check["kit_losses"][0], "the toy loss should fall"
    err = rel_error(check["kit_losses"], check["torch_losses"])
    assert err < 1e-12, f"losses differ from torch.nn + SGD: rel_error {err:.2e}"
    for name in PARAM_NAMES:
        err = rel_error(check["kit_params"][name], check["torch_params"][name])
        assert err < 1e-12, f"{name} after 8 steps differs from torch.optim.SGD: {err:.2e}"


def test_torch_train_learns_and_stops_on_divergence():
    data = make_toy_split(120, 60, seed=1)
    torch.manual_seed(0)
    model = TorchTwoLayerNet(make_toy_params(seed=1))
    stats = torch_train(model, data["X_train"], data["y_train"], data["X_val"], data["y_val"],
                        learning_rate=0.5, reg=1e-4, num_iters=40, batch_size=30)
    assert len(stats["val_acc_history"]) == 10, "accuracies are recorded once per epoch"
    assert stats["val_acc_history"][-1] > 0.9, "the twin should fit the toy blobs"
    model = TorchTwoLayerNet(make_toy_params(seed=1))
    with pytest.warns(RuntimeWarning, match="iteration"):
        stats = torch_train(model, data["X_train"], data["y_train"], data["X_val"],
                            data["y_val"], learning_rate=1e9, num_iters=500, batch_size=30)
    assert len(stats["loss_history"]) < 100, "the twin must stop soon after divergence"


@pytest.mark.student(*ALL_STUDENT_PARTS)
def test_time_per_epoch_reports_both_loops():
    data = make_toy_split(400, 50, seed=2, dtype=torch.float32)
    timing = time_per_epoch(make_toy_params(dtype=torch.float32), data["X_train"],
                            data["y_train"], data["X_val"], data["y_val"], batch_size=50,
                            repeats=2)
    assert len(timing["kit_runs"]) == 2 and len(timing["torch_runs"]) == 2, "two runs each"
    assert timing["kit_seconds"] > 0 and timing["torch_seconds"] > 0, "times must be positive"
    assert abs(timing["ratio"] - timing["kit_seconds"] / timing["torch_seconds"]) < 1e-12, \
        "ratio must be kit / torch"
    assert timing["dtype"] == "float32" and timing["device"] == "cpu", "device and dtype recorded"


@pytest.mark.student("accuracy", "confusion_matrix", "precision_recall")
def test_evaluate_and_comparison_table():
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    result = evaluate(lambda X: X, torch.tensor([0, 1, 1, 1, 2, 0]), y, num_classes=3)
    assert abs(result["accuracy"] - 4 / 6) < 1e-12, "accuracy of 4 right out of 6"
    assert abs(result["macro_recall"] - (0.5 + 1 + 0.5) / 3) < 1e-12, "macro recall is wrong"
    assert abs(result["macro_precision"] - (0.5 + 2 / 3 + 1) / 3) < 1e-12, "macro precision"
    assert result["confusion_matrix"].sum() == 6, "the confusion matrix counts every example"
    table = comparison_table({"model A": result, "longer model name": result})
    assert len(table.splitlines()) == 3 and "0.6667" in table, "one header and one row per model"


def test_small_data_helpers():
    X = torch.randn(5, 3)
    Xb = append_bias_column(X)
    assert Xb.shape == (5, 4) and torch.equal(Xb[:, :3], X) and (Xb[:, 3] == 1).all(), \
        "append_bias_column appends a column of ones"
    data = make_toy_split(20, 10)
    subset = subsample(data, 7)
    assert subset["X_train"].shape[0] == 7 and subset["X_val"] is data["X_val"], \
        "subsample trims only the training split"
    assert not (data["X_train"][:, None] == data["X_val"][None]).all(-1).any(), \
        "toy training and validation points are distinct"


@pytest.mark.student(*ALL_STUDENT_PARTS)
def test_parameter_study_varies_one_parameter():
    data = make_toy_split(120, 60, seed=4, dtype=torch.float32)
    base = {"hidden_size": 10, "learning_rate": 0.5, "num_epochs": 5, "batch_size": 20}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a diverged run must not leak a warning
        study = parameter_study(data, "learning_rate", [1e-4, 0.5, 1e9], base, verbose=False)
    assert study["param"] == "learning_rate" and study["values"] == [1e-4, 0.5, 1e9]
    assert study["diverged"] == [False, False, True], "only the huge rate diverges"
    assert study["val_acc"][1] > 0.8 > study["val_acc"][0], \
        f"0.5 should learn the blobs and 1e-4 should not: {study['val_acc']}"
    assert study["val_acc"][2] == 0.0, "a diverged run scores 0"
    assert best_value(study) == 0.5, "best_value picks the best validation accuracy"
    assert set(study_series(study)) == {"train accuracy", "val accuracy", "val macro precision",
                                        "val macro recall"}
    assert "batch_size" in STUDY_PARAMETERS
    with pytest.raises(ValueError):
        parameter_study(data, "momentum", [0.9, 0.99], base)
