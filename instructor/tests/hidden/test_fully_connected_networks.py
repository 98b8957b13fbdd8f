"""Hidden checks of Task 3 (instructor only, never released): other shapes, seeds, dtypes and
arguments than the visible checks, against independent oracles (torch.autograd,
torch.nn.functional, torch.optim), so that answers tuned to the visible checks cannot pass."""
import contextlib
import functools
import io

import pytest
import torch
import torch.nn.functional as F

from assignment import fully_connected_networks as fcn
from assignment.fully_connected_networks import (
    Dropout,
    FullyConnectedNet,
    Linear,
    Linear_ReLU,
    ReLU,
    TwoLayerNet,
    adam,
    rmsprop,
    sgd,
    sgd_momentum,
    softmax_loss,
    svm_loss,
)
from helpers import gradcheck
from helpers.gradcheck import rel_error
from helpers.solver import Solver

F64 = torch.float64
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64],
                                 ids=["float32", "float64"])


# Largest accepted relative error between the student's values and the oracle's.
tolerance = functools.partial(gradcheck.tolerance, float64=1e-11, float32=1e-4)


def random(*shape, dtype=F64, seed=0, scale=1.0):
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=generator, dtype=dtype)


def autograd_grads(f, *inputs, dout=None):
    """Gradients of ``sum(dout * f(*inputs))`` (or of a scalar ``f``) by autograd."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = f(*leaves)
    out.backward(dout if dout is not None else torch.ones_like(out))
    return [leaf.grad for leaf in leaves]


def by_student(entries):
    """Parameter sets named after, and marked with, the student function in their first field."""
    return [pytest.param(*entry, id=entry[0], marks=pytest.mark.student(entry[0]))
            for entry in entries]


def x_dim(example):
    """Number of values D in one example of the given shape."""
    return int(torch.tensor(example).prod())


def linear_inputs(N, example, M, dtype, seed=1):
    """A layer's inputs: x [N, *example], w [D, M] and b [M] (D the size of one example)."""
    return (random(N, *example, dtype=dtype), random(x_dim(example), M, dtype=dtype, seed=seed),
            random(M, dtype=dtype, seed=seed + 1))


def linear_oracle(x, w, b):
    return F.linear(x.reshape(x.shape[0], -1), w.t(), b)


# (N, shape of one example, M): one example, odd sizes, 1, 2 and 17 outputs.
LAYER_SHAPES = pytest.mark.parametrize("N, example, M", [(1, (3, 3), 17), (4, (5,), 2),
                                                         (6, (2, 1, 3), 1), (3, (9,), 17)],
                                       ids=["1x3x3-17", "4x5-2", "6x2x1x3-1", "3x9-17"])


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------

@pytest.mark.student("Linear.forward")
@LAYER_SHAPES
@DTYPES
def test_linear_forward_on_other_shapes(N, example, M, dtype):
    x, w, b = linear_inputs(N, example, M, dtype)
    out, _ = Linear.forward(x, w, b)
    assert tuple(out.shape) == (N, M) and out.dtype == dtype, \
        f"Linear.forward of x {tuple(x.shape)} must give [{N}, {M}] in {dtype}, " \
        f"got {tuple(out.shape)} {out.dtype}"
    assert rel_error(out, linear_oracle(x, w, b)) < tolerance(dtype), \
        f"Linear.forward differs from F.linear on x {tuple(x.shape)} with {M} outputs"


@pytest.mark.student("Linear.backward")
@LAYER_SHAPES
@DTYPES
def test_linear_backward_against_autograd(N, example, M, dtype):
    x, w, b = linear_inputs(N, example, M, dtype)
    dout = random(N, M, dtype=dtype, seed=3)
    dx, dw, db = Linear.backward(dout, (x, w, b))  # the cache Linear.forward returns
    expected = autograd_grads(linear_oracle, x, w, b, dout=dout)
    assert dx.shape == x.shape, \
        f"dx must have the shape of x {tuple(x.shape)}, got {tuple(dx.shape)}"
    for name, mine, theirs in zip(("dx", "dw", "db"), (dx, dw, db), expected):
        err = rel_error(mine, theirs)
        assert err < tolerance(dtype), \
            f"Linear.backward {name} for x {tuple(x.shape)} differs from autograd: {err:.2e}"
    no_dx, dw2, db2 = Linear.backward(dout, (x, w, b), need_dx=False)
    assert no_dx is None, "Linear.backward(..., need_dx=False) must return None for dx"
    assert rel_error(dw2, dw) < tolerance(dtype) and rel_error(db2, db) < tolerance(dtype), \
        "need_dx=False must not change dw and db"


