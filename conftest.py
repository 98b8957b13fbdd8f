"""Settings for every pytest run of the kit (unit tests and notebooks via nbval).

Notebook kernels inherit this process's environment, so the variables set
here reach them: quick mode, one CPU thread, a non-interactive plotting backend, no
progress lines, and private folders for results and saved models, so a test run never
overwrites the figures or models of a full run.
"""
import atexit
import os
import shutil
import tempfile

os.environ.setdefault("KIT_QUICK", "1")
# Accuracy floors of the nets a student designs are assertions in the kit's own runs
# (helpers.utils.expect_accuracy); in a student's Jupyter they are warnings.
os.environ.setdefault("KIT_STRICT_FLOORS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# No progress lines (helpers/progress.py) in the tests' output.
os.environ.setdefault("KIT_PROGRESS", "0")
# Quick mode works on small tensors, for which one CPU thread is fastest.
os.environ.setdefault("OMP_NUM_THREADS", "1")
_scratch = tempfile.mkdtemp(prefix="kit-test-")
atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
os.environ.setdefault("KIT_RESULTS_DIR", os.path.join(_scratch, "results"))
os.environ.setdefault("KIT_SAVED_DIR", os.path.join(_scratch, "saved"))

import pytest  # noqa: E402 - after the environment above, which notebook kernels inherit

# The default tier runs this notebook (quick mode); every other notebook is in the long tier.
QUICK_TIER_NOTEBOOK = "linear_classifier.ipynb"
# Fixtures that run notebooks, so their tests need CIFAR-10 (as tests marked cifar10 do).
DATA_FIXTURES = {"finished_kit"}
LONG_TIER_HINT = "long tier: run it with pytest --all (or pytest --all path::test)"


def pytest_addoption(parser):
    parser.addoption(
        "--all", action="store_true", dest="all_tiers",
        help="also run the long tier (tests marked 'long': grading runs, hostile zips, "
             "Gradescope, every notebook, the busy-machine and single-function sweeps)")


def pytest_collection_modifyitems(config, items):
    """Mark every notebook but QUICK_TIER_NOTEBOOK long; without --all, skip the long tier.
    Then stop at once when a test that will run needs CIFAR-10 and it cannot be had."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.cifar10)
            if item.path.name != QUICK_TIER_NOTEBOOK:
                item.add_marker(pytest.mark.long)
    if not config.getoption("all_tiers"):
        skip = pytest.mark.skip(reason=LONG_TIER_HINT)
        for item in items:
            if item.get_closest_marker("long"):
                item.add_marker(skip)
    if not config.option.collectonly:
        require_data_of(item for item in items if not item.get_closest_marker("skip"))


def pytest_collection_finish(session):
    """One line with the size of each tier of the selected tests, e.g. ``tiers: 617 tests in
    the default tier (pytest), 145 more in the long tier (pytest --all)``; the README quotes
    the counts of the whole suite (the kit's README-numbers test checks them)."""
    long = sum(bool(item.get_closest_marker("long")) for item in session.items)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and session.items:
        reporter.write_line(f"tiers: {len(session.items) - long} tests in the default tier "
                            f"(pytest), {long} more in the long tier (pytest --all)")


def require_data_of(items):
    """``pytest.exit`` with the data loader's message (where it looked, why the download
    failed, how to fix it) when one of ``items`` is marked ``cifar10`` and the data is missing
    and cannot be downloaded; checked once, before any test runs."""
    needing = [item.nodeid for item in items if item.get_closest_marker("cifar10")
               or DATA_FIXTURES & set(getattr(item, "fixturenames", ()))]
    if not needing:
        return
    from helpers.data import require_cifar10

    try:
        require_cifar10()
    except FileNotFoundError as err:
        pytest.exit(f"{len(needing)} selected test(s) need CIFAR-10 (e.g. {needing[0]}).\n"
                    f"{err}", returncode=pytest.ExitCode.USAGE_ERROR)
