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
    assert rel_error(loss, expected_loss) < 1e-9, f"{name}: loss differs on a 37x11 problem with 7 classes"
    assert rel_error(dW, expected_dW) < 1e-8, f"{name}: gradient differs on a 37x11 problem with 7 classes"


@pytest.mark.student("softmax_loss_vectorized")
def test_softmax_is_stable_for_huge_scores():
    W, X, y = problem(seed=7)
    loss, dW = lc.softmax_loss_vectorized(1e4 * W, X, y, 0.0)
    assert torch.isfinite(loss) and torch.isfinite(dW).all(), "the loss must stay finite for huge scores"


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
    assert torch.equal(X_batch[:, 0], 3 * y_batch.to(torch.float64)), "rows and labels must stay paired"
