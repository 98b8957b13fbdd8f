"""The instructor's wing of the kit: everything that never ships to students.

The release builder (``python -m instructor.release OUT``), the grader
(``python -m instructor.grade DIR``) with its sandbox and trusted verdicts, the rubric, the
main job (``python -m instructor.run_notebooks``), the benchmarks
(``python -m instructor.benchmarks``), the hidden checks and the kit's own tests.
"""
from pathlib import Path

INSTRUCTOR_ROOT = Path(__file__).resolve().parent
# The hidden checks: run by the grader beside the visible ones, never released.
HIDDEN_CHECKS = INSTRUCTOR_ROOT / "tests" / "hidden"
# Points per part, per function and per model in grading.
RUBRIC_PATH = INSTRUCTOR_ROOT / "rubric.json"
