"""A grading test for test_interrupt.py to interrupt: not collected on its own (no ``test_``
file name); test_interrupt.py runs it in a pytest subprocess and sends it Ctrl-C."""
import os
from pathlib import Path

import pytest

from instructor import grade


def test_grading_a_folder(tmp_path):
    folder = os.environ.get("KIT_ZIPS_TO_INTERRUPT")
    if not folder:
        pytest.skip("run by test_interrupt.py only")
    grade.grade_folder(Path(folder), tmp_path / "grades.csv", jobs=1, progress=False)
