"""The numbers the README and docs/ state match what they quote: the notebooks' epochs and
accuracy floors, the rubric, and the counts of the test collection.

A number stated in prose drifts when the code changes (the README once said the best FC net
trains 20 epochs while the notebook trained 30); each check below reads the number from the
text and from its source.
"""
import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from helpers.utils import KIT_ROOT

DOCS = [KIT_ROOT / "README.md", *sorted((KIT_ROOT / "docs").glob("*.md"))]


def notebook_code(name):
    """The code of ``notebooks/<name>.ipynb``, every cell joined."""
    cells = json.loads((KIT_ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


def stated(pattern):
    """``(file name, match)`` for every match of ``pattern`` in the README and docs/."""
    return [(path.name, match) for path in DOCS
            for match in re.finditer(pattern, path.read_text())]


def quick_and_full(pattern, code):
    """The ``(quick, full)`` numbers of ``X if QUICK else Y`` where ``pattern`` finds them."""
    match = re.search(pattern, code)
    assert match, f"the notebook no longer has {pattern!r}: update this test"
    return float(match["quick"]), float(match["full"])


QF = r"\(?(?P<quick>[\d.]+) if QUICK else (?P<full>[\d.]+)"


def test_the_best_fc_net_trains_as_many_epochs_as_the_text_says():
    _, epochs = quick_and_full(r"train_best_fc_net\(data, DTYPE, device, num_epochs=" + QF,
                               notebook_code("fully_connected_networks"))
    statements = stated(r"flips, (\d+) epochs|batch 200, (\d+) epochs"
                        r"|train the best net for (\d+) epochs"
                        r"|train_best_fc_net\(.*?num_epochs=(\d+)")
    assert len(statements) >= 4, "the recipe's epochs are stated in docs/ (assignment, results)"
    for name, match in statements:
        number = next(group for group in match.groups() if group)
        assert float(number) == epochs, \
            f"{name} says {match[0]!r}, the notebook trains the best FC net {epochs:g} epochs"


def test_the_hidden_100_net_trains_as_many_epochs_as_the_text_says():
    _, epochs = quick_and_full(r"NUM_EPOCHS = " + QF, notebook_code("two_layer_net"))
    statements = stated(r"decay 0\.9, reg 1e-4, (\d+) epochs")
    assert statements, "docs/results.md states the 100-hidden-unit net's epochs"
    for name, match in statements:
        assert float(match[1]) == epochs, f"{name} says {match[0]!r}, the notebook {epochs:g}"


# Each row of the seeds table (docs/results.md) and where its notebook asserts the floor.
FLOORS = {
    "SVM test": ("linear_classifier", r'summaries\["SVM"\]\["accuracy"\] >= ' + QF),
    "softmax test": ("linear_classifier", r'summaries\["Softmax"\]\["accuracy"\] >= ' + QF),
    "two-layer, 100 hidden, test": ("two_layer_net", r'net_test\["accuracy"\] >= ' + QF),
    "two-layer, best of search, test": ("two_layer_net",
                                        r'expect_accuracy\(best_test\["accuracy"\], ' + QF),
    "FC two-layer (Solver), validation": ("fully_connected_networks",
                                          r"solver\.best_val_acc >= " + QF),
    "FC best net, test": ("fully_connected_networks",
                          r'expect_accuracy\(test_result\["accuracy"\], ' + QF),
}


def seeds_table():
    """Rows of the seeds table: figure -> (quick minimum, quick floor, full minimum, full
    floor)."""
    rows = {}
    for line in (KIT_ROOT / "docs" / "results.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in FLOORS:
            rows[cells[0]] = (float(cells[1].split("/")[0]), float(cells[2]),
                              float(cells[3].split("/")[0]), float(cells[4]))
    return rows


def test_the_floors_of_the_seeds_table_are_the_notebooks_floors():
    rows = seeds_table()
    assert set(rows) == set(FLOORS), "every row of the seeds table is checked"
    for figure, (notebook, pattern) in FLOORS.items():
        quick, full = quick_and_full(pattern, notebook_code(notebook))
        quick_min, quick_floor, full_min, full_floor = rows[figure]
        assert (quick_floor, full_floor) == (quick, full), \
            f"{figure}: docs/results.md says floors {quick_floor} / {full_floor}, " \
            f"{notebook}.ipynb asserts {quick} / {full}"
        assert quick_floor < quick_min and full_floor < full_min, \
            f"{figure}: a floor must sit below the lowest seed"


def test_the_rubric_numbers_are_the_rubrics():
    rubric = json.loads((KIT_ROOT / "instructor" / "rubric.json").read_text())
    models = {model["file"]: model["thresholds"] for model in rubric["models"]}
    (name, match), = stated(r"e\.g\. `(\[\[.*?\]\])` for the softmax")
    assert json.loads(match[1]) == models["softmax_best.pt"], f"{name}: {match[0]}"
    (name, match), = stated(r"The default totals (\d+): (\d+) for the checks, (\d+) for the models")
    checks = sum(rubric["parts"].values())
    model_points = sum(max(points for _, points in m["thresholds"]) for m in rubric["models"])
    assert tuple(map(float, match.groups())) == (checks + model_points, checks, model_points), \
        f"{name} says {match[0]!r}"


def minutes(text):
    """``"12 min 39 s"`` (spaces and line breaks as in prose) -> 12.65."""
    match = re.fullmatch(r"(\d+) min\s+(\d+) s", text.strip())
    return int(match[1]) + int(match[2]) / 60


def test_the_readmes_main_job_times_round_the_measured_ones():
    results = (KIT_ROOT / "docs" / "results.md").read_text()
    full = minutes(re.search(r"\*\*(\d+ min \d+ s)\*\*", results)[1])
    quick = minutes(re.search(r"run_notebooks --quick` \(as in CI: one thread\), (\d+ min\s+\d+ s)",
                              results)[1])
    readme = (KIT_ROOT / "README.md").read_text()
    stated = re.search(r"full CIFAR-10: about (\d+) min on 2 cores; `--quick`: about (\d+) min",
                       readme)
    assert stated and (int(stated[1]), int(stated[2])) == (round(full), round(quick)), \
        f"the README says {stated and stated[0]!r}; docs/results.md measured {full:.1f} and " \
        f"{quick:.1f} min"


def collected_per_file(*args):
    """``pytest --collect-only -q *args``: the number of tests per file, and the tiers line."""
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                             "-p", "no:cacheprovider", *args], cwd=KIT_ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    counts = Counter(line.split("::")[0] for line in result.stdout.splitlines() if "::" in line)
    tiers = re.search(r"tiers: (\d+) tests in the default tier \(pytest\), (\d+) more",
                      result.stdout)
    return counts, tiers


@pytest.mark.long  # collects every test: 15 to 30 s
def test_the_test_counts_are_the_collections():
    counts, tiers = collected_per_file()
    default, long = int(tiers[1]), int(tiers[2])
    readme = (KIT_ROOT / "README.md").read_text()
    stated_default = re.search(r"# the default tier: (\d+) tests", readme)
    stated_tiers = re.search(r"\| `pytest --all` \| (\d+) \+ (\d+) \|", readme)
    assert stated_default and stated_tiers, "the README gives each tier's test count"
    assert (int(stated_default[1]), int(stated_tiers[1]), int(stated_tiers[2])) == \
        (default, default, long), \
        f"the README's test counts are stale: the default tier has {default} tests, the long " \
        f"tier {long} more (pytest --collect-only -q prints the tiers line)"
    hidden = {part: counts[f"instructor/tests/hidden/test_{part}.py"]
              for part in ("linear_classifier", "metrics", "model_selection", "two_layer_net",
                           "fully_connected_networks")}
    (name, match), = stated(r"linear_classifier (\d+) cases, metrics (\d+), model_selection "
                            r"(\d+), two_layer_net (\d+),\s+fully_connected_networks (\d+)")
    assert tuple(map(int, match.groups())) == tuple(hidden.values()), \
        f"{name} says {match[0]!r}; collected: {hidden}"
    (name, match), = stated(r"test_gradescope\.py`: (\d+) tests")
    assert int(match[1]) == counts["instructor/tests/kit/test_gradescope.py"], f"{name}: {match[0]}"
