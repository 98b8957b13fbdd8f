"""Every figure the notebooks draw. Each function returns its matplotlib Figure.

Figures have a title, axis labels and, where several series share axes, a
legend. In a notebook the figure shows itself at the end of the cell.
"""
import math

import matplotlib.pyplot as plt
import torch

from helpers.data import CLASSES


def _to_cpu(values):
    if isinstance(values, torch.Tensor):
        return values.detach().cpu()
    return torch.as_tensor(values)


def _image_for_display(image):
    """[3, 32, 32] tensor of any range -> [32, 32, 3] float tensor in [0, 1]."""
    image = _to_cpu(image).to(torch.float64)
    low, high = image.min(), image.max()
    image = (image - low) / (high - low) if high > low else torch.zeros_like(image)
    return image.permute(1, 2, 0)


def show_image_grid(images, labels, classes=CLASSES, samples_per_class=7, seed=0,
                    title="CIFAR-10 samples"):
    """Random sample images of each class, one column per class.

    Inputs: images [N, 3, 32, 32] (uint8 or float), labels int64 [N].
    """
    images, labels = _to_cpu(images), _to_cpu(labels)
    generator = torch.Generator().manual_seed(seed)
    fig, axes = plt.subplots(samples_per_class, len(classes),
                             figsize=(1.2 * len(classes), 1.2 * samples_per_class),
                             squeeze=False)
    for c, name in enumerate(classes):
        indices = (labels == c).nonzero().flatten()
        picks = indices[torch.randperm(len(indices), generator=generator)[:samples_per_class]]
        for row in range(samples_per_class):
            ax = axes[row, c]
            ax.axis("off")
            if row < len(picks):
                ax.imshow(_image_for_display(images[picks[row]]).numpy())
        axes[0, c].set_title(name, fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_training_curves(loss_history, train_acc_history=None, val_acc_history=None,
                         title="Training"):
    """Loss per iteration and, when given, train/val accuracy per epoch, side by side."""
    has_acc = train_acc_history is not None or val_acc_history is not None
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(12 if has_acc else 6, 4),
                             squeeze=False)
    ax = axes[0, 0]
    ax.plot(_to_cpu(loss_history).numpy(), linewidth=0.8, label="training loss")
    ax.set(title=f"{title}: loss", xlabel="iteration", ylabel="loss")
    ax.legend()
    if has_acc:
        ax = axes[0, 1]
        for history, label in ((train_acc_history, "train"), (val_acc_history, "val")):
            if history is not None:
                ax.plot(_to_cpu(history).numpy(), "o-", label=label)
        ax.set(title=f"{title}: accuracy", xlabel="epoch", ylabel="accuracy")
        ax.legend()
    fig.tight_layout()
    return fig


