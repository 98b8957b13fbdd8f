"""Checks of assignment/two_layer_net.py (Task 2: two-layer net, softmax, minibatch SGD).

Every check runs on CPU in float32 and float64 (and on CUDA when present);
gradients are compared with autograd and with numeric derivatives.
"""
import warnings

import pytest
import torch
import torch.nn.functional as F

from assignment.two_layer_net import (
    TwoLayerNet, find_best_net, nn_forward_backward, nn_forward_pass, nn_get_search_params,
    nn_predict, nn_sample_batch, nn_sgd_step, nn_train)
from helpers.gradcheck import compute_numeric_gradient, rel_error
from helpers.nn_studies import make_toy_data, make_toy_params, make_toy_split
from helpers.reference_models import autograd_loss_and_grads

PARAM_NAMES = ("W1", "b1", "W2", "b2")


def tolerance(dtype):
    """Largest accepted relative error between two computations of the same values."""
    return 1e-7 if dtype == torch.float64 else 1e-4


def toy_problem(device, dtype, num_inputs=7, seed=0):
    params = make_toy_params(input_size=5, hidden_size=6, num_classes=4, seed=seed,
                             dtype=dtype, device=device)
    X, y = make_toy_data(num_inputs, input_size=5, num_classes=4, seed=seed, dtype=dtype,
                         device=device)
    return params, X, y


@pytest.mark.student("nn_forward_pass")
def test_forward_pass_matches_the_formula(device_dtype):
    device, dtype = device_dtype
    params, X, _ = toy_problem(device, dtype)
    scores, hidden = nn_forward_pass(params, X)
    expected_hidden = F.relu(X @ params["W1"] + params["b1"])
    expected_scores = expected_hidden @ params["W2"] + params["b2"]
    assert scores.shape == (7, 4) and hidden.shape == (7, 6), \
        f"expected scores [7, 4] and hidden [7, 6], got {tuple(scores.shape)} and {tuple(hidden.shape)}"
    assert scores.dtype == dtype and scores.device.type == torch.device(device).type, \
        "scores must keep the dtype and device of the inputs"
    assert (hidden == 0).any() and (hidden > 0).any(), "the toy problem should hit both ReLU sides"
    assert rel_error(hidden, expected_hidden) < tolerance(dtype), "hidden differs from relu(X W1 + b1)"
    assert rel_error(scores, expected_scores) < tolerance(dtype), "scores differ from hidden W2 + b2"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward")
def test_scores_without_labels(device_dtype):
    device, dtype = device_dtype
    params, X, _ = toy_problem(device, dtype)
    scores = nn_forward_backward(params, X)
    expected, _ = nn_forward_pass(params, X)
    assert torch.equal(scores, expected), "with y=None, nn_forward_backward must return the scores"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward")
@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_loss_matches_cross_entropy(device_dtype, reg):
    device, dtype = device_dtype
    params, X, y = toy_problem(device, dtype)
    loss, _ = nn_forward_backward(params, X, y, reg)
    expected, _ = autograd_loss_and_grads(params, X, y, reg)  # F.cross_entropy + reg * sum(W * W)
    assert torch.is_tensor(loss) and loss.dim() == 0, "the loss must be a 0-dim tensor"
    err = rel_error(loss, expected)
    assert err < tolerance(dtype), f"loss {loss.item():.6f} differs from cross_entropy " \
        f"{expected.item():.6f} (rel_error {err:.2e})"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward")
def test_loss_is_numerically_stable(device_dtype):
    device, dtype = device_dtype
    params, X, y = toy_problem(device, dtype)
    params["b2"] = params["b2"] + torch.tensor([1000.0, 0.0, -1000.0, 500.0], dtype=dtype,
                                               device=device)
    loss, grads = nn_forward_backward(params, X, y, 0.0)
    scores = nn_forward_pass(params, X)[0]
    expected = F.cross_entropy(scores, y)
    assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads.values()), \
        "scores of +-1000 must give a finite loss and gradients (subtract the row maximum)"
    assert rel_error(loss, expected) < tolerance(dtype), "loss with large scores is wrong"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward")
