"""Every shared figure draws, with a title, axis labels and legends."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def titled(fig):
    return fig._suptitle is not None or any(ax.get_title() for ax in fig.axes)


def test_image_grid_names_every_class():
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(10).repeat(4)
    fig = plots.show_image_grid(images, labels, samples_per_class=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == list(plots.CLASSES) and titled(fig)


def test_training_curves_have_labels_and_legends():
    fig = plots.plot_training_curves([2.3, 2.0, 1.8], [0.1, 0.3], [0.1, 0.25])
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "iteration" and acc_ax.get_xlabel() == "epoch"
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == ["train", "val"]


def test_confusion_matrix_and_precision_recall():
    cm = torch.randint(0, 50, (10, 10))
    fig = plots.plot_confusion_matrix(cm)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    fig = plots.plot_precision_recall(torch.rand(10), torch.rand(10))
    assert len(fig.axes[0].get_legend().get_texts()) == 2 and titled(fig)


def test_weight_templates_drop_the_bias_row():
    fig = plots.show_weight_templates(torch.randn(3073, 10))
    images = [ax.images[0].get_array().shape for ax in fig.axes if ax.images]
    assert images == [(32, 32, 3)] * 10


def test_hyperparameter_curve_uses_a_log_axis_for_wide_ranges():
    fig = plots.plot_hyperparameter_curve([1e-4, 1e-3, 1e-2], {"train": [0.1, 0.2, 0.3]}, "lr")
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_xlabel() == "lr"
    fig = plots.plot_hyperparameter_curve([50, 100, 200], {"val": [0.1, 0.2, 0.3]}, "batch size")
    assert fig.axes[0].get_xscale() == "linear"


def test_heatmap_marks_diverged_cells():
    matrix = torch.tensor([[0.3, float("nan")], [0.35, 0.38]])
    fig = plots.plot_heatmap(matrix, [1e-3, 1e-2], [1e-4, 1e-3], "CV accuracy", "lr", "reg")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "diverged" in texts and "0.380" in texts


def test_plot_curves_and_functions_have_legends():
    fig = plots.plot_curves({"sgd": [3, 2, 1], "adam": [3, 1, 0.5]}, "Loss", "iteration", "loss")
    assert len(fig.axes[0].get_legend().get_texts()) == 2
    fig = plots.plot_functions({"ReLU": torch.relu, "tanh": torch.tanh})
    assert len(fig.axes[0].get_legend().get_texts()) == 2


def test_search_runs_have_one_panel_per_parameter_and_a_best_line():
    series = {"learning rate": ([0.1, 0.1, 0.4, 0.4], [0.3, 0.5, 0.6, 0.0]),
              "reg": ([1e-4, 1e-3, 1e-4, 1e-3], [0.3, 0.5, 0.6, 0.0])}
    fig = plots.plot_search_runs(series)
    assert [ax.get_xlabel() for ax in fig.axes] == ["learning rate", "reg"] and titled(fig)
    best_line = fig.axes[0].get_lines()[1]
    assert list(best_line.get_ydata()) == [0.5, 0.6], "the line joins the best run per value"
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["0.0001", "0.001"]
