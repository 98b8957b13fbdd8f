"""Checks of assignment/linear_classifier.py: losses, gradients, SGD, prediction, search settings.

Each check runs one function of yours alone: the others are given stand-ins meanwhile
(``helpers/stand_ins.py``; e.g. ``train_linear_classifier`` is checked with a stand-in
``sample_batch`` and a stand-in loss). Checks marked ``composed=True`` use your own parts.
The checks of one function come in order: first the ones that name a common mistake, then the
comparisons with ``torch.nn.functional`` and autograd. The module is imported as ``lc`` (its
``test_one_param_set`` is not a pytest test).
"""
import math

import pytest
import torch
import torch.nn.functional as F

import assignment.linear_classifier as lc
from helpers import stand_ins
from helpers.gradcheck import compute_numeric_gradient, rel_error, tolerance
from helpers.i18n import _
from helpers.stand_ins import isolate

LOSSES = {
    "svm": (lc.svm_loss_naive, lc.svm_loss_vectorized),
    "softmax": (lc.softmax_loss_naive, lc.softmax_loss_vectorized),
}
VERSIONS = ("naive", "vectorized")


@pytest.fixture(autouse=True)
def alone(request, monkeypatch):
    """Every function of yours but the one a check is marked with is a given stand-in."""
    isolate(request.node, monkeypatch)


def loss_cases(kinds=("svm", "softmax"), versions=(0, 1)):
    """Parameters (kind, version), each marked with the student function it exercises."""
    return [pytest.param(kind, version, id=f"{kind}-{VERSIONS[version]}",
                         marks=pytest.mark.student(LOSSES[kind][version].__name__))
            for kind in kinds for version in versions]


def oracle_loss(kind, W, X, y, reg):
    """The same losses written with torch.nn.functional (differentiable by autograd)."""
    scores = torch.matmul(X, W)
    if kind == "svm":
        # multi_margin_loss averages the hinge terms over the C classes too.
        data_loss = scores.shape[1] * F.multi_margin_loss(scores, y, margin=1.0)
    else:
        data_loss = F.cross_entropy(scores, y)
    return data_loss + reg * torch.sum(W * W)


def random_problem(device, dtype, num_train=20, dim=15, num_classes=4, seed=0, scale=1e-1):
    generator = torch.Generator().manual_seed(seed)
    W = scale * torch.randn(dim, num_classes, generator=generator, dtype=torch.float64)
    X = torch.randn(num_train, dim, generator=generator, dtype=torch.float64)
    y = torch.randint(num_classes, (num_train,), generator=generator)
    return W.to(device, dtype), X.to(device, dtype), y.to(device)


def given_scores(scores):
    """``(W, X)`` with ``X W = scores`` exactly: X is the identity [N, N] and W the scores."""
    return scores.clone(), torch.eye(scores.shape[0], dtype=scores.dtype, device=scores.device)


def blobs(num_per_class=30, dim=5, num_classes=3, seed=0, dtype=torch.float64, device="cpu"):
    """Well separated Gaussian blobs with a bias column: a linearly separable problem."""
    generator = torch.Generator().manual_seed(seed)
    centres = 4.0 * torch.randn(num_classes, dim, generator=generator, dtype=torch.float64)
    y = torch.arange(num_classes).repeat_interleave(num_per_class)
    X = centres[y] + 0.3 * torch.randn(len(y), dim, generator=generator, dtype=torch.float64)
    X = torch.cat([X, torch.ones(len(y), 1, dtype=torch.float64)], dim=1)
    order = torch.randperm(len(y), generator=generator)
    return X[order].to(device, dtype), y[order].to(device)