def with_zeros(*shape, dtype, seed):
    """Random values of which about a third are exactly 0 (the kink of the ReLU)."""
    x = random(*shape, dtype=dtype, seed=seed)
    return x.masked_fill(random(*shape, dtype=dtype, seed=seed + 1).abs() < 0.43, 0.0)


@pytest.mark.student("ReLU.forward")
@DTYPES
def test_relu_forward_on_three_dimensions_leaves_its_input_alone(dtype):
    x = with_zeros(2, 3, 5, dtype=dtype, seed=4)
    before = x.clone()
    out, _ = ReLU.forward(x)
    assert torch.equal(x, before), "ReLU.forward must not change its input (no in-place clamp)"
    assert out.shape == x.shape and out.dtype == dtype, "the output must have the input's shape"
    assert torch.equal(out, F.relu(before)), \
        "ReLU.forward of a [2, 3, 5] tensor differs from F.relu"


@pytest.mark.student("ReLU.backward")
@DTYPES
def test_relu_backward_is_zero_at_zero(dtype):
    x = with_zeros(4, 9, dtype=dtype, seed=5)
    dout = random(4, 9, dtype=dtype, seed=6)
    assert (x == 0).any() and (x > 0).any() and (x < 0).any(), "the check needs all three signs"
    dx = ReLU.backward(dout, x)  # the cache ReLU.forward returns is its input
    (expected,) = autograd_grads(F.relu, x, dout=dout)
    assert torch.equal(dx, expected), \
        "ReLU.backward must pass the gradient where x > 0 only: 0 where x <= 0, x == 0 included"


@pytest.mark.student("Linear_ReLU.forward", "Linear_ReLU.backward")
@LAYER_SHAPES
@DTYPES
def test_linear_relu_against_autograd(N, example, M, dtype):
    x, w, b = linear_inputs(N, example, M, dtype, seed=7)

    def oracle(x, w, b):
        return F.relu(linear_oracle(x, w, b))

    out, cache = Linear_ReLU.forward(x, w, b)
    assert rel_error(out, oracle(x, w, b)) < tolerance(dtype), \
        f"Linear_ReLU.forward differs from relu(x w + b) for x {tuple(x.shape)}"
    dout = random(N, M, dtype=dtype, seed=9)
    grads = Linear_ReLU.backward(dout, cache)
    expected = autograd_grads(oracle, x, w, b, dout=dout)
    for name, mine, theirs in zip(("dx", "dw", "db"), grads, expected):
        err = rel_error(mine, theirs)
        assert err < tolerance(dtype), \
            f"Linear_ReLU.backward {name} for x {tuple(x.shape)} differs from autograd: {err:.2e}"
    no_dx, dw, _ = Linear_ReLU.backward(dout, cache, need_dx=False)
    assert no_dx is None and rel_error(dw, grads[1]) < tolerance(dtype), \
        "Linear_ReLU.backward(..., need_dx=False) must return None for dx and the same dw"


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------

@pytest.mark.student("Dropout.forward")
@DTYPES
@pytest.mark.parametrize("p", [0.95, 0.05])
def test_dropout_forward_close_to_one_and_to_zero(p, dtype):
    x = 1 + 0.1 * random(40, 50, 100, dtype=dtype, seed=10)
    out, _ = Dropout.forward(x, {"mode": "train", "p": p, "seed": 2024})
    assert out.shape == x.shape and out.dtype == dtype, "dropout keeps the shape and dtype of x"
    kept = out != 0
    dropped = 1 - kept.to(F64).mean().item()
    assert abs(dropped - p) < 0.005, \
        f"with p={p} a fraction {p} of the units must be dropped, got {dropped:.4f}"
    assert rel_error(out[kept], x[kept] / (1 - p)) < tolerance(dtype), \
        f"with p={p} the kept units must be scaled by 1 / (1 - p) = {1 / (1 - p):.3f}"
    assert abs(out.to(F64).mean().item() / x.to(F64).mean().item() - 1) < 0.05, \
        f"inverted dropout with p={p} must keep the mean of the units"
    again, _ = Dropout.forward(x, {"mode": "train", "p": p, "seed": 2024})
    assert torch.equal(again, out), "the same seed must give the same mask"
    test_out, _ = Dropout.forward(x, {"mode": "test", "p": p})
    assert torch.equal(test_out, x), f"with p={p} dropout in test mode must be the identity"


