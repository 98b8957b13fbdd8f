"""The written questions: one stable id each, written once in the notebooks, and the rubric's
``written`` points naming exactly those ids."""
import json

import pytest

from helpers.questions import (
    ANSWER_PLACEHOLDER,
    QUESTION_KEY,
    QuestionError,
    answers_from_notebooks,
    blank_answers,
    questions_from_notebooks,
    questions_in,
)
from helpers.submission import NOTEBOOKS
from helpers.utils import KIT_ROOT
from instructor.grade import RUBRIC_PATH
from instructor.release import transform_notebook

NOTEBOOK_PATHS = [KIT_ROOT / "notebooks" / name for name in NOTEBOOKS]
QUESTIONS_PER_NOTEBOOK = {"linear_classifier": 5, "two_layer_net": 3,
                          "fully_connected_networks": 6}


def markdown_cells(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "markdown"]


def test_every_question_cell_has_an_id_and_every_id_is_unique():
    for path in NOTEBOOK_PATHS:
        for cell in markdown_cells(path):
            if "**Inline question" in "".join(cell["source"]):
                assert QUESTION_KEY in cell["metadata"], \
                    f"{path.name} cell {cell['id']}: a question without a {QUESTION_KEY!r}"
    questions = questions_from_notebooks(NOTEBOOK_PATHS)
    ids = [question.id for question in questions]
    assert len(ids) == len(set(ids)) == sum(QUESTIONS_PER_NOTEBOOK.values()) == 14
    for notebook, count in QUESTIONS_PER_NOTEBOOK.items():
        assert [q.id for q in questions if q.notebook == notebook] == \
            [f"{notebook}/q{number}" for number in range(1, count + 1)]


def test_the_rubric_gives_points_to_exactly_the_notebooks_questions():
    written = json.loads(RUBRIC_PATH.read_text())["written"]
    ids = [question.id for question in questions_from_notebooks(NOTEBOOK_PATHS)]
    assert sorted(written) == sorted(ids), "rubric 'written' and the notebooks' ids differ"
    assert all(isinstance(points, (int, float)) and points > 0 for points in written.values())


def test_the_reference_answers_every_question_and_the_release_answers_none():
    reference = answers_from_notebooks(NOTEBOOK_PATHS)
    assert all(reference.values())
    assert not any("SOLUTION" in answer or "Your answer:" in answer
                   for answer in reference.values())
    released = []
    for path in NOTEBOOK_PATHS:
        notebook = json.loads(transform_notebook(path.read_text(), path.name))
        released += questions_in(notebook, path.stem)
    assert [q.id for q in released] == list(reference)
    assert all(question.answer == "" for question in released)


def fixture_notebook(*cells):
    return {"cells": [{"cell_type": "markdown", "id": str(number), "metadata": metadata,
                       "source": text} for number, (text, metadata) in enumerate(cells)]}


def test_an_untouched_or_empty_answer_is_blank_and_a_written_one_is_kept(tmp_path):
    path = tmp_path / "demo.ipynb"
    path.write_text(json.dumps(fixture_notebook(
        ("**Inline question 1.** Why?", {QUESTION_KEY: "demo/q1"}), (ANSWER_PLACEHOLDER, {}),
        ("**Inline question 2.** How?", {QUESTION_KEY: "demo/q2"}), ("  \n", {}),
        ("**Inline question 3.** What?", {QUESTION_KEY: "demo/q3"}), ("因为 $x>0$。", {}),
        ("**Inline question 4.** Who?", {QUESTION_KEY: "demo/q4"}))))
    assert answers_from_notebooks([path]) == {"demo/q1": "", "demo/q2": "",
                                              "demo/q3": "因为 $x>0$。", "demo/q4": ""}
    assert blank_answers([path]) == ["demo/q1", "demo/q2", "demo/q4"]


@pytest.mark.parametrize("ids, message", [
    (["demo/q1", "demo/q1"], "appears twice"),
    (["other/q1"], "is not of the form 'demo/q<number>'"),
    (["demo/question one"], "is not of the form"),
])
def test_a_duplicate_or_malformed_id_is_an_error(ids, message):
    notebook = fixture_notebook(*[("**Inline question.**", {QUESTION_KEY: qid}) for qid in ids])
    with pytest.raises(QuestionError, match=message):
        questions_in(notebook, "demo")