# ---------------------------------------------------------------------------
# Losses and gradients: the common mistakes first, then the comparisons
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind,version", loss_cases())
def test_loss_is_a_scalar_and_dW_is_like_W(kind, version, device_dtype):
    device, dtype = device_dtype
    W, X, y = random_problem(device, dtype)
    loss, dW = LOSSES[kind][version](W, X, y, 0.1)
    assert torch.is_tensor(loss) and loss.dim() == 0, \
        _("the loss must be a 0-dim tensor, got {type} "
          "{shape}").format(type=type(loss).__name__, shape=tuple(getattr(loss, 'shape', ())))
    assert dW.shape == W.shape and dW.dtype == dtype and dW.device == W.device, \
        _("dW must have W's shape, dtype and device, got {dW_shape} {dW_dtype} {dW_device}").format(
            dW_shape=tuple(dW.shape), dW_dtype=dW.dtype, dW_device=dW.device)


@pytest.mark.parametrize("kind,version", loss_cases())
def test_loss_of_a_batch_is_the_mean_of_its_examples(kind, version):
    W, X, y = random_problem("cpu", torch.float64, num_train=12, dim=6, seed=6)
    loss_func = LOSSES[kind][version]
    loss, dW = loss_func(W, X, y, 0.0)
    singles = [loss_func(W, X[i:i + 1], y[i:i + 1], 0.0) for i in range(X.shape[0])]
    mean_loss = torch.stack([single[0] for single in singles]).mean()
    if mean_loss.item():
        # Translators: followed by ": a sum, mean or max runs over the wrong axis. ...".
        problem = _("the loss of a batch of 12 examples ({loss:.4g}) is {ratio:.3g} times the "
                    "mean of their losses one at a time ({mean_loss:.4g})").format(
            loss=loss.item(), ratio=loss.item() / mean_loss.item(), mean_loss=mean_loss.item())
    else:
        # Translators: followed by ": a sum, mean or max runs over the wrong axis. ...".
        problem = _("the loss of a batch of 12 examples ({loss:.4g}) is not the mean of their "
                    "losses one at a time ({mean_loss:.4g})").format(
            loss=loss.item(), mean_loss=mean_loss.item())
    assert rel_error(loss, mean_loss) < 1e-9, \
        _("{problem}: a sum, mean or max runs over the wrong axis. Average over the examples "
          "(dim 0); sum, max and softmax run over the classes (dim 1)").format(problem=problem)
    mean_dW = torch.stack([single[1] for single in singles]).mean(dim=0)
    assert rel_error(dW, mean_dW) < 1e-9, \
        _("dW of a batch must be the mean of the examples' dW: divide the sum over the "
          "examples by N, the number of examples (dim 0), not by the number of classes")


@pytest.mark.parametrize("kind,version", loss_cases())
def test_regularization_adds_reg_W_squared_and_its_gradient(kind, version):
    W, X, y = random_problem("cpu", torch.float64, seed=7)
    loss_func, reg = LOSSES[kind][version], 0.7
    loss_plain, dW_plain = loss_func(W, X, y, 0.0)
    loss_reg, dW_reg = loss_func(W, X, y, reg)
    expected_term = reg * torch.sum(W * W)
    assert rel_error(loss_reg - loss_plain, expected_term) < 1e-9, \
        _("with reg = {reg} the loss must grow by reg * sum(W * W) = {expected_term:.4g}, "
          "it grew by {growth:.4g}").format(
            reg=reg, expected_term=expected_term.item(), growth=(loss_reg - loss_plain).item())
    added = dW_reg - dW_plain
    assert rel_error(dW_reg, dW_plain) > 1e-6, \
        _("dW misses the regularization gradient: the loss adds reg * sum(W * W), so dW must "
          "add its derivative 2 * reg * W")
    assert rel_error(added, reg * W) > 1e-6, \
        _("the regularization gradient is 2 * reg * W, not reg * W")
    assert rel_error(added, 2 * reg * W) < 1e-9, \
        _("the regularization must add exactly 2 * reg * W to dW (and nothing else)")