@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_gradients_match_autograd(device_dtype, reg):
    device, dtype = device_dtype
    params, X, y = toy_problem(device, dtype)
    loss, grads = nn_forward_backward(params, X, y, reg)
    expected_loss, expected_grads = autograd_loss_and_grads(params, X, y, reg)
    assert set(grads) == set(PARAM_NAMES), f"grads must have keys {PARAM_NAMES}, got {sorted(grads)}"
    assert rel_error(loss, expected_loss) < tolerance(dtype), "loss differs from autograd's"
    for name in PARAM_NAMES:
        assert grads[name].shape == params[name].shape, \
            f"d{name} has shape {tuple(grads[name].shape)}, expected {tuple(params[name].shape)}"
        assert grads[name].dtype == dtype, f"d{name} must keep the dtype {dtype}"
        err = rel_error(grads[name], expected_grads[name])
        assert err < tolerance(dtype), f"d{name} differs from autograd: rel_error {err:.2e}"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward")
@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_gradients_match_numeric_gradients(reg):
    params, X, y = toy_problem("cpu", torch.float64, num_inputs=5, seed=1)
    _, grads = nn_forward_backward(params, X, y, reg)
    for name in PARAM_NAMES:
        def loss_of(_):
            return nn_forward_backward(params, X, y, reg)[0]

        numeric = compute_numeric_gradient(loss_of, params[name], h=1e-6)
        err = rel_error(grads[name], numeric)
        assert err < 1e-7, f"d{name} differs from the numeric gradient: rel_error {err:.2e}"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward")
def test_regularization_gradient_is_two_reg_w(device_dtype):
    device, dtype = device_dtype
    params, X, y = toy_problem(device, dtype)
    _, plain = nn_forward_backward(params, X, y, 0.0)
    _, regularized = nn_forward_backward(params, X, y, 0.3)
    for name in ("W1", "W2"):
        err = rel_error(regularized[name] - plain[name], 0.6 * params[name])
        assert err < tolerance(dtype) * 10, f"the reg part of d{name} must be 2 * reg * {name}"
    for name in ("b1", "b2"):
        assert rel_error(regularized[name], plain[name]) < tolerance(dtype), \
            f"biases are not regularized: d{name} must not change with reg"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward")
def test_mismatched_labels_raise(device_dtype):
    device, dtype = device_dtype
    params, X, y = toy_problem(device, dtype)
    with pytest.raises(ValueError):
        nn_forward_backward(params, X, y[:-1], 0.0)


@pytest.mark.student("nn_forward_pass", "nn_predict")
def test_predict_is_argmax_of_scores(device_dtype):
    device, dtype = device_dtype
    params, X, _ = toy_problem(device, dtype, num_inputs=20)
    y_pred = nn_predict(params, nn_forward_backward, X)
    scores, _ = nn_forward_pass(params, X)
    assert y_pred.dtype == torch.int64 and y_pred.shape == (20,), \
        f"predictions must be int64 [20], got {y_pred.dtype} {tuple(y_pred.shape)}"
    assert torch.equal(y_pred, scores.argmax(dim=1)), "predictions must be the argmax of the scores"


@pytest.mark.student("nn_sample_batch")
def test_sample_batch_draws_matching_rows(device_dtype):
    device, dtype = device_dtype
    X = torch.arange(50, dtype=dtype, device=device).repeat(3, 1).t().contiguous()  # row i = i
    y = torch.arange(50, device=device)
    torch.manual_seed(0)
    X_batch, y_batch = nn_sample_batch(X, y, 50, 200)
    assert X_batch.shape == (200, 3) and y_batch.shape == (200,), "batch shapes are wrong"
    assert X_batch.device == X.device and X_batch.dtype == dtype, "the batch must stay on X's device"
    assert torch.equal(X_batch[:, 0].long(), y_batch), "each X row must come with its own label"
    assert y_batch.unique().numel() > 30, "the batch should cover many different examples"
    X_small, _ = nn_sample_batch(X, y, 10, 100)
    assert X_small[:, 0].max() < 10, "indices must stay below num_train"


@pytest.mark.student("nn_sgd_step")
def test_sgd_step_updates_in_place(device_dtype):
    device, dtype = device_dtype
    params = make_toy_params(dtype=dtype, device=device)
    before = {name: value.clone() for name, value in params.items()}
    tensors = {name: value for name, value in params.items()}
    grads = make_toy_params(seed=1, dtype=dtype, device=device)
    nn_sgd_step(params, grads, 0.5)
    for name in PARAM_NAMES:
        assert params[name] is tensors[name], f"{name} must be updated in place"
        err = rel_error(params[name], before[name] - 0.5 * grads[name])
        assert err < tolerance(dtype), f"{name} must become {name} - learning_rate * d{name}"


