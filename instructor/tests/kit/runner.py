"""Run commands inside a student kit as a student would; change what a run recorded."""
import json
import os
import subprocess
import sys

from helpers.utils import RUN_MODE_MIME
from instructor.sample_submission import lay_reference_solutions  # noqa: F401 - for the tests

# The test session sends saved models and results to private folders; a
# student's commands use the kit's own saved/ and results/.
STUDENT_ENV = {k: v for k, v in os.environ.items() if k not in ("KIT_SAVED_DIR", "KIT_RESULTS_DIR")}


def run_in(kit, *args, timeout=600, env_extra=None):
    """Run ``python *args`` with ``kit`` as the working folder (and the variables of
    ``env_extra`` set); returns the CompletedProcess."""
    return subprocess.run([sys.executable, *args], cwd=kit, capture_output=True, text=True,
                          timeout=timeout, env={**STUDENT_ENV, **(env_extra or {})})


def set_run_mode(path, quick):
    """Rewrite the run-mode records of an executed notebook (as if it ran in that mode)."""
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if RUN_MODE_MIME in output.get("data", {}):
                output["data"][RUN_MODE_MIME]["quick_mode"] = quick
                output["data"]["text/plain"] = f"quick mode: {quick}"
    path.write_text(json.dumps(notebook))