@pytest.mark.student("Dropout.backward")
@DTYPES
def test_dropout_backward_uses_the_scaled_mask(dtype):
    p = 0.95
    keep = random(3, 4, 7, seed=11).abs() > 1.6  # about 11% kept
    mask = keep.to(dtype) / (1 - p)
    dout = random(3, 4, 7, dtype=dtype, seed=12)
    dx = Dropout.backward(dout, ({"mode": "train", "p": p}, mask))  # the cache of forward
    assert rel_error(dx, dout * mask) < tolerance(dtype), \
        "in train mode the gradient must be dout times the scaled mask (0 for dropped units)"
    assert torch.equal(Dropout.backward(dout, ({"mode": "test", "p": p}, None)), dout), \
        "in test mode the gradient must pass unchanged"


@pytest.mark.student("Dropout.forward", "Dropout.backward")
@DTYPES
def test_dropout_backward_matches_its_forward(dtype):
    x = 2 + torch.rand(6, 17, generator=torch.Generator().manual_seed(13), dtype=dtype)
    param = {"mode": "train", "p": 0.8, "seed": 99}
    out, cache = Dropout.forward(x, param)
    dout = random(6, 17, dtype=dtype, seed=14)
    # out = x * mask with x > 0, so the mask is out / x and d(out)/dx is that mask
    assert rel_error(Dropout.backward(dout, cache), dout * (out / x)) < tolerance(dtype) * 10, \
        "Dropout.backward differs from dout * mask for the mask that forward applied"


# ---------------------------------------------------------------------------
# Loss layers
# ---------------------------------------------------------------------------

LOSSES = [
    ("svm_loss", svm_loss, lambda x, y: x.shape[1] * F.multi_margin_loss(x, y, margin=1.0)),
    ("softmax_loss", softmax_loss, F.cross_entropy),
]


@pytest.mark.parametrize("name, loss_fn, oracle", by_student(LOSSES))
@pytest.mark.parametrize("N, C", [(1, 2), (9, 17), (4, 2), (1, 17)], ids=lambda v: str(v))
@DTYPES
def test_loss_layers_against_torch_on_other_shapes(name, loss_fn, oracle, N, C, dtype):
    x = random(N, C, dtype=dtype, seed=N * C, scale=1.5)
    y = torch.randint(C, (N,), generator=torch.Generator().manual_seed(N + C))
    loss, dx = loss_fn(x, y)
    expected = oracle(x, y)
    assert rel_error(torch.as_tensor(loss), expected) < tolerance(dtype), \
        f"{name} = {float(loss):.6f} on {N} example(s) of {C} classes; " \
        f"torch.nn.functional gives {expected.item():.6f}"
    (expected_dx,) = autograd_grads(lambda s: oracle(s, y), x)
    err = rel_error(dx, expected_dx)
    assert err < tolerance(dtype), f"{name} dx for N={N}, C={C} differs from autograd: {err:.2e}"
    assert dx.dtype == dtype and dx.shape == x.shape, f"{name} must return dx like x"


@pytest.mark.parametrize("name, loss_fn, oracle", by_student(LOSSES))
def test_loss_layers_are_stable_in_float32(name, loss_fn, oracle):
    x = random(5, 17, dtype=torch.float32, seed=15, scale=1e4)
    y = torch.tensor([16, 0, 3, 3, 8])
    loss, dx = loss_fn(x, y)
    assert torch.isfinite(torch.as_tensor(loss)) and torch.isfinite(dx).all(), \
        f"{name} is not finite for float32 scores near 1e4: subtract the row maximum first"
    assert rel_error(torch.as_tensor(loss), oracle(x, y)) < 1e-5, f"{name} is wrong for huge scores"


