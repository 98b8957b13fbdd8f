"""One evaluator, one comparison table and one batched predict for every notebook.

``evaluate`` summarises a classifier's predictions (accuracy, confusion matrix, per-class and
macro precision and recall, from the student's ``assignment/metrics.py``);
``comparison_table`` shows several summaries side by side.
"""
import torch

from assignment.metrics import accuracy, confusion_matrix, precision_recall
from helpers.i18n import _
from helpers.utils import predict_in_batches


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


def label_function(model):
    """``X [N, ...] -> labels int64 [N]`` of any classifier of the kit: its ``predict`` when it
    has one (linear classifiers, Task 2's net), the argmax of the scores of ``loss(X)`` (Task
    3's nets) or of ``model(X)`` (a ``torch.nn`` module), or ``model`` itself when it is a
    function from inputs to labels."""
    if hasattr(model, "predict"):
        return model.predict
    if hasattr(model, "loss"):
        return lambda X: model.loss(X).argmax(dim=1)
    if isinstance(model, torch.nn.Module):
        return lambda X: model(X).argmax(dim=1)
    if callable(model):
        return model
    raise TypeError(_("cannot predict with {type}: give a classifier of the kit, a torch.nn "
                      "module or a function from inputs to labels").format(
        type=type(model).__name__))


def evaluate(model, X, y, num_classes=10, batch_size=1000):
    """``classification_report`` of ``model``'s predictions on ``(X [N, ...], y [N])``,
    predicted ``batch_size`` rows at a time (``label_function`` says how)."""
    return classification_report(y, predict_in_batches(label_function(model), X, batch_size),
                                 num_classes)


def comparison_table(results):
    """A text table of accuracy and macro precision/recall, one row per model.

    Input: ``results`` dict model name -> dict from :func:`evaluate`.
    """
    width = max(len("model"), *(len(name) for name in results))
    lines = [f"{'model':<{width}}  accuracy  macro precision  macro recall"]
    for name, result in results.items():
        lines.append(f"{name:<{width}}  {result['accuracy']:8.4f}  "
                     f"{result['macro_precision']:15.4f}  {result['macro_recall']:12.4f}")
    return "\n".join(lines)
