"""Checks of assignment/linear_classifier.py: losses, gradients, SGD, classifiers, search.

The module is imported as ``lc`` (its ``test_one_param_set`` is not a pytest test).
"""
import math
import warnings

import pytest
import torch
import torch.nn.functional as F

import assignment.linear_classifier as lc
from helpers.gradcheck import compute_numeric_gradient, rel_error

LOSSES = {
    "svm": (lc.svm_loss_naive, lc.svm_loss_vectorized),
    "softmax": (lc.softmax_loss_naive, lc.softmax_loss_vectorized),
}
VERSIONS = ("naive", "vectorized")


def loss_cases(kinds=("svm", "softmax"), versions=(0, 1)):
    """Parameters (kind, version), each marked with the student function it exercises."""
    return [pytest.param(kind, version, id=f"{kind}-{VERSIONS[version]}",
                         marks=pytest.mark.student(LOSSES[kind][version].__name__))
            for kind in kinds for version in versions]


def kind_cases(*, naive=True):
    """Parameter kind, marked with that kind's vectorized (and naive) loss function."""
    return [pytest.param(kind, id=kind, marks=pytest.mark.student(
        *(f.__name__ for f in (LOSSES[kind] if naive else LOSSES[kind][1:]))))
        for kind in LOSSES]


def reference_loss(kind, W, X, y, reg):
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


def tolerance(dtype, float64_tol):
    return float64_tol if dtype == torch.float64 else 1e-5


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
# Losses and gradients
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind,version", loss_cases())
@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_loss_matches_torch_functional(kind, version, reg, device_dtype):
    device, dtype = device_dtype
    W, X, y = random_problem(device, dtype, num_train=40, dim=30, num_classes=10)
    loss, dW = LOSSES[kind][version](W, X, y, reg)
    expected = reference_loss(kind, W, X, y, reg)
    err = rel_error(loss, expected)
    assert err < tolerance(dtype, 1e-12), f"{kind} {VERSIONS[version]} loss {float(loss):.6f} " \
        f"differs from torch.nn.functional {expected.item():.6f}: rel_error {err:.2e}"
    assert dW.shape == W.shape and dW.dtype == dtype and dW.device == W.device, \
        f"dW must have W's shape, dtype and device, got {tuple(dW.shape)} {dW.dtype} {dW.device}"


@pytest.mark.parametrize("kind", kind_cases())
def test_naive_and_vectorized_agree(kind, device_dtype):
    device, dtype = device_dtype
    W, X, y = random_problem(device, dtype, num_train=30, seed=1)
    naive, vectorized = LOSSES[kind]
    loss_naive, grad_naive = naive(W, X, y, 0.05)
    loss_vec, grad_vec = vectorized(W, X, y, 0.05)
    loss_err, grad_err = rel_error(loss_naive, loss_vec), rel_error(grad_naive, grad_vec)
    assert loss_err < tolerance(dtype, 1e-9), f"{kind}: naive and vectorized losses differ: {loss_err:.2e}"
    assert grad_err < tolerance(dtype, 1e-9), f"{kind}: naive and vectorized dW differ: {grad_err:.2e}"


@pytest.mark.parametrize("kind,version", loss_cases())
@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_gradient_matches_autograd(kind, version, reg, device_dtype):
    device, dtype = device_dtype
    W, X, y = random_problem(device, dtype, seed=2)
    _, dW = LOSSES[kind][version](W, X, y, reg)
    W_auto = W.clone().requires_grad_(True)
    reference_loss(kind, W_auto, X, y, reg).backward()
    err = rel_error(dW, W_auto.grad)
    assert err < tolerance(dtype, 1e-7), f"{kind} dW differs from autograd: rel_error {err:.2e}"


@pytest.mark.parametrize("kind,version", loss_cases())
@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_gradient_matches_numeric_gradient(kind, version, reg):
    W, X, y = random_problem("cpu", torch.float64, num_train=8, dim=6, num_classes=3, seed=3)
    loss_func = LOSSES[kind][version]
    _, dW = loss_func(W, X, y, reg)
    numeric = compute_numeric_gradient(lambda w: loss_func(w, X, y, reg)[0], W, h=1e-6)
    err = rel_error(dW, numeric)
    assert err < 1e-7, f"{kind} dW differs from the numeric gradient: rel_error {err:.2e}"