@pytest.mark.parametrize("kind,version", loss_cases(kinds=["softmax"]))
@pytest.mark.parametrize("offset", [1000.0, -1000.0])
def test_softmax_survives_scores_far_from_zero(kind, version, offset, device_dtype):
    device, dtype = device_dtype
    generator = torch.Generator().manual_seed(4)
    base = torch.randn(6, 5, generator=generator, dtype=torch.float64)
    scores = (base + offset).to(device, dtype)   # every score about +1000 (or -1000)
    y = torch.tensor([0, 1, 2, 3, 4, 0], device=device)
    loss, dW = LOSSES[kind][version](*given_scores(scores), y, 0.0)
    assert torch.isfinite(loss) and torch.isfinite(dW).all(), \
        _("the softmax loss is {loss} when every score is about {offset:+g}: exp overflows "
          "(or underflows to 0 / 0). Subtract each row's maximum score before exp; p does not "
          "change").format(loss=loss.item(), offset=offset)
    expected = F.cross_entropy(scores, y)
    err = rel_error(loss, expected)
    assert err < tolerance(dtype, float64=1e-10) * 10, \
        _("with scores about {offset:+g} the loss {loss:.6f} differs from "
          "cross_entropy {expected:.6f} (rel_error {err:.2e})").format(
            offset=offset, loss=loss.item(), expected=expected.item(), err=err)


@pytest.mark.parametrize("kind,version", loss_cases(kinds=["softmax"]))
def test_softmax_loss_of_an_unlikely_class_is_finite(kind, version, device_dtype):
    device, dtype = device_dtype
    generator = torch.Generator().manual_seed(5)
    scores = torch.randn(6, 5, generator=generator, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    scores[torch.arange(6), y] -= 1000.0   # the correct class is 1000 below the others
    scores, y = scores.to(device, dtype), y.to(device)
    loss, dW = LOSSES[kind][version](*given_scores(scores), y, 0.0)
    assert not torch.isnan(loss), \
        _("the softmax loss is nan for large score differences: exp overflows. Subtract each "
          "row's maximum score before exp")
    assert torch.isfinite(loss), \
        _("the softmax loss is inf when the correct class scores 1000 below the others: p[y] "
          "underflows to 0 and -log(0) = inf. Never take the log of p: log p[y] = (s[y] - m) - "
          "log(sum_k exp(s[k] - m)), with m = max_k s[k]")
    assert torch.isfinite(dW).all(), \
        _("dW must stay finite when the correct class is very unlikely")
    expected = F.cross_entropy(scores, y)
    assert rel_error(loss, expected) < tolerance(dtype, float64=1e-10), \
        _("loss {loss:.4f} differs from cross_entropy {expected:.4f} (about 1000)").format(
            loss=loss.item(), expected=expected.item())


@pytest.mark.parametrize("kind,version", loss_cases())
@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_loss_matches_torch_functional(kind, version, reg, device_dtype):
    device, dtype = device_dtype
    W, X, y = random_problem(device, dtype, num_train=40, dim=30, num_classes=10)
    loss, dW = LOSSES[kind][version](W, X, y, reg)
    expected = oracle_loss(kind, W, X, y, reg)
    err = rel_error(loss, expected)
    assert err < tolerance(dtype, float64=1e-12), \
        _("{kind} {version} loss {loss:.6f} "
          "differs from torch.nn.functional {expected:.6f}: rel_error {err:.2e}").format(
            kind=kind, version=VERSIONS[version], loss=float(loss), expected=expected.item(),
            err=err)


@pytest.mark.parametrize("kind,version", loss_cases())
@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_gradient_matches_autograd(kind, version, reg, device_dtype):
    device, dtype = device_dtype
    W, X, y = random_problem(device, dtype, seed=2)
    _loss, dW = LOSSES[kind][version](W, X, y, reg)
    W_auto = W.clone().requires_grad_(True)
    oracle_loss(kind, W_auto, X, y, reg).backward()
    err = rel_error(dW, W_auto.grad)
    assert err < tolerance(dtype, float64=1e-7), \
        _("{kind} dW differs from autograd: rel_error {err:.2e}").format(kind=kind, err=err)


@pytest.mark.parametrize("kind,version", loss_cases())
@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_gradient_matches_numeric_gradient(kind, version, reg):
    W, X, y = random_problem("cpu", torch.float64, num_train=8, dim=6, num_classes=3, seed=3)
    loss_func = LOSSES[kind][version]
    _loss, dW = loss_func(W, X, y, reg)
    numeric = compute_numeric_gradient(lambda w: loss_func(w, X, y, reg)[0], W, h=1e-6)
    err = rel_error(dW, numeric)
    assert err < 1e-7, \
        _("{kind} dW differs from the numeric gradient: rel_error {err:.2e}").format(
            kind=kind, err=err)


@pytest.mark.parametrize("kind,version", loss_cases(kinds=["softmax"]))
def test_softmax_of_tiny_weights_is_log_num_classes(kind, version):
    W, X, y = random_problem("cpu", torch.float64, num_train=50, num_classes=10, scale=1e-8)
    loss, _dW = LOSSES[kind][version](W, X, y, 0.0)
    assert abs(loss.item() - math.log(10)) < 1e-5, (
        _("with tiny weights every class has probability 1/10, so the loss is log(10); "
          "got {loss}").format(loss=loss.item())
    )


@pytest.mark.parametrize("kind,version", loss_cases())
def test_classic_three_image_example(kind, version):
    scores = torch.tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]],
                          dtype=torch.float64)
    y = torch.tensor([0, 1, 2])
    losses = lc.per_example_losses(LOSSES[kind][version], scores, y)
    if kind == "svm":
        assert torch.allclose(losses, torch.tensor([2.9, 0.0, 12.9], dtype=torch.float64)), \
            _("SVM losses of the cat/car/frog example must be 2.9, 0, 12.9; got {losses}").format(
                losses=losses.tolist())
    else:
        expected = F.cross_entropy(scores, y, reduction="none")
        assert torch.allclose(losses, expected), \
            _("softmax losses {losses}, expected {expected}").format(
                losses=losses.tolist(), expected=expected.tolist())
        assert abs(losses[0].item() - 2.04) < 0.01, _("the cat image's softmax loss is about 2.04")


