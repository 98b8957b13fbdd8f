"""Checks of assignment/fully_connected_networks.py: layers, loss layers, nets, update rules.

Each check runs one function of yours alone: the others are given stand-ins meanwhile
(``helpers/stand_ins.py``): ``Linear_ReLU`` is checked with stand-in ``Linear`` and ``ReLU``
layers, the nets with stand-in layers and a stand-in ``__init__``, ``create_solver_instance``
and ``train_best_fc_net`` with stand-in nets and stand-in update rules, and so on. Backward
passes get caches built by the check in the documented format. Checks marked ``composed=True``
use your own parts (not for ``create_solver_instance`` and ``train_best_fc_net``: their nets
and update rules have their own checks, and training twice would double the self-check's
longest checks). Every gradient is compared with torch.autograd on every device and dtype and
with numeric derivatives in float64 on tiny shapes; losses with torch.nn.functional; update
rules with torch.optim. The checks of one function that name a common mistake come first.
"""
import functools

import pytest
import torch
import torch.nn.functional as F

from assignment import fully_connected_networks as fcn
from helpers import gradcheck
from helpers.gradcheck import compute_numeric_gradient, rel_error
from helpers.i18n import _
from helpers.solver import Solver
from helpers.stand_ins import isolate

F64 = torch.float64


@pytest.fixture(autouse=True)
def alone(request, monkeypatch):
    """Every function of yours but the one a check is marked with is a given stand-in."""
    isolate(request.node, monkeypatch)


# Agreement expected between two exact computations of the same value.
tolerance = functools.partial(gradcheck.tolerance, float64=1e-10, float32=1e-5)


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
    return [
        pytest.param(*entry, id=entry[0], marks=pytest.mark.student(entry[0])) for entry in entries
    ]


def random(*shape, device="cpu", dtype=F64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=dtype).to(device)


