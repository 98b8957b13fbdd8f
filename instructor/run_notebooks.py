"""The main job: execute every notebook and collect their headline figures.

    python -m instructor.run_notebooks [--quick] [--out results] [--lang zh-CN] [notebook ...]

Runs the notebooks (full CIFAR-10 by default; ``--quick`` sets ``KIT_QUICK=1``)
one after another with a progress line each, writes the executed copies and
HTML reports to the output folder, saves every figure as a PNG file under
``figures/`` there, and prints one table of the figures every notebook recorded
with ``helpers.utils.record_metrics``. A failing notebook is
reported with its cell and error; the others still run, and the exit code is 1.
``--lang zh-CN`` runs the same notebooks with their Markdown in Chinese (instructor/i18n).
"""
import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from traitlets import CaselessStrEnum, default

from helpers import submission
from helpers.utils import KIT_ROOT
from instructor.html_math import write_offline_html
from instructor.i18n.catalogs import LANGUAGES, TranslationError, locale_code

NOTEBOOK_DIR = KIT_ROOT / "notebooks"
NOTEBOOKS = tuple(Path(name).stem for name in submission.NOTEBOOKS)  # names without .ipynb
# Kernels draw with the inline backend, so every figure is stored in the executed notebook
# (with MPLBACKEND=Agg a figure would only appear as the text "<Figure size ...>").
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


@contextmanager
def environment(**variables):
    """Set environment variables (inherited by notebook kernels) for a block."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update({name: str(value) for name, value in variables.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class IpcKernelManager(AsyncKernelManager):
    """Kernels on IPC transport: unix sockets in a private folder instead of TCP ports on
    localhost, so no other user of the machine can reach them, and the kernel no longer
    prints "Kernel is running over TCP without encryption" at every start."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("ip")
    def _ip_in_a_private_folder(self):
        return os.path.join(tempfile.mkdtemp(prefix="kernel-"), "ipc")

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart)
        if not restart:   # the sockets are gone: remove their folder
            shutil.rmtree(Path(self.ip).parent, ignore_errors=True)


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM arrived while a notebook ran."""


class StoppableClient(NotebookClient):
    """nbclient's client, but SIGINT and SIGTERM stop the run. nbclient itself catches both
    while a kernel runs (``loop.add_signal_handler``) and only shuts the kernel down: the cell
    then fails with "Kernel died", nbclient's second clean-up fails on an assertion, and the
    caller (the main job, or a test fixture under pytest) takes it for a failed notebook and
    goes on with the next one. Here a signal kills the kernel if a cell runs, stops the run
    before the next cell, and ``execute`` raises ``KeyboardInterrupt`` once nbclient has shut
    the kernel down."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop_signals, self.cell_running, self.started_manager = [], False, None
        self.on_cell_execute, self.on_cell_executed = self._before_cell, self._after_cell

    async def async_start_new_kernel(self, **kwargs):
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):   # in place of nbclient's handlers
            try:
                loop.add_signal_handler(signum, self._stop, signum)
            except (RuntimeError, NotImplementedError):  # not the main thread
                pass
        self.started_manager = self.km
        await super().async_start_new_kernel(**kwargs)

    def _stop(self, signum):
        self.stop_signals.append(signum)
        if self.cell_running:
            self.kill_kernel()

    def kill_kernel(self):
        """SIGKILL to the kernel's process group (it runs in a session of its own)."""
        pgid = getattr(getattr(self.km, "provisioner", None), "pgid", None)
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _before_cell(self, **_):
        if self.stop_signals:
            raise Interrupted(signal.Signals(self.stop_signals[0]).name)
        self.cell_running = True

    def _after_cell(self, **_):
        self.cell_running = False

    def execute(self, **kwargs):
        try:
            return super().execute(**kwargs)
        except Exception:
            if not self.stop_signals:
                raise
        manager = self.started_manager   # a killed kernel's files stay: remove them
        if manager is not None:
            manager.cleanup_connection_file()
            if manager.transport == "ipc":
                shutil.rmtree(Path(manager.ip).parent, ignore_errors=True)
        raise KeyboardInterrupt


