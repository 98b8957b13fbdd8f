"""Runs inside the grading sandbox (instructor only; see helpers/grade.py).

    python _grade_runner.py RESULT_JSON PART [PART ...]

Runs the assignment checks and the hidden checks of the given parts against
the student's files in this folder and writes, per part, the status of every
student function to RESULT_JSON. pytest's own report is discarded (it would
quote the checks); what the student's code prints goes to the sandbox's
capped output. Errors of hidden check files are reported without their text.
"""
import io
import json
import os
import sys
from contextlib import redirect_stdout

HIDDEN_LOAD_ERROR = "the hidden checks of this part could not be loaded (does your module import?)"


def run_part(part):
    """Functions and load errors of one part, visible and hidden checks."""
    from helpers.check import run_checks

    functions, errors = [], []
    for folder, required in (("tests/assignment", True), ("tests/hidden", False)):
        hidden = folder == "tests/hidden"
        with redirect_stdout(io.StringIO()):
            results, load_errors = run_checks([part], folder, required)
        functions += [{"name": r.name, "status": r.status, "hidden": hidden,
                       "failures": [] if hidden else r.failures[:3]} for r in results]
        errors += [HIDDEN_LOAD_ERROR] if hidden and load_errors else load_errors
    return {"functions": functions, "errors": errors}


def main(result_path, parts):
    sys.path.insert(0, os.getcwd())
    report = {part: run_part(part) for part in parts}
    with open(result_path, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