# ---------------------------------------------------------------------------
# Minibatches, SGD and prediction
# ---------------------------------------------------------------------------

@pytest.mark.student("sample_batch")
def test_sample_batch_keeps_rows_and_labels_together(device_dtype):
    device, dtype = device_dtype
    y = torch.arange(50, device=device) % 7
    X = torch.arange(50, device=device, dtype=dtype).view(50, 1).repeat(1, 3)  # row i is i
    torch.manual_seed(0)
    X_batch, y_batch = lc.sample_batch(X, y, 50, 64)
    assert X_batch.shape == (64, 3) and y_batch.shape == (64,), \
        _("batch shapes {X_batch_shape}, {y_batch_shape}; expected [64, 3], [64]").format(
            X_batch_shape=tuple(X_batch.shape), y_batch_shape=tuple(y_batch.shape))
    assert X_batch.dtype == dtype and X_batch.device == X.device, (
        _("the batch keeps X's dtype and device")
    )
    rows = X_batch[:, 0].long()
    assert torch.equal(y_batch, rows % 7), (
        _("row k of X_batch must be the example labelled y_batch[k]")
    )
    assert rows.unique().numel() > 20, _("the batch must be drawn at random from all examples")
    with pytest.raises(ValueError):
        lc.sample_batch(X, y, 50, 0)


def square_loss(W, X_batch, y_batch, reg):
    """A loss that ignores the batch: sum(W * W), with gradient 2 W."""
    return torch.sum(W * W), 2 * W