def describe_failure(notebook):
    """``cell N ('first line'): ErrorName: message`` for the first cell with an error output."""
    for number, cell in enumerate(notebook.cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                lines = cell.source.strip().splitlines()
                return (f"cell {number} ({lines[0] if lines else ''!r}): "
                        f"{output.get('ename')}: {output.get('evalue')}")
    return None


def execute_notebook(path, executed_path, timeout=3600):
    """Execute the notebook at ``path`` (working folder: its own) and save it to ``executed_path``.

    Returns ``None`` on success, else a one-paragraph description of the
    failure (cell number, its first line and the error). The executed copy is
    written in both cases, so the error can be read in context.
    """
    notebook = nbformat.read(path, as_version=4)
    client = StoppableClient(notebook, timeout=timeout, kernel_name="python3",
                            kernel_manager_class=IpcKernelManager,
                            resources={"metadata": {"path": str(Path(path).parent)}})
    failure = None
    try:
        client.execute()
    except CellExecutionError as err:
        failure = describe_failure(notebook) or str(err).strip().splitlines()[-1]
    executed_path = Path(executed_path)
    executed_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, executed_path)
    return failure


def write_html(executed_path, html_path):
    """Render an executed notebook to a standalone HTML report that works offline: its math
    is MathML and it loads nothing from the network (``instructor.html_math``)."""
    write_offline_html(executed_path, html_path)


def figures_table(metrics, timings):
    """Text table: one row per (notebook, figure), plus each notebook's run time."""
    rows = []
    for notebook in sorted(set(metrics) | set(timings)):
        figures = dict(metrics.get(notebook, {}))
        if notebook in timings:
            figures["notebook_run_time_s"] = round(timings[notebook], 1)
        for key, value in sorted(figures.items()):
            if isinstance(value, (list, dict)):
                continue  # per-class vectors and the search's runs stay in metrics.json
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            rows.append((notebook, key, shown))
    if not rows:
        return "(no figures recorded)"
    widths = [
        max(len(row[i]) for row in rows + [("notebook", "figure", "value")]) for i in range(3)
    ]
    line = lambda row: "  ".join(cell.ljust(width) for cell, width in zip(row, widths))  # noqa: E731
    return "\n".join([line(("notebook", "figure", "value")), line(tuple("-" * w for w in widths))]
                     + [line(row) for row in rows])


def slug(text):
    """``"2. The SVM loss"`` -> ``"2-the-svm-loss"`` (letters, digits and dashes only)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "start"


def save_figures(executed_path, folder):
    """Write every PNG output of an executed notebook to ``folder``; returns the paths.

    Files are named ``<notebook>--<section>--<n>.png``: the section is the last
    markdown heading above the cell, ``n`` counts the figures within it.
    """
    notebook = nbformat.read(executed_path, as_version=4)
    name, section, counts, paths = Path(executed_path).stem, "start", {}, []
    for stale in Path(folder).glob(f"{name}--*.png"):   # from an earlier run
        stale.unlink()
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            headings = re.findall(r"^#+\s+(.+)$", cell.source, flags=re.MULTILINE)
            section = slug(headings[-1]) if headings else section
            continue
        for output in cell.get("outputs", []):
            image = output.get("data", {}).get("image/png")
            if image:
                counts[section] = counts.get(section, 0) + 1
                path = Path(folder) / f"{name}--{section}--{counts[section]}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(image))
                paths.append(path)
    return paths


def saved_models_dir(out, quick):
    """Where the notebooks save their models: ``$KIT_SAVED_DIR`` if set; else the kit's
    ``saved/`` for a full run and ``<out>/saved`` in quick mode, so a quick run never
    overwrites a full run's models."""
    if os.environ.get("KIT_SAVED_DIR"):
        return Path(os.environ["KIT_SAVED_DIR"]).resolve()
    return Path(out).resolve() / "saved" if quick else KIT_ROOT / "saved"