@pytest.mark.parametrize("kind,version", loss_cases(kinds=["softmax"]))
def test_softmax_is_numerically_stable(kind, version, device_dtype):
    device, dtype = device_dtype
    W, X, y = random_problem(device, dtype, seed=4, scale=1e3)  # scores in the thousands
    loss, dW = LOSSES[kind][version](W, X, y, 0.0)
    assert torch.isfinite(loss) and torch.isfinite(dW).all(), \
        "softmax loss overflows for large scores: subtract the row maximum before exp"
    expected = reference_loss("softmax", W, X, y, 0.0)
    err = rel_error(loss, expected)
    assert err < tolerance(dtype, 1e-12), f"large-score softmax loss differs from cross_entropy: {err:.2e}"


@pytest.mark.student("softmax_loss_vectorized")
def test_softmax_of_tiny_weights_is_log_num_classes():
    W, X, y = random_problem("cpu", torch.float64, num_train=50, num_classes=10, scale=1e-8)
    loss, _ = lc.softmax_loss_vectorized(W, X, y, 0.0)
    assert abs(loss.item() - math.log(10)) < 1e-5, \
        f"with tiny weights every class has probability 1/10, so the loss is log(10); got {loss.item()}"


@pytest.mark.student("svm_loss_vectorized", "softmax_loss_vectorized")
def test_classic_three_image_example():
    scores = torch.tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]],
                          dtype=torch.float64)
    y = torch.tensor([0, 1, 2])
    svm = lc.per_example_losses(lc.svm_loss_vectorized, scores, y)
    softmax = lc.per_example_losses(lc.softmax_loss_vectorized, scores, y)
    assert torch.allclose(svm, torch.tensor([2.9, 0.0, 12.9], dtype=torch.float64)), \
        f"SVM losses of the cat/car/frog example must be 2.9, 0, 12.9; got {svm.tolist()}"
    expected = F.cross_entropy(scores, y, reduction="none")
    assert torch.allclose(softmax, expected), f"softmax losses {softmax.tolist()}, expected {expected.tolist()}"
    assert abs(softmax[0].item() - 2.04) < 0.01, "the cat image's softmax loss is about 2.04"


@pytest.mark.student("svm_loss_naive", "svm_loss_vectorized")
def test_compare_loss_implementations_reports_agreement_and_times():
    W, X, y = random_problem("cpu", torch.float64, num_train=40, seed=5)
    report = lc.compare_loss_implementations(lc.svm_loss_naive, lc.svm_loss_vectorized, W, X, y,
                                             0.01, repeats=1)
    assert report["loss_error"] < 1e-9 and report["grad_error"] < 1e-9, f"report {report}"
    assert report["naive_time"] > 0 and report["vectorized_time"] > 0, f"times must be positive: {report}"


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
        f"batch shapes {tuple(X_batch.shape)}, {tuple(y_batch.shape)}; expected [64, 3], [64]"
    assert X_batch.dtype == dtype and X_batch.device == X.device, "the batch keeps X's dtype and device"
    rows = X_batch[:, 0].long()
    assert torch.equal(y_batch, rows % 7), "row k of X_batch must be the example labelled y_batch[k]"
    assert rows.unique().numel() > 20, "the batch must be drawn at random from all examples"
    with pytest.raises(ValueError):
        lc.sample_batch(X, y, 50, 0)


@pytest.mark.student("train_linear_classifier", "sample_batch", "predict_linear_classifier")
@pytest.mark.parametrize("kind", kind_cases(naive=False))
def test_training_separates_blobs(kind, device_dtype):
    device, dtype = device_dtype
    X, y = blobs(dtype=dtype, device=device)
    torch.manual_seed(0)
    W, history = lc.train_linear_classifier(LOSSES[kind][1], None, X, y, learning_rate=1e-2,
                                            reg=1e-4, num_iters=200, batch_size=32)
    assert W.shape == (6, 3) and W.dtype == dtype and W.device == X.device, \
        f"W must be [D, C] with X's dtype and device, got {tuple(W.shape)} {W.dtype} {W.device}"
    assert len(history) == 200 and all(isinstance(v, float) for v in history), \
        "the loss history must hold one float per iteration"
    start, end = sum(history[:10]) / 10, sum(history[-10:]) / 10
    assert end < 0.5 * start, f"{kind}: the loss should fall on separable data: {start:.3f} -> {end:.3f}"
    predictions = lc.predict_linear_classifier(W, X)
    acc = (predictions == y).double().mean().item()
    assert acc > 0.95, f"{kind}: training accuracy on separable blobs is only {acc:.3f}"