def affine(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b


def linear_problem(device="cpu", dtype=F64):
    """x [4, 2, 3] (flattened to D = 6), w [6, 5], b [5], dout [4, 5]."""
    shapes = [(4, 2, 3), (6, 5), (5,), (4, 5)]
    return tuple(random(*shape, device=device, dtype=dtype, seed=seed)
                 for seed, shape in enumerate(shapes))


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------

@pytest.mark.student("Linear.forward")
def test_linear_forward_matches_the_formula(device_dtype):
    device, dtype = device_dtype
    x, w, b, _dout = linear_problem(device, dtype)
    out, cache = fcn.Linear.forward(x, w, b)
    assert out.shape == (4, 5) and out.dtype == dtype and out.device == x.device, (
        _("Linear.forward output: shape {out_shape}, dtype {out_dtype}; "
          "expected (4, 5), {dtype}").format(
            out_shape=tuple(out.shape), out_dtype=out.dtype, dtype=dtype)
    )
    assert rel_error(out, affine(x, w, b)) < tolerance(dtype), \
        _("Linear.forward differs from x.reshape(N, D) @ w + b")


@pytest.mark.student("Linear.backward")
def test_linear_backward_shapes():
    x, w, b, dout = linear_problem()
    dx, dw, db = fcn.Linear.backward(dout, (x, w, b))
    assert db.shape == b.shape, \
        _("db must have shape [M] = {b_shape}, got {db_shape}: sum dout over the "
          "examples of the batch (dim 0)").format(b_shape=tuple(b.shape), db_shape=tuple(db.shape))
    assert dw.shape == w.shape, \
        _("dw must have shape [D, M] = {w_shape}, got {dw_shape}").format(
            w_shape=tuple(w.shape), dw_shape=tuple(dw.shape))
    assert dx.shape == x.shape, \
        _("dx must have the shape of x {x_shape}, got {dx_shape}: "
          "reshape dout w^T like x").format(x_shape=tuple(x.shape), dx_shape=tuple(dx.shape))


@pytest.mark.student("Linear.backward")
def test_linear_backward_matches_autograd(device_dtype):
    device, dtype = device_dtype
    x, w, b, dout = linear_problem(device, dtype)
    grads = fcn.Linear.backward(dout, (x, w, b))
    expected = autograd_grads(affine, x, w, b, dout=dout)
    for name, mine, theirs in zip(("dx", "dw", "db"), grads, expected):
        err = rel_error(mine, theirs)
        assert err < tolerance(dtype), (
            _("Linear.backward {name} differs from autograd: rel_error {err:.2e}").format(
                name=name, err=err)
        )


@pytest.mark.student("Linear.backward")
def test_linear_backward_numeric_and_without_dx():
    x, w, b = random(3, 2, 2), random(4, 3, seed=1), random(3, seed=2)
    dout = random(3, 3, seed=3)
    dx, dw, db = fcn.Linear.backward(dout, (x, w, b))
    numeric = numeric_grads(affine, x, w, b, dout=dout)
    for name, mine, theirs in zip(("dx", "dw", "db"), (dx, dw, db), numeric):
        err = rel_error(mine, theirs)
        assert err < 1e-7, (
            _("Linear.backward {name} differs from the numeric gradient: rel_error "
              "{err:.2e}").format(name=name, err=err)
        )
    no_dx, dw2, db2 = fcn.Linear.backward(dout, (x, w, b), need_dx=False)
    assert no_dx is None, _("Linear.backward(..., need_dx=False) must return None for dx")
    assert rel_error(dw2, dw) < 1e-12 and rel_error(db2, db) < 1e-12, \
        _("need_dx=False must not change dw and db")


@pytest.mark.student("ReLU.forward")
def test_relu_forward(device_dtype):
    device, dtype = device_dtype
    x = random(5, 7, device=device, dtype=dtype)
    x_before = x.clone()
    out, _cache = fcn.ReLU.forward(x)
    assert torch.equal(x, x_before), _("ReLU.forward must not modify its input")
    assert torch.equal(out, torch.relu(x)), _("ReLU.forward differs from max(0, x)")


@pytest.mark.student("ReLU.backward")
def test_relu_backward_matches_autograd_and_numeric(device_dtype):
    device, dtype = device_dtype
    x = random(5, 7, device=device, dtype=dtype)
    dout = random(5, 7, device=device, dtype=dtype, seed=1)
    dx = fcn.ReLU.backward(dout, x)   # the cache of ReLU.forward is its input
    (ref,) = autograd_grads(torch.relu, x, dout=dout)
    assert rel_error(dx, ref) < tolerance(dtype), \
        _("ReLU.backward differs from autograd: dout passes where x > 0 and is 0 elsewhere")
    if dtype == F64:
        (numeric,) = numeric_grads(torch.relu, x, dout=dout)
        assert rel_error(dx, numeric) < 1e-7, _("ReLU.backward differs from the numeric gradient")


def linear_relu(x, w, b):
    return torch.relu(affine(x, w, b))


def linear_relu_problem(device="cpu", dtype=F64):
    shapes = [(3, 4), (4, 5), (5,), (3, 5)]
    return tuple(random(*shape, device=device, dtype=dtype, seed=seed)
                 for seed, shape in enumerate(shapes))


def check_linear_relu_forward(device, dtype):
    x, w, b, _dout = linear_relu_problem(device, dtype)
    out, cache = fcn.Linear_ReLU.forward(x, w, b)
    assert rel_error(out, linear_relu(x, w, b)) < tolerance(dtype), \
        _("Linear_ReLU.forward differs from relu(x w + b)")
    assert isinstance(cache, tuple) and len(cache) == 2, \
        _("the cache of Linear_ReLU.forward must be the pair (fc_cache, relu_cache)")


@pytest.mark.student("Linear_ReLU.forward")
def test_linear_relu_forward(device_dtype):
    check_linear_relu_forward(*device_dtype)


@pytest.mark.student("Linear_ReLU.forward", composed=True)
def test_linear_relu_forward_with_your_layers():
    check_linear_relu_forward("cpu", F64)


def check_linear_relu_backward(cache_of, device, dtype):
    x, w, b, dout = linear_relu_problem(device, dtype)
    grads = fcn.Linear_ReLU.backward(dout, cache_of(x, w, b))
    checks = [("autograd", autograd_grads(linear_relu, x, w, b, dout=dout), tolerance(dtype))]
    if dtype == F64:
        # Translators: in "Linear_ReLU.backward dx differs from the numeric gradient".
        checks.append((_("numeric"), numeric_grads(linear_relu, x, w, b, dout=dout), 1e-7))
    for source, expected, tol in checks:
        for name, mine, theirs in zip(("dx", "dw", "db"), grads, expected):
            err = rel_error(mine, theirs)
            assert err < tol, (
                _("Linear_ReLU.backward {name} differs from the {source} gradient: "
                  "rel_error {err:.2e}").format(name=name, source=source, err=err)
            )


@pytest.mark.student("Linear_ReLU.backward")
def test_linear_relu_backward(device_dtype):
    # The documented cache: (fc_cache, relu_cache) = ((x, w, b), x w + b).
    check_linear_relu_backward(lambda x, w, b: ((x, w, b), affine(x, w, b)), *device_dtype)


@pytest.mark.student("Linear_ReLU.backward", composed=True)
def test_linear_relu_backward_with_your_layers():
    check_linear_relu_backward(lambda x, w, b: fcn.Linear_ReLU.forward(x, w, b)[1], "cpu", F64)


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------

@pytest.mark.student("Dropout.forward")
@pytest.mark.parametrize("p", [0.25, 0.7])
def test_dropout_is_the_identity_at_test_time(p):
    x = 10 + random(200, 50)
    out, cache = fcn.Dropout.forward(x, {"mode": "test", "p": p})
    ratio = (out.mean() / x.mean()).item()
    assert torch.equal(out, x), \
        _("in test mode dropout must return x unchanged (p = {p}); yours scales it by about "
          "{ratio:.3g}. Inverted dropout already scaled the kept units by 1 / (1 - p) at train "
          "time").format(p=p, ratio=ratio)


@pytest.mark.student("Dropout.forward")
@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_dropout_statistics(p, device_dtype):
    device, dtype = device_dtype
    x = 10 + random(500, 500, device=device, dtype=dtype)
    out, _cache = fcn.Dropout.forward(x, {"mode": "train", "p": p, "seed": 123})
    zeroed = (out == 0).to(F64).mean().item()
    assert abs(zeroed - (1 - p)) > 0.05 or abs(zeroed - p) < 0.01, \
        _("p is the probability of DROPPING a unit; yours drops a fraction {zeroed:.2f} with "
          "p = {p}: keep a unit where its uniform number is >= p").format(zeroed=zeroed, p=p)
    assert abs(zeroed - p) < 0.01, \
        _("dropout with p={p} zeroed a fraction {zeroed:.3f} of units").format(p=p, zeroed=zeroed)
    kept = out != 0
    assert rel_error(out[kept], x[kept] / (1 - p)) < tolerance(dtype), \
        _("at train time the kept units must be scaled by 1 / (1 - p) (inverted dropout)")
    assert abs(out.mean().item() / x.mean().item() - 1) < 0.01, \
        _("inverted dropout must keep the mean: {before:.3f} -> {after:.3f}").format(
            before=x.mean().item(), after=out.mean().item())


@pytest.mark.student("Dropout.forward")
def test_dropout_seed_gives_the_same_mask():
    x = random(50, 40)
    out1, _cache = fcn.Dropout.forward(x, {"mode": "train", "p": 0.5, "seed": 7})
    out2, _cache = fcn.Dropout.forward(x, {"mode": "train", "p": 0.5, "seed": 7})
    out3, _cache = fcn.Dropout.forward(x, {"mode": "train", "p": 0.5, "seed": 8})
    assert torch.equal(out1, out2), \
        _("the same seed must give the same dropout mask: draw it with the given generator")
    assert not torch.equal(out1, out3), _("different seeds must give different masks")
    with pytest.raises(ValueError):
        fcn.Dropout.forward(x, {"mode": "train", "p": 1.0})


@pytest.mark.student("Dropout.backward")
def test_dropout_backward():
    dout = random(10, 6, seed=1)
    param = {"mode": "train", "p": 0.3}
    mask = (torch.rand(10, 6, generator=torch.Generator().manual_seed(11), dtype=F64) >= 0.3) / 0.7
    dx = fcn.Dropout.backward(dout, (param, mask.to(F64)))   # the documented cache
    assert rel_error(dx, dout * mask) < 1e-12, \
        _("in train mode the gradient flows through the same scaled mask: dx = dout * mask")
    test_param = {"mode": "test", "p": 0.3}
    assert torch.equal(fcn.Dropout.backward(dout, (test_param, None)), dout), \
        _("in test mode the gradient passes unchanged")


# ---------------------------------------------------------------------------
# Loss layers
# ---------------------------------------------------------------------------

LOSSES = [
    # name, torch.nn.functional oracle on scores x [N, C] and labels y
    ("svm_loss", lambda x, y: x.shape[1] * F.multi_margin_loss(x, y, margin=1.0)),
    ("softmax_loss", F.cross_entropy),
]


@pytest.mark.parametrize("name", by_student([(n,) for n, _ in LOSSES]))
def test_loss_layer_of_a_batch_is_the_mean_of_its_examples(name):
    x, y = random(8, 5), torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    loss_fn = getattr(fcn, name)
    loss, dx = loss_fn(x, y)
    singles = [loss_fn(x[i:i + 1], y[i:i + 1]) for i in range(8)]
    mean_loss = sum(float(single[0]) for single in singles) / 8
    assert abs(float(loss) - mean_loss) < 1e-9 * max(1.0, mean_loss), \
        _("{name}: the loss of a batch of 8 ({loss:.4g}) is not the mean of the examples' "
          "losses ({mean_loss:.4g}): a sum, mean or max runs over the wrong axis. Average over "
          "the examples (dim 0); sum, max and softmax run over the classes (dim 1)").format(
            name=name, loss=float(loss), mean_loss=mean_loss)
    stacked = torch.cat([single[1] for single in singles]) / 8
    assert rel_error(dx, stacked) < 1e-9, \
        _("{name}: row i of dx must be the gradient of example i divided by N = 8").format(
            name=name)


@pytest.mark.student("softmax_loss")
def test_softmax_loss_survives_large_scores():
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    for offset in (1000.0, -1000.0):
        loss, dx = fcn.softmax_loss(random(6, 4, seed=6) + offset, y)
        assert torch.isfinite(torch.as_tensor(loss)) and torch.isfinite(dx).all(), \
            _("softmax_loss is not finite when every score is about {offset:+g}: exp overflows "
              "(or underflows to 0 / 0). Subtract each row's maximum score before exp").format(
                offset=offset)
    scores = random(6, 4, seed=7)
    scores[torch.arange(6), y] -= 1000.0   # the correct class far below the others
    loss, dx = fcn.softmax_loss(scores, y)
    assert torch.isfinite(torch.as_tensor(loss)), \
        _("softmax_loss is inf when the correct class scores 1000 below the others: p[y] "
          "underflows to 0 and -log(0) = inf. Never take the log of p: log p = (x - m) - "
          "log(sum exp(x - m)), with m the row maximum")
    assert abs(float(loss) - F.cross_entropy(scores, y).item()) < 1e-6 * 1000


@pytest.mark.parametrize("name, oracle", by_student(LOSSES))
def test_loss_layers_match_torch(name, oracle, device_dtype):
    device, dtype = device_dtype
    x = random(8, 5, device=device, dtype=dtype)
    y = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2], device=device)
    loss, dx = getattr(fcn, name)(x, y)
    expected = oracle(x, y)
    assert abs(float(loss) - expected.item()) < 1e-4 * max(1.0, expected.item()), \
        _("{name} = {loss:.6f}, torch.nn.functional gives {expected:.6f}").format(
            name=name, loss=float(loss), expected=expected.item())
    (ref_dx,) = autograd_grads(lambda scores: oracle(scores, y), x)
    assert rel_error(dx, ref_dx) < tolerance(dtype) * 10, \
        _("{name} gradient differs from autograd").format(name=name)
    assert dx.dtype == dtype and dx.device == x.device, (
        _("{name} must return dx in the dtype and device of x").format(name=name)
    )