def run(notebooks, out, quick=False, timeout=3600, notebook_dir=NOTEBOOK_DIR):
    """Execute ``notebooks`` (names in ``notebook_dir``), writing to ``out``.

    Returns ``(failures, timings)``: dicts name -> failure text, name -> seconds.
    """
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    failures, timings = {}, {}
    variables = dict(KIT_QUICK="1" if quick else "0", KIT_STRICT_FLOORS="1", KIT_RESULTS_DIR=out,
                     MPLBACKEND=INLINE_BACKEND, KIT_SAVED_DIR=saved_models_dir(out, quick))
    with environment(**variables):
        for index, name in enumerate(notebooks, start=1):
            print(f"[{index}/{len(notebooks)}] {name}.ipynb ...", end=" ", flush=True)
            start = time.perf_counter()
            executed = out / f"{name}.ipynb"
            failure = execute_notebook(Path(notebook_dir) / f"{name}.ipynb", executed, timeout)
            timings[name] = time.perf_counter() - start
            write_html(executed, out / f"{name}.html")
            save_figures(executed, out / "figures")
            if failure:
                failures[name] = failure
                print(f"FAILED after {timings[name]:.0f} s: {failure}", flush=True)
            else:
                print(f"done in {timings[name]:.0f} s", flush=True)
    return failures, timings


@contextmanager
def notebooks_in(lang, names):
    """The folder of the notebooks to run: ``notebooks/`` in English; else a folder beside it
    (so their ``sys.path.insert(0, "..")`` finds the kit) of the translated source notebooks,
    removed afterwards."""
    if locale_code(lang) is None:
        yield NOTEBOOK_DIR
        return
    from instructor.i18n import translate

    folder = Path(tempfile.mkdtemp(prefix=f".notebooks-{lang}-", dir=KIT_ROOT))
    try:
        yield translate.source_notebooks(lang, KIT_ROOT, names, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m instructor.run_notebooks",
        description="Execute the notebooks and collect their headline figures.",
    )
    parser.add_argument("notebooks", nargs="*", metavar="notebook",
                        help=f"names to run (default: all of {', '.join(NOTEBOOKS)})")
    parser.add_argument(
        "--quick", action="store_true", help="quick mode (KIT_QUICK=1): subsample, few iterations"
    )
    parser.add_argument(
        "--out", type=Path, default=KIT_ROOT / "results", help="output folder (default: results/)"
    )
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    parser.add_argument("--lang", default="en", choices=tuple(LANGUAGES),
                        help="the language of the notebooks' text (default: en; zh-CN: the "
                             "Markdown from i18n/zh_CN/, the code the same)")
    args = parser.parse_args(argv)
    names = [Path(n).stem for n in args.notebooks] or list(NOTEBOOKS)
    unknown = [n for n in names if not (NOTEBOOK_DIR / f"{n}.ipynb").is_file()]
    if unknown:
        print(f"run_notebooks: error: no notebook {', '.join(unknown)} in {NOTEBOOK_DIR}; "
              f"choose from: {', '.join(NOTEBOOKS)}", file=sys.stderr)
        return 2
    from helpers.data import require_cifar10

    try:
        require_cifar10()
    except FileNotFoundError as err:
        print(f"run_notebooks: error: {err}", file=sys.stderr)
        return 2
    try:
        with notebooks_in(args.lang, names) as notebook_dir:
            failures, timings = run(names, args.out, args.quick, args.timeout, notebook_dir)
    except KeyboardInterrupt:
        print("\nrun_notebooks: interrupted", file=sys.stderr)
        return 130
    except TranslationError as err:
        print(f"run_notebooks: error: {err}", file=sys.stderr)
        return 2
    metrics_path = args.out / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    print()
    print(figures_table({k: v for k, v in metrics.items() if k in names}, timings))
    print(f"\nExecuted notebooks and HTML reports: {args.out.resolve()}; "
          f"figures: {(args.out / 'figures').resolve()}; "
          f"saved models: {saved_models_dir(args.out, args.quick)}")
    if failures:
        print(
            f"{len(failures)} notebook(s) failed: "
            + "; ".join(f"{n}: {f}" for n, f in failures.items()),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
