"""Runs inside a grading sandbox (instructor only; see helpers/grade.py).

    python _grade_runner.py RESULT_JSON PART [PART ...]

Runs the assignment checks and the hidden checks of the given parts against
the student's files in this folder and writes, per part, the status of every
student function to RESULT_JSON. Its standard output (pytest's and whatever
the student's code prints) goes to a capped log file chosen by the grader.
"""
import json
import os
import socket
import sys


def block_network():
    """Refuse every new connection from this process (a fallback where no network namespace is available)."""
    def refuse(*_args, **_kwargs):
        raise PermissionError("network access is disabled while grading")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse


def main(result_path, parts):
    if os.environ.get("KIT_GRADE_BLOCK_NETWORK") == "1":
        block_network()
    sys.path.insert(0, os.getcwd())
    from helpers.check import run_checks

    report = {}
    for part in parts:
        functions, errors = [], []
        for folder, required in (("tests/assignment", True), ("tests/hidden", False)):
            results, load_errors = run_checks([part], folder, required)
            functions += [{"name": r.name, "status": r.status, "failures": r.failures[:3],
                           "hidden": folder == "tests/hidden"} for r in results]
            errors += load_errors
        report[part] = {"functions": functions, "errors": errors}
    with open(result_path, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
