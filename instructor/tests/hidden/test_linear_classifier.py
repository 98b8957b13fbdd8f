"""Hidden checks of Task 1 (instructor only, never released): other shapes and cases
than the visible checks, so that answers tuned to those cannot pass."""
import pytest
import torch
import torch.nn.functional as F

import assignment.linear_classifier as lc
from helpers.gradcheck import rel_error


def problem(num_train=37, dim=11, num_classes=7, seed=123):
    generator = torch.Generator().manual_seed(seed)
    W = 0.3 * torch.randn(dim, num_classes, generator=generator, dtype=torch.float64)
    X = torch.randn(num_train, dim, generator=generator, dtype=torch.float64)
    y = torch.randint(num_classes, (num_train,), generator=generator)
    return W, X, y


def autograd_reference(kind, W, X, y, reg):
    W = W.clone().requires_grad_(True)
    scores = X @ W
    if kind == "svm":
        data_loss = scores.shape[1] * F.multi_margin_loss(scores, y, margin=1.0)
    else:
        data_loss = F.cross_entropy(scores, y)
    loss = data_loss + reg * (W * W).sum()
    loss.backward()
    return loss.detach(), W.grad


@pytest.mark.parametrize("name,kind", [
    pytest.param("svm_loss_naive", "svm", marks=pytest.mark.student("svm_loss_naive")),
    pytest.param("svm_loss_vectorized", "svm", marks=pytest.mark.student("svm_loss_vectorized")),
    pytest.param("softmax_loss_naive", "softmax", marks=pytest.mark.student("softmax_loss_naive")),
    pytest.param("softmax_loss_vectorized", "softmax",
                 marks=pytest.mark.student("softmax_loss_vectorized")),
])
@pytest.mark.parametrize("reg", [0.0, 2.5])
def test_losses_on_other_shapes(name, kind, reg):
    W, X, y = problem()
    loss, dW = getattr(lc, name)(W, X, y, reg)
    expected_loss, expected_dW = autograd_reference(kind, W, X, y, reg)
    assert rel_error(loss, expected_loss) < 1e-9, (
        f"{name}: loss differs on a 37x11 problem with 7 classes"
    )
    assert rel_error(dW, expected_dW) < 1e-8, (
        f"{name}: gradient differs on a 37x11 problem with 7 classes"
    )


@pytest.mark.student("softmax_loss_vectorized")
def test_softmax_is_stable_for_huge_scores():
    W, X, y = problem(seed=7)
    loss, dW = lc.softmax_loss_vectorized(1e4 * W, X, y, 0.0)
    assert torch.isfinite(loss) and torch.isfinite(dW).all(), (
        "the loss must stay finite for huge scores"
    )


@pytest.mark.student("predict_linear_classifier")
def test_predict_is_the_argmax():
    W, X, _ = problem(num_train=50, seed=9)
    predictions = lc.predict_linear_classifier(W, X)
    assert predictions.dtype == torch.int64
    assert torch.equal(predictions, (X @ W).argmax(dim=1))


@pytest.mark.student("sample_batch")
def test_sample_batch_draws_matching_pairs():
    X = torch.arange(300, dtype=torch.float64).reshape(100, 3)
    y = torch.arange(100)
    X_batch, y_batch = lc.sample_batch(X, y, 100, 64)
    assert X_batch.shape == (64, 3) and y_batch.shape == (64,)
    assert torch.equal(X_batch[:, 0], 3 * y_batch.to(torch.float64)), (
        "rows and labels must stay paired"
    )


def quadratic_loss(target):
    """A loss with a known minimum, ``sum((W - target)^2)``, whatever the batch:
    SGD on it is exactly plain gradient descent, which torch.optim.SGD reproduces."""
    def loss_func(W, X_batch, y_batch, reg):
        assert X_batch.shape[0] == y_batch.shape[0]
        return ((W - target) ** 2).sum(), 2 * (W - target)
    return loss_func


@pytest.mark.student("train_linear_classifier")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_train_takes_the_steps_of_torch_optim_sgd(dtype):
    generator = torch.Generator().manual_seed(31)
    target = torch.randn(5, 3, generator=generator, dtype=dtype)
    start = torch.randn(5, 3, generator=generator, dtype=dtype)
    X, y = torch.randn(9, 5, dtype=dtype, generator=generator), torch.randint(3, (9,))
    W, history = lc.train_linear_classifier(quadratic_loss(target), start, X, y,
                                            learning_rate=0.07, num_iters=6, batch_size=4)

    expected = start.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([expected], lr=0.07)
    expected_history = []
    for _ in range(6):
        optimizer.zero_grad()
        loss = ((expected - target) ** 2).sum()
        expected_history.append(loss.item())
        loss.backward()
        optimizer.step()
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    assert rel_error(W, expected.detach()) < tolerance, "six SGD steps with learning rate 0.07"
    assert history == pytest.approx(expected_history, rel=tolerance), "the loss before each step"
    assert W.dtype == dtype and not torch.equal(W, start), "W trained, in the input's dtype"


@pytest.mark.student("train_linear_classifier")
def test_train_leaves_the_given_weights_alone():
    start = torch.ones(4, 2, dtype=torch.float64)
    X, y = torch.randn(6, 4, dtype=torch.float64), torch.randint(2, (6,))
    lc.train_linear_classifier(quadratic_loss(torch.zeros(4, 2, dtype=torch.float64)), start,
                               X, y, learning_rate=0.1, num_iters=3, batch_size=1)
    assert torch.equal(start, torch.ones(4, 2, dtype=torch.float64)), "a given W is copied"


@pytest.mark.student("test_one_param_set")
def test_one_param_set_reports_the_accuracy_of_the_classifier_it_returns():
    generator = torch.Generator().manual_seed(17)
    centres = 4 * torch.randn(3, 7, generator=generator, dtype=torch.float64)
    y = torch.randint(3, (90,), generator=generator)
    X = centres[y] + torch.randn(90, 7, generator=generator, dtype=torch.float64)
    data = {"X_train": X[:60], "y_train": y[:60], "X_val": X[60:], "y_val": y[60:]}
    torch.manual_seed(5)
    classifier, train_acc, val_acc = lc.test_one_param_set(lc.Softmax, data, 0.05, 1e-3,
                                                           num_iters=150)
    assert isinstance(classifier, lc.Softmax) and classifier.W is not None, "a trained Softmax"
    predicted_train = classifier.predict(data["X_train"])
    assert train_acc == pytest.approx((predicted_train == data["y_train"]).double().mean().item())
    predicted_val = classifier.predict(data["X_val"])
    assert val_acc == pytest.approx((predicted_val == data["y_val"]).double().mean().item())
    assert val_acc > 0.8, "150 iterations separate three far-apart blobs"


@pytest.mark.parametrize("get", [
    pytest.param(lc.svm_get_search_params, marks=pytest.mark.student("svm_get_search_params")),
    pytest.param(lc.softmax_get_search_params,
                 marks=pytest.mark.student("softmax_get_search_params")),
])
def test_search_grids_are_usable(get):
    learning_rates, regs = get()
    for values in (learning_rates, regs):
        assert 1 <= len(values) <= 10 and all(float(v) > 0 for v in values), \
            "a short list of positive values"
    assert min(learning_rates) < 1, "at least one learning rate small enough to converge"
