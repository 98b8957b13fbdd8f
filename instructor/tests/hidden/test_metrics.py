"""Hidden checks of metrics (instructor only): many classes, absent classes, loops as reference."""
import pytest
import torch

from assignment.metrics import accuracy, confusion_matrix, precision_recall


def labels(num=500, num_classes=13, seed=5):
    generator = torch.Generator().manual_seed(seed)
    y_true = torch.randint(
        num_classes - 2, (num,), generator=generator
    )  # the last 2 classes never occur
    y_pred = torch.randint(
        num_classes - 1, (num,), generator=generator
    )  # the last class is never predicted
    return y_true, y_pred, num_classes


@pytest.mark.student("confusion_matrix")
def test_confusion_matrix_against_a_loop():
    y_true, y_pred, num_classes = labels()
    expected = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        expected[t, p] += 1
    assert torch.equal(confusion_matrix(y_true, y_pred, num_classes), expected)


@pytest.mark.student("precision_recall")
def test_precision_recall_against_a_loop():
    y_true, y_pred, num_classes = labels()
    precision, recall = precision_recall(y_true, y_pred, num_classes)
    for c in range(num_classes):
        true_positive = ((y_pred == c) & (y_true == c)).sum().item()
        predicted, actual = (y_pred == c).sum().item(), (y_true == c).sum().item()
        assert precision[c].item() == pytest.approx(true_positive / predicted if predicted else 0.0)
        assert recall[c].item() == pytest.approx(true_positive / actual if actual else 0.0)


@pytest.mark.student("accuracy")
def test_accuracy_against_a_loop():
    y_true, y_pred, _ = labels(num=333)
    expected = sum(int(t == p) for t, p in zip(y_true.tolist(), y_pred.tolist())) / 333
    assert accuracy(y_true, y_pred) == pytest.approx(expected)
