"""Grading stages beyond the automatic checks (new grading code lives here; see
``instructor/grade.py`` for the main run). ``written``: the written answers, graded by hand."""
