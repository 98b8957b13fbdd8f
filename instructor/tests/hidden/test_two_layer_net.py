"""Hidden checks of Task 2 (instructor only, never released): other shapes, seeds, dtypes and
arguments than the visible checks, against independent oracles (torch.autograd,
torch.nn.functional, torch.optim), so that answers tuned to the visible checks cannot pass."""
import functools
import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from assignment.two_layer_net import (
    TwoLayerNet,
    find_best_net,
    nn_forward_backward,
    nn_forward_pass,
    nn_get_search_params,
    nn_predict,
    nn_sample_batch,
    nn_sgd_step,
    nn_train,
)
from helpers import gradcheck
from helpers.gradcheck import rel_error

PARAM_NAMES = ("W1", "b1", "W2", "b2")
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64],
                                 ids=["float32", "float64"])
# (N, D, H, C): one example, odd input sizes, a hidden layer of one unit, 2 and 17 classes.
SHAPES = pytest.mark.parametrize("shape", [(1, 9, 4, 17), (6, 9, 1, 2), (5, 7, 3, 17),
                                           (13, 11, 6, 2)], ids=lambda s: "x".join(map(str, s)))


# Largest accepted relative error between the student's values and the oracle's.
tolerance = functools.partial(gradcheck.tolerance, float64=1e-11, float32=1e-4)


def make_params(D, H, C, seed, dtype=torch.float64, scale=0.7):
    """Random weights and (non-zero) biases, so that every gradient is exercised."""
    generator = torch.Generator().manual_seed(seed)

    def normal(*shape):
        return scale * torch.randn(*shape, generator=generator, dtype=dtype)

    return {"W1": normal(D, H), "b1": normal(H), "W2": normal(H, C), "b2": normal(C)}


def make_data(N, D, C, seed, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed + 1000)
    return (torch.randn(N, D, generator=generator, dtype=dtype),
            torch.randint(C, (N,), generator=generator))


def oracle_scores(params, X):
    hidden = F.relu(F.linear(X, params["W1"].t(), params["b1"]))
    return F.linear(hidden, params["W2"].t(), params["b2"]), hidden