@pytest.mark.student("train_linear_classifier")
def test_training_does_not_change_the_given_weights():
    X, y = blobs()
    W0 = torch.zeros(6, 3, dtype=torch.float64)
    W, history = lc.train_linear_classifier(lc.softmax_loss_vectorized, W0, X, y,
                                            learning_rate=0.1, num_iters=5, batch_size=10)
    assert W0.abs().sum() == 0, "the W passed in must not be changed in place (it is copied)"
    assert W.abs().sum() > 0, "training must change the (copied) weights"
    assert abs(history[0] - math.log(3)) < 1e-12, "the first loss from W = 0 is log(C)"


@pytest.mark.student("train_linear_classifier")
def test_huge_learning_rate_stops_with_a_warning():
    X, y = blobs()
    torch.manual_seed(0)
    with pytest.warns(RuntimeWarning, match=r"iteration \d+.*learning rate 1e\+20"):
        W, history = lc.train_linear_classifier(lc.softmax_loss_vectorized, None, X, y,
                                                learning_rate=1e20, reg=1.0, num_iters=500)
    assert 0 < len(history) < 500, f"training must stop early, ran {len(history)} iterations"
    assert all(math.isfinite(v) for v in history), "the loss history must hold only finite losses"


@pytest.mark.student("train_linear_classifier")
def test_training_rejects_bad_arguments():
    X, y = blobs()
    lc.train_linear_classifier(lc.svm_loss_vectorized, None, X, y, num_iters=2)  # valid call works
    with pytest.raises(ValueError):
        lc.train_linear_classifier(lc.svm_loss_vectorized, None, X, y[:-1])
    with pytest.raises(ValueError):
        lc.train_linear_classifier(lc.svm_loss_vectorized, None, X, y, batch_size=0)


@pytest.mark.student("predict_linear_classifier")
def test_predict_picks_the_highest_score(device_dtype):
    device, dtype = device_dtype
    permutation = torch.tensor([2, 0, 3, 1])
    W = torch.eye(4, dtype=dtype, device=device)[:, permutation]  # column j scores feature perm[j]
    X = torch.eye(4, dtype=dtype, device=device)[[0, 1, 2, 3, 3]]
    y_pred = lc.predict_linear_classifier(W, X)
    assert y_pred.dtype == torch.int64 and y_pred.device == X.device, "predictions are int64 on X's device"
    assert y_pred.tolist() == [1, 3, 0, 2, 2], f"predictions {y_pred.tolist()}, expected [1, 3, 0, 2, 2]"


# ---------------------------------------------------------------------------
# Classifier classes, search parameters, one setting, grid search
# ---------------------------------------------------------------------------

@pytest.mark.student("train_linear_classifier", "predict_linear_classifier")
@pytest.mark.parametrize("kind", kind_cases(naive=False))
def test_classifier_trains_saves_and_loads(kind, tmp_path):
    cls = {"svm": lc.LinearSVM, "softmax": lc.Softmax}[kind]
    X, y = blobs()
    classifier = cls()
    W, Xb, yb = random_problem("cpu", torch.float64, num_classes=3, dim=6)
    loss, dW = classifier.loss(W, Xb, yb, 0.1)
    expected_loss, expected_dW = LOSSES[kind][1](W, Xb, yb, 0.1)
    assert loss == expected_loss and torch.equal(dW, expected_dW), f"{cls.__name__}.loss uses the {kind} loss"
    torch.manual_seed(0)
    history = classifier.train(X, y, learning_rate=1e-2, num_iters=100, batch_size=32)
    assert len(history) == 100, "train returns the loss history"
    path = tmp_path / f"{kind}.pt"
    classifier.save(path)
    loaded = cls().load(path)
    assert torch.equal(loaded.W, classifier.W), "load must restore exactly the saved weights"
    assert torch.equal(loaded.predict(X), classifier.predict(X)), "a loaded model predicts the same"
    assert isinstance(torch.load(path, weights_only=True), dict), "the file must be a plain dict"


@pytest.mark.parametrize("get_params", [
    pytest.param(get, id=get.__name__, marks=pytest.mark.student(get.__name__))
    for get in (lc.svm_get_search_params, lc.softmax_get_search_params)])
def test_search_params_are_lists_of_positive_numbers(get_params):
    learning_rates, regs = get_params()
    for name, values in (("learning rates", learning_rates), ("regularization strengths", regs)):
        assert len(values) >= 2, f"give at least two {name} to compare"
        assert all(isinstance(v, (int, float)) and v > 0 for v in values), \
            f"{name} must be positive numbers, got {values}"
    assert len(learning_rates) * len(regs) <= 25, "keep the grid small: each pair is trained k times"


