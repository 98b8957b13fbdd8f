"""Checks of assignment/two_layer_net.py (Task 2: two-layer net, softmax, minibatch SGD).

Each check runs one function of yours alone: the others are given stand-ins meanwhile
(``helpers/stand_ins.py``; e.g. ``nn_forward_backward`` is checked with a stand-in forward
pass, ``find_best_net`` trains nets whose every step is a stand-in). Checks marked
``composed=True`` use your own parts. Every check runs on CPU in float32 and float64 (and on
CUDA when present); gradients are compared with autograd and with numeric derivatives.
"""
import functools
import warnings

import pytest
import torch
import torch.nn.functional as F

from assignment import two_layer_net as tln
from assignment.two_layer_net import (
    TwoLayerNet,
    find_best_net,
    nn_forward_backward,
    nn_forward_pass,
    nn_get_search_params,
    nn_predict,
    nn_sample_batch,
    nn_sgd_step,
)
from helpers import gradcheck, stand_ins
from helpers.gradcheck import compute_numeric_gradient, rel_error
from helpers.i18n import _
from helpers.stand_ins import isolate
from helpers.studies.two_layer_net import make_toy_data, make_toy_params, make_toy_split
from helpers.torch_nn_twins import autograd_loss_and_grads

PARAM_NAMES = ("W1", "b1", "W2", "b2")
CONFIG_KEYS = {"learning_rate", "hidden_size", "reg", "learning_rate_decay"}


@pytest.fixture(autouse=True)
def alone(request, monkeypatch):
    """Every function of yours but the one a check is marked with is a given stand-in."""
    isolate(request.node, monkeypatch)


# Largest accepted relative error between two computations of the same values.
tolerance = functools.partial(gradcheck.tolerance, float64=1e-7, float32=1e-4)


def toy_problem(device, dtype, num_inputs=7, seed=0):
    params = make_toy_params(input_size=5, hidden_size=6, num_classes=4, seed=seed,
                             dtype=dtype, device=device)
    X, y = make_toy_data(num_inputs, input_size=5, num_classes=4, seed=seed, dtype=dtype,
                         device=device)
    return params, X, y


# ---------------------------------------------------------------------------
# Forward pass
# ---------------------------------------------------------------------------

@pytest.mark.student("nn_forward_pass")
def test_forward_pass_matches_the_formula(device_dtype):
    device, dtype = device_dtype
    params, X, _y = toy_problem(device, dtype)
    scores, hidden = nn_forward_pass(params, X)
    expected_hidden = F.relu(X @ params["W1"] + params["b1"])
    expected_scores = expected_hidden @ params["W2"] + params["b2"]
    assert scores.shape == (7, 4) and hidden.shape == (7, 6), (
        _("expected scores [7, 4] and hidden [7, 6], "
          "got {scores_shape} and {hidden_shape}").format(
            scores_shape=tuple(scores.shape), hidden_shape=tuple(hidden.shape))
    )
    assert scores.dtype == dtype and scores.device.type == torch.device(device).type, \
        _("scores must keep the dtype and device of the inputs")
    assert (hidden == 0).any() and (hidden > 0).any(), \
        _("the toy problem should hit both ReLU sides")
    assert rel_error(hidden, expected_hidden) < tolerance(dtype), (
        _("hidden differs from relu(X W1 + b1)")
    )
    assert rel_error(scores, expected_scores) < tolerance(dtype), (
        _("scores differ from hidden W2 + b2")
    )


# ---------------------------------------------------------------------------
# Loss and backward pass: the common mistakes first, then the comparisons
# ---------------------------------------------------------------------------

@pytest.mark.student("nn_forward_backward")
def test_loss_is_a_scalar_and_grads_are_like_the_params(device_dtype):
    device, dtype = device_dtype
    params, X, y = toy_problem(device, dtype)
    loss, grads = nn_forward_backward(params, X, y, 0.05)
    assert torch.is_tensor(loss) and loss.dim() == 0, _("the loss must be a 0-dim tensor")
    assert set(grads) == set(PARAM_NAMES), \
        _("grads must have keys {names}, got {keys}").format(names=PARAM_NAMES, keys=sorted(grads))
    for name in PARAM_NAMES:
        assert grads[name].shape == params[name].shape, \
            _("d{name} has shape {shape}, expected {expected}").format(
                name=name, shape=tuple(grads[name].shape), expected=tuple(params[name].shape))
        assert grads[name].dtype == dtype, \
            _("d{name} must keep the dtype {dtype}").format(name=name, dtype=dtype)