@pytest.mark.parametrize("name", by_student([(n,) for n, _ in LOSSES]))
def test_loss_layers_numeric_gradient_and_stability(name):
    loss_fn = getattr(fcn, name)
    x = 0.1 * random(6, 4, seed=5)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    _loss, dx = loss_fn(x, y)
    (numeric,) = numeric_grads(lambda s: loss_fn(s, y)[0], x)
    err = rel_error(dx, numeric)
    assert err < 1e-7, \
        _("{name} gradient differs from the numeric gradient: rel_error {err:.2e}").format(
            name=name, err=err)
    big = 1000 * random(6, 4, seed=6)
    loss, dx = loss_fn(big, y)
    assert torch.isfinite(torch.as_tensor(loss)) and torch.isfinite(dx).all(), \
        _("{name} is not finite for large scores: subtract the row maximum first").format(name=name)


# ---------------------------------------------------------------------------
# Nets
# ---------------------------------------------------------------------------

def oracle_net_loss(params, X, y, num_layers, reg, masks=()):
    """Autograd oracle: {Linear - ReLU - [mask]} x (L-1) - Linear - cross-entropy + L2."""
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
    expected = oracle_net_loss(leaves, X, y, len(names) // 2, model.reg, masks)
    expected.backward()
    assert abs(float(loss) - expected.item()) < tol * 100, \
        _("net loss {loss:.8f} differs from the autograd oracle {expected:.8f}").format(
            loss=float(loss), expected=expected.item())
    assert set(grads) == set(names), (
        _("grads must have the keys of params {names}, got {keys}").format(
            names=names, keys=sorted(grads))
    )
    for k in names:
        err = rel_error(grads[k], leaves[k].grad)
        assert err < tol, \
            _("gradient of {k} differs from autograd: rel_error {err:.2e}").format(k=k, err=err)
        if numeric:
            num = compute_numeric_gradient(lambda _: model.loss(X, y)[0], model.params[k], h=1e-6)
            err = rel_error(grads[k], num)
            assert err < 1e-7, (
                _("gradient of {k} differs from the numeric gradient: rel_error {err:.2e}").format(
                    k=k, err=err)
            )


def check_net_regularization(model, X, y):
    """The loss adds reg * sum(W * W) over the weights, the gradients 2 * reg * W."""
    reg = model.reg
    loss_reg, grads_reg = model.loss(X, y)
    model.reg = 0.0
    loss_plain, grads_plain = model.loss(X, y)
    model.reg = reg
    weights = [k for k in model.params if k.startswith("W")]
    term = reg * sum((model.params[k] ** 2).sum() for k in weights)
    assert abs(float(loss_reg) - float(loss_plain) - term.item()) < 1e-8, \
        _("with reg the loss must add reg * sum(W * W) over every weight matrix (not the biases)")
    for k in weights:
        assert rel_error(grads_reg[k], grads_plain[k]) > 1e-6, \
            _("the gradient of {k} misses the regularization gradient: add 2 * reg * {k}").format(
                k=k)
        added = grads_reg[k] - grads_plain[k]
        assert rel_error(added, reg * model.params[k]) > 1e-6, \
            _("the regularization gradient of {k} is 2 * reg * {k}, not reg * {k}").format(k=k)
        assert rel_error(added, 2 * reg * model.params[k]) < 1e-8, \
            _("the reg part of the gradient of {k} must be 2 * reg * {k}").format(k=k)


@pytest.mark.student("TwoLayerNet.__init__")
def test_two_layer_net_initialization(device_dtype):
    device, dtype = device_dtype
    torch.manual_seed(0)
    model = fcn.TwoLayerNet(input_dim=300, hidden_dim=200, num_classes=10, weight_scale=1e-2,
                            dtype=dtype, device=device)
    shapes = {"W1": (300, 200), "b1": (200,), "W2": (200, 10), "b2": (10,)}
    assert set(model.params) == set(shapes), \
        _("params must be W1, b1, W2, b2, got {keys}").format(keys=sorted(model.params))
    for k, shape in shapes.items():
        v = model.params[k]
        assert (
            tuple(v.shape) == shape
            and v.dtype == dtype
            and v.device.type == torch.device(device).type
        ), (
            _("params[{k!r}]: expected {shape} {dtype} on {device}, "
              "got {v_shape} {v_dtype} {v_device}").format(
                k=k, shape=shape, dtype=dtype, device=device, v_shape=tuple(v.shape),
                v_dtype=v.dtype, v_device=v.device)
        )
    assert abs(model.params["W1"].std().item() / 1e-2 - 1) < 0.05, \
        _("W1 must have std weight_scale")
    assert abs(model.params["W2"].std().item() / 1e-2 - 1) < 0.1, _("W2 must have std weight_scale")
    assert (model.params["b1"] == 0).all() and (model.params["b2"] == 0).all(), (
        _("biases start at zero")
    )


def two_layer_model(reg):
    torch.manual_seed(0)
    return fcn.TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, weight_scale=0.5, reg=reg,
                           dtype=F64)


