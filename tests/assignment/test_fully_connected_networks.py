"""Checks of assignment/fully_connected_networks.py: layers, loss layers, nets, update rules.

Every gradient is compared with torch.autograd on every device and dtype and
with numeric derivatives in float64 on tiny shapes; losses with
torch.nn.functional; update rules with torch.optim.
"""
import pytest
import torch
import torch.nn.functional as F

from assignment import fully_connected_networks as fcn
from assignment.fully_connected_networks import (
    Dropout, FullyConnectedNet, Linear, Linear_ReLU, ReLU, TwoLayerNet, adam, rmsprop,
    sgd, sgd_momentum, softmax_loss, svm_loss)
from helpers.gradcheck import compute_numeric_gradient, rel_error

F64 = torch.float64


def tolerance(dtype):
    """Agreement expected between two exact computations of the same value."""
    return 1e-10 if dtype == torch.float64 else 1e-5


def autograd_grads(f, *inputs, dout=None):
    """Gradients of ``sum(dout * f(*inputs))`` (or of a scalar ``f``) by autograd."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = f(*leaves)
    out.backward(dout if dout is not None else torch.ones_like(out))
    return [leaf.grad for leaf in leaves]


def numeric_grads(f, *inputs, dout=None):
    """Numeric gradients of ``sum(dout * f(*inputs))`` with respect to each input."""
    inputs = [x.clone() for x in inputs]
    return [compute_numeric_gradient(lambda _: f(*inputs), x, dLdf=dout, h=1e-6) for x in inputs]


def by_student(entries):
    """Parameter sets named after, and marked with, the student function in their first field."""
    return [pytest.param(*entry, id=entry[0], marks=pytest.mark.student(entry[0])) for entry in entries]


def random(*shape, device="cpu", dtype=F64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=dtype).to(device)


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------

@pytest.mark.student("Linear.forward", "Linear.backward")
def test_linear_matches_autograd(device_dtype):
    device, dtype = device_dtype
    x, w, b = random(4, 2, 3, device=device, dtype=dtype), random(6, 5, device=device, dtype=dtype, seed=1), \
        random(5, device=device, dtype=dtype, seed=2)
    out, cache = Linear.forward(x, w, b)
    expected = F.linear(x.reshape(4, 6), w.t(), b)
    assert out.shape == (4, 5) and out.dtype == dtype and out.device == x.device, \
        f"Linear.forward output: shape {tuple(out.shape)}, dtype {out.dtype}; expected (4, 5), {dtype}"
    assert rel_error(out, expected) < tolerance(dtype), "Linear.forward differs from x.reshape(N, D) @ w + b"
    dout = random(4, 5, device=device, dtype=dtype, seed=3)
    dx, dw, db = Linear.backward(dout, cache)
    ref = autograd_grads(lambda x, w, b: F.linear(x.reshape(4, 6), w.t(), b), x, w, b, dout=dout)
    assert dx.shape == x.shape, f"dx must have the shape of x {tuple(x.shape)}, got {tuple(dx.shape)}"
    for name, mine, theirs in zip(("dx", "dw", "db"), (dx, dw, db), ref):
        err = rel_error(mine, theirs)
        assert err < tolerance(dtype), f"Linear.backward {name} differs from autograd: rel_error {err:.2e}"


@pytest.mark.student("Linear.backward")
def test_linear_backward_numeric_and_without_dx():
    x, w, b = random(3, 2, 2), random(4, 3, seed=1), random(3, seed=2)
    dout = random(3, 3, seed=3)
    _, cache = Linear.forward(x, w, b)
    dx, dw, db = Linear.backward(dout, cache)
    numeric = numeric_grads(lambda x, w, b: Linear.forward(x, w, b)[0], x, w, b, dout=dout)
    for name, mine, theirs in zip(("dx", "dw", "db"), (dx, dw, db), numeric):
        err = rel_error(mine, theirs)
        assert err < 1e-7, f"Linear.backward {name} differs from the numeric gradient: rel_error {err:.2e}"
    no_dx, dw2, db2 = Linear.backward(dout, cache, need_dx=False)
    assert no_dx is None, "Linear.backward(..., need_dx=False) must return None for dx"
    assert rel_error(dw2, dw) < 1e-12 and rel_error(db2, db) < 1e-12, \
        "need_dx=False must not change dw and db"


@pytest.mark.student("ReLU.forward", "ReLU.backward")
def test_relu_matches_autograd_and_numeric(device_dtype):
    device, dtype = device_dtype
    x = random(5, 7, device=device, dtype=dtype)
    x_before = x.clone()
    out, cache = ReLU.forward(x)
    assert torch.equal(x, x_before), "ReLU.forward must not modify its input"
    assert torch.equal(out, torch.relu(x)), "ReLU.forward differs from max(0, x)"
    dout = random(5, 7, device=device, dtype=dtype, seed=1)
    dx = ReLU.backward(dout, cache)
    (ref,) = autograd_grads(torch.relu, x, dout=dout)
    assert rel_error(dx, ref) < tolerance(dtype), "ReLU.backward differs from autograd"
    if dtype == F64:
        (numeric,) = numeric_grads(lambda x: ReLU.forward(x)[0], x, dout=dout)
        assert rel_error(dx, numeric) < 1e-7, "ReLU.backward differs from the numeric gradient"


@pytest.mark.student("Linear_ReLU.forward", "Linear_ReLU.backward")
def test_linear_relu_matches_autograd_and_numeric(device_dtype):
    device, dtype = device_dtype
    x, w, b = random(3, 4, device=device, dtype=dtype), random(4, 5, device=device, dtype=dtype, seed=1), \
        random(5, device=device, dtype=dtype, seed=2)
    reference = lambda x, w, b: torch.relu(x @ w + b)  # noqa: E731
    out, cache = Linear_ReLU.forward(x, w, b)
    assert rel_error(out, reference(x, w, b)) < tolerance(dtype), "Linear_ReLU.forward differs from relu(x w + b)"
    dout = random(3, 5, device=device, dtype=dtype, seed=3)
    grads = Linear_ReLU.backward(dout, cache)
    checks = [("autograd", autograd_grads(reference, x, w, b, dout=dout), tolerance(dtype))]
    if dtype == F64:
        checks.append(("numeric", numeric_grads(reference, x, w, b, dout=dout), 1e-7))
    for source, expected, tol in checks:
        for name, mine, theirs in zip(("dx", "dw", "db"), grads, expected):
            err = rel_error(mine, theirs)
            assert err < tol, f"Linear_ReLU.backward {name} differs from the {source} gradient: rel_error {err:.2e}"


# ---------------------------------------------------------------------------
# Loss layers
# ---------------------------------------------------------------------------

LOSSES = [
    # name, function, torch.nn.functional reference on scores x [N, C] and labels y
    ("svm_loss", svm_loss, lambda x, y: x.shape[1] * F.multi_margin_loss(x, y, margin=1.0)),
    ("softmax_loss", softmax_loss, F.cross_entropy),
]


@pytest.mark.parametrize("name, loss_fn, reference", by_student(LOSSES))
def test_loss_layers_match_torch(name, loss_fn, reference, device_dtype):
    device, dtype = device_dtype
    x = random(8, 5, device=device, dtype=dtype)
    y = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2], device=device)
    loss, dx = loss_fn(x, y)
    expected = reference(x, y)
    assert abs(float(loss) - expected.item()) < 1e-4 * max(1.0, expected.item()), \
        f"{name} = {float(loss):.6f}, torch.nn.functional gives {expected.item():.6f}"
    (ref_dx,) = autograd_grads(lambda scores: reference(scores, y), x)
    assert rel_error(dx, ref_dx) < tolerance(dtype) * 10, f"{name} gradient differs from autograd"
    assert dx.dtype == dtype and dx.device == x.device, f"{name} must return dx in the dtype and device of x"


@pytest.mark.parametrize("name, loss_fn", by_student([(n, f) for n, f, _ in LOSSES]))
def test_loss_layers_numeric_gradient_and_stability(name, loss_fn):
    x = 0.1 * random(6, 4, seed=5)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    _, dx = loss_fn(x, y)
    (numeric,) = numeric_grads(lambda s: loss_fn(s, y)[0], x)
    err = rel_error(dx, numeric)
    assert err < 1e-7, f"{name} gradient differs from the numeric gradient: rel_error {err:.2e}"
    big = 1000 * random(6, 4, seed=6)
    loss, dx = loss_fn(big, y)
    assert torch.isfinite(torch.as_tensor(loss)) and torch.isfinite(dx).all(), \
        f"{name} is not finite for large scores: subtract the row maximum first"


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------

@pytest.mark.student("Dropout.forward")
@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_dropout_statistics(p, device_dtype):
    device, dtype = device_dtype
    x = 10 + random(500, 500, device=device, dtype=dtype)
    out, _ = Dropout.forward(x, {"mode": "train", "p": p, "seed": 123})
    zeroed = (out == 0).to(F64).mean().item()
    assert abs(zeroed - p) < 0.01, f"dropout with p={p} zeroed a fraction {zeroed:.3f} of units"
    assert abs(out.mean().item() / x.mean().item() - 1) < 0.01, \
        f"inverted dropout must keep the mean: {x.mean().item():.3f} -> {out.mean().item():.3f}"
    kept = out != 0
    assert rel_error(out[kept], x[kept] / (1 - p)) < tolerance(dtype), "kept units must be scaled by 1 / (1 - p)"
    test_out, _ = Dropout.forward(x, {"mode": "test", "p": p})
    assert torch.equal(test_out, x), "dropout in test mode must be the identity"


@pytest.mark.student("Dropout.forward")
def test_dropout_seed_gives_the_same_mask():
    x = random(50, 40)
    out1, _ = Dropout.forward(x, {"mode": "train", "p": 0.5, "seed": 7})
    out2, _ = Dropout.forward(x, {"mode": "train", "p": 0.5, "seed": 7})
    out3, _ = Dropout.forward(x, {"mode": "train", "p": 0.5, "seed": 8})
    assert torch.equal(out1, out2), "the same seed must give the same dropout mask"
    assert not torch.equal(out1, out3), "different seeds must give different masks"
    with pytest.raises(ValueError):
        Dropout.forward(x, {"mode": "train", "p": 1.0})


@pytest.mark.student("Dropout.forward", "Dropout.backward")
def test_dropout_backward():
    x = random(10, 6)
    param = {"mode": "train", "p": 0.3, "seed": 11}
    _, cache = Dropout.forward(x, param)
    dout = random(10, 6, seed=1)
    dx = Dropout.backward(dout, cache)
    (numeric,) = numeric_grads(lambda x: Dropout.forward(x, param)[0], x, dout=dout)
    err = rel_error(dx, numeric)
    assert err < 1e-7, f"Dropout.backward differs from the numeric gradient: rel_error {err:.2e}"
    test_param = {"mode": "test", "p": 0.3}
    _, cache = Dropout.forward(x, test_param)
    assert torch.equal(Dropout.backward(dout, cache), dout), "in test mode the gradient passes unchanged"


# ---------------------------------------------------------------------------
# Nets
# ---------------------------------------------------------------------------

def reference_net_loss(params, X, y, num_layers, reg, masks=()):
    """Autograd reference: {Linear - ReLU - [mask]} x (L-1) - Linear - cross-entropy + L2."""
    out = X.reshape(X.shape[0], -1)
    for i in range(1, num_layers):
        out = torch.relu(out @ params[f"W{i}"] + params[f"b{i}"])
        if masks:
            out = out * masks[i - 1]
    scores = out @ params[f"W{num_layers}"] + params[f"b{num_layers}"]
    l2 = sum((params[f"W{i}"] ** 2).sum() for i in range(1, num_layers + 1))
    return F.cross_entropy(scores, y) + reg * l2


def check_net_against_autograd(model, X, y, masks=(), tol=1e-10, numeric=True):
    loss, grads = model.loss(X, y)
    names = sorted(model.params)
    leaves = {k: model.params[k].detach().clone().requires_grad_(True) for k in names}
    expected = reference_net_loss(leaves, X, y, len(names) // 2, model.reg, masks)
    expected.backward()
    assert abs(float(loss) - expected.item()) < tol * 100, \
        f"net loss {float(loss):.8f} differs from the autograd reference {expected.item():.8f}"
    assert set(grads) == set(names), f"grads must have the keys of params {names}, got {sorted(grads)}"
    for k in names:
        err = rel_error(grads[k], leaves[k].grad)
        assert err < tol, f"gradient of {k} differs from autograd: rel_error {err:.2e}"
        if numeric:
            num = compute_numeric_gradient(lambda _: model.loss(X, y)[0], model.params[k], h=1e-6)
            err = rel_error(grads[k], num)
            assert err < 1e-7, f"gradient of {k} differs from the numeric gradient: rel_error {err:.2e}"


@pytest.mark.student("TwoLayerNet.__init__", "TwoLayerNet.loss")
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_two_layer_net_loss_and_gradients(reg):
    torch.manual_seed(0)
    model = TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, weight_scale=0.5, reg=reg, dtype=F64)
    X, y = random(4, 6), torch.tensor([0, 1, 2, 1])
    check_net_against_autograd(model, X, y)
    scores = model.loss(X)
    assert scores.shape == (4, 3), f"test-time scores must be [N, C], got {tuple(scores.shape)}"


@pytest.mark.student("TwoLayerNet.__init__")
def test_two_layer_net_initialization(device_dtype):
    device, dtype = device_dtype
    torch.manual_seed(0)
    model = TwoLayerNet(input_dim=300, hidden_dim=200, num_classes=10, weight_scale=1e-2,
                        dtype=dtype, device=device)
    shapes = {"W1": (300, 200), "b1": (200,), "W2": (200, 10), "b2": (10,)}
    for k, shape in shapes.items():
        v = model.params[k]
        assert tuple(v.shape) == shape and v.dtype == dtype and v.device.type == torch.device(device).type, \
            f"params[{k!r}]: expected {shape} {dtype} on {device}, got {tuple(v.shape)} {v.dtype} {v.device}"
    assert abs(model.params["W1"].std().item() / 1e-2 - 1) < 0.05, "W1 must have std weight_scale"
    assert abs(model.params["W2"].std().item() / 1e-2 - 1) < 0.1, "W2 must have std weight_scale"
    assert (model.params["b1"] == 0).all() and (model.params["b2"] == 0).all(), "biases start at zero"


@pytest.mark.student("FullyConnectedNet.__init__", "FullyConnectedNet.loss")
@pytest.mark.parametrize("hidden_dims, reg", [([5], 0.0), ([6, 5], 3.14), ([4, 5, 6], 0.0), ([], 0.5)])
def test_fully_connected_net_loss_and_gradients(hidden_dims, reg):
    torch.manual_seed(0)
    model = FullyConnectedNet(hidden_dims, input_dim=7, num_classes=3, reg=reg, weight_scale=0.5, dtype=F64)
    assert sorted(model.params) == sorted([f"{p}{i}" for i in range(1, len(hidden_dims) + 2) for p in "Wb"]), \
        f"params must be W1, b1, ..., W{len(hidden_dims) + 1}, b{len(hidden_dims) + 1}"
    X, y = random(5, 7), torch.tensor([0, 1, 2, 1, 0])
    check_net_against_autograd(model, X, y)


@pytest.mark.student("FullyConnectedNet.__init__", "FullyConnectedNet.loss", "Dropout.forward", "Dropout.backward")
@pytest.mark.parametrize("p", [0.25, 0.5])
def test_fully_connected_net_with_dropout(p):
    torch.manual_seed(0)
    model = FullyConnectedNet([6, 5], input_dim=7, num_classes=3, dropout=p, reg=0.1,
                              weight_scale=0.5, seed=42, dtype=F64)
    X, y = random(5, 7), torch.tensor([0, 1, 2, 1, 0])
    # the net's masks are those of its Dropout layer with the same seed
    masks = [Dropout.forward(torch.ones(5, h, dtype=F64), {"mode": "train", "p": p, "seed": 42})[0]
             for h in (6, 5)]
    check_net_against_autograd(model, X, y, masks=masks)
    scores = model.loss(X)
    plain = FullyConnectedNet([6, 5], input_dim=7, num_classes=3, dtype=F64)
    plain.params = model.params
    assert rel_error(scores, plain.loss(X)) < 1e-12, "at test time (y=None) dropout must be the identity"


@pytest.mark.student("FullyConnectedNet.__init__")
def test_fully_connected_net_initialization(device_dtype):
    device, dtype = device_dtype
    torch.manual_seed(0)
    model = FullyConnectedNet([300, 200], input_dim=400, num_classes=10, weight_scale=2e-2,
                              dtype=dtype, device=device)
    for k, shape in {"W1": (400, 300), "W2": (300, 200), "W3": (200, 10), "b3": (10,)}.items():
        v = model.params[k]
        assert tuple(v.shape) == shape and v.dtype == dtype, f"params[{k!r}] must be {shape} {dtype}"
    assert abs(model.params["W1"].std().item() / 2e-2 - 1) < 0.05, "weights must have std weight_scale"
    scores = model.loss(random(3, 400, device=device, dtype=dtype))
    assert scores.shape == (3, 10) and scores.dtype == dtype, "scores must be [N, C] in the model's dtype"


@pytest.mark.student("FullyConnectedNet.__init__", "FullyConnectedNet.loss")
def test_fully_connected_net_save_and_load(tmp_path):
    torch.manual_seed(0)
    model = FullyConnectedNet([8], input_dim=6, num_classes=3, dropout=0.25, reg=0.3, dtype=F64)
    X = random(4, 6)
    path = tmp_path / "net.pt"
    model.save(path)
    other = FullyConnectedNet([8], input_dim=6, num_classes=3, dtype=F64)
    other.load(path)
    assert other.reg == 0.3 and other.dropout == 0.25, "load must restore reg and dropout"
    assert rel_error(other.loss(X), model.loss(X)) < 1e-12, "a loaded model must give the same scores"


# ---------------------------------------------------------------------------
# Update rules
# ---------------------------------------------------------------------------

RULES = [
    # name, rule, config, torch.optim factory
    ("sgd", sgd, {"learning_rate": 1e-2}, lambda p: torch.optim.SGD(p, lr=1e-2)),
    ("sgd_momentum", sgd_momentum, {"learning_rate": 1e-2},
     lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9)),
    ("rmsprop", rmsprop, {"learning_rate": 1e-2},
     lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.99, eps=1e-8)),
    ("adam", adam, {"learning_rate": 1e-3}, lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)),
]


@pytest.mark.parametrize("name, rule, config, make_optimizer", by_student(RULES))
def test_update_rules_match_torch_optim(name, rule, config, make_optimizer, device_dtype):
    device, dtype = device_dtype
    w = random(7, 5, device=device, dtype=dtype)
    gradients = [random(7, 5, device=device, dtype=dtype, seed=10 + k) for k in range(10)]
    param = w.clone().requires_grad_(True)
    optimizer = make_optimizer([param])
    mine, state = w.clone(), None
    for k, dw in enumerate(gradients):
        mine, state = rule(mine, dw.clone(), state if state is not None else dict(config))
        param.grad = dw.clone()
        optimizer.step()
        err = rel_error(mine, param.detach())
        assert err < 1e-6, f"{name}: step {k + 1} differs from torch.optim: rel_error {err:.2e}"
    assert mine.dtype == dtype and mine.device == w.device, f"{name} must keep the dtype and device of w"
    assert rel_error(mine, w) > 1e-4, f"{name} did not move the weights"


@pytest.mark.parametrize("name, rule, defaults", by_student([
    ("sgd", sgd, {"learning_rate": 1e-2}),
    ("sgd_momentum", sgd_momentum, {"learning_rate": 1e-2, "momentum": 0.9}),
    ("rmsprop", rmsprop, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}),
    ("adam", adam, {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 1}),
]))
def test_update_rule_defaults(name, rule, defaults):
    _, config = rule(random(3, 2), random(3, 2, seed=1))
    for key, value in defaults.items():
        assert config[key] == value, f"{name}: default {key} must be {value}, got {config[key]}"


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def clustered_data(num_train, num_val, dim=3072, num_classes=10, seed=0):
    """Synthetic data of CIFAR's shape and scale: noisy copies of one template per class."""
    generator = torch.Generator().manual_seed(seed)
    templates = 0.1 * torch.randn(num_classes, dim, generator=generator)
    def split(n):
        y = torch.randint(num_classes, (n,), generator=generator)
        return templates[y] + 0.25 * torch.randn(n, dim, generator=generator), y
    (X_train, y_train), (X_val, y_val) = split(num_train), split(num_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


@pytest.mark.student("create_solver_instance", "TwoLayerNet.__init__", "TwoLayerNet.loss")
def test_create_solver_instance_trains_a_two_layer_net():
    torch.manual_seed(0)
    data = clustered_data(2000, 200)
    solver = fcn.create_solver_instance(data, torch.float32, "cpu")
    assert isinstance(solver.model, TwoLayerNet), "create_solver_instance must train a TwoLayerNet"
    assert solver.loss_history, "create_solver_instance must return a trained Solver (call train())"
    assert solver.best_val_acc > 0.9, \
        f"on easy clustered data the net should reach 0.9 validation accuracy, got {solver.best_val_acc:.3f}"


@pytest.mark.student("get_three_layer_network_params", "get_five_layer_network_params",
                     "FullyConnectedNet.__init__", "FullyConnectedNet.loss", "sgd")
@pytest.mark.parametrize("hidden_dims, get_params", [
    ([100, 100], "get_three_layer_network_params"),
    ([100, 100, 100, 100], "get_five_layer_network_params")], ids=["three", "five"])
def test_deep_nets_overfit_small_data(hidden_dims, get_params):
    from helpers.solver import Solver
    weight_scale, learning_rate = getattr(fcn, get_params)()
    generator = torch.Generator().manual_seed(0)
    data = {"X_train": torch.rand(50, 3072, generator=generator) - 0.5,
            "y_train": torch.randint(10, (50,), generator=generator)}
    data["X_val"], data["y_val"] = data["X_train"][:10], data["y_train"][:10]
    torch.manual_seed(0)
    model = FullyConnectedNet(hidden_dims, weight_scale=weight_scale, dtype=torch.float32)
    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": learning_rate},
                    batch_size=25, num_epochs=20, num_train_samples=None, verbose=False)
    solver.train()
    best = max(solver.train_acc_history)
    assert best == 1.0, f"{get_params}(): 50 examples should be fit perfectly within 20 epochs, best {best:.2f}"