# ---------------------------------------------------------------------------
# Nets
# ---------------------------------------------------------------------------

def oracle_net_loss(params, X, y, num_layers, reg, masks=None):
    """{F.linear - F.relu - [mask]} x (L-1) - F.linear - F.cross_entropy + L2 on the weights."""
    out = X.reshape(X.shape[0], -1)
    for i in range(1, num_layers):
        out = F.relu(F.linear(out, params[f"W{i}"].t(), params[f"b{i}"]))
        if masks is not None:
            out = out * masks[i - 1]
    scores = F.linear(out, params[f"W{num_layers}"].t(), params[f"b{num_layers}"])
    if y is None:
        return scores
    return F.cross_entropy(scores, y) + reg * sum((params[f"W{i}"] ** 2).sum()
                                                  for i in range(1, num_layers + 1))


def check_net(model, X, y, reg, dtype, masks=None, where=""):
    """The model's loss and gradients against autograd on the oracle, and its test-time scores."""
    num_layers = len(model.params) // 2
    loss, grads = model.loss(X, y)
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in model.params.items()}
    expected = oracle_net_loss(leaves, X, y, num_layers, reg, masks)
    expected.backward()
    assert rel_error(torch.as_tensor(loss), expected.detach()) < tolerance(dtype), \
        f"the loss {float(loss):.8f} differs from the autograd oracle {expected.item():.8f} {where}"
    assert set(grads) == set(model.params), f"grads must have the keys of params {where}"
    # Errors relative to the largest gradient of the net: a bias gradient that nearly cancels
    # out (a single hidden unit) cannot be expected to 1e-4 of its own size in float32.
    scale = max(leaf.grad.abs().max().item() for leaf in leaves.values())
    for k in sorted(model.params):
        assert grads[k].shape == leaves[k].shape and grads[k].dtype == dtype, \
            f"the gradient of {k} must have the shape and dtype of {k} {where}"
        err = (grads[k] - leaves[k].grad).abs().max().item() / scale
        assert err < tolerance(dtype), \
            f"the gradient of {k} differs from autograd {where}: " \
            f"by {err:.2e} of the largest gradient"
    scores = model.loss(X)
    expected_scores = oracle_net_loss(model.params, X, None, num_layers, reg)
    assert rel_error(scores, expected_scores) < tolerance(dtype), \
        f"the test-time scores (y=None, no dropout) differ from the oracle {where}"


def set_random_params(model, seed, dtype, scale=0.6):
    """Random weights and non-zero biases, in the shapes the model's __init__ chose."""
    for index, name in enumerate(sorted(model.params)):
        model.params[name] = random(*model.params[name].shape, dtype=dtype, seed=seed + index,
                                    scale=scale)


@pytest.mark.student("TwoLayerNet.__init__")
@DTYPES
def test_two_layer_net_initialization_with_other_sizes(dtype):
    torch.manual_seed(17)
    model = TwoLayerNet(input_dim=301, hidden_dim=40, num_classes=17, weight_scale=0.3, reg=0.25,
                        dtype=dtype)
    shapes = {"W1": (301, 40), "b1": (40,), "W2": (40, 17), "b2": (17,)}
    assert {k: tuple(v.shape) for k, v in model.params.items()} == shapes, \
        f"a 301-40-17 net needs params {shapes}"
    assert all(v.dtype == dtype for v in model.params.values()), f"every parameter must be {dtype}"
    assert abs(model.params["W1"].std().item() / 0.3 - 1) < 0.05 and \
        abs(model.params["W2"].std().item() / 0.3 - 1) < 0.15, \
        "the weights must be drawn with standard deviation weight_scale=0.3"
    assert abs(model.params["W1"].mean().item()) < 0.03, "the weights must have mean 0"
    assert (model.params["b1"] == 0).all() and (model.params["b2"] == 0).all(), "biases start at 0"
    tiny = TwoLayerNet(input_dim=9, hidden_dim=1, num_classes=2, dtype=dtype)
    assert tiny.params["W1"].shape == (9, 1) and tiny.params["W2"].shape == (1, 2), \
        "a hidden layer of one unit needs W1 [9, 1] and W2 [1, 2]"