@pytest.mark.student("TwoLayerNet.loss")
def test_two_layer_net_regularization():
    check_net_regularization(two_layer_model(0.7), random(4, 6), torch.tensor([0, 1, 2, 1]))


@pytest.mark.student("TwoLayerNet.loss")
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_two_layer_net_loss_and_gradients(reg):
    model = two_layer_model(reg)
    X, y = random(4, 6), torch.tensor([0, 1, 2, 1])
    check_net_against_autograd(model, X, y)
    scores = model.loss(X)
    assert scores.shape == (4, 3), \
        _("test-time scores must be [N, C], got {scores_shape}").format(
            scores_shape=tuple(scores.shape))


@pytest.mark.student("TwoLayerNet.loss", composed=True)
def test_two_layer_net_with_your_layers():
    check_net_against_autograd(two_layer_model(0.7), random(4, 6), torch.tensor([0, 1, 2, 1]))


@pytest.mark.student("FullyConnectedNet.__init__")
@pytest.mark.parametrize("hidden_dims", [[], [5], [6, 5, 4]], ids=["0", "1", "3"])
def test_fully_connected_net_parameters(hidden_dims):
    model = fcn.FullyConnectedNet(hidden_dims, input_dim=7, num_classes=3, dtype=F64)
    expected = sorted(f"{p}{i}" for i in range(1, len(hidden_dims) + 2) for p in "Wb")
    assert sorted(model.params) == expected, \
        _("params must be W1, b1, ..., W{last}, b{last}, "
          "got {keys}").format(last=len(hidden_dims) + 1, keys=sorted(model.params))
    sizes = [7, *hidden_dims, 3]
    for i in range(1, len(sizes)):
        assert model.params[f"W{i}"].shape == (sizes[i - 1], sizes[i]), \
            _("W{i} must be [{rows}, {cols}], got {shape}").format(
                i=i, rows=sizes[i - 1], cols=sizes[i], shape=tuple(model.params[f'W{i}'].shape))


