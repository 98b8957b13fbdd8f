"""Checks of the given code behind the two-layer-net notebook.

helpers/torch_nn_twins.py (the torch.nn + autograd + torch.optim twin, the side-by-side loss
check and timing), helpers/studies/two_layer_net.py (parameter studies),
helpers/studies/evaluation.py (the evaluator), and the given training loop ``nn_train`` and
class ``TwoLayerNet`` of assignment/two_layer_net.py (on the reference solutions: the students'
self-check exercises one student function per check), on toy data so that they run in about a
second.
"""
import warnings

import pytest
import torch

from assignment.two_layer_net import TwoLayerNet, nn_forward_backward, nn_predict, nn_train
from helpers.checkpoint import load_model
from helpers.data import subsample
from helpers.gradcheck import rel_error
from helpers.studies.evaluation import comparison_table, evaluate
from helpers.studies.two_layer_net import (
    STUDY_PARAMETERS,
    append_bias_column,
    best_value,
    make_toy_data,
    make_toy_params,
    make_toy_split,
    parameter_study,
    retrain_with_mirrored_images,
    search_series,
    search_table,
    study_series,
)
from helpers.torch_nn_twins import (
    TorchTwoLayerNet,
    sgd_losses_side_by_side,
    time_per_epoch,
    torch_train,
)

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


# ------------------------------------------- nn_train and TwoLayerNet (given) ---

def train_toy(device, dtype, learning_rate=0.5, num_iters=300, seed=0):
    toy = make_toy_split(120, 60, input_size=4, num_classes=3, seed=seed, dtype=dtype,
                         device=device)
    X, y, X_val, y_val = toy["X_train"], toy["y_train"], toy["X_val"], toy["y_val"]
    torch.manual_seed(seed)
    net = TwoLayerNet(4, 10, 3, dtype=dtype, device=device, std=1e-1)
    stats = net.train(X, y, X_val, y_val, learning_rate=learning_rate, reg=1e-4,
                      num_iters=num_iters, batch_size=30)
    return net, stats, (X, y, X_val, y_val)


def test_training_on_toy_data_learns(device_dtype):
    device, dtype = device_dtype
    net, stats, (X, y, X_val, y_val) = train_toy(device, dtype)
    losses = torch.tensor(stats["loss_history"])
    assert losses.shape == (300,), f"expected 300 losses, got {losses.shape[0]}"
    assert losses[0] > 1.0, f"the toy net should start near log(3) = 1.1, got {losses[0]:.3f}"
    assert losses[-20:].mean() < 0.2 * losses[0], \
        f"the loss should fall: first {losses[0]:.3f}, last {losses[-20:].mean():.3f}"
    assert len(stats["train_acc_history"]) == 75 and len(stats["val_acc_history"]) == 75, \
        "accuracies are recorded once per epoch (120 / 30 = 4 iterations)"
    assert stats["val_acc_history"][-1] > 0.9 > stats["val_acc_history"][0] - 0.3, \
        f"val accuracy should rise above 0.9, got {stats['val_acc_history'][-1]:.2f}"
    assert (net.predict(X_val) == y_val).double().mean() > 0.9, \
        "the trained net should fit the blobs"


def test_learning_rate_decays_once_per_epoch():
    # With learning_rate_decay = 0 every step after the first epoch is 0: the
    # parameters must then stay exactly as they were after that epoch.
    X, y = make_toy_data(40, seed=2)
    params = make_toy_params(seed=2)
    nn_train(params, nn_forward_backward, nn_predict, X, y, X, y, learning_rate=0.1,
             learning_rate_decay=0.0, num_iters=4, batch_size=10)
    after_one_epoch = {name: value.clone() for name, value in params.items()}
    assert not torch.equal(after_one_epoch["W1"], make_toy_params(seed=2)["W1"]), \
        "the first epoch must change the weights"
    params_long = make_toy_params(seed=2)
    torch.manual_seed(0)
    nn_train(params_long, nn_forward_backward, nn_predict, X, y, X, y, learning_rate=0.1,
             learning_rate_decay=0.0, num_iters=12, batch_size=10)
    torch.manual_seed(0)
    params_short = make_toy_params(seed=2)
    nn_train(params_short, nn_forward_backward, nn_predict, X, y, X, y, learning_rate=0.1,
             learning_rate_decay=0.0, num_iters=4, batch_size=10)
    for name in PARAM_NAMES:
        assert torch.equal(params_long[name], params_short[name]), \
            f"{name} changed after the rate decayed to 0 at the end of the first epoch"


def test_divergence_stops_with_a_warning(device_dtype):
    device, dtype = device_dtype
    with pytest.warns(RuntimeWarning, match=r"iteration \d+.*learning rate 1e\+08"):
        _, stats, _ = train_toy(device, dtype, learning_rate=1e8, num_iters=500)
    losses = stats["loss_history"]
    assert len(losses) < 100, f"training should stop early, ran {len(losses)} iterations"
    assert torch.isfinite(torch.tensor(losses, dtype=torch.float64)).all(), \
        "the history must hold only finite losses"


