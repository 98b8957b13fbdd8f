"""How far the notebooks' results move from seed to seed.

    python -m instructor.benchmarks.seeds [--quick] [--seeds 5] [--out results/seeds] [notebook ...]

Runs the main job once per seed (``KIT_SEED=0, 1, ...`` shifts every seed a
notebook uses), each into ``OUT/seed-N/`` with its own saved-model folder, then
prints, for every accuracy, precision and recall the notebooks record, the
minimum, mean and maximum over the seeds, and writes them to ``OUT/seeds.json``.
A notebook's accuracy floors must stay below the minimum with a margin.
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

from helpers.utils import KIT_ROOT
from instructor.run_notebooks import NOTEBOOKS, environment, run

SPREAD_KEYS = ("acc", "precision", "recall")


def run_seed(seed, names, out, quick):
    """The main job under ``KIT_SEED=seed``; returns ``(metrics dict, failures dict)``."""
    folder = out / f"seed-{seed}"
    with environment(KIT_SEED=seed, KIT_SAVED_DIR=folder / "saved"):
        failures, _ = run(names, folder, quick=quick)
    metrics_path = folder / "metrics.json"
    return (json.loads(metrics_path.read_text()) if metrics_path.exists() else {}), failures


def spread(per_seed):
    """dict notebook -> figure -> {min, mean, max, values} over the seeds' metrics dicts."""
    table = {}
    for metrics in per_seed:
        for notebook, figures in metrics.items():
            for key, value in figures.items():
                if isinstance(value, float) and any(word in key for word in SPREAD_KEYS):
                    table.setdefault(notebook, {}).setdefault(key, []).append(value)
    return {notebook: {key: {"min": min(values), "mean": statistics.mean(values),
                             "max": max(values), "values": values}
                       for key, values in figures.items()}
            for notebook, figures in table.items()}


def format_spread(table, seeds):
    lines = [f"{'notebook':26s} {'figure':34s} {'min':>7s} {'mean':>7s} {'max':>7s}"
             f"   ({seeds} seeds)"]
    for notebook, figures in sorted(table.items()):
        for key, row in sorted(figures.items()):
            lines.append(f"{notebook:26s} {key:34s} {row['min']:7.4f} {row['mean']:7.4f} "
                         f"{row['max']:7.4f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m instructor.benchmarks.seeds",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", metavar="notebook", default=list(NOTEBOOKS))
    parser.add_argument("--quick", action="store_true", help="quick mode (KIT_QUICK=1)")
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds (0, 1, ...)")
    parser.add_argument("--out", type=Path, default=KIT_ROOT / "results" / "seeds")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    per_seed, failed = [], {}
    for seed in range(args.seeds):
        print(f"== seed {seed}", flush=True)
        metrics, failures = run_seed(seed, args.notebooks, out, args.quick)
        per_seed.append(metrics)
        failed.update({f"seed {seed}, {name}": text for name, text in failures.items()})
    table = spread(per_seed)
    print(format_spread(table, args.seeds))
    (out / "seeds.json").write_text(json.dumps({"quick": args.quick, "seeds": args.seeds,
                                                "spread": table, "failures": failed}, indent=2))
    for where, text in failed.items():
        print(f"FAILED {where}: {text}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