@pytest.mark.student("test_one_param_set", "train_linear_classifier")
@pytest.mark.parametrize("cls", [lc.LinearSVM, lc.Softmax])
def test_one_param_set_trains_and_scores(cls):
    X, y = blobs(num_per_class=40)
    data = {"X_train": X[:90], "y_train": y[:90], "X_val": X[90:], "y_val": y[90:]}
    torch.manual_seed(0)
    classifier, train_acc, val_acc = lc.test_one_param_set(cls, data, 1e-2, 1e-4, num_iters=100)
    assert isinstance(classifier, cls), f"must return the trained {cls.__name__}"
    assert isinstance(train_acc, float) and isinstance(val_acc, float), "accuracies are floats"
    expected = (classifier.predict(data["X_val"]) == data["y_val"]).double().mean().item()
    assert abs(val_acc - expected) < 1e-12, f"val_acc {val_acc} is not the accuracy on X_val ({expected})"
    assert train_acc > 0.95 and val_acc > 0.9, f"separable data: accuracies {train_acc}, {val_acc}"


@pytest.mark.student("cross_validate", "k_fold_indices", "train_linear_classifier")
def test_grid_search_marks_diverged_settings():
    X, y = blobs(num_per_class=20)
    torch.manual_seed(0)
    results = lc.cross_validated_grid_search(lc.Softmax, X, y, [1e-2, 1e20], [1e-3, 1.0],
                                             k=3, num_iters=60, batch_size=20)
    assert results["fold_acc"].shape == (2, 2, 3), "fold_acc must be [learning rates, regs, k]"
    assert results["diverged"][1].all() and results["mean_acc"][1].isnan().all(), \
        "learning rate 1e20 must be marked diverged with a NaN mean"
    assert not results["diverged"][0].any(), "learning rate 1e-2 must not diverge"
    assert (results["mean_acc"][0] > 0.9).all(), f"separable data: CV accuracy {results['mean_acc'][0]}"
    assert results["best_lr"] == 1e-2, f"the best setting must be a finite one, got {results['best_lr']}"
    assert results["best_mean_acc"] == results["mean_acc"].nan_to_num(-1).max().item()
    table = lc.format_grid_results(results)
    assert table.count("diverged") == 2 and "<- best" in table, f"table:\n{table}"


@pytest.mark.student("accuracy", "confusion_matrix", "precision_recall")
def test_evaluate_classifier_summarises_predictions():
    class Fixed:
        def predict(self, X):
            return torch.tensor([0, 1, 1, 2])

    summary = lc.evaluate_classifier(Fixed(), None, torch.tensor([0, 1, 2, 2]), num_classes=3)
    assert summary["accuracy"] == 0.75, f"accuracy {summary['accuracy']}"
    assert summary["confusion_matrix"].tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert abs(summary["macro_precision"] - (1 + 0.5 + 1) / 3) < 1e-12, "macro precision is the mean"
    assert abs(summary["macro_recall"] - (1 + 1 + 0.5) / 3) < 1e-12, "macro recall is the mean"
    assert "macro recall" in lc.format_comparison({"a": summary, "b": summary})


@pytest.mark.student("test_one_param_set", "cross_validate", "k_fold_indices")
def test_search_and_retrain_uses_the_best_setting():
    X, y = blobs(num_per_class=40)
    data = {"X_train": X[:90], "y_train": y[:90], "X_val": X[90:], "y_val": y[90:]}
    torch.manual_seed(0)
    found = lc.search_and_retrain(lc.LinearSVM, data, [1e-2, 1e20], [1e-3, 1.0], num_cv=60, k=3,
                                  cv_iters=50, final_iters=100)
    assert found["cv"]["fold_acc"].shape == (2, 2, 3), "the search must run on the given grid and k"
    assert found["cv"]["best_lr"] == 1e-2, "the retrained setting must be the best finite one"
    assert isinstance(found["classifier"], lc.LinearSVM) and found["val_acc"] > 0.9, \
        f"the best setting retrained on all training data separates the blobs: {found['val_acc']}"
    cells = lc.grid_cell_text(found["cv"])
    assert cells[1] == ["diverged", "diverged"] and "\u00b1" in cells[0][0], f"cell text {cells}"
    with pytest.raises(RuntimeError, match="diverged"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lc.search_and_retrain(lc.LinearSVM, data, [1e20], [1.0], k=3, cv_iters=50)