def test_bad_training_arguments_raise():
    X, y = make_toy_data(20)
    params = make_toy_params()
    with pytest.raises(ValueError, match="batch_size"):
        nn_train(params, nn_forward_backward, nn_predict, X, y, X, y, batch_size=0)
    with pytest.raises(ValueError, match="same number"):
        nn_train(params, nn_forward_backward, nn_predict, X, y[:-1], X, y)
    with pytest.raises(ValueError):
        nn_forward_backward(params, X, y[:5])


def test_save_load_round_trip(tmp_path, device_dtype):
    device, dtype = device_dtype
    torch.manual_seed(0)
    net = TwoLayerNet(12, 7, 5, dtype=dtype, device=device, std=1.0)
    net.params["b1"] += torch.randn(7, dtype=dtype, device=device)
    net.save(tmp_path / "net.pt")
    other = TwoLayerNet(12, 7, 5, dtype=dtype, device=device)
    other.load(tmp_path / "net.pt")
    for name in PARAM_NAMES:
        assert torch.equal(other.params[name], net.params[name]), f"{name} changed in save/load"
    X = torch.randn(30, 12, dtype=dtype, device=device)
    assert torch.equal(other.predict(X), net.predict(X)), "the loaded net must predict the same"
    config, params = load_model(tmp_path / "net.pt", kind="two_layer_net")
    assert config == {"input_size": 12, "hidden_size": 7, "output_size": 5}, config
    assert set(params) == set(PARAM_NAMES), "the file must hold the parameters"


def test_init_default_is_tiny_normal_and_none_is_nn_linear():
    torch.manual_seed(0)
    default = TwoLayerNet(3072, 100, 10).params
    torch.manual_seed(0)
    expected_W1, expected_W2 = 1e-4 * torch.randn(3072, 100), 1e-4 * torch.randn(100, 10)
    assert torch.equal(default["W1"], expected_W1) and torch.equal(default["W2"], expected_W2), \
        "the default init (std=1e-4) must stay 1e-4 * randn, drawn W1 then W2"
    assert not default["b1"].any() and not default["b2"].any(), "default biases are zeros"
    torch.manual_seed(0)
    net = TwoLayerNet(3072, 100, 10, dtype=torch.float64, std=None).params
    for name, fan_in in (("W1", 3072), ("b1", 3072), ("W2", 100), ("b2", 100)):
        bound = fan_in ** -0.5
        assert net[name].dtype == torch.float64
        assert net[name].abs().max() <= bound, f"{name} must lie in +-1/sqrt({fan_in})"
        assert net[name].abs().max() > 0.9 * bound, f"{name} must fill +-1/sqrt({fan_in})"
    for name, fan_in in (("W1", 3072), ("W2", 100)):   # uniform: std = bound / sqrt(3)
        std = fan_in ** -0.5 / 3 ** 0.5
        assert abs(net[name].std().item() - std) < 0.05 * std, f"{name} is not uniform"


RUNS = [{"learning_rate": 0.5, "hidden_size": 8, "reg": 1e-4, "learning_rate_decay": 0.9,
         "val_acc": 0.61},
        {"learning_rate": 1e9, "hidden_size": 8, "reg": 1e-4, "learning_rate_decay": 0.9,
         "val_acc": 0.0},
        {"learning_rate": 0.1, "hidden_size": 16, "reg": 1e-3, "learning_rate_decay": 0.95,
         "val_acc": 0.72}]


def test_search_table_lists_every_run_best_first():
    lines = search_table(RUNS).splitlines()
    assert len(lines) == 1 + len(RUNS)
    assert "val accuracy" in lines[0] and lines[1].endswith("0.7200")
    assert lines[-1].split()[:2] == ["1e+09", "8"] and lines[-1].endswith("diverged")


def test_search_series_pairs_each_parameter_with_the_accuracies():
    series = search_series(RUNS)
    assert list(series) == ["learning rate", "hidden size", "reg", "decay"]
    assert series["hidden size"] == ([8, 8, 16], [0.61, 0.0, 0.72])


def test_retraining_with_mirrors_doubles_the_data_and_uses_the_config():
    data = make_toy_split(num_train=40, num_val=20, input_size=3072, num_classes=10, seed=0,
                          dtype=torch.float32)
    config = {"learning_rate": 0.05, "hidden_size": 12, "reg": 1e-4, "learning_rate_decay": 0.5}
    net, stats = retrain_with_mirrored_images(data, config, num_epochs=3, batch_size=20)
    assert net.params["W1"].shape == (3072, 12)
    assert len(stats["loss_history"]) == 3 * (80 // 20), "3 passes over 80 images (40 + mirrors)"
    assert len(stats["val_acc_history"]) == 3
    again, _ = retrain_with_mirrored_images(data, config, num_epochs=3, batch_size=20)
    assert torch.equal(net.params["W2"], again.params["W2"]), "seeded: the same net twice"
