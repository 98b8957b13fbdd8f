"""The main job on two small notebooks: one that records figures, one that fails."""
import json
import subprocess
import sys

import nbformat

from helpers.utils import KIT_ROOT
from instructor import run_notebooks


def write_notebook(path, *sources):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(notebook, path)


def test_runs_notebooks_reports_failures_and_collects_figures(tmp_path, capfd):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    setup = f"import sys; sys.path.insert(0, {str(KIT_ROOT)!r})"
    write_notebook(folder / "good.ipynb", setup,
                   "from helpers.utils import record_metrics, quick_mode\n"
                   "record_metrics('good', test_acc=0.5, quick=quick_mode())")
    write_notebook(
        folder / "bad.ipynb", "x = 1", "raise ValueError('learning rate too high')", "y = 2"
    )
    out = tmp_path / "results"
    failures, timings = run_notebooks.run(["bad", "good"], out, quick=True, notebook_dir=folder)

    assert set(timings) == {"bad", "good"}
    assert list(failures) == ["bad"], "a failing notebook does not stop the others"
    assert "cell 2" in failures["bad"] and "ValueError: learning rate too high" in failures["bad"]
    printed = capfd.readouterr()   # the kernels' output too (file descriptors 1 and 2)
    assert "[1/2] bad.ipynb ... FAILED" in printed.out
    assert "without encryption" not in printed.err, "kernels run on IPC transport"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["good"]["test_acc"] == 0.5 and metrics["good"]["quick"] is True
    for name in ("good", "bad"):
        assert (out / f"{name}.ipynb").is_file() and (out / f"{name}.html").is_file()
    executed = nbformat.read(out / "good.ipynb", as_version=4)
    assert all(cell.execution_count for cell in executed.cells)


def test_every_figure_is_in_the_report_and_saved_as_png(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(
        nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_markdown_cell("# Plots\n## 2. Loss curves"),
                nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([3, 2, 1]);"),
                nbformat.v4.new_code_cell(
                    "plt.figure(); plt.plot([1, 2]); plt.figure(); plt.plot([2, 1]);"
                ),
            ]
        ),
        folder / "plots.ipynb",
    )
    out = tmp_path / "results"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "plots--old--1.png").write_bytes(b"stale")
    failures, _ = run_notebooks.run(["plots"], out, quick=True, notebook_dir=folder)

    assert not failures
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert pngs == [f"plots--2-loss-curves--{n}.png" for n in (1, 2, 3)], pngs
    assert all((out / "figures" / name).read_bytes().startswith(b"\x89PNG") for name in pngs)
    assert (out / "plots.html").read_text().count('src="data:image/png') == 3


def test_figures_table_lists_every_figure_and_time_in_100_columns():
    runs = {"lr=0.4 hidden=1024 reg=0.0005 decay=0.95": {"val_acc": 0.5, "train_acc": 0.6}}
    table = run_notebooks.figures_table(
        {"fully_connected_networks": {"test_acc": 0.41234, "per_class": [0.1],
                                      "search_runs": runs}}, {"fully_connected_networks": 12.34}
    )
    assert "test_acc" in table and "0.4123" in table and "notebook_run_time_s" in table
    assert "per_class" not in table and "search_runs" not in table
    assert max(len(line) for line in table.splitlines()) <= 100, table


def test_quick_mode_never_writes_into_a_full_runs_saved_models(tmp_path, monkeypatch):
    monkeypatch.delenv("KIT_SAVED_DIR", raising=False)
    out = tmp_path / "results"
    assert run_notebooks.saved_models_dir(out, quick=True) == out.resolve() / "saved"
    assert run_notebooks.saved_models_dir(out, quick=False) == KIT_ROOT / "saved"
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "saves.ipynb", f"import sys; sys.path.insert(0, {str(KIT_ROOT)!r})",
                   "from helpers.utils import saved_path\nsaved_path('m.pt').write_text('m')")
    failures, _ = run_notebooks.run(["saves"], out, quick=True, notebook_dir=folder)
    assert not failures and (out / "saved" / "m.pt").read_text() == "m"
    assert not (KIT_ROOT / "saved" / "m.pt").exists()


def test_unknown_notebook_is_refused():
    result = subprocess.run([sys.executable, "-m", "instructor.run_notebooks", "no_such_notebook"],
                            cwd=KIT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no notebook no_such_notebook" in result.stderr