def oracle_loss_and_grads(params, X, y, reg):
    """Loss and gradients by torch.autograd on F.linear, F.relu and F.cross_entropy."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    scores, _ = oracle_scores(leaves, X)
    penalty = (leaves["W1"] ** 2).sum() + (leaves["W2"] ** 2).sum()
    loss = F.cross_entropy(scores, y) + reg * penalty
    loss.backward()
    return loss.detach(), {k: leaf.grad for k, leaf in leaves.items()}


@pytest.mark.student("nn_forward_pass")
@SHAPES
@DTYPES
def test_forward_pass_on_other_shapes(shape, dtype):
    N, D, H, C = shape
    params, (X, _) = make_params(D, H, C, seed=N, dtype=dtype), make_data(N, D, C, N, dtype)
    scores, hidden = nn_forward_pass(params, X)
    expected_scores, expected_hidden = oracle_scores(params, X)
    assert tuple(scores.shape) == (N, C) and tuple(hidden.shape) == (N, H), \
        f"for N={N}, D={D}, H={H}, C={C} the scores must be [{N}, {C}] and hidden [{N}, {H}], " \
        f"got {tuple(scores.shape)} and {tuple(hidden.shape)}"
    assert scores.dtype == dtype and hidden.dtype == dtype, f"the outputs must stay in {dtype}"
    assert rel_error(hidden, expected_hidden) < tolerance(dtype), \
        f"hidden differs from relu(X W1 + b1) for N={N}, D={D}, H={H}, C={C}"
    assert rel_error(scores, expected_scores) < tolerance(dtype), \
        f"scores differ from relu(X W1 + b1) W2 + b2 for N={N}, D={D}, H={H}, C={C}"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward")
@SHAPES
@DTYPES
@pytest.mark.parametrize("reg", [0.0, 0.37])
def test_loss_and_gradients_against_autograd(shape, dtype, reg):
    N, D, H, C = shape
    params, (X, y) = make_params(D, H, C, seed=7 * N, dtype=dtype), make_data(N, D, C, 3 * N, dtype)
    loss, grads = nn_forward_backward(params, X, y, reg)
    expected_loss, expected_grads = oracle_loss_and_grads(params, X, y, reg)
    where = f"for N={N}, D={D}, H={H}, C={C}, reg={reg} in {dtype}"
    assert torch.is_tensor(loss) and loss.dim() == 0, "the loss must be a 0-dim tensor"
    assert rel_error(loss, expected_loss) < tolerance(dtype), \
        f"the loss {float(loss):.8f} differs from cross_entropy + L2 " \
        f"{expected_loss.item():.8f} {where}"
    assert set(grads) == set(PARAM_NAMES), f"grads must hold {PARAM_NAMES}, got {sorted(grads)}"
    for name in PARAM_NAMES:
        assert grads[name].shape == params[name].shape and grads[name].dtype == dtype, \
            f"d{name} must have the shape and dtype of {name} {where}"
        err = rel_error(grads[name], expected_grads[name])
        assert err < tolerance(dtype), f"d{name} differs from autograd {where}: rel_error {err:.2e}"
    scores = nn_forward_backward(params, X)
    assert tuple(scores.shape) == (N, C), "without labels the scores [N, C] must come back"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward")
def test_loss_is_stable_for_huge_scores_in_float32():
    params = make_params(9, 5, 17, seed=11, dtype=torch.float32)
    X, y = make_data(8, 9, 17, 11, torch.float32)
    params["W2"] = 3e3 * params["W2"]
    loss, grads = nn_forward_backward(params, X, y, 0.0)
    expected_loss, expected_grads = oracle_loss_and_grads(params, X, y, 0.0)
    assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads.values()), \
        "scores in the thousands must give a finite float32 loss and gradients"
    assert rel_error(loss, expected_loss) < 1e-5, "the loss is wrong for scores in the thousands"
    assert rel_error(grads["W2"], expected_grads["W2"]) < 1e-4, \
        "dW2 is wrong for scores in the thousands"


@pytest.mark.student("nn_predict")
@pytest.mark.parametrize("N", [1, 9])
def test_predict_takes_the_argmax_of_loss_func(N):
    generator = torch.Generator().manual_seed(N)
    scores = torch.randn(N, 17, generator=generator, dtype=torch.float64)
    X = torch.randn(N, 5, generator=generator, dtype=torch.float64)
    calls = []

    def loss_func(params, inputs):
        calls.append(inputs)
        return scores

    y_pred = nn_predict({"unused": None}, loss_func, X)
    assert len(calls) == 1 and calls[0] is X, "nn_predict must call loss_func(params, X) once"
    assert y_pred.dtype == torch.int64 and tuple(y_pred.shape) == (N,), \
        f"predictions must be int64 [{N}], got {y_pred.dtype} {tuple(y_pred.shape)}"
    assert torch.equal(y_pred, torch.argmax(scores, dim=1)), \
        "predictions must be the argmax over the 17 classes of the scores from loss_func"


@pytest.mark.student("nn_predict", "nn_forward_pass", "nn_forward_backward")
@DTYPES
def test_predict_with_the_two_layer_net(dtype):
    params, (X, _) = make_params(7, 3, 2, seed=5, dtype=dtype), make_data(25, 7, 2, 5, dtype)
    y_pred = nn_predict(params, nn_forward_backward, X)
    assert torch.equal(y_pred, oracle_scores(params, X)[0].argmax(dim=1)), \
        "predictions of a 7-3-2 net differ from the argmax of its scores"


@pytest.mark.student("nn_sample_batch")
@DTYPES
def test_sample_batch_respects_num_train_and_keeps_pairs(dtype):
    X = torch.arange(30, dtype=dtype).unsqueeze(1).repeat(1, 7)  # row i holds i: 30 x 7
    y = torch.arange(30)
    torch.manual_seed(5)
    X_batch, y_batch = nn_sample_batch(X, y, 3, 50)
    assert tuple(X_batch.shape) == (50, 7) and tuple(y_batch.shape) == (50,), \
        f"a batch of 50 from 7 features must be [50, 7] and [50], got {tuple(X_batch.shape)}"
    assert X_batch.dtype == dtype and y_batch.dtype == torch.int64, "the batch keeps the dtypes"
    assert torch.equal(X_batch.long(), y_batch.unsqueeze(1).expand(50, 7)), \
        "every row of the batch must come with its own label"
    assert y_batch.max() < 3, "with num_train=3 only the first 3 examples may be drawn"
    assert set(y_batch.tolist()) == {0, 1, 2}, \
        "50 draws with replacement from 3 examples should hit each of them"
    first, _ = nn_sample_batch(X, y, 30, 20)
    second, _ = nn_sample_batch(X, y, 30, 20)
    assert not torch.equal(first, second), "two batches in a row must be drawn at random"


@pytest.mark.student("nn_sample_batch")
def test_sample_batch_from_a_single_example():
    X, y = torch.full((1, 9), 2.5, dtype=torch.float64), torch.tensor([4])
    X_batch, y_batch = nn_sample_batch(X, y, 1, 6)
    assert torch.equal(X_batch, X.expand(6, 9)) and torch.equal(y_batch, y.expand(6)), \
        "with one example, a batch of 6 must be 6 copies of it (drawn with replacement)"


@pytest.mark.student("nn_sgd_step")
@DTYPES
def test_sgd_step_matches_torch_optim_sgd(dtype):
    params = make_params(9, 1, 17, seed=21, dtype=dtype)
    tensors = dict(params)
    leaves = [params[k].clone().requires_grad_(True) for k in PARAM_NAMES]
    optimizer = torch.optim.SGD(leaves, lr=0.037)
    for step in range(3):
        grads = make_params(9, 1, 17, seed=30 + step, dtype=dtype, scale=2.0)
        nn_sgd_step(params, grads, 0.037)
        for leaf, name in zip(leaves, PARAM_NAMES):
            leaf.grad = grads[name].clone()
        optimizer.step()
        for leaf, name in zip(leaves, PARAM_NAMES):
            assert params[name] is tensors[name], f"{name} must be updated in place"
            err = rel_error(params[name], leaf.detach())
            assert err < tolerance(dtype), \
                f"{name} after step {step + 1} differs from torch.optim.SGD(lr=0.037): {err:.2e}"


@pytest.mark.student("nn_forward_pass", "nn_forward_backward", "nn_predict", "nn_sample_batch",
                     "nn_sgd_step")
@DTYPES
def test_train_decays_the_rate_like_torch_step_lr(dtype):
    # Every training example is the same (x, label): whatever rows a batch draws, the loss and
    # the gradients are those of that one example, so torch.optim.SGD with a StepLR schedule
    # (one decay per epoch of 12 // 5 = 2 iterations) must give the same losses.
    D, H, C, lr, decay, reg, num_iters = 7, 5, 17, 0.3, 0.5, 0.01, 9
    params = make_params(D, H, C, seed=41, dtype=dtype, scale=0.5)
    x_row, _ = make_data(1, D, C, 41, dtype)
    X, y = x_row.repeat(12, 1), torch.full((12,), 13)
    X_val, y_val = make_data(40, D, C, 42, dtype)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    optimizer = torch.optim.SGD(list(leaves.values()), lr=lr)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=decay)
    expected_losses, expected_val_acc = [], []
    for it in range(num_iters):
        optimizer.zero_grad()
        scores, _ = oracle_scores(leaves, x_row)
        loss = F.cross_entropy(scores, y[:1]) + reg * ((leaves["W1"] ** 2).sum()
                                                       + (leaves["W2"] ** 2).sum())
        loss.backward()
        optimizer.step()
        schedule.step()
        expected_losses.append(loss.item())
        if it % 2 == 1:
            with torch.no_grad():
                predicted = oracle_scores(leaves, X_val)[0].argmax(dim=1)
            expected_val_acc.append((predicted == y_val).double().mean().item())

    torch.manual_seed(0)
    stats = nn_train(params, nn_forward_backward, nn_predict, X, y, X_val, y_val, learning_rate=lr,
                     learning_rate_decay=decay, reg=reg, num_iters=num_iters, batch_size=5)
    losses = torch.tensor(stats["loss_history"], dtype=torch.float64)
    assert losses.shape == (num_iters,), f"expected {num_iters} losses, got {losses.shape[0]}"
    err = rel_error(losses, torch.tensor(expected_losses, dtype=torch.float64))
    assert err < 100 * tolerance(dtype), \
        f"with learning_rate_decay=0.5 the losses differ from torch.optim.SGD + StepLR: {err:.2e}"
    for name in PARAM_NAMES:
        err = rel_error(params[name], leaves[name].detach())
        assert err < 100 * tolerance(dtype), \
            f"{name} after training differs from torch.optim: {err:.2e}"
    assert stats["val_acc_history"] == pytest.approx(expected_val_acc), \
        "the validation accuracies after each epoch differ from those of torch.optim's net"


@pytest.mark.student("find_best_net", "nn_forward_pass", "nn_forward_backward", "nn_predict",
                     "nn_sample_batch", "nn_sgd_step")
def test_find_best_net_keeps_the_best_net_not_the_last():
    generator = torch.Generator().manual_seed(8)
    centres = 4 * torch.randn(4, 5, generator=generator, dtype=torch.float64)
    y_all = torch.arange(210) % 4
    X_all = centres[y_all] + torch.randn(210, 5, generator=generator, dtype=torch.float64)
    data = {"X_train": X_all[:150], "y_train": y_all[:150], "X_val": X_all[150:],
            "y_val": y_all[150:]}

    def grid():  # the good learning rate first, then a diverging one and a useless one
        return [0.5, 1e9, 1e-9], [7], [0.0], [0.9]

    torch.manual_seed(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        net, stat, val_acc = find_best_net(data, grid, num_epochs=8, batch_size=30, verbose=False)
    assert isinstance(net, TwoLayerNet), "find_best_net must return a TwoLayerNet"
    assert net.params["W1"].shape == (5, 7) and net.params["W1"].dtype == torch.float64, \
        "the best net must take D from the data, the grid's hidden size and the data's dtype"
    measured = (net.predict(data["X_val"]) == data["y_val"]).double().mean().item()
    assert val_acc > 0.8 and abs(measured - val_acc) < 1e-12, \
        f"the first (good) learning rate must win: the returned net scores {measured:.3f}, " \
        f"reported {val_acc:.3f}; a later, worse run must not replace it"
    assert len(stat["loss_history"]) == 8 * (150 // 30), \
        "best_stat must be the history of the best run (8 epochs of 5 iterations)"
    accuracies = [run.get("val_acc") for run in stat.get("runs", [])]
    assert len(accuracies) == 3 and accuracies[0] == val_acc and accuracies[1] == 0.0 \
        and 0.0 <= accuracies[2] < val_acc, \
        f"best_stat['runs'] must record the three runs in grid order, got {accuracies}"


@pytest.mark.student("nn_get_search_params")
def test_search_grid_values_are_sane():
    learning_rates, hidden_sizes, regs, decays = nn_get_search_params()
    for name, values in (("learning rates", learning_rates), ("hidden sizes", hidden_sizes),
                         ("regularization strengths", regs), ("decays", decays)):
        assert not any(isinstance(v, (bool, str)) for v in values) and \
            all(math.isfinite(float(v)) for v in values), \
            f"the {name} must be finite numbers, got {values!r}"
        assert len({float(v) for v in values}) == len(values), \
            f"the {name} repeat a value (each repeat trains the same nets again): {values!r}"
    assert all(0 < lr <= 10 for lr in learning_rates), \
        f"learning rates out of (0, 10]: {learning_rates}"
    assert all(1 <= h <= 4096 for h in hidden_sizes), \
        f"hidden sizes out of [1, 4096]: {hidden_sizes}"
    assert all(0 <= r < 1 for r in regs), f"regularization strengths out of [0, 1): {regs}"
