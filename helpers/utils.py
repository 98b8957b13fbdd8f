"""Small shared utilities: seeds, device choice, quick mode, kit paths and results.

Every notebook records its headline figures through :func:`record_metrics`, so
that ``python -m instructor.run_notebooks`` can print one table for all of them.
"""
import json
import os
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from helpers.i18n import _
from helpers.progress import progress_line

KIT_ROOT = Path(__file__).resolve().parent.parent


def seed_offset():
    """The run's seed offset: ``$KIT_SEED`` (an integer), 0 when unset.

    Every :func:`reset_seed` adds it, so one variable re-runs a whole notebook
    under another seed; the kit's tests use it to measure how much a
    notebook's results move from seed to seed.
    """
    value = os.environ.get("KIT_SEED", "").strip() or "0"
    try:
        return int(value)
    except ValueError:
        raise ValueError(_("KIT_SEED must be an integer, got {value!r}").format(
            value=value)) from None


def reset_seed(seed=0):
    """Seed Python's ``random``, torch's CPU generator and every CUDA generator.

    The seed used is ``seed + seed_offset()``: ``KIT_SEED=3`` shifts every
    seed of a run by 3.
    """
    seed = seed + seed_offset()
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


def strict_floors():
    """True when ``KIT_STRICT_FLOORS`` is ``1``: the kit's own notebook runs (CI's nbval,
    ``python -m instructor.run_notebooks``) set it, a student's Jupyter does not."""
    return os.environ.get("KIT_STRICT_FLOORS", "0").strip().lower() in ("1", "true", "yes")


def expect_accuracy(accuracy, floor, what, advice):
    """Check a result of a net whose recipe the student designs against its floor.

    In the kit's own runs (``strict_floors()``) a value below ``floor`` is an
    ``AssertionError``: the reference solutions must reach it. In a student's run it is a
    ``UserWarning`` that says what to try (``advice``), and the notebook goes on, so the
    model is still saved and the submission still possible (the grader's rubric gives
    partial points below the floor). Returns True when ``accuracy >= floor``.
    """
    if accuracy >= floor:
        return True
    # Translators: {what} names the net (e.g. "best two-layer net") and {advice} says what to
    # try; both come from the notebook's code.
    message = _("{what}: test accuracy {accuracy:.4f} is below {floor:.2f}, which the "
                "reference recipe reaches on every seed. {advice}").format(
        what=what, accuracy=accuracy, floor=floor, advice=advice)
    if strict_floors():
        raise AssertionError(message)
    warnings.warn(message, UserWarning, stacklevel=2)
    return False


# The MIME type of the run-mode record that notebooks leave in their output (see show_run_mode).
RUN_MODE_MIME = "application/vnd.cifar10-kit.run-mode+json"


def run_mode_record():
    """What :func:`show_run_mode` records: ``{"quick_mode": bool, "KIT_QUICK": str}``."""
    return {"quick_mode": quick_mode(), "KIT_QUICK": os.environ.get("KIT_QUICK", "")}


def show_run_mode():
    """Show in the notebook whether this run is in quick mode, and record it in the output.

    The set-up cell of every notebook calls this. Besides the line ``quick mode: False``
    (or True) it leaves a machine-readable record (MIME type ``RUN_MODE_MIME``) in the
    cell's output, which stays in the saved notebook: ``collect_submission.py`` reads it and
    refuses notebooks whose results come from a quick-mode run. Outside a notebook it only
    prints the line. Returns nothing (a notebook cell ending with it shows no value).
    """
    record = run_mode_record()
    if record["quick_mode"]:
        # Translators: {quick} is Python's True.
        text = _("quick mode: {quick} (KIT_QUICK=1: a CIFAR-10 subsample; re-run without "
                 "KIT_QUICK before you submit)").format(quick=record["quick_mode"])
    else:
        # Translators: {quick} is Python's False.
        text = _("quick mode: {quick}").format(quick=record["quick_mode"])
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(text)
    else:
        display({RUN_MODE_MIME: record, "text/plain": text}, raw=True)


def results_dir():
    """Folder for run results: ``$KIT_RESULTS_DIR`` if set, else ``<kit>/results``."""
    return Path(os.environ.get("KIT_RESULTS_DIR") or KIT_ROOT / "results")


def shown_path(path):
    """How the kit prints a file's path: never a path of the machine it runs on.

    ``<kit>/saved/fc_net_best.pt`` -> ``"saved/fc_net_best.pt"``; a file in a folder that
    ``$KIT_SAVED_DIR`` or ``$KIT_RESULTS_DIR`` moved elsewhere ->
    ``"$KIT_SAVED_DIR/fc_net_best.pt"``; any other file -> its name.
    """
    path = Path(path).resolve()
    folders = [("", KIT_ROOT)] + [(f"${name}/", Path(os.environ[name]).resolve())
                                  for name in ("KIT_SAVED_DIR", "KIT_RESULTS_DIR")
                                  if os.environ.get(name)]
    for prefix, folder in folders:
        if path.is_relative_to(folder):
            return prefix + path.relative_to(folder).as_posix()
    return path.name


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


_DEFAULT_THREADS = torch.get_num_threads()   # PyTorch's choice, before anyone changes it