@pytest.mark.student("FullyConnectedNet.__init__")
def test_fully_connected_net_initialization(device_dtype):
    device, dtype = device_dtype
    torch.manual_seed(0)
    model = fcn.FullyConnectedNet([300, 200], input_dim=400, num_classes=10, weight_scale=2e-2,
                                  dtype=dtype, device=device)
    for k, shape in {"W1": (400, 300), "W2": (300, 200), "W3": (200, 10), "b3": (10,)}.items():
        v = model.params[k]
        assert tuple(v.shape) == shape and v.dtype == dtype, (
            _("params[{k!r}] must be {shape} {dtype}").format(k=k, shape=shape, dtype=dtype)
        )
        assert v.device.type == torch.device(device).type, \
            _("params[{k!r}] must be on {device}").format(k=k, device=device)
    assert abs(model.params["W1"].std().item() / 2e-2 - 1) < 0.05, (
        _("weights must have std weight_scale")
    )
    assert all((model.params[f"b{i}"] == 0).all() for i in (1, 2, 3)), _("biases start at zero")


def fc_model(hidden_dims, reg, dropout=0.0):
    torch.manual_seed(0)
    return fcn.FullyConnectedNet(hidden_dims, input_dim=7, num_classes=3, reg=reg, dropout=dropout,
                                 weight_scale=0.5, seed=42, dtype=F64)