@pytest.mark.student("TwoLayerNet.__init__", "TwoLayerNet.loss")
@DTYPES
@pytest.mark.parametrize("N, example, H, C, reg", [(1, (3, 3), 1, 17, 0.37), (7, (11,), 4, 2, 0.0),
                                                   (5, (9,), 6, 17, 1.5)],
                         ids=["1x3x3-1-17", "7x11-4-2", "5x9-6-17"])
def test_two_layer_net_loss_against_autograd(N, example, H, C, reg, dtype):
    torch.manual_seed(N)
    model = TwoLayerNet(input_dim=x_dim(example), hidden_dim=H, num_classes=C, reg=reg, dtype=dtype)
    set_random_params(model, seed=20 + N, dtype=dtype)
    X = random(N, *example, dtype=dtype, seed=N)
    y = torch.randint(C, (N,), generator=torch.Generator().manual_seed(N))
    check_net(model, X, y, reg, dtype, where=f"for X {tuple(X.shape)}, H={H}, C={C}, reg={reg}")


@pytest.mark.student("FullyConnectedNet.__init__")
@DTYPES
@pytest.mark.parametrize("hidden_dims, C", [([], 17), ([1], 2), ([9, 1, 3], 17)],
                         ids=["no-hidden", "1", "9-1-3"])
def test_fully_connected_net_initialization_with_other_sizes(hidden_dims, C, dtype):
    torch.manual_seed(19)
    model = FullyConnectedNet(hidden_dims, input_dim=301, num_classes=C, weight_scale=0.05,
                              dtype=dtype)
    sizes = [301, *hidden_dims, C]
    expected = {}
    for i in range(1, len(sizes)):
        expected[f"W{i}"], expected[f"b{i}"] = (sizes[i - 1], sizes[i]), (sizes[i],)
    assert {k: tuple(v.shape) for k, v in model.params.items()} == expected, \
        f"hidden_dims {hidden_dims} with 301 inputs and {C} classes need params {expected}"
    assert all(v.dtype == dtype for v in model.params.values()), f"every parameter must be {dtype}"
    assert abs(model.params["W1"].std().item() / 0.05 - 1) < 0.1, \
        "the weights must be drawn with standard deviation weight_scale=0.05"
    assert all((model.params[f"b{i}"] == 0).all() for i in range(1, len(sizes))), \
        "biases start at 0"


NET_CASES = [
    # hidden_dims, N, example, C, reg, dropout
    pytest.param([], 1, (9,), 17, 0.2, 0.0, id="no-hidden"),
    pytest.param([1], 4, (3, 3), 2, 0.0, 0.0, id="1-unit"),
    pytest.param([9, 1, 3], 5, (7,), 17, 0.3, 0.0, id="9-1-3"),
    pytest.param([40, 30], 6, (5,), 3, 0.15, 0.95, id="dropout-0.95",
                 marks=pytest.mark.student("Dropout.forward", "Dropout.backward")),
    pytest.param([8, 6], 5, (7,), 2, 0.4, 0.3, id="dropout-0.3",
                 marks=pytest.mark.student("Dropout.forward", "Dropout.backward")),
]


@pytest.mark.student("FullyConnectedNet.__init__", "FullyConnectedNet.loss")
@DTYPES
@pytest.mark.parametrize("hidden_dims, N, example, C, reg, dropout", NET_CASES)
def test_fully_connected_net_against_autograd(hidden_dims, N, example, C, reg, dropout, dtype):
    torch.manual_seed(N)
    model = FullyConnectedNet(hidden_dims, input_dim=x_dim(example), num_classes=C,
                              dropout=dropout, reg=reg, seed=7, dtype=dtype)
    set_random_params(model, seed=30 + N, dtype=dtype)
    X = random(N, *example, dtype=dtype, seed=40 + N)
    y = torch.randint(C, (N,), generator=torch.Generator().manual_seed(N))
    masks = None
    if dropout:  # the net's masks are those of its Dropout layer with the same seed
        param = {"mode": "train", "p": dropout, "seed": 7}
        masks = [Dropout.forward(torch.ones(N, h, dtype=dtype), param)[0] for h in hidden_dims]
        assert all((m != 0).any() for m in masks), "the check needs a few kept units per layer"
    check_net(model, X, y, reg, dtype, masks,
              where=f"for hidden_dims {hidden_dims}, X {tuple(X.shape)}, C={C}, reg={reg}, "
                    f"dropout={dropout}")


