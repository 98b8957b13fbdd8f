"""Studies of the two-layer-net notebook: toy data and one-parameter studies.

The notebook only calls these functions and shows what they return, so that
every loop over hyperparameters is given code that the unit tests reach.
"""
import time

import torch

from assignment.metrics import accuracy
from assignment.two_layer_net import TwoLayerNet, nn_forward_backward, nn_predict, nn_train
from helpers.data import add_mirrored_images
from helpers.i18n import _
from helpers.studies.evaluation import evaluate
from helpers.utils import detect_divergence, reset_seed

# Hyperparameters of a parameter-study run unless a study varies them.
STUDY_DEFAULTS = {"hidden_size": 100, "learning_rate": 0.5, "learning_rate_decay": 0.95,
                  "reg": 1e-4, "num_epochs": 5, "batch_size": 200}
# The parameters a study can vary: the keys of STUDY_DEFAULTS.
STUDY_PARAMETERS = tuple(STUDY_DEFAULTS)


def make_toy_data(num_inputs=60, input_size=4, num_classes=3, seed=0,
                  dtype=torch.float64, device="cpu"):
    """A small classification problem: one Gaussian blob per class.

    Class centres are drawn from a normal distribution with standard deviation
    3 and each point adds unit noise, so the classes overlap a little.
    Returns ``(X [num_inputs, input_size], y int64 [num_inputs])`` with
    classes in turn (0, 1, ..., C-1, 0, 1, ...).
    """
    generator = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(num_classes, input_size, generator=generator, dtype=dtype)
    y = torch.arange(num_inputs) % num_classes
    X = centres[y] + torch.randn(num_inputs, input_size, generator=generator, dtype=dtype)
    return X.to(device), y.to(device)


def make_toy_split(num_train=120, num_val=60, input_size=4, num_classes=3, seed=0,
                   dtype=torch.float64, device="cpu"):
    """Training and validation sets of the same toy problem (:func:`make_toy_data`).

    Returns a dict with X_train, y_train, X_val, y_val, like ``preprocess_cifar10``.
    """
    X, y = make_toy_data(num_train + num_val, input_size, num_classes, seed, dtype, device)
    return {"X_train": X[:num_train], "y_train": y[:num_train],
            "X_val": X[num_train:], "y_val": y[num_train:]}


def make_toy_params(input_size=4, hidden_size=10, num_classes=3, std=1e-1, seed=0,
                    dtype=torch.float64, device="cpu"):
    """Parameters for a toy net: weights ``std * randn``, biases small random values.

    Random (not zero) biases make a gradient check exercise the bias gradients.
    Returns a dict with W1 [D, H], b1 [H], W2 [H, C], b2 [C].
    """
    generator = torch.Generator().manual_seed(seed)

    def normal(*shape, scale=std):
        return (scale * torch.randn(*shape, generator=generator, dtype=dtype)).to(device)

    return {"W1": normal(input_size, hidden_size), "b1": normal(hidden_size, scale=0.1),
            "W2": normal(hidden_size, num_classes), "b2": normal(num_classes, scale=0.1)}


def append_bias_column(X):
    """Inputs [N, D] -> [N, D + 1] with a constant 1 appended (the bias trick of Task 1)."""
    return torch.cat([X, X.new_ones(X.shape[0], 1)], dim=1)