FC_X, FC_Y = random(5, 7), torch.tensor([0, 1, 2, 1, 0])


@pytest.mark.student("FullyConnectedNet.loss")
def test_fully_connected_net_regularization():
    check_net_regularization(fc_model([6, 5], 3.14), FC_X, FC_Y)


@pytest.mark.student("FullyConnectedNet.loss")
@pytest.mark.parametrize("hidden_dims, reg",
                         [([5], 0.0), ([6, 5], 3.14), ([4, 5, 6], 0.0), ([], 0.5)])
def test_fully_connected_net_loss_and_gradients(hidden_dims, reg):
    model = fc_model(hidden_dims, reg)
    check_net_against_autograd(model, FC_X, FC_Y)
    scores = model.loss(FC_X)
    assert scores.shape == (5, 3), \
        _("test-time scores must be [N, C], got {scores_shape}").format(
            scores_shape=tuple(scores.shape))


def check_net_with_dropout(p):
    model = fc_model([6, 5], 0.1, dropout=p)
    # the net's masks are those of the Dropout layer with the same seed
    param = {"mode": "train", "p": p, "seed": 42}
    masks = [fcn.Dropout.forward(torch.ones(5, h, dtype=F64), param)[0] for h in (6, 5)]
    check_net_against_autograd(model, FC_X, FC_Y, masks=masks)
    plain = fcn.FullyConnectedNet([6, 5], input_dim=7, num_classes=3, dtype=F64)
    plain.params = model.params
    assert rel_error(model.loss(FC_X), plain.loss(FC_X)) < 1e-12, \
        _("at test time (y=None) dropout must be the identity")


@pytest.mark.student("FullyConnectedNet.loss")
@pytest.mark.parametrize("p", [0.25, 0.5])
def test_fully_connected_net_with_dropout(p):
    check_net_with_dropout(p)


@pytest.mark.student("FullyConnectedNet.loss", composed=True)
def test_fully_connected_net_with_your_layers():
    check_net_against_autograd(fc_model([6, 5], 3.14), FC_X, FC_Y)
    check_net_with_dropout(0.25)


