"""Checks of assignment/metrics.py against plain-Python counting.

Each check runs one function of yours alone: the others are given stand-ins meanwhile
(``helpers/stand_ins.py``), so ``precision_recall`` is checked before ``confusion_matrix``
is written.
"""
import pytest
import torch

from assignment.metrics import accuracy, confusion_matrix, precision_recall
from helpers.i18n import _
from helpers.stand_ins import isolate

NUM_CLASSES = 5


@pytest.fixture(autouse=True)
def alone(request, monkeypatch):
    """Every function of yours but the one a check is marked with is a given stand-in."""
    isolate(request.node, monkeypatch)


def count_pairs(y_true, y_pred, num_classes):
    """Confusion counts by a loop over the examples: an independent oracle."""
    counts = [[0] * num_classes for _ in range(num_classes)]
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        counts[t][p] += 1
    return counts


def oracle_precision_recall(y_true, y_pred, num_classes):
    """Per-class precision and recall from their definitions, 0 where undefined."""
    precisions, recalls = [], []
    pairs = list(zip(y_true.tolist(), y_pred.tolist()))
    for c in range(num_classes):
        tp = sum(1 for t, p in pairs if t == c and p == c)
        predicted = sum(1 for _, p in pairs if p == c)
        actual = sum(1 for t, _ in pairs if t == c)
        precisions.append(tp / predicted if predicted else 0.0)
        recalls.append(tp / actual if actual else 0.0)
    return precisions, recalls


def labels_with_gaps(device):
    """Labels where class 3 never occurs in y_true and class 4 is never predicted."""
    generator = torch.Generator().manual_seed(0)
    y_true = torch.randint(0, 3, (200,), generator=generator)
    y_true[:20] = 4
    y_pred = torch.randint(0, 4, (200,), generator=generator)
    y_pred[y_pred == 4] = 0
    return y_true.to(device), y_pred.to(device)


@pytest.mark.student("accuracy")
def test_accuracy_matches_counting(device):
    y_true, y_pred = labels_with_gaps(device)
    expected = sum(t == p for t, p in zip(y_true.tolist(), y_pred.tolist())) / len(y_true)
    result = accuracy(y_true, y_pred)
    assert isinstance(result, float), \
        _("accuracy must return a Python float, got {type}").format(type=type(result))
    assert abs(result - expected) < 1e-12, \
        _("accuracy {result} differs from counting: {expected}").format(
            result=result, expected=expected)
    assert accuracy(y_true, y_true) == 1.0, _("labels compared with themselves must give 1.0")


@pytest.mark.student("accuracy")
def test_accuracy_of_no_examples_is_zero():
    empty = torch.zeros(0, dtype=torch.int64)
    assert accuracy(empty, empty) == 0.0, _("accuracy of zero examples must be 0.0")


@pytest.mark.student("confusion_matrix")
def test_confusion_matrix_matches_counting(device):
    y_true, y_pred = labels_with_gaps(device)
    cm = confusion_matrix(y_true, y_pred, NUM_CLASSES)
    assert cm.shape == (NUM_CLASSES, NUM_CLASSES), \
        _("shape {cm_shape}, expected [C, C]").format(cm_shape=tuple(cm.shape))
    assert cm.dtype == torch.int64, \
        _("confusion matrix must be int64, got {cm_dtype}").format(cm_dtype=cm.dtype)
    assert cm.device.type == device.type, _("the confusion matrix must stay on the labels' device")
    expected = count_pairs(y_true, y_pred, NUM_CLASSES)
    assert cm.tolist() == expected, (
        _("cm[i, j] must count true i predicted as j:\n{cm}\nexpected\n{expected}").format(
            cm=cm, expected=expected)
    )
    assert cm[3].sum() == 0 and cm[:, 4].sum() == 0, \
        _("absent / never-predicted classes must count 0")


@pytest.mark.student("confusion_matrix")
def test_confusion_matrix_is_not_transposed():
    y_true = torch.tensor([0, 0, 0, 1])
    y_pred = torch.tensor([1, 1, 0, 1])
    cm = confusion_matrix(y_true, y_pred, 2)
    assert cm.tolist() == [[1, 2], [0, 1]], (
        _("rows are true classes, columns predictions; got {cm}").format(cm=cm.tolist())
    )


@pytest.mark.student("precision_recall")
def test_precision_recall_match_definitions(device):
    y_true, y_pred = labels_with_gaps(device)
    precision, recall = precision_recall(y_true, y_pred, NUM_CLASSES)
    for name, values in (("precision", precision), ("recall", recall)):
        assert values.shape == (NUM_CLASSES,), \
            _("{name} shape {values_shape}, expected [C]").format(
                name=name, values_shape=tuple(values.shape))
        assert values.dtype == torch.float64, \
            _("{name} must be float64, got {values_dtype}").format(
                name=name, values_dtype=values.dtype)
        assert values.device.type == device.type, \
            _("{name} must be on the device of the labels ({device}), got {got}").format(
                name=name, device=device.type, got=values.device.type)
    expected_precision, expected_recall = oracle_precision_recall(y_true, y_pred, NUM_CLASSES)
    matches = torch.allclose(precision.cpu(), torch.tensor(expected_precision, dtype=torch.float64))
    swapped = torch.allclose(precision.cpu(), torch.tensor(expected_recall, dtype=torch.float64))
    assert matches or not swapped, \
        _("precision and recall are swapped: precision = TP / (column sum of the confusion "
          "matrix: all predictions of c), recall = TP / (row sum: all true examples of c)")
    assert matches, \
        _("precision {precision} differs from TP / (TP + FP): {expected_precision}").format(
            precision=precision.tolist(), expected_precision=expected_precision)
    assert torch.allclose(recall.cpu(), torch.tensor(expected_recall, dtype=torch.float64)), \
        _("recall {recall} differs from TP / (TP + FN): {expected_recall}").format(
            recall=recall.tolist(), expected_recall=expected_recall)
    assert precision[4] == 0 and recall[3] == 0, _("undefined precision / recall must be 0")
    assert 0 < precision[:3].min() < 1, _("this example has classes with partial precision")


@pytest.mark.student("precision_recall")
def test_perfect_predictions_give_ones_for_present_classes():
    y = torch.tensor([0, 1, 1, 2, 2, 2])
    precision, recall = precision_recall(y, y.clone(), 4)
    assert precision.tolist() == [1.0, 1.0, 1.0, 0.0], \
        _("precision {precision}").format(precision=precision.tolist())
    assert recall.tolist() == [1.0, 1.0, 1.0, 0.0], \
        _("recall {recall}").format(recall=recall.tolist())


@pytest.mark.parametrize("function", [
    pytest.param(lambda t, p: accuracy(t, p), id="accuracy", marks=pytest.mark.student("accuracy")),
    pytest.param(lambda t, p: confusion_matrix(t, p, 3), id="confusion_matrix",
                 marks=pytest.mark.student("confusion_matrix")),
    pytest.param(lambda t, p: precision_recall(t, p, 3), id="precision_recall",
                 marks=pytest.mark.student("precision_recall")),
])
def test_mismatched_shapes_raise_value_error(function):
    function(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1]))  # matching shapes work
    with pytest.raises(ValueError):
        function(torch.tensor([0, 1, 2]), torch.tensor([0, 1]))
    with pytest.raises(ValueError):
        function(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]))
