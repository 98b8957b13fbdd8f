"""One summary of predictions for every notebook: accuracy, confusion matrix,
per-class and macro precision and recall (built on assignment/metrics.py).

It lives in helpers/ rather than in a student file, so that submissions made
with an earlier release keep working with the current given code.
"""
from assignment.metrics import accuracy, confusion_matrix, precision_recall


def classification_report(y_true, y_pred, num_classes):
    """Every summary of a set of predictions at once, from the student's metrics.

    Inputs: y_true, y_pred int64 [N]; num_classes C.
    Returns a dict: ``accuracy`` (float), ``confusion_matrix`` int64 [C, C],
    ``precision`` and ``recall`` float64 [C], and their means
    ``macro_precision`` and ``macro_recall`` (floats).
    """
    precision, recall = precision_recall(y_true, y_pred, num_classes)
    return {
        "accuracy": accuracy(y_true, y_pred),
        "confusion_matrix": confusion_matrix(y_true, y_pred, num_classes),
        "precision": precision,
        "recall": recall,
        "macro_precision": precision.mean().item(),
        "macro_recall": recall.mean().item(),
    }
