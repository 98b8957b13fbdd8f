"""A quick-mode sample of a finished student kit, for the kit's tests and the course staff.

A full run of the notebooks takes about 13 minutes; a sample runs them in quick mode (about 2):
the student release with the reference solutions and, optionally, the reference's written
answers laid in, every notebook executed in place. ``collect_submission.py --sample`` zips
such a kit although its notebooks say quick mode (students never pass ``--sample``).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import submission
from helpers.questions import QUESTION_KEY, answers_from_notebooks
from helpers.utils import KIT_ROOT


def lay_reference_solutions(kit):
    """Copy this source's ``assignment/*.py`` (the reference solutions) over those of ``kit``."""
    for path in (KIT_ROOT / "assignment").glob("*.py"):
        shutil.copy(path, Path(kit) / "assignment" / path.name)
    return kit


def lay_answers(kit, answers):
    """Write ``answers`` (dict question id -> Markdown) into the answer cells of ``kit``'s
    notebooks (the cell after each question); other cells and outputs stay as they are."""
    for name in submission.NOTEBOOKS:
        path = Path(kit) / "notebooks" / name
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = notebook["cells"]
        for index, cell in enumerate(cells[:-1]):
            question_id = cell.get("metadata", {}).get(QUESTION_KEY)
            if question_id in answers:
                cells[index + 1]["source"] = answers[question_id]
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")
    return kit


def reference_answers():
    """dict question id -> the reference's answer, from this source's notebooks."""
    return answers_from_notebooks([KIT_ROOT / "notebooks" / name for name in submission.NOTEBOOKS])


def run_quick(kit, timeout=900):
    """Execute every notebook of ``kit`` in place in quick mode, as its student would in
    Jupyter (figures drawn inline into the notebook, models to ``kit/saved``, recorded figures
    to ``kit/results``). Raises ``RuntimeError`` naming the first failing notebook and cell."""
    from instructor.run_notebooks import INLINE_BACKEND, environment, execute_notebook

    kit = Path(kit)
    with environment(KIT_QUICK="1", KIT_SAVED_DIR=kit / "saved", MPLBACKEND=INLINE_BACKEND,
                     KIT_RESULTS_DIR=kit / "results"):
        for name in submission.NOTEBOOKS:
            path = kit / "notebooks" / name
            failure = execute_notebook(path, path, timeout=timeout)
            if failure:
                raise RuntimeError(f"{name} failed in the quick sample: {failure}")
    return kit


def build_quick_sample(out, with_answers=True, timeout=900):
    """A finished kit at ``out`` (a new folder): the release, the reference solutions, the
    reference answers (``with_answers``), every notebook run in quick mode. Returns its path."""
    from instructor.release import build_release

    kit = Path(out)
    build_release(kit)
    lay_reference_solutions(kit)
    if with_answers:
        lay_answers(kit, reference_answers())
    return run_quick(kit, timeout)


def collect_sample(kit, student_id, name="", timeout=1800):
    """Run ``collect_submission.py STUDENT_ID --sample`` in ``kit`` as its student would (the
    kit's own ``saved/`` and ``results/``, whatever this process uses); returns the
    CompletedProcess (the zip is ``kit/<STUDENT_ID>_submission.zip`` when it succeeds)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("KIT_SAVED_DIR", "KIT_RESULTS_DIR")}
    return subprocess.run([sys.executable, "collect_submission.py", student_id, "--name", name,
                           "--sample", "--overwrite"], cwd=kit, capture_output=True, text=True,
                          timeout=timeout, env=env)
