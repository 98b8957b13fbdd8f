"""The assignment's rules in grading: a function that breaks one earns nothing.

The rules are the rows of ``helpers/functions.py``; ``helpers/rules.py`` finds a broken one by
reading the student's file (here, in the grader) and by watching the student's code run (in the
worker, whose ``helpers.rules.Guard`` makes the call raise ``RuleBreak`` with the rule's words).
:func:`apply_rules` turns both into a FAIL whose first failure is the rule's message, so the
function scores 0 and the feedback says why; :func:`leave_out_answers` takes the stand-ins and
``torch.nn`` twins out of the worker's copy of the release (graded code never needs them).
"""
from pathlib import Path

from helpers.check import FAIL, NOT_IMPLEMENTED
from helpers.rules import file_findings, first_rule_message

# Given files that hold working versions of student functions: not in the worker's copy.
ANSWER_FILES = ("helpers/stand_ins.py", "helpers/torch_nn_twins.py")


def leave_out_answers(kit):
    """Delete ``ANSWER_FILES`` from ``kit`` (the worker's copy of the release)."""
    for relpath in ANSWER_FILES:
        (Path(kit) / relpath).unlink(missing_ok=True)


def rule_message(function, findings):
    """The broken rule of one function of the report: what reading the file found, else a
    rule's message among its failures (raised while it ran), else None."""
    finding = findings.get(function["name"])
    if finding:
        return finding.message
    messages = (first_rule_message(failure) for failure in function["failures"])
    return next((m for m in messages if m and m.startswith(function["name"] + " ")), None)


def apply_rules(report, kit):
    """Fail, in ``report`` (runner.py's shape), every function of ``kit``'s assignment files that
    breaks a rule, with the rule's message first among its failures."""
    for part, entry in report.items():
        findings = file_findings(Path(kit) / "assignment" / f"{part}.py", part)
        for function in entry.get("functions", []):
            message = rule_message(function, findings)
            if message and function["status"] != NOT_IMPLEMENTED:
                function["status"] = FAIL
                rest = [failure for failure in function["failures"] if message not in failure]
                function["failures"] = [message, *rest[:2]]
    return report
