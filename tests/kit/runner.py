"""Run commands inside a student kit as a student would."""
import os
import subprocess
import sys

# The test session sends saved models and results to private folders; a
# student's commands use the kit's own saved/ and results/.
STUDENT_ENV = {k: v for k, v in os.environ.items() if k not in ("KIT_SAVED_DIR", "KIT_RESULTS_DIR")}


def run_in(kit, *args, timeout=600, env_extra=None):
    """Run ``python *args`` with ``kit`` as the working folder (and the variables of
    ``env_extra`` set); returns the CompletedProcess."""
    return subprocess.run([sys.executable, *args], cwd=kit, capture_output=True, text=True,
                          timeout=timeout, env={**STUDENT_ENV, **(env_extra or {})})