def train_toy(device, dtype, learning_rate=0.5, num_iters=300, seed=0):
    toy = make_toy_split(120, 60, input_size=4, num_classes=3, seed=seed, dtype=dtype,
                         device=device)
    X, y, X_val, y_val = toy["X_train"], toy["y_train"], toy["X_val"], toy["y_val"]
    torch.manual_seed(seed)
    net = TwoLayerNet(4, 10, 3, dtype=dtype, device=device, std=1e-1)
    stats = net.train(X, y, X_val, y_val, learning_rate=learning_rate, reg=1e-4,
                      num_iters=num_iters, batch_size=30)
    return net, stats, (X, y, X_val, y_val)


@pytest.mark.student("nn_forward_pass", "nn_forward_backward", "nn_predict",
                     "nn_sample_batch", "nn_sgd_step")
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
    assert (net.predict(X_val) == y_val).double().mean() > 0.9, "the trained net should fit the blobs"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward", "nn_predict",
                     "nn_sample_batch", "nn_sgd_step")
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


@pytest.mark.student("nn_forward_pass", "nn_forward_backward", "nn_sample_batch", "nn_sgd_step")
def test_divergence_stops_with_a_warning(device_dtype):
    device, dtype = device_dtype
    with pytest.warns(RuntimeWarning, match=r"iteration \d+.*learning rate 1e\+08"):
        _, stats, _ = train_toy(device, dtype, learning_rate=1e8, num_iters=500)
    losses = stats["loss_history"]
    assert len(losses) < 100, f"training should stop early, ran {len(losses)} iterations"
    assert torch.isfinite(torch.tensor(losses, dtype=torch.float64)).all(), \
        "the history must hold only finite losses"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward")
def test_bad_training_arguments_raise():
    X, y = make_toy_data(20)
    params = make_toy_params()
    with pytest.raises(ValueError, match="batch_size"):
        nn_train(params, nn_forward_backward, nn_predict, X, y, X, y, batch_size=0)
    with pytest.raises(ValueError, match="same number"):
        nn_train(params, nn_forward_backward, nn_predict, X, y[:-1], X, y)
    with pytest.raises(ValueError):
        nn_forward_backward(params, X, y[:5])


@pytest.mark.student("nn_forward_pass", "nn_predict")
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
    saved = torch.load(tmp_path / "net.pt", weights_only=True)
    assert isinstance(saved, dict) and set(saved) >= set(PARAM_NAMES), \
        "the file must hold a plain dict of the parameters"


@pytest.mark.student("nn_get_search_params")
def test_search_params_are_a_small_grid():
    grid = nn_get_search_params()
    assert len(grid) == 4, "return (learning_rates, hidden_sizes, regs, learning_rate_decays)"
    learning_rates, hidden_sizes, regs, decays = grid
    assert all(len(values) >= 1 for values in grid), "every list needs at least one value"
    size = len(learning_rates) * len(hidden_sizes) * len(regs) * len(decays)
    assert 2 <= size <= 24, f"the grid has {size} combinations; keep it between 2 and 24"
    assert all(lr > 0 for lr in learning_rates) and all(reg >= 0 for reg in regs), \
        "learning rates must be positive and regularization strengths non-negative"
    assert all(int(h) == h and h >= 1 for h in hidden_sizes), "hidden sizes must be positive integers"
    assert all(0 < d <= 1 for d in decays), "learning-rate decays must be in (0, 1]"


@pytest.mark.student("find_best_net", "nn_forward_pass", "nn_forward_backward", "nn_predict",
                     "nn_sample_batch", "nn_sgd_step")
def test_find_best_net_keeps_the_best_and_survives_divergence():
    data = make_toy_split(200, 100, input_size=6, num_classes=4, seed=3, dtype=torch.float32)
    X_val, y_val = data["X_val"], data["y_val"]

    def grid():  # a useless rate, a diverging one and a good one
        return [1e-9, 1e9, 0.5], [8], [1e-4], [0.95]

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        net, stat, val_acc = find_best_net(data, grid, num_epochs=20, batch_size=50,
                                           verbose=False)
    assert isinstance(net, TwoLayerNet), "find_best_net must return a TwoLayerNet"
    assert net.params["W1"].shape == (6, 8), "the best net must use the grid's hidden size"
    assert val_acc > 0.8, f"the good learning rate should win with val acc > 0.8, got {val_acc:.3f}"
    measured = (net.predict(X_val) == y_val).double().mean().item()
    assert abs(measured - val_acc) < 1e-12, "best_val_acc must be the returned net's val accuracy"
    assert "loss_history" in stat and "val_acc_history" in stat, "best_stat holds the histories"