# ---------------------------------------------------------------------------
# Training with the Solver
# ---------------------------------------------------------------------------

def clustered_data(num_train, num_val, seed, dtype, dim=3072, num_classes=10):
    """Noisy copies of one template per class, at CIFAR's shape."""
    generator = torch.Generator().manual_seed(seed)
    templates = 0.3 * torch.randn(num_classes, dim, generator=generator, dtype=dtype)

    def split(n):
        y = torch.randint(num_classes, (n,), generator=generator)
        return templates[y] + 0.25 * torch.randn(n, dim, generator=generator, dtype=dtype), y

    (X_train, y_train), (X_val, y_val) = split(num_train), split(num_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


@pytest.mark.student("create_solver_instance", "TwoLayerNet.__init__", "TwoLayerNet.loss")
def test_create_solver_instance_in_float64_on_other_data():
    torch.manual_seed(5)
    with contextlib.redirect_stdout(io.StringIO()):
        solver = fcn.create_solver_instance(clustered_data(400, 100, 5, F64), F64, "cpu")
    assert isinstance(solver, Solver) and isinstance(solver.model, TwoLayerNet), \
        "create_solver_instance must return a Solver of a TwoLayerNet"
    assert solver.model.params["W1"].dtype == F64, \
        "the model must be built in the requested dtype, float64"
    assert solver.loss_history, "the Solver must be trained (call train())"
    assert solver.best_val_acc >= 0.9, \
        f"on 400 easy float64 examples the net should reach 0.9, got {solver.best_val_acc:.3f}"


@pytest.mark.student("train_best_fc_net", "FullyConnectedNet.__init__", "FullyConnectedNet.loss")
def test_train_best_fc_net_in_float64_on_other_data():
    torch.manual_seed(7)
    with contextlib.redirect_stdout(io.StringIO()):
        solver = fcn.train_best_fc_net(clustered_data(300, 100, 7, F64), F64, "cpu", num_epochs=3)
    assert isinstance(solver, Solver) and isinstance(solver.model, FullyConnectedNet), \
        "train_best_fc_net must return a Solver of a FullyConnectedNet"
    assert solver.model.params["W1"].dtype == F64, \
        "the model must be built in the requested dtype, float64"
    assert solver.loss_history and solver.num_epochs == 3, \
        "the Solver must be trained (call train()) for the num_epochs given, here 3"
    assert solver.best_val_acc >= 0.9, \
        f"on 300 easy float64 examples the net should reach 0.9, got {solver.best_val_acc:.3f}"


def torch_twin_overfits(hidden_dims, weight_scale, learning_rate, seed, dtype=F64):
    """Best training accuracy of the net in torch.nn (weights drawn with std ``weight_scale``,
    zero biases), trained like the Solver does: 20 epochs of plain torch.optim.SGD on 50 random
    images in batches of 25, a fresh order every epoch, the accuracy after each epoch."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(50, 3072, generator=generator, dtype=dtype) - 0.5
    y = torch.randint(10, (50,), generator=generator)
    sizes = [3072, *hidden_dims, 10]
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layer = torch.nn.Linear(fan_in, fan_out, dtype=dtype)
        torch.nn.init.normal_(layer.weight, std=weight_scale, generator=generator)
        torch.nn.init.zeros_(layer.bias)
        layers += [layer, torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.SGD(net.parameters(), lr=learning_rate)
    best = 0.0
    for _ in range(20):
        order = torch.randperm(50, generator=generator)
        for batch in order.split(25):
            optimizer.zero_grad()
            F.cross_entropy(net(X[batch]), y[batch]).backward()
            optimizer.step()
        with torch.no_grad():
            best = max(best, (net(X).argmax(dim=1) == y).double().mean().item())
    return best


@pytest.mark.parametrize("hidden_dims, get_params", [
    pytest.param([100, 100], fcn.get_three_layer_network_params, id="three",
                 marks=pytest.mark.student("get_three_layer_network_params")),
    pytest.param([100] * 4, fcn.get_five_layer_network_params, id="five",
                 marks=pytest.mark.student("get_five_layer_network_params"))])
def test_deep_net_settings_overfit_other_small_data(hidden_dims, get_params):
    # The twin in torch.nn + torch.optim, not the student's net and sgd: a failure here is the
    # settings' own, whatever the rest of the file does.
    weight_scale, learning_rate = get_params()
    for seed in (6, 7):
        best = torch_twin_overfits(hidden_dims, weight_scale, learning_rate, seed)
        assert best == 1.0, \
            f"with (weight_scale, learning_rate) = {(weight_scale, learning_rate)} from " \
            f"{get_params.__name__}(), a net of hidden sizes {hidden_dims} should fit 50 other " \
            f"images (seed {seed}, float64) within 20 epochs of SGD; best accuracy {best:.2f}"


# ---------------------------------------------------------------------------
# Update rules
# ---------------------------------------------------------------------------

RULES = [
    # name, rule, config with non-default values, the torch.optim equivalent
    ("sgd", sgd, {"learning_rate": 0.37}, lambda p: torch.optim.SGD(p, lr=0.37)),
    ("sgd_momentum", sgd_momentum, {"learning_rate": 0.05, "momentum": 0.6},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.6)),
    ("rmsprop", rmsprop, {"learning_rate": 3e-3, "decay_rate": 0.9, "epsilon": 1e-6},
     lambda p: torch.optim.RMSprop(p, lr=3e-3, alpha=0.9, eps=1e-6)),
    ("adam", adam, {"learning_rate": 2e-2, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-7},
     lambda p: torch.optim.Adam(p, lr=2e-2, betas=(0.8, 0.99), eps=1e-7)),
]
DEFAULT_RULES = [
    ("sgd", sgd, None, lambda p: torch.optim.SGD(p, lr=1e-2)),
    ("sgd_momentum", sgd_momentum, None, lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9)),
    ("rmsprop", rmsprop, None, lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.99, eps=1e-8)),
    ("adam", adam, None, lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)),
]


def run_rule_against_torch(name, rule, config, make_optimizer, shape, dtype, steps=6):
    """``steps`` updates, the config carried from step to step, each compared with torch.optim."""
    w = random(*shape, dtype=dtype, seed=50)
    param = w.clone().requires_grad_(True)
    optimizer = make_optimizer([param])
    mine = w.clone()
    for k in range(steps):
        dw = random(*shape, dtype=dtype, seed=60 + k, scale=0.5 + k)
        mine, config = rule(mine, dw.clone(), config)
        param.grad = dw
        optimizer.step()
        err = rel_error(mine, param.detach())
        assert err < 10 * tolerance(dtype), \
            f"{name}: step {k + 1} on w {tuple(shape)} in {dtype} differs from torch.optim " \
            f"(config carried from step to step): {err:.2e}"
    assert mine.dtype == dtype and mine.shape == w.shape, \
        f"{name} must keep the dtype and shape of w"
    return config


@pytest.mark.parametrize("name, rule, config, make_optimizer", by_student(RULES))
@pytest.mark.parametrize("shape", [(1, 9), (17,), (3, 1, 5)], ids=["1x9", "17", "3x1x5"])
@DTYPES
def test_update_rules_several_steps_with_other_settings(name, rule, config, make_optimizer, shape,
                                                        dtype):
    config = run_rule_against_torch(name, rule, dict(config), make_optimizer, shape, dtype)
    if name == "adam":
        assert config["t"] == 6, f"after 6 steps adam's t must be 6, got {config['t']}"


@pytest.mark.parametrize("name, rule, config, make_optimizer", by_student(DEFAULT_RULES))
@DTYPES
def test_update_rules_from_default_config_several_steps(name, rule, config, make_optimizer, dtype):
    run_rule_against_torch(name, rule, config, make_optimizer, (2, 9), dtype, steps=4)
