"""Evaluation metrics: accuracy, confusion matrix, per-class precision and recall.

All inputs are label tensors: ``y_true`` and ``y_pred`` are int64 [N] with
values in [0, C). Write each function without a Python loop over examples.

Rules (``helpers/functions.py``; the self-check and grading apply them): no
``torch.autograd`` (``.backward()``, ``requires_grad``, ``torch.func``), no ``torch.nn``
(its modules, and ``torch.nn.functional`` with its losses) and no ``torch.optim`` in this
file. Plain tensor operations do it all.
"""
import torch


def _check_labels(y_true, y_pred):
    if y_true.shape != y_pred.shape or y_true.dim() != 1:
        raise ValueError(f"y_true and y_pred must be 1-D tensors of the same length, "
                         f"got shapes {tuple(y_true.shape)} and {tuple(y_pred.shape)}")


def accuracy(y_true, y_pred):
    """Fraction of examples whose predicted label equals the true label.

    Inputs: y_true, y_pred int64 [N]. Returns a Python float in [0, 1]
    (0.0 for N = 0).
    """
    _check_labels(y_true, y_pred)
    # BEGIN SOLUTION
    if y_true.numel() == 0:
        return 0.0
    return (y_true == y_pred).to(torch.float64).mean().item()
    # END SOLUTION


def confusion_matrix(y_true, y_pred, num_classes):
    """Count how often each true class is predicted as each class.

    Inputs: y_true, y_pred int64 [N]; num_classes C.
    Returns int64 [C, C] on the device of the inputs, where
    ``cm[i, j]`` = number of examples of true class i predicted as class j.
    Hint: the pair (i, j) can be encoded as the single index ``i * C + j``;
    ``torch.bincount`` with ``minlength=C * C`` then counts every pair at once.
    """
    _check_labels(y_true, y_pred)
    # BEGIN SOLUTION
    pair_index = y_true.to(torch.int64) * num_classes + y_pred.to(torch.int64)
    counts = torch.bincount(pair_index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)
    # END SOLUTION


def precision_recall(y_true, y_pred, num_classes):
    """Per-class precision and recall.

    For class c: precision = TP / (TP + FP), the fraction of predictions of c
    that are right; recall = TP / (TP + FN), the fraction of true c found.
    Where the denominator is 0 (c never predicted, or c absent from y_true)
    the value is defined as 0.

    Inputs: y_true, y_pred int64 [N]; num_classes C.
    Returns ``(precision, recall)``: float64 tensors [C] each, on the device of
    the inputs (like ``confusion_matrix``). Their means are the macro-averaged
    precision and recall.
    Hint: build them from ``confusion_matrix``: TP is its diagonal, TP + FP its
    column sums, TP + FN its row sums.
    """
    # BEGIN SOLUTION
    cm = confusion_matrix(y_true, y_pred, num_classes).to(torch.float64)
    true_positives = cm.diagonal()
    predicted = cm.sum(dim=0)
    actual = cm.sum(dim=1)
    precision = torch.where(predicted > 0, true_positives / predicted.clamp(min=1),
                            torch.zeros_like(true_positives))
    recall = torch.where(actual > 0, true_positives / actual.clamp(min=1),
                         torch.zeros_like(true_positives))
    return precision, recall
    # END SOLUTION

