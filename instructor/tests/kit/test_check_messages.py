"""The self-check names the real cause of common mistakes (instructor only).

Each test takes a finished kit (the reference solutions), replaces one function's solution
region by a deliberately wrong implementation of a common mistake (``release.replace_region``),
runs that function's checks as ``python -m helpers.check`` would, and asserts the message the
student sees: the FAIL line's text, i.e. the first failure. All variants run in one process
(``instructor/tests/kit/variants.py``).
"""
import shutil

import pytest

from helpers.check import FAIL
from helpers.utils import KIT_ROOT
from instructor import release
from instructor.tests.kit.runner import lay_reference_solutions
from instructor.tests.kit.variants import run_variants

pytestmark = pytest.mark.long  # the long tier (pytest --all): see conftest.py

# id -> (part, function, region number, wrong code, words the message must contain)
MISTAKES = {
    "no max subtraction": ("linear_classifier", "softmax_loss_vectorized", 0, """
num_train = X.shape[0]
rows = torch.arange(num_train)
exp_scores = X.mm(W).exp()
probabilities = exp_scores / exp_scores.sum(dim=1, keepdim=True)
loss = -probabilities[rows, y].log().mean() + reg * torch.sum(W * W)
probabilities[rows, y] -= 1
dW = X.t().mm(probabilities) / num_train + 2 * reg * W
""", "Subtract each row's maximum score before exp"),
    "log of an underflowed probability": ("linear_classifier", "softmax_loss_naive", 0, """
for i in range(X.shape[0]):
    shifted = W.t().mv(X[i])
    shifted = shifted - shifted.max()
    probabilities = shifted.exp() / shifted.exp().sum()
    loss += -torch.log(probabilities[y[i]])
    for j in range(W.shape[1]):
        dW[:, j] += (probabilities[j] - (1.0 if j == y[i] else 0.0)) * X[i]
""", "underflows to 0 and -log(0) = inf"),
    "no regularization gradient": ("linear_classifier", "svm_loss_vectorized", 0, """
num_train = X.shape[0]
scores = X.mm(W)
margins = (scores - scores.gather(1, y.view(-1, 1)) + 1).clamp(min=0)
margins = margins.scatter(1, y.view(-1, 1), 0.0)
loss = margins.sum() / num_train + reg * torch.sum(W * W)
positive = (margins > 0).to(X.dtype)
positive.scatter_(1, y.view(-1, 1), -positive.sum(dim=1, keepdim=True))
dW = X.t().mm(positive) / num_train
""", "dW misses the regularization gradient"),
    "mean over the wrong axis": ("linear_classifier", "svm_loss_vectorized", 0, """
num_train = X.shape[0]
scores = X.mm(W)
margins = (scores - scores.gather(1, y.view(-1, 1)) + 1).clamp(min=0)
margins = margins.scatter(1, y.view(-1, 1), 0.0)
loss = margins.sum(dim=0).mean() + reg * torch.sum(W * W)
positive = (margins > 0).to(X.dtype)
positive.scatter_(1, y.view(-1, 1), -positive.sum(dim=1, keepdim=True))
dW = X.t().mm(positive) / num_train + 2 * reg * W
""", "runs over the wrong axis"),
    "dropout scaled at test time": ("fully_connected_networks", "Dropout.forward", 1, """
out = x * (1 - p)
""", "in test mode dropout must return x unchanged"),
    "adam without bias correction": ("fully_connected_networks", "adam", 0, """
config["t"] += 1
m = config["m"].mul_(config["beta1"]).add_(dw, alpha=1 - config["beta1"])
v = config["v"].mul_(config["beta2"]).addcmul_(dw, dw, value=1 - config["beta2"])
next_w = w - config["learning_rate"] * m / (v.sqrt() + config["epsilon"])
""", "adam has no bias correction"),
}


@pytest.fixture(scope="module")
def messages(student_kit, tmp_path_factory):
    """dict mistake -> the result of the mistaken function (status, failures)."""
    kit = tmp_path_factory.mktemp("mistakes") / "student_kit"
    shutil.copytree(student_kit, kit)
    lay_reference_solutions(kit)
    variants = []
    for mistake, (part, function, number, code, _) in MISTAKES.items():
        relpath = f"assignment/{part}.py"
        text = release.replace_region((KIT_ROOT / relpath).read_text(), function, code, number)
        variants.append({"id": mistake, "files": {relpath: text}, "parts": [part],
                         "functions": [function]})
    results = run_variants(kit, variants)
    return {mistake: results[mistake]["functions"][MISTAKES[mistake][1]] for mistake in MISTAKES}


def assert_names_the_cause(messages, mistake):
    result, words = messages[mistake], MISTAKES[mistake][4]
    assert result["status"] == FAIL, f"{mistake}: {result}"
    assert words in result["failures"][0], \
        f"{mistake}: the student sees {result['failures'][0]!r}, which does not say {words!r}"


def test_softmax_without_max_subtraction_is_told_to_subtract_the_maximum(messages):
    assert_names_the_cause(messages, "no max subtraction")


def test_log_of_an_underflowed_probability_is_told_to_use_log_sum_exp(messages):
    assert_names_the_cause(messages, "log of an underflowed probability")
    assert "overflow" not in messages["log of an underflowed probability"]["failures"][0]


def test_missing_regularization_gradient_is_named(messages):
    assert_names_the_cause(messages, "no regularization gradient")


def test_mean_over_the_wrong_axis_is_named(messages):
    assert_names_the_cause(messages, "mean over the wrong axis")


def test_dropout_scaled_at_test_time_is_named(messages):
    assert_names_the_cause(messages, "dropout scaled at test time")


def test_adam_without_bias_correction_is_named(messages):
    assert_names_the_cause(messages, "adam without bias correction")
