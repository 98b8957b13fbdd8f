"""The submission helpers: a slow machine, and the run mode a notebook recorded."""
import json

from helpers import submission


def test_a_self_check_that_does_not_finish_never_stops_the_submission():
    summary = submission.self_check_summary(timeout=0.01)
    assert summary["exit_code"] is None
    assert "not finished after 0.01 s" in summary["summary"]


def notebook_with(*records):
    """A minimal executed notebook whose set-up cell shows the given run-mode records."""
    outputs = [{"output_type": "display_data", "metadata": {},
                "data": {submission.RUN_MODE_MIME: record, "text/plain": "quick mode: ..."}}
               for record in records]
    return {"cells": [{"cell_type": "code", "execution_count": 1, "source": "", "metadata": {},
                       "outputs": outputs}]}


def test_a_quick_mode_run_is_refused_with_what_to_do():
    notebook = notebook_with({"quick_mode": True})
    problems = submission.run_mode_problems(notebook, "notebooks/x.ipynb")
    assert problems and "was run in quick mode (KIT_QUICK=1)" in problems[0]
    assert "Re-run it without KIT_QUICK" in problems[0]


def test_a_full_run_passes_and_a_missing_record_is_refused():
    assert submission.run_mode_problems(notebook_with({"quick_mode": False}), "n.ipynb") == []
    missing = submission.run_mode_problems(notebook_with(), "n.ipynb")
    assert "does not record how it was run" in missing[0]
    mixed = notebook_with({"quick_mode": False}, {"quick_mode": True})
    assert submission.run_mode_problems(mixed, "n.ipynb"), "any quick-mode record is refused"


def test_notebook_problems_reads_the_record_from_the_file(tmp_path):
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(notebook_with({"quick_mode": True})))
    assert "quick mode" in submission.notebook_problems(path, "notebooks/x.ipynb")[0]