@pytest.mark.student("nn_forward_backward")
def test_loss_of_a_batch_is_the_mean_of_its_examples():
    params, X, y = toy_problem("cpu", torch.float64, num_inputs=9, seed=3)
    loss, grads = nn_forward_backward(params, X, y, 0.0)
    singles = [nn_forward_backward(params, X[i:i + 1], y[i:i + 1], 0.0) for i in range(9)]
    mean_loss = torch.stack([single[0] for single in singles]).mean()
    assert rel_error(loss, mean_loss) < 1e-9, \
        _("the loss of a batch of 9 examples ({loss:.4g}) is not the mean of their losses "
          "one at a time ({mean_loss:.4g}): a sum, mean or max runs over the wrong axis. "
          "Average over the examples (dim 0); sum, max and softmax run over the classes (dim "
          "1)").format(loss=loss.item(), mean_loss=mean_loss.item())
    for name in PARAM_NAMES:
        mean_grad = torch.stack([single[1][name] for single in singles]).mean(dim=0)
        assert rel_error(grads[name], mean_grad) < 1e-9, \
            _("d{name} of a batch must be the mean of the examples' d{name}: "
              "dscores = (P - Y) / N, and the bias gradients sum over the examples (dim 0)").format(
                name=name)


@pytest.mark.student("nn_forward_backward")
def test_regularization_gradient_is_two_reg_w(device_dtype):
    device, dtype = device_dtype
    params, X, y = toy_problem(device, dtype)
    loss_plain, plain = nn_forward_backward(params, X, y, 0.0)
    loss_reg, regularized = nn_forward_backward(params, X, y, 0.3)
    term = 0.3 * ((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum())
    assert rel_error(loss_reg - loss_plain, term) < tolerance(dtype) * 10, \
        _("with reg the loss must add reg * (sum(W1 * W1) + sum(W2 * W2))")
    for name in ("W1", "W2"):
        added = regularized[name] - plain[name]
        assert rel_error(regularized[name], plain[name]) > tolerance(dtype), \
            _("d{name} misses the regularization gradient: add 2 * reg * {name}").format(name=name)
        assert rel_error(added, 0.3 * params[name]) > tolerance(dtype) * 10, \
            _("the regularization gradient of {name} is 2 * reg * {name}, not reg * {name}").format(
                name=name)
        assert rel_error(added, 0.6 * params[name]) < tolerance(dtype) * 10, \
            _("the reg part of d{name} must be 2 * reg * {name}").format(name=name)
    for name in ("b1", "b2"):
        assert rel_error(regularized[name], plain[name]) < tolerance(dtype), \
            _("biases are not regularized: d{name} must not change with reg").format(name=name)


@pytest.mark.student("nn_forward_backward")
def test_loss_is_numerically_stable(device_dtype):
    device, dtype = device_dtype
    params, X, y = toy_problem(device, dtype)
    params["b2"] = params["b2"] + torch.tensor([1000.0, 0.0, -1000.0, 500.0], dtype=dtype,
                                               device=device)
    loss, grads = nn_forward_backward(params, X, y, 0.0)
    scores = stand_ins.nn_forward_pass(params, X)[0]
    expected = F.cross_entropy(scores, y)
    assert not torch.isnan(loss), \
        _("scores of +-1000 give a nan loss: exp overflows. Subtract each row's maximum score "
          "first")
    assert torch.isfinite(loss), \
        _("scores of +-1000 give an inf loss: a probability underflows to 0 and -log(0) = inf. "
          "Never take the log of p: log p = (s - m) - log(sum_k exp(s_k - m)), m the row maximum")
    assert all(torch.isfinite(g).all() for g in grads.values()), \
        _("scores of +-1000 must give finite gradients (subtract the row maximum)")
    assert rel_error(loss, expected) < tolerance(dtype), _("loss with large scores is wrong")


@pytest.mark.student("nn_forward_backward")
@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_loss_matches_cross_entropy(device_dtype, reg):
    device, dtype = device_dtype
    params, X, y = toy_problem(device, dtype)
    loss, _grads = nn_forward_backward(params, X, y, reg)
    # F.cross_entropy + reg * sum(W * W)
    expected, _expected_grads = autograd_loss_and_grads(params, X, y, reg)
    err = rel_error(loss, expected)
    assert err < tolerance(dtype), \
        _("loss {loss:.6f} differs from cross_entropy "
"{expected:.6f} (rel_error {err:.2e})").format(loss=loss.item(), expected=expected.item(), err=err)


@pytest.mark.student("nn_forward_backward")
@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_gradients_match_autograd(device_dtype, reg):
    device, dtype = device_dtype
    params, X, y = toy_problem(device, dtype)
    _loss, grads = nn_forward_backward(params, X, y, reg)
    _expected_loss, expected_grads = autograd_loss_and_grads(params, X, y, reg)
    for name in PARAM_NAMES:
        err = rel_error(grads[name], expected_grads[name])
        assert err < tolerance(dtype), \
            _("d{name} differs from autograd: rel_error {err:.2e}").format(name=name, err=err)


@pytest.mark.student("nn_forward_backward")
@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_gradients_match_numeric_gradients(reg):
    params, X, y = toy_problem("cpu", torch.float64, num_inputs=5, seed=1)
    _loss, grads = nn_forward_backward(params, X, y, reg)
    for name in PARAM_NAMES:
        def loss_of(_):
            return nn_forward_backward(params, X, y, reg)[0]

        numeric = compute_numeric_gradient(loss_of, params[name], h=1e-6)
        err = rel_error(grads[name], numeric)
        assert err < 1e-7, \
            _("d{name} differs from the numeric gradient: rel_error {err:.2e}").format(
                name=name, err=err)


@pytest.mark.student("nn_forward_backward")
def test_scores_without_labels_and_mismatched_labels():
    params, X, y = toy_problem("cpu", torch.float64)
    scores = nn_forward_backward(params, X)
    assert torch.equal(scores, tln.nn_forward_pass(params, X)[0]), \
        _("with y=None, nn_forward_backward must return the scores")
    with pytest.raises(ValueError):
        nn_forward_backward(params, X, y[:-1], 0.0)


@pytest.mark.student("nn_forward_backward", composed=True)
@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_loss_and_gradients_with_your_forward_pass(reg):
    params, X, y = toy_problem("cpu", torch.float64, seed=2)
    loss, grads = nn_forward_backward(params, X, y, reg)
    expected_loss, expected_grads = autograd_loss_and_grads(params, X, y, reg)
    assert rel_error(loss, expected_loss) < 1e-7, _("with your nn_forward_pass the loss is wrong")
    for name in PARAM_NAMES:
        err = rel_error(grads[name], expected_grads[name])
        assert err < 1e-7, \
            _("with your nn_forward_pass d{name} differs from autograd: {err:.2e}").format(
                name=name, err=err)


# ---------------------------------------------------------------------------
# Prediction, minibatches, SGD step, search grid
# ---------------------------------------------------------------------------

@pytest.mark.student("nn_predict")
def test_predict_is_argmax_of_scores(device_dtype):
    device, dtype = device_dtype
    params, X, _y = toy_problem(device, dtype, num_inputs=20)
    y_pred = nn_predict(params, stand_ins.nn_forward_backward, X)
    scores = stand_ins.nn_forward_pass(params, X)[0]
    assert y_pred.dtype == torch.int64 and y_pred.shape == (20,), \
        _("predictions must be int64 [20], got {y_pred_dtype} {y_pred_shape}").format(
            y_pred_dtype=y_pred.dtype, y_pred_shape=tuple(y_pred.shape))
    assert torch.equal(y_pred, scores.argmax(dim=1)), \
        _("predictions must be the argmax of the scores that loss_func(params, X) returns")


@pytest.mark.student("nn_sample_batch")
def test_sample_batch_draws_matching_rows(device_dtype):
    device, dtype = device_dtype
    X = torch.arange(50, dtype=dtype, device=device).repeat(3, 1).t().contiguous()  # row i = i
    y = torch.arange(50, device=device)
    torch.manual_seed(0)
    X_batch, y_batch = nn_sample_batch(X, y, 50, 200)
    assert X_batch.shape == (200, 3) and y_batch.shape == (200,), _("batch shapes are wrong")
    assert X_batch.device == X.device and X_batch.dtype == dtype, (
        _("the batch must stay on X's device")
    )
    assert torch.equal(X_batch[:, 0].long(), y_batch), _("each X row must come with its own label")
    assert y_batch.unique().numel() > 30, _("the batch should cover many different examples")
    X_small, _y_small = nn_sample_batch(X, y, 10, 100)
    assert X_small[:, 0].max() < 10, _("indices must stay below num_train")


@pytest.mark.student("nn_sgd_step")
def test_sgd_step_updates_in_place(device_dtype):
    device, dtype = device_dtype
    params = make_toy_params(dtype=dtype, device=device)
    before = {name: value.clone() for name, value in params.items()}
    tensors = {name: value for name, value in params.items()}
    grads = make_toy_params(seed=1, dtype=dtype, device=device)
    nn_sgd_step(params, grads, 0.5)
    for name in PARAM_NAMES:
        assert params[name] is tensors[name], _("{name} must be updated in place").format(name=name)
        err = rel_error(params[name], before[name] - 0.5 * grads[name])
        assert err < tolerance(dtype), \
            _("{name} must become {name} - learning_rate * d{name}").format(name=name)


@pytest.mark.student("nn_get_search_params")
def test_search_params_are_a_small_grid():
    grid = nn_get_search_params()
    assert len(grid) == 4, _("return (learning_rates, hidden_sizes, regs, learning_rate_decays)")
    learning_rates, hidden_sizes, regs, decays = grid
    assert all(len(values) >= 1 for values in grid), _("every list needs at least one value")
    size = len(learning_rates) * len(hidden_sizes) * len(regs) * len(decays)
    assert 2 <= size <= 24, \
        _("the grid has {size} combinations; keep it between 2 and 24").format(size=size)
    assert all(lr > 0 for lr in learning_rates) and all(reg >= 0 for reg in regs), \
        _("learning rates must be positive and regularization strengths non-negative")
    assert all(int(h) == h and h >= 1 for h in hidden_sizes), (
        _("hidden sizes must be positive integers")
    )
    assert all(0 < d <= 1 for d in decays), _("learning-rate decays must be in (0, 1]")


# ---------------------------------------------------------------------------
# The search
# ---------------------------------------------------------------------------

def search_toy_problem():
    """Run find_best_net on blobs with a good, a diverging and a useless learning rate."""
    data = make_toy_split(200, 100, input_size=6, num_classes=4, seed=3, dtype=torch.float32)

    def grid():  # the good rate comes first: the search must keep the best, not the last
        return [0.5, 1e9, 1e-9], [8], [1e-4], [0.95]

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        net, stat, val_acc = find_best_net(data, grid, num_epochs=20, batch_size=50,
                                           verbose=False)
    return data, net, stat, val_acc


def check_search(data, net, stat, val_acc):
    assert isinstance(net, TwoLayerNet), _("find_best_net must return a TwoLayerNet")
    assert net.params["W1"].shape == (6, 8), _("the best net must use the grid's hidden size")
    assert val_acc > 0.8, \
        _("the good learning rate (0.5, the first of three) should win with val acc > 0.8, got "
          "{val_acc:.3f}: keep the net with the highest validation accuracy, not the last "
          "one").format(val_acc=val_acc)
    measured = (net.predict(data["X_val"]) == data["y_val"]).double().mean().item()
    assert abs(measured - val_acc) < 1e-12, \
        _("best_val_acc must be the returned net's val accuracy")
    assert "loss_history" in stat and "val_acc_history" in stat, _("best_stat holds the histories")
    config = stat.get("config")
    assert isinstance(config, dict) and set(config) == CONFIG_KEYS, \
        _("best_stat['config'] must be a dict with the keys {keys}, got {config}").format(
            keys=sorted(CONFIG_KEYS), config=config)
    assert config["learning_rate"] == 0.5 and config["hidden_size"] == 8, \
        _("best_stat['config'] must describe the best net, got {config}").format(config=config)
    runs = stat.get("runs")
    assert isinstance(runs, list) and len(runs) == 3, \
        _("best_stat['runs'] must hold one dict per combination (3 here), got {runs!r}").format(
            runs=runs)
    assert all(isinstance(run, dict) and set(run) == CONFIG_KEYS | {"val_acc"} for run in runs), \
        _("each run must be its config plus 'val_acc', got {run!r}").format(run=runs[0])
    assert [run["learning_rate"] for run in runs] == [0.5, 1e9, 1e-9], \
        _("best_stat['runs'] must follow the order of the grid (itertools.product)")
    assert runs[0]["val_acc"] == val_acc and runs[1]["val_acc"] == 0.0, \
        _("a run's 'val_acc' is its net's validation accuracy, 0.0 for the diverging rate 1e9, "
          "got {accuracies}").format(accuracies=[run['val_acc'] for run in runs])


@pytest.mark.student("find_best_net")
def test_find_best_net_keeps_the_best_and_survives_divergence():
    check_search(*search_toy_problem())


@pytest.mark.student("find_best_net", composed=True)
def test_find_best_net_with_your_training_functions():
    check_search(*search_toy_problem())
