"""Small shared utilities: seeds, device choice, quick mode, kit paths and results.

Every notebook records its headline figures through :func:`record_metrics`, so
that ``python -m helpers.run_notebooks`` can print one table for all of them.
"""
import json
import os
import random
import tempfile
import time
import warnings
from pathlib import Path

import torch

KIT_ROOT = Path(__file__).resolve().parent.parent


def reset_seed(seed=0):
    """Seed Python's ``random``, torch's CPU generator and every CUDA generator."""
    random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def default_device():
    """``torch.device("cuda")`` when a GPU is available, else ``torch.device("cpu")``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def quick_mode():
    """True when the environment variable ``KIT_QUICK`` is ``1`` (small data, few iterations)."""
    return os.environ.get("KIT_QUICK", "0").strip().lower() in ("1", "true", "yes")


def results_dir():
    """Folder for run results: ``$KIT_RESULTS_DIR`` if set, else ``<kit>/results``."""
    return Path(os.environ.get("KIT_RESULTS_DIR") or KIT_ROOT / "results")


def saved_path(filename):
    """Path of a saved model: ``$KIT_SAVED_DIR/filename`` if set, else ``<kit>/saved/filename``.

    The folder is created if missing.
    """
    folder = Path(os.environ.get("KIT_SAVED_DIR") or KIT_ROOT / "saved")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / filename


def detect_divergence(train):
    """Call ``train()`` and tell whether it warned of a non-finite loss.

    Training loops stop at the first non-finite loss with a ``RuntimeWarning``;
    searches use this to record such a run as diverged and go on. Returns
    ``(result of train(), diverged: bool)``; the warning is not shown.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        result = train()
    return result, any(issubclass(w.category, RuntimeWarning) for w in caught)


def synchronize(device):
    """Wait for the device's queued work (CUDA runs asynchronously); nothing on a CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_side_by_side(runs, repeats=3, device="cpu"):
    """Time competing functions fairly: ``repeats`` rounds, alternating which goes first.

    Input: ``runs`` dict name -> function of no arguments. Returns dict
    name -> list of wall times in seconds (one per round). The best (minimum)
    time of each is the least disturbed by other programs on the machine.
    """
    times = {name: [] for name in runs}
    order = list(runs.items())
    for round_number in range(repeats):
        for name, function in order if round_number % 2 == 0 else order[::-1]:
            synchronize(device)
            start = time.perf_counter()
            function()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def _plain(value):
    """Turn tensors and numbers into JSON-friendly Python values."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


def record_metrics(notebook, **figures):
    """Merge headline ``figures`` of ``notebook`` into ``results/metrics.json``.

    Example: ``record_metrics("linear_classifier", softmax_test_acc=0.39)``.
    Figures recorded earlier under the same notebook are kept unless
    overwritten; the file is written atomically. Returns the file's path.
    The figure set also records whether the run was in quick mode.
    """
    path = results_dir() / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        metrics = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        metrics = {}
    entry = metrics.setdefault(notebook, {})
    entry.update(_plain(figures))
    entry["quick_mode"] = quick_mode()
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        json.dump(metrics, tmp, indent=2, sort_keys=True)
    os.replace(tmp.name, path)
    return path
