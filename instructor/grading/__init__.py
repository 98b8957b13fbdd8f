"""Grading stages beyond the automatic checks (instructor only; the main run is
``instructor/grade.py``). ``rules``: the assignment's rules, applied to verdicts;
``written``: the written answers, graded by hand."""