def first_non_finite(values):
    """Index of the first non-finite value of a 1-D tensor, or None (one read back to the
    host); the training loops use it to stop at the first NaN or inf loss."""
    bad = (~torch.isfinite(values)).nonzero()
    return bad[0, 0].item() if bad.numel() else None


@torch.no_grad()
def predict_in_batches(predict, X, batch_size=1000):
    """``predict(X)`` (labels int64 [N] of inputs [N, ...]) computed ``batch_size`` rows at a
    time, so that large inputs need little memory; returns int64 [N]."""
    if X.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=X.device)
    return torch.cat([predict(X[start:start + batch_size])
                      for start in range(0, X.shape[0], batch_size)])


def busy_cores():
    """How many CPU cores other programs keep busy right now (an estimate, >= 0).

    On Linux, the number of runnable tasks (``procs_running`` in ``/proc/stat``,
    this process included) is read five times over a quarter of a second and the
    median, less this process, counts: it reacts at once, where the load average
    takes a minute. Elsewhere the 1-minute load average is used (0 if unknown).
    """
    samples = []
    for _sample in range(5):
        try:
            with open("/proc/stat") as stat:
                running = next(int(line.split()[1]) for line in stat
                               if line.startswith("procs_running"))
        except (OSError, StopIteration, ValueError, IndexError):
            break
        samples.append(running - 1)
        time.sleep(0.05)
    if samples:
        return max(0, statistics.median_high(samples))
    try:
        return max(0, round(os.getloadavg()[0]))
    except (AttributeError, OSError):
        return 0


def available_cores():
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def configure_cpu_threads(threads=None):
    """Set PyTorch's CPU thread count for this process and return it.

    ``threads`` (or ``$KIT_THREADS``) forces a count. By default the kit uses
    one thread per *idle* core: the cores available to this process less
    :func:`busy_cores`, at least 1 and at most PyTorch's own default.

    Why: a parallel matrix product ends with its threads waiting for each
    other. When other programs keep every core busy, one of those threads is
    often descheduled, and the product waits for it: on 2 busy cores the
    two-layer net's epoch took up to 10 times longer with 2 threads than with
    one (README, "CPU threads"). One thread per idle core avoids that wait on a
    busy machine and keeps the parallel speed-up on an idle one.
    """
    if threads is None and os.environ.get("KIT_THREADS", "").strip():
        threads = os.environ["KIT_THREADS"]
    if threads is not None:
        count = int(threads)
        if count < 1:
            raise ValueError(_("the CPU thread count must be at least 1, got {count}").format(
                count=count))
    else:
        count = max(1, min(_DEFAULT_THREADS, available_cores() - busy_cores()))
    torch.set_num_threads(count)
    return count


def timing_is_unreliable(times, spread=1.5):
    """True when some side of a timing has a median round ``spread`` times its fastest.

    Input: ``times`` dict name -> list of seconds, as :func:`time_side_by_side`
    returns. Rounds of the same work on an idle machine agree within a few
    percent; a typical round far slower than the fastest means other programs
    took the CPU in between, so the figures (and their ratio) are not reliable.
    """
    return any(len(runs) > 1 and statistics.median(runs) > spread * min(runs)
               for runs in times.values())


def busy_machine_note():
    """What a notebook prints when :func:`timing_is_unreliable` (also ``BUSY_MACHINE_NOTE``)."""
    return _("this machine looks busy (the rounds of one timing differ widely): the timing "
             "below is not reliable; close other programs and re-run this cell for a fair "
             "figure.")


def __getattr__(name):
    # ``BUSY_MACHINE_NOTE`` (what the notebooks print) in the language of the moment.
    if name == "BUSY_MACHINE_NOTE":
        return busy_machine_note()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def synchronize(device):
    """Wait for the device's queued work (CUDA runs asynchronously); nothing on a CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_side_by_side(runs, repeats=3, device="cpu", what=None):
    """Time competing functions fairly: ``repeats`` rounds, alternating which goes first.

    Input: ``runs`` dict name -> function of no arguments; ``what``: when given, a
    progress line ``<what>: run 3/6`` (``helpers.progress``) counts the timed runs. Returns
    dict name -> list of wall times in seconds (one per round). The best (minimum)
    time of each is the least disturbed by other programs on the machine.
    """
    times = {name: [] for name in runs}
    order = list(runs.items())
    line = progress_line(total=repeats * len(runs), what=what, unit="run", shown=what is not None)
    for round_number in range(repeats):
        for name, function in order if round_number % 2 == 0 else order[::-1]:
            synchronize(device)
            start = time.perf_counter()
            function()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
            line.update()
    line.close()
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


def metrics_path():
    """The file :func:`record_metrics` writes: ``results_dir() / "metrics.json"``."""
    return results_dir() / "metrics.json"


def record_metrics(notebook, **figures):
    """Merge headline ``figures`` of ``notebook`` into ``results/metrics.json``.

    Example: ``record_metrics("linear_classifier", softmax_test_acc=0.39)``.
    Figures recorded earlier under the same notebook are kept unless
    overwritten; the file is written atomically (``metrics_path()``). Returns nothing,
    so a notebook cell ending with it shows no value. The figure set also records
    whether the run was in quick mode.
    """
    path = metrics_path()
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