# ---------------------------------------------------------------------------
# Update rules: the common mistakes first, then torch.optim
# ---------------------------------------------------------------------------

def adam_step_without_bias_correction(w, dw, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v = (1 - beta1) * dw, (1 - beta2) * dw * dw
    return w - lr * m / (v.sqrt() + eps)


@pytest.mark.student("adam")
def test_adam_first_step_is_bias_corrected():
    w, dw = random(7, 5), random(7, 5, seed=10)
    mine, config = fcn.adam(w.clone(), dw.clone(), {"learning_rate": 1e-3})
    assert torch.isfinite(mine).all(), \
        _("adam's first step is not finite: increment t BEFORE using it, so the first step has "
          "t = 1 (with t = 0, 1 - beta1^t = 0 and m_hat = m / 0)")
    param = w.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([param], lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    param.grad = dw.clone()
    optimizer.step()
    expected = param.detach()
    if rel_error(mine, expected) > 1e-6:
        uncorrected = adam_step_without_bias_correction(w, dw)
        assert rel_error(mine, uncorrected) > 1e-6, \
            _("adam has no bias correction: use m_hat = m / (1 - beta1^t) and "
              "v_hat = v / (1 - beta2^t) in the step, with t = 1 at the first step")
    err = rel_error(mine, expected)
    assert err < 1e-6, \
        _("adam's first step differs from torch.optim.Adam: rel_error {err:.2e}").format(err=err)
    assert config.get("t") == 1, \
        _("after the first step config['t'] must be 1, got {t}").format(t=config.get('t'))


RULES = [
    # name, config, torch.optim factory
    ("sgd", {"learning_rate": 1e-2}, lambda p: torch.optim.SGD(p, lr=1e-2)),
    ("sgd_momentum", {"learning_rate": 1e-2}, lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9)),
    ("rmsprop", {"learning_rate": 1e-2},
     lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.99, eps=1e-8)),
    ("adam", {"learning_rate": 1e-3},
     lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)),
]


@pytest.mark.parametrize("name, config, make_optimizer", by_student(RULES))
def test_update_rules_match_torch_optim(name, config, make_optimizer, device_dtype):
    device, dtype = device_dtype
    rule = getattr(fcn, name)
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
        assert err < 1e-6, \
            _("{name}: step {step} differs from torch.optim: rel_error {err:.2e}").format(
                name=name, step=k + 1, err=err)
    assert mine.dtype == dtype and mine.device == w.device, (
        _("{name} must keep the dtype and device of w").format(name=name)
    )
    assert rel_error(mine, w) > 1e-4, _("{name} did not move the weights").format(name=name)


@pytest.mark.parametrize("name, defaults", by_student([
    ("sgd", {"learning_rate": 1e-2}),
    ("sgd_momentum", {"learning_rate": 1e-2, "momentum": 0.9}),
    ("rmsprop", {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}),
    ("adam", {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 1}),
]))
def test_update_rule_defaults(name, defaults):
    _w, config = getattr(fcn, name)(random(3, 2), random(3, 2, seed=1))
    for key, value in defaults.items():
        assert config[key] == value, \
            _("{name}: default {key} must be {value}, got {got}").format(
                name=name, key=key, value=value, got=config[key])


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


def held_out_split(num_train, num_val, num_held_out=500):
    """Clustered data, and examples of the same clusters that the trained net never sees."""
    data = clustered_data(num_train, num_val + num_held_out)
    held_out = data["X_val"][num_val:], data["y_val"][num_val:]
    data["X_val"], data["y_val"] = data["X_val"][:num_val], data["y_val"][:num_val]
    return data, held_out


def measured_accuracy(model, X, y):
    """The accuracy of ``model.params`` on ``(X, y)``, computed here rather than taken from the
    Solver: affine layers ``W1, b1, W2, ...`` with a ReLU between them (dropout is off at test
    time). X [N, D], y [N] -> float."""
    params = model.params
    layers = sum(1 for name in params if name[:1] == "W" and name[1:].isdigit())
    hidden = X.to(params["W1"].dtype)
    for i in range(1, layers + 1):
        hidden = hidden @ params[f"W{i}"] + params[f"b{i}"]
        if i < layers:
            hidden = hidden.clamp(min=0)
    return (hidden.argmax(dim=1) == y).double().mean().item()