@pytest.mark.student("train_linear_classifier")
def test_one_sgd_step_moves_against_the_gradient():
    X, y = blobs()
    W0 = torch.full((6, 3), 0.5, dtype=torch.float64)
    W, history = lc.train_linear_classifier(square_loss, W0, X, y, learning_rate=0.1,
                                            num_iters=1, batch_size=10)
    assert history == [pytest.approx(4.5)], \
        _("the history must hold the loss before the step: {history}").format(history=history)
    assert torch.allclose(W, torch.full_like(W0, 0.4)), \
        _("one SGD step must give W - learning_rate * dW (here 0.5 - 0.1 * 1.0 = 0.4), "
          "got {got:.4g}").format(got=W[0, 0].item())


@pytest.mark.student("train_linear_classifier")
@pytest.mark.parametrize("kind", ["svm", "softmax"])
def test_training_separates_blobs(kind, device_dtype):
    device, dtype = device_dtype
    X, y = blobs(dtype=dtype, device=device)
    loss_func = getattr(stand_ins, f"{kind}_loss_vectorized")
    torch.manual_seed(0)
    W, history = lc.train_linear_classifier(loss_func, None, X, y, learning_rate=1e-2,
                                            reg=1e-4, num_iters=200, batch_size=32)
    assert W.shape == (6, 3) and W.dtype == dtype and W.device == X.device, \
        _("W must be [D, C] with X's dtype and device, got {W_shape} {W_dtype} {W_device}").format(
            W_shape=tuple(W.shape), W_dtype=W.dtype, W_device=W.device)
    assert len(history) == 200 and all(isinstance(v, float) for v in history), \
        _("the loss history must hold one float per iteration")
    start, end = sum(history[:10]) / 10, sum(history[-10:]) / 10
    assert end < 0.5 * start, (
        _("{kind}: the loss should fall on separable data: {start:.3f} -> {end:.3f}").format(
            kind=kind, start=start, end=end)
    )
    acc = ((X @ W).argmax(dim=1) == y).double().mean().item()
    assert acc > 0.95, \
        _("{kind}: training accuracy on separable blobs is only {acc:.3f}").format(
            kind=kind, acc=acc)


@pytest.mark.student("train_linear_classifier", composed=True)
def test_training_with_your_sample_batch_separates_blobs():
    X, y = blobs()
    torch.manual_seed(0)
    W, history = lc.train_linear_classifier(stand_ins.softmax_loss_vectorized, None, X, y,
                                            learning_rate=1e-2, reg=1e-4, num_iters=200,
                                            batch_size=32)
    start, end = sum(history[:10]) / 10, sum(history[-10:]) / 10
    assert end < 0.5 * start, \
        _("with your sample_batch the loss should fall: {start:.3f} -> {end:.3f}").format(
            start=start, end=end)
    acc = ((X @ W).argmax(dim=1) == y).double().mean().item()
    assert acc > 0.95, \
        _("with your sample_batch the training accuracy is only {acc:.3f}").format(acc=acc)


@pytest.mark.student("train_linear_classifier")
def test_training_does_not_change_the_given_weights():
    X, y = blobs()
    W0 = torch.zeros(6, 3, dtype=torch.float64)
    W, history = lc.train_linear_classifier(stand_ins.softmax_loss_vectorized, W0, X, y,
                                            learning_rate=0.1, num_iters=5, batch_size=10)
    assert W0.abs().sum() == 0, _("the W passed in must not be changed in place (it is copied)")
    assert W.abs().sum() > 0, _("training must change the (copied) weights")
    assert abs(history[0] - math.log(3)) < 1e-12, _("the first loss from W = 0 is log(C)")


@pytest.mark.student("train_linear_classifier")
def test_huge_learning_rate_stops_with_a_warning():
    X, y = blobs()
    torch.manual_seed(0)
    with pytest.warns(RuntimeWarning, match=r"iteration \d+.*learning rate 1e\+20"):
        W, history = lc.train_linear_classifier(stand_ins.softmax_loss_vectorized, None, X, y,
                                                learning_rate=1e20, reg=1.0, num_iters=500)
    assert 0 < len(history) < 500, \
        _("training must stop early, ran {num_history} iterations").format(num_history=len(history))
    assert all(math.isfinite(v) for v in history), \
        _("the loss history must hold only finite losses")


