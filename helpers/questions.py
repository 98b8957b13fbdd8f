"""The written questions of the notebooks: their stable ids, their text and the answers.

Each question lives in a markdown cell whose metadata holds its id, written once there
(``{"question_id": "linear_classifier/q1"}``); the student answers in the markdown cell right
after it, which the release ships as ``*Your answer here.*``. Everything else (the report,
``collect_submission.py``, the rubric's ``written`` points, the grader's written pages) reads
the ids from the notebooks with the functions below.
"""
import json
import re
from dataclasses import dataclass
from pathlib import Path

# The cell-metadata key that holds a question's id.
QUESTION_KEY = "question_id"
# What the release writes in every answer cell (see instructor/release.py), per language of
# the release: every language's placeholder counts as no answer, whichever release it came from.
ANSWER_PLACEHOLDERS = {"en": "*Your answer here.*", "zh_CN": "*在这里写下你的答案。*"}
ANSWER_PLACEHOLDER = ANSWER_PLACEHOLDERS["en"]
# The label the reference's answer cells start with, and the solution markers around them.
ANSWER_LABEL = re.compile(r"^\s*\*\*Your answer:\*\*\s*")
SOLUTION_MARKER = re.compile(r"<!--\s*(?:BEGIN|END) SOLUTION\s*-->")
# A question's label; the question's text starts at the last one in its cell.
QUESTION_LABEL = re.compile(r"\*\*(?:Inline question|随堂问题) ?\d+")
ID_FORMAT = re.compile(r"[a-z_]+/q\d+")


class QuestionError(ValueError):
    """A notebook's questions are not well formed (a duplicate or malformed id)."""


@dataclass
class Question:
    """One written question of a notebook and the answer found after it."""

    id: str            # "linear_classifier/q1"
    notebook: str      # "linear_classifier" (the notebook's file name without .ipynb)
    cell_id: str       # the question cell's nbformat id
    text: str          # the question (Markdown), from its bold label on
    answer: str        # the answer (Markdown); "" when blank or still the placeholder


def cell_text(cell):
    """A cell's source as one string (nbformat stores a string or a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def set_cell_text(cell, text):
    """Replace a cell's source by ``text`` (stored as a list of lines, as nbformat writes it)."""
    cell["source"] = text.splitlines(keepends=True)


def question_text(cell):
    """The question in a question cell: from its last ``**Inline question N`` label on (in
    Chinese ``**随堂问题 N``; the recipe's label ends a longer section cell), or the whole cell
    without a label."""
    text = cell_text(cell)
    starts = [match.start() for match in QUESTION_LABEL.finditer(text)]
    return text[starts[-1]:].strip() if starts else text.strip()


def answer_text(cell):
    """The answer written in an answer cell (Markdown, str): the reference's label and
    solution markers removed; "" for the release's placeholder or an empty cell."""
    if cell is None or cell.get("cell_type") != "markdown":
        return ""
    text = SOLUTION_MARKER.sub("", ANSWER_LABEL.sub("", cell_text(cell))).strip()
    return "" if text == "" or text in ANSWER_PLACEHOLDERS.values() else text


def questions_in(notebook, name):
    """The ``Question``s of one notebook (a dict as nbformat's JSON), in order.

    ``name`` is the notebook's name without ``.ipynb``. Raises ``QuestionError`` for an id that
    is malformed, does not start with ``name/`` or appears twice.
    """
    cells = notebook.get("cells", [])
    found, seen = [], set()
    for index, cell in enumerate(cells):
        question_id = cell.get("metadata", {}).get(QUESTION_KEY)
        if question_id is None:
            continue
        if (not isinstance(question_id, str) or not ID_FORMAT.fullmatch(question_id)
                or not question_id.startswith(f"{name}/")):
            raise QuestionError(f"{name}.ipynb cell {index + 1}: question id {question_id!r} "
                                f"is not of the form '{name}/q<number>'")
        if question_id in seen:
            raise QuestionError(f"{name}.ipynb: question id {question_id!r} appears twice")
        seen.add(question_id)
        following = cells[index + 1] if index + 1 < len(cells) else None
        if following is not None and following.get("metadata", {}).get(QUESTION_KEY):
            following = None   # the answer cell was deleted
        found.append(Question(question_id, name, str(cell.get("id", "")), question_text(cell),
                              answer_text(following)))
    return found


def read_notebook(path):
    """A notebook file as a dict; raises ``QuestionError`` when it is not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise QuestionError(f"{Path(path).name}: cannot be read as a notebook ({err})") from err


def questions_from_notebooks(notebook_paths):
    """Every ``Question`` of the notebooks at ``notebook_paths``, in the order given."""
    questions = []
    for path in notebook_paths:
        questions += questions_in(read_notebook(path), Path(path).stem)
    ids = [question.id for question in questions]
    duplicates = sorted({question_id for question_id in ids if ids.count(question_id) > 1})
    if duplicates:
        raise QuestionError(f"question ids appear twice: {', '.join(duplicates)}")
    return questions


def answers_from_notebooks(notebook_paths):
    """dict question id -> the answer's Markdown text (str; "" when blank or untouched), for
    the notebooks at ``notebook_paths`` (a submission's executed notebooks, or the source's
    for the reference answers)."""
    return {question.id: question.answer for question in questions_from_notebooks(notebook_paths)}


def blank_answers(notebook_paths):
    """Ids of the questions whose answer is blank or still ``ANSWER_PLACEHOLDER``."""
    return [qid for qid, answer in answers_from_notebooks(notebook_paths).items() if not answer]
