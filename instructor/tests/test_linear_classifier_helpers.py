"""Checks of the given code behind the linear-classifier notebook (instructor only).

The classifier classes, the cross-validated grid search, ``search_and_retrain``, the loss
comparison and the evaluation summary of ``assignment/linear_classifier.py`` are given code:
they are checked here, on the reference solutions, not by the students' self-check (whose
checks each exercise one student function).
"""
import warnings

import pytest
import torch

import assignment.linear_classifier as lc
from helpers.checkpoint import load_model
from helpers.studies.evaluation import comparison_table, evaluate
from tests.assignment.test_linear_classifier import blobs, random_problem


def test_compare_loss_implementations_reports_agreement_and_times():
    W, X, y = random_problem("cpu", torch.float64, num_train=40, seed=5)
    report = lc.compare_loss_implementations(lc.svm_loss_naive, lc.svm_loss_vectorized, W, X, y,
                                             0.01, repeats=1)
    assert report["loss_error"] < 1e-9 and report["grad_error"] < 1e-9, f"report {report}"
    assert report["naive_time"] > 0 and report["vectorized_time"] > 0, \
        f"times must be positive: {report}"


@pytest.mark.parametrize("kind", ["svm", "softmax"])
def test_classifier_trains_saves_and_loads(kind, tmp_path):
    cls = {"svm": lc.LinearSVM, "softmax": lc.Softmax}[kind]
    vectorized = {"svm": lc.svm_loss_vectorized, "softmax": lc.softmax_loss_vectorized}[kind]
    X, y = blobs()
    classifier = cls()
    W, Xb, yb = random_problem("cpu", torch.float64, num_classes=3, dim=6)
    loss, dW = classifier.loss(W, Xb, yb, 0.1)
    expected_loss, expected_dW = vectorized(W, Xb, yb, 0.1)
    assert loss == expected_loss and torch.equal(dW, expected_dW), \
        f"{cls.__name__}.loss uses the {kind} loss"
    torch.manual_seed(0)
    history = classifier.train(X, y, learning_rate=1e-2, num_iters=100, batch_size=32)
    assert len(history) == 100, "train returns the loss history"
    path = tmp_path / f"{kind}.pt"
    classifier.save(path)
    loaded = cls().load(path)
    assert torch.equal(loaded.W, classifier.W), "load must restore exactly the saved weights"
    assert torch.equal(loaded.predict(X), classifier.predict(X)), "a loaded model predicts the same"
    config, params = load_model(path, kind="linear")
    assert config == {} and set(params) == {"W"}, "the file holds the weights W"


def test_grid_search_marks_diverged_settings():
    X, y = blobs(num_per_class=20)
    torch.manual_seed(0)
    results = lc.cross_validated_grid_search(lc.Softmax, X, y, [1e-2, 1e20], [1e-3, 1.0],
                                             k=3, num_iters=60, batch_size=20)
    assert results["fold_acc"].shape == (2, 2, 3), "fold_acc must be [learning rates, regs, k]"
    assert results["diverged"][1].all() and results["mean_acc"][1].isnan().all(), \
        "learning rate 1e20 must be marked diverged with a NaN mean"
    assert not results["diverged"][0].any(), "learning rate 1e-2 must not diverge"
    assert (results["mean_acc"][0] > 0.9).all(), \
        f"separable data: CV accuracy {results['mean_acc'][0]}"
    assert results["best_lr"] == 1e-2, \
        f"the best setting must be a finite one, got {results['best_lr']}"
    assert results["best_mean_acc"] == results["mean_acc"].nan_to_num(-1).max().item()
    table = lc.format_grid_results(results)
    assert table.count("diverged") == 2 and "<- best" in table, f"table:\n{table}"


def test_evaluate_summarises_predictions_of_a_classifier_in_batches():
    class Fixed:
        def predict(self, X):
            return X[:, 0].long()

    X = torch.tensor([[0.0], [1.0], [1.0], [2.0]])
    summary = evaluate(Fixed(), X, torch.tensor([0, 1, 2, 2]), num_classes=3, batch_size=3)
    assert summary["accuracy"] == 0.75, f"accuracy {summary['accuracy']}"
    assert summary["confusion_matrix"].tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert abs(summary["macro_precision"] - (1 + 0.5 + 1) / 3) < 1e-12, \
        "macro precision is the mean"
    assert abs(summary["macro_recall"] - (1 + 1 + 0.5) / 3) < 1e-12, "macro recall is the mean"
    table = comparison_table({"a": summary, "longer name": summary})
    assert table.splitlines()[0].split() == ["model", "accuracy", "macro", "precision", "macro",
                                             "recall"], table
    assert table.splitlines()[2].split() == ["longer", "name", "0.7500", "0.8333", "0.8333"], table


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