@pytest.mark.student("train_linear_classifier")
def test_training_rejects_bad_arguments():
    X, y = blobs()
    loss_func = stand_ins.svm_loss_vectorized
    lc.train_linear_classifier(loss_func, None, X, y, num_iters=2)  # a valid call works
    with pytest.raises(ValueError):
        lc.train_linear_classifier(loss_func, None, X, y[:-1])
    with pytest.raises(ValueError):
        lc.train_linear_classifier(loss_func, None, X, y, batch_size=0)


@pytest.mark.student("predict_linear_classifier")
def test_predict_picks_the_highest_score(device_dtype):
    device, dtype = device_dtype
    permutation = torch.tensor([2, 0, 3, 1])
    W = torch.eye(4, dtype=dtype, device=device)[:, permutation]  # column j scores feature perm[j]
    X = torch.eye(4, dtype=dtype, device=device)[[0, 1, 2, 3, 3]]
    y_pred = lc.predict_linear_classifier(W, X)
    assert y_pred.dtype == torch.int64 and y_pred.device == X.device, (
        _("predictions are int64 on X's device")
    )
    assert y_pred.tolist() == [1, 3, 0, 2, 2], (
        _("predictions {y_pred}, expected [1, 3, 0, 2, 2]").format(y_pred=y_pred.tolist())
    )


# ---------------------------------------------------------------------------
# Search parameters and one setting
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("get_params", [
    pytest.param(get, id=get.__name__, marks=pytest.mark.student(get.__name__))
    for get in (lc.svm_get_search_params, lc.softmax_get_search_params)])
def test_search_params_are_lists_of_positive_numbers(get_params):
    learning_rates, regs = get_params()
    # Translators: in "give at least two learning rates to compare".
    for name, values in ((_("learning rates"), learning_rates),
                         (_("regularization strengths"), regs)):
        assert len(values) >= 2, _("give at least two {name} to compare").format(name=name)
        assert all(isinstance(v, (int, float)) and v > 0 for v in values), \
            _("{name} must be positive numbers, got {values}").format(name=name, values=values)
    assert len(learning_rates) * len(regs) <= 25, (
        _("keep the grid small: each pair is trained k times")
    )


def one_setting(cls):
    X, y = blobs(num_per_class=40)
    data = {"X_train": X[:90], "y_train": y[:90], "X_val": X[90:], "y_val": y[90:]}
    torch.manual_seed(0)
    classifier, train_acc, val_acc = lc.test_one_param_set(cls, data, 1e-2, 1e-4, num_iters=100)
    assert isinstance(classifier, cls), _("must return the trained {cls}").format(cls=cls.__name__)
    assert isinstance(train_acc, float) and isinstance(val_acc, float), _("accuracies are floats")
    expected = (classifier.predict(data["X_val"]) == data["y_val"]).double().mean().item()
    assert abs(val_acc - expected) < 1e-12, (
        _("val_acc {val_acc} is not the accuracy on X_val ({expected})").format(
            val_acc=val_acc, expected=expected)
    )
    assert train_acc > 0.95 and val_acc > 0.9, \
        _("separable data: accuracies {train_acc}, {val_acc}").format(
            train_acc=train_acc, val_acc=val_acc)


@pytest.mark.student("test_one_param_set")
@pytest.mark.parametrize("cls", [lc.LinearSVM, lc.Softmax], ids=["LinearSVM", "Softmax"])
def test_one_param_set_trains_and_scores(cls):
    one_setting(cls)


@pytest.mark.student("test_one_param_set", composed=True)
def test_one_param_set_with_your_training_and_accuracy():
    one_setting(lc.Softmax)

