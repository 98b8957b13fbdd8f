"""Settings for every pytest run of the kit (unit tests and notebooks via nbval).

Notebook kernels inherit this process's environment, so the variables set
here reach them: quick mode, one CPU thread, a non-interactive plotting backend, no
progress lines, and private folders for results and saved models, so a test run never
overwrites the figures or models of a full run.
"""
import os
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
os.environ.setdefault("KIT_RESULTS_DIR", os.path.join(_scratch, "results"))
os.environ.setdefault("KIT_SAVED_DIR", os.path.join(_scratch, "saved"))