def plot_curves(curves, title, xlabel, ylabel, style="-"):
    """Several named series on one axes, e.g. the loss of each update rule.

    Input: ``curves`` dict name -> sequence of values.
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, values in curves.items():
        ax.plot(_to_cpu(values).numpy(), style, label=str(name), linewidth=1)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_confusion_matrix(cm, classes=CLASSES, title="Confusion matrix", normalize=True):
    """Heatmap of a confusion matrix ``cm[i, j]`` = true class i predicted as j.

    With ``normalize`` each row is divided by its total, so the diagonal shows
    per-class recall; the cells print the raw counts.
    """
    counts = _to_cpu(cm).to(torch.float64)
    shown = counts / counts.sum(dim=1, keepdim=True).clamp(min=1) if normalize else counts
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(shown.numpy(), cmap="Blues")
    fig.colorbar(image, ax=ax, label="fraction of the true class" if normalize else "count")
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    threshold = shown.max().item() / 2
    for i in ticks:
        for j in ticks:
            ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > threshold else "black")
    ax.set(title=title, xlabel="predicted class", ylabel="true class")
    fig.tight_layout()
    return fig


def plot_precision_recall(
    precision, recall, classes=CLASSES, title="Per-class precision and recall"
):
    """Grouped bars of per-class precision and recall, with their macro averages as lines."""
    precision, recall = _to_cpu(precision).to(torch.float64), _to_cpu(recall).to(torch.float64)
    positions = torch.arange(len(classes), dtype=torch.float64)
    width = 0.4
    fig, ax = plt.subplots(figsize=(10, 4))
    positions = positions.numpy()
    ax.bar(positions - width / 2, precision.numpy(), width,
           label=f"precision (macro {precision.mean():.3f})")
    ax.bar(
        positions + width / 2, recall.numpy(), width, label=f"recall (macro {recall.mean():.3f})"
    )
    ax.axhline(precision.mean().item(), color="C0", linestyle="--", linewidth=1)
    ax.axhline(recall.mean().item(), color="C1", linestyle="--", linewidth=1)
    ax.set_xticks(positions, classes, rotation=30, ha="right")
    ax.set(title=title, xlabel="class", ylabel="score", ylim=(0, 1))
    ax.legend()
    fig.tight_layout()
    return fig


def show_weight_templates(W, classes=CLASSES, title="Learned class templates"):
    """Show each column of linear weights ``W`` [D, C] as a 32x32 colour image.

    ``D`` is 3072, or 3073 with the bias trick (the bias row is dropped), or
    larger first-layer weights of a net (each column shown as a template).
    """
    W = _to_cpu(W).to(torch.float64)
    W = W[:3072] if W.shape[0] == 3073 else W
    num = W.shape[1]
    cols = min(num, 10)
    rows = math.ceil(num / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.7 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < num:
            ax.imshow(_image_for_display(W[:, k].reshape(3, 32, 32)).numpy())
            if classes is not None and k < len(classes):
                ax.set_title(classes[k], fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _wants_log_axis(values):
    values = [float(v) for v in values]
    return all(v > 0 for v in values) and max(values) / min(values) >= 100


def plot_hyperparameter_curve(values, series, param_name, title=None, ylabel="accuracy",
                              log_x=None):
    """Performance against one hyperparameter.

    Inputs: ``values`` the parameter values (x axis), ``series`` dict
    name -> list of scores (one per value), e.g. train and val accuracy.
    ``log_x`` defaults to a log axis when the values are positive and span
    at least two decades.
    """
    log_x = _wants_log_axis(values) if log_x is None else log_x
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, scores in series.items():
        ax.plot([float(v) for v in values], [float(s) for s in scores], "o-", label=name)
    if log_x:
        ax.set_xscale("log")
    ax.set(title=title or f"Performance against {param_name}", xlabel=param_name, ylabel=ylabel)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_heatmap(matrix, row_values, col_values, title, row_name, col_name,
                 cell_text=None, colorbar_label="accuracy"):
    """Heatmap of a grid of scores, e.g. mean cross-validation accuracy.

    Inputs: ``matrix`` [R, C] (NaN cells, e.g. diverged runs, are grey and
    marked "diverged"), the row and column parameter values, and optional
    ``cell_text`` [R][C] strings (default: the value to 3 decimals).
    """
    matrix = _to_cpu(matrix).to(torch.float64)
    fig, ax = plt.subplots(figsize=(1.3 * len(col_values) + 3, 0.6 * len(row_values) + 2.5))
    cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    image = ax.imshow(matrix.numpy(), cmap=cmap, aspect="auto")
    finite = matrix[~matrix.isnan()]
    midpoint = (finite.min() + finite.max()).item() / 2 if finite.numel() else 0.0
    fig.colorbar(image, ax=ax, label=colorbar_label)
    ax.set_xticks(range(len(col_values)), [f"{v:g}" for v in col_values], rotation=30)
    ax.set_yticks(range(len(row_values)), [f"{v:g}" for v in row_values])
    for i in range(len(row_values)):
        for j in range(len(col_values)):
            value = matrix[i, j].item()
            if cell_text is not None:
                text = cell_text[i][j]
            else:
                text = "diverged" if math.isnan(value) else f"{value:.3f}"
            bright = math.isnan(value) or value > midpoint
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="black" if bright else "white")
    ax.set(title=title, xlabel=col_name, ylabel=row_name)
    fig.tight_layout()
    return fig


def plot_functions(functions, x=None, title="Activation functions", xlabel="x", ylabel="f(x)"):
    """Plot named functions of one variable on one axes (e.g. sigmoid, tanh, ReLU, ELU).

    Input: ``functions`` dict name -> callable taking and returning a tensor.
    """
    x = torch.linspace(-5, 5, 401) if x is None else x
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, function in functions.items():
        ax.plot(x.numpy(), function(x).numpy(), label=name)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_search_runs(series, title="Every run of the search"):
    """Validation accuracy of every run of a grid search, one panel per hyperparameter.

    Input: ``series`` dict name -> ``(values, val_accs)``, one entry per hyperparameter
    (e.g. ``helpers.studies.two_layer_net.search_series``). Each point is one run, the
    grid's values evenly spaced on the x axis; the line joins the best run at each value, so
    a flat line means that parameter mattered little within the grid. Diverged runs
    (accuracy 0) sit at the bottom.
    """
    fig, axes = plt.subplots(1, len(series), figsize=(3.4 * len(series), 3.4), sharey=True,
                             squeeze=False)
    for ax, (name, (values, scores)) in zip(axes[0], series.items()):
        values, scores = [float(v) for v in values], [float(s) for s in scores]
        levels = sorted(set(values))
        position = {level: index for index, level in enumerate(levels)}
        ax.plot([position[v] for v in values], scores, "o", alpha=0.6, label="one run")
        best = [max(s for v, s in zip(values, scores) if v == level) for level in levels]
        ax.plot(range(len(levels)), best, "-", color="black", label="best at this value")
        ax.set_xticks(range(len(levels)), [f"{v:g}" for v in levels])
        ax.set_xlim(-0.5, len(levels) - 0.5)
        ax.set(xlabel=name)
    axes[0][0].set_ylabel("validation accuracy")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