def train_and_evaluate(data, *, hidden_size, learning_rate, learning_rate_decay, reg,
                       num_epochs, batch_size, seed=0, num_classes=10):
    """Train one ``TwoLayerNet`` on ``data`` and score it on the training and validation sets.

    Inputs: ``data`` dict with X_train, y_train, X_val, y_val (the net takes
    their dtype and device) and the hyperparameters; ``num_epochs`` is turned
    into ``num_epochs * max(N // batch_size, 1)`` iterations.

    Returns a dict: ``net``, ``stats`` (the histories of ``nn_train``),
    ``train_acc`` (on the whole training set), ``val_acc``,
    ``val_macro_precision``, ``val_macro_recall``, ``diverged`` (bool; its
    scores are then 0) and ``seconds`` (training time).
    """
    X_train, y_train = data["X_train"], data["y_train"]
    reset_seed(seed)
    net = TwoLayerNet(X_train.shape[1], hidden_size, num_classes, dtype=X_train.dtype,
                      device=X_train.device)
    num_iters = num_epochs * max(X_train.shape[0] // batch_size, 1)
    start = time.perf_counter()
    stats, diverged = detect_divergence(lambda: nn_train(
        net.params, nn_forward_backward, nn_predict, X_train, y_train, data["X_val"], data["y_val"],
        learning_rate=learning_rate, learning_rate_decay=learning_rate_decay, reg=reg,
        num_iters=num_iters, batch_size=batch_size))
    seconds = time.perf_counter() - start
    result = {"net": net, "stats": stats, "diverged": diverged, "seconds": seconds,
              "train_acc": 0.0, "val_acc": 0.0, "val_macro_precision": 0.0,
              "val_macro_recall": 0.0}
    if not diverged:
        val = evaluate(net, data["X_val"], data["y_val"], num_classes)
        result.update(train_acc=accuracy(y_train, net.predict(X_train)),
                      val_acc=val["accuracy"], val_macro_precision=val["macro_precision"],
                      val_macro_recall=val["macro_recall"])
    return result


def parameter_study(data, param_name, values, base_config=None, seed=0, verbose=True):
    """Vary one hyperparameter, keep the others fixed, and score a net for each value.

    Inputs:
    - data: dict with X_train, y_train, X_val, y_val
    - param_name: one of ``STUDY_PARAMETERS`` (hidden_size, learning_rate,
      learning_rate_decay, reg, num_epochs, batch_size)
    - values: the values to try (at least 2)
    - base_config: the fixed hyperparameters (default ``STUDY_DEFAULTS``;
      missing keys are taken from it)
    - seed: every run starts from the same seed
    - verbose: print one line per value

    Returns a dict: ``param``, ``values``, and lists (one entry per value)
    ``train_acc``, ``val_acc``, ``val_macro_precision``, ``val_macro_recall``,
    ``diverged``, ``seconds``.
    """
    if param_name not in STUDY_DEFAULTS:
        raise ValueError(_("unknown parameter {name!r}; choose one of {names}").format(
            name=param_name, names=", ".join(STUDY_PARAMETERS)))
    if len(values) < 2:
        raise ValueError(_("a parameter study needs at least 2 values"))
    config = dict(STUDY_DEFAULTS, **(base_config or {}))
    keys = ("train_acc", "val_acc", "val_macro_precision", "val_macro_recall", "diverged",
            "seconds")
    study = {"param": param_name, "values": list(values), **{key: [] for key in keys}}
    for value in values:
        result = train_and_evaluate(data, **dict(config, **{param_name: value}), seed=seed)
        for key in keys:
            study[key].append(result[key])
        if verbose:
            # Translators: a run of a parameter study whose training diverged.
            scores = _("diverged") if result["diverged"] else (
                _("train acc {train_acc:.3f}  val acc {val_acc:.3f}  val macro P/R "
                  "{precision:.3f}/{recall:.3f}").format(
                    train_acc=result["train_acc"], val_acc=result["val_acc"],
                    precision=result["val_macro_precision"], recall=result["val_macro_recall"]))
            print(f"{param_name} = {value:<8g} {scores}  ({result['seconds']:.1f} s)")
    return study


def study_series(study):
    """The curves of a study for ``plots.plot_hyperparameter_curve``: name -> scores."""
    return {"train accuracy": study["train_acc"], "val accuracy": study["val_acc"],
            "val macro precision": study["val_macro_precision"],
            "val macro recall": study["val_macro_recall"]}


def best_value(study):
    """The value of the studied parameter with the highest validation accuracy."""
    scores = torch.tensor(study["val_acc"])
    return study["values"][int(scores.argmax())]


# The hyperparameters of a search run (``best_stat["runs"]`` of ``find_best_net``), in the
# order of the grid, with their column headers.
SEARCH_COLUMNS = (("learning_rate", "learning rate"), ("hidden_size", "hidden size"),
                  ("reg", "reg"), ("learning_rate_decay", "decay"))


def search_table(runs):
    """A text table of every run of the search, best first.

    Input: ``runs``, the list of dicts ``best_stat["runs"]`` (config keys plus
    ``"val_acc"``). A diverged run (val acc 0) is marked as such.
    """
    headers = [header for _, header in SEARCH_COLUMNS]
    lines = ["  ".join(f"{h:>13}" for h in headers) + "  val accuracy"]
    for run in sorted(runs, key=lambda r: -r["val_acc"]):
        cells = "  ".join(f"{run[key]:>13g}" for key, _ in SEARCH_COLUMNS)
        score = "diverged" if run["val_acc"] == 0 else f"{run['val_acc']:.4f}"
        lines.append(f"{cells}  {score:>12}")
    return "\n".join(lines)


def search_series(runs):
    """The runs of a search per hyperparameter, for ``plots.plot_search_runs``.

    Returns a dict header -> ``(values, val_accs)``: for each hyperparameter the
    value of every run and its validation accuracy (two lists in the order of ``runs``).
    """
    return {header: ([run[key] for run in runs], [run["val_acc"] for run in runs])
            for key, header in SEARCH_COLUMNS}


def retrain_with_mirrored_images(data, config, num_epochs, batch_size=200, seed=0):
    """Train a fresh ``TwoLayerNet(std=None)`` with ``config`` on the data plus mirror images.

    Inputs: ``data`` (flattened, with X_train, y_train, X_val, y_val), ``config`` the
    dict ``best_stat["config"]`` of the search, ``num_epochs`` passes over the doubled
    training set (``helpers.data.add_mirrored_images``), the learning rate decayed by
    ``config["learning_rate_decay"]`` after each of them. Returns ``(net, stats)``.
    """
    augmented = add_mirrored_images(data)
    X, y = augmented["X_train"], augmented["y_train"]
    reset_seed(seed)
    net = TwoLayerNet(X.shape[1], config["hidden_size"], 10, dtype=X.dtype, device=X.device,
                      std=None)
    stats = net.train(X, y, data["X_val"], data["y_val"],
                      learning_rate=config["learning_rate"],
                      learning_rate_decay=config["learning_rate_decay"], reg=config["reg"],
                      num_iters=num_epochs * max(X.shape[0] // batch_size, 1),
                      batch_size=batch_size, progress=True)
    return net, stats