def check_trained(solver, name, held_out):
    """What ``solver`` says about its training holds: a loss per iteration of the epochs it
    ran, and an accuracy on examples it never saw that matches its validation accuracy."""
    per_epoch = max(solver.X_train.shape[0] // solver.batch_size, 1)
    assert solver.epoch >= 1 and \
        solver.epoch * per_epoch <= len(solver.loss_history) < (solver.epoch + 1) * per_epoch, (
            _("{name}: {num_losses} losses for {epoch} epochs of {per_epoch} "
              "iterations: the Solver must be trained with train()").format(
                name=name, num_losses=len(solver.loss_history), epoch=solver.epoch,
                per_epoch=per_epoch))
    accuracy = measured_accuracy(solver.model, *held_out)
    assert accuracy > 0.9, (
        _("{name}: on easy clustered data the net should reach 0.9 accuracy on examples it never "
          "saw, got {accuracy:.3f} (the Solver reports {best_val_acc:.3f} on validation)").format(
            name=name, accuracy=accuracy, best_val_acc=solver.best_val_acc))


@pytest.mark.student("create_solver_instance")
def test_create_solver_instance_trains_a_two_layer_net():
    torch.manual_seed(0)
    data, held_out = held_out_split(2000, 200)
    solver = fcn.create_solver_instance(data, torch.float32, "cpu")
    assert isinstance(solver, Solver), _("create_solver_instance must return the Solver")
    assert isinstance(solver.model, fcn.TwoLayerNet), \
        _("create_solver_instance must train a TwoLayerNet")
    assert solver.loss_history, \
        _("create_solver_instance must return a trained Solver (call train())")
    assert solver.best_val_acc > 0.9, (
        _("on easy clustered data the net should reach 0.9 validation accuracy, "
          "got {best_val_acc:.3f}").format(best_val_acc=solver.best_val_acc)
    )
    check_trained(solver, "create_solver_instance", held_out)


@pytest.mark.student("train_best_fc_net")
def test_train_best_fc_net_trains_a_fully_connected_net():
    torch.manual_seed(0)
    data, held_out = held_out_split(1000, 200)
    solver = fcn.train_best_fc_net(data, torch.float32, "cpu", num_epochs=2)
    assert isinstance(solver, Solver), _("train_best_fc_net must return the Solver")
    assert isinstance(solver.model, fcn.FullyConnectedNet), \
        _("train_best_fc_net must train a FullyConnectedNet")
    assert solver.model.params["W1"].dtype == torch.float32, \
        _("train_best_fc_net must build the model in the dtype it is given")
    assert solver.loss_history, _("train_best_fc_net must return a trained Solver (call train())")
    assert solver.num_epochs == 2 and solver.epoch == 2, \
        _("train_best_fc_net must train for num_epochs=2 epochs, not {num_epochs}").format(
            num_epochs=solver.num_epochs)
    assert solver.best_val_acc > 0.9, (
        _("on easy clustered data the net should reach 0.9 validation accuracy in 2 epochs, "
          "got {best_val_acc:.3f}").format(best_val_acc=solver.best_val_acc)
    )
    check_trained(solver, "train_best_fc_net", held_out)


@pytest.mark.parametrize("hidden_dims, get_params", [
    pytest.param([100, 100], "get_three_layer_network_params", id="three",
                 marks=pytest.mark.student("get_three_layer_network_params")),
    pytest.param([100, 100, 100, 100], "get_five_layer_network_params", id="five",
                 marks=pytest.mark.student("get_five_layer_network_params"))])
def test_deep_nets_overfit_small_data(hidden_dims, get_params):
    weight_scale, learning_rate = getattr(fcn, get_params)()
    generator = torch.Generator().manual_seed(0)
    data = {"X_train": torch.rand(50, 3072, generator=generator) - 0.5,
            "y_train": torch.randint(10, (50,), generator=generator)}
    data["X_val"], data["y_val"] = data["X_train"][:10], data["y_train"][:10]
    torch.manual_seed(0)
    model = fcn.FullyConnectedNet(hidden_dims, weight_scale=weight_scale, dtype=torch.float32)
    solver = Solver(model, data, update_rule=fcn.sgd, optim_config={"learning_rate": learning_rate},
                    batch_size=25, num_epochs=20, num_train_samples=None, verbose=False)
    solver.train()
    best = max(solver.train_acc_history)
    assert best == 1.0, (
        _("{get_params}(): 50 examples should be fit perfectly within 20 epochs, best "
          "{best:.2f}").format(get_params=get_params, best=best)
    )
