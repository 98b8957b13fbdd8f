"""python -m instructor.benchmarks [--device cpu|cuda] [--dtype float32|float64] [--quick]

Side by side in one process, on the same data, device, dtype and batch size:

- naive vs vectorized losses (SVM and softmax) on 500 examples;
- the kit's two-layer net (``nn_train``) vs the same net in ``torch.nn`` +
  autograd + ``torch.optim.SGD``: seconds per epoch (median of repeats) and
  their ratio;
- ``FullyConnectedNet`` + ``Solver`` vs its ``torch.nn`` twin with the same
  update rule (Adam): seconds per epoch (best of repeats) and their ratio;
- CIFAR-10 load + preprocess time.

The CPU thread count is the notebooks' choice (``helpers.utils.configure_cpu_threads``:
one per idle core) unless ``--threads N`` fixes it. ``--hogs N`` runs N
busy-looping processes beside the benchmark (``benchmarks.load.cpu_hogs``;
``--hogs auto`` is one per core plus one), to measure the kit on a busy machine.

Prints a table and writes ``results/benchmarks.json`` (``$KIT_RESULTS_DIR``
if set). A ratio below 1 means the kit is faster than ``torch.nn``.
"""
import argparse
import json
import platform
import statistics
import sys
import time

import torch

from assignment import linear_classifier as lc
from assignment.two_layer_net import TwoLayerNet
from helpers import data as cifar
from helpers.torch_nn_twins import compare_fc_training_speed, time_per_epoch
from helpers.utils import configure_cpu_threads, reset_seed, results_dir
from instructor.benchmarks.load import cpu_hogs, default_hog_count


def bench_load(repeats):
    """Seconds to load all of CIFAR-10 and preprocess it (median of ``repeats``)."""
    load_times, total_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        cifar.load_cifar10()
        load_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        cifar.preprocess_cifar10(device="cpu")
        total_times.append(time.perf_counter() - start)
    return {
        "load_s": statistics.median(load_times),
        "load_and_preprocess_s": statistics.median(total_times),
    }


def bench_losses(X, y, repeats):
    """Naive vs vectorized time of both losses on ``X`` [500, D]."""
    reset_seed(0)
    W = 1e-4 * torch.randn(X.shape[1], 10, dtype=X.dtype, device=X.device)
    rows = {}
    for name, naive, vectorized in (("svm", lc.svm_loss_naive, lc.svm_loss_vectorized),
                                    ("softmax", lc.softmax_loss_naive, lc.softmax_loss_vectorized)):
        report = lc.compare_loss_implementations(naive, vectorized, W, X, y, 1e-3, repeats)
        rows[name] = {key: report[key] for key in ("naive_time", "vectorized_time", "speedup")}
    return rows


def bench_two_layer(data, repeats):
    """The two-layer net of Task 2 (hidden 100, batch 200) against its torch.nn twin."""
    X = data["X_train"]
    net = TwoLayerNet(X.shape[1], 100, 10, dtype=X.dtype, device=X.device, std=1e-4)
    return time_per_epoch(net.params, X, data["y_train"], data["X_val"], data["y_val"],
                          learning_rate=1e-1, batch_size=200, repeats=repeats)


def bench_fc(data, repeats):
    """FullyConnectedNet [100, 100] + Solver (Adam, batch 100) against its torch.nn twin."""
    return compare_fc_training_speed(data, [100, 100], update_rule="adam", learning_rate=1e-3,
                                     batch_size=100, repeats=repeats)


def table(results):
    settings = results["settings"]
    lines = [f"{settings['device']} {settings['dtype']}, {settings['threads']} CPU thread(s), "
             f"{settings['hogs']} CPU hog(s) beside the benchmark",
             f"{'benchmark':44s} {'kit':>12s} {'reference':>12s} {'ratio':>8s}"]
    for name, row in results["losses"].items():
        lines.append(f"{name + ' loss: vectorized vs naive (s/call)':44s} "
                     f"{row['vectorized_time']:12.5f} {row['naive_time']:12.5f} "
                     f"{1 / row['speedup']:8.3f}")
    two = results["two_layer_net"]
    lines.append(f"{'two-layer net vs torch.nn (s/epoch)':44s} {two['kit_seconds']:12.3f} "
                 f"{two['torch_seconds']:12.3f} {two['ratio']:8.3f}")
    fc = results["fully_connected_net"]
    lines.append(
        f"{'FullyConnectedNet+Solver vs torch.nn (s/epoch)':44s} {fc['kit_sec_per_epoch']:12.3f} "
        f"{fc['torch_sec_per_epoch']:12.3f} {fc['ratio']:8.3f}"
    )
    load = results["cifar10"]
    lines.append(f"{'CIFAR-10 load (s)':44s} {load['load_s']:12.3f}")
    lines.append(f"{'CIFAR-10 load + preprocess (s)':44s} {load['load_and_preprocess_s']:12.3f}")
    return "\n".join(lines)


def run_benchmarks(args):
    """Every benchmark of the table, with the settings of ``args``; returns the results dict."""
    threads = configure_cpu_threads(args.threads)
    repeats = 1 if args.quick else args.repeats
    dtype, device = getattr(torch, args.dtype), torch.device(args.device)
    data = cifar.preprocess_cifar10(num_train=5000 if args.quick else 49000, num_val=1000,
                                    num_test=0, dtype=dtype, device=device)
    return {
        "settings": {"device": args.device, "dtype": args.dtype, "quick": args.quick,
                     "repeats": repeats, "num_train": data["X_train"].shape[0],
                     "torch": torch.__version__, "threads": threads, "hogs": args.hogs,
                     "machine": platform.processor() or platform.machine()},
        "losses": bench_losses(data["X_train"][:500], data["y_train"][:500], max(repeats, 3)),
        "two_layer_net": bench_two_layer(data, repeats),
        "fully_connected_net": bench_fc(data, repeats),
        "cifar10": bench_load(repeats),
    }


def hog_count(text):
    """``--hogs`` value: a count >= 0, or ``auto`` (one per core plus one)."""
    if text == "auto":
        return default_hog_count()
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number of hogs or 'auto', got {text!r}")
    return int(text)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m instructor.benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument(
        "--quick", action="store_true", help="5,000 training images and 1 repeat (a smoke test)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: one per idle core, as in the notebooks)")
    parser.add_argument("--hogs", default=0, type=hog_count,
                        help="busy-looping processes to run beside the benchmark (a number, or "
                             "'auto': one per core plus one)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("benchmarks: error: --device cuda, but no CUDA device is available", file=sys.stderr)
        return 2
    with cpu_hogs(args.hogs):
        results = run_benchmarks(args)
    print(table(results))
    path = results_dir() / "benchmarks.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
