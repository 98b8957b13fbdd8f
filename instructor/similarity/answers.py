"""The written answers of the notebooks, by question id (instructor only).

A question id is ``<notebook>/q<k>``: the k-th answer cell of the notebook (``<notebook>`` is
its file name without ``.ipynb``). An answer cell is a markdown cell of this source's notebook
that holds a solution region; the release turns it into the placeholder ``*Your answer
here.*`` and keeps its cell id, so a student's answer is the cell with that id. A notebook
whose cells lost their ids falls back to its markdown cells that start with
``**Your answer:**`` or hold the placeholder, in order.

``answers_from_notebooks`` is the one place that knows this; issue 23 brings the kit's own
question ids and extractor, which can replace it (same signature).
"""
import json
from pathlib import Path

from helpers.utils import KIT_ROOT
from instructor import release

ANSWER_START = "**Your answer:**"


def _markdown(notebook):
    return [cell for cell in notebook.get("cells", []) if cell.get("cell_type") == "markdown"
            and isinstance(cell.get("source", ""), (str, list))]


def _text(cell):
    source = cell.get("source", "")
    return "".join(map(str, source)) if isinstance(source, list) else source


def source_questions(name):
    """``[(cell id, prompt text)]`` of the answer cells of this source's notebook ``name``
    (e.g. ``linear_classifier.ipynb``), in order; the prompt is the markdown cell above."""
    notebook = json.loads((KIT_ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    cells = notebook["cells"]
    questions = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "markdown" and release.ANY_MARKER.search(_text(cell)):
            prompt = _text(cells[index - 1]) if index else ""
            questions.append((cell.get("id"), prompt))
    return questions


def question_prompts(names):
    """dict question id -> its prompt text, for the notebooks ``names``."""
    return {f"{Path(name).stem}/q{number}": prompt for name in names
            for number, (_, prompt) in enumerate(source_questions(name), start=1)}


def answer_text(cell_text):
    """A cell's answer without the ``**Your answer:**`` label and the untouched placeholder."""
    text = cell_text.strip()
    if text.startswith(ANSWER_START):
        text = text[len(ANSWER_START):]
    return text.replace(release.ANSWER_PLACEHOLDER, "").strip()


def answers_from_notebooks(notebook_paths):
    """dict question id -> the student's answer text (empty answers left out) of the notebooks
    at ``notebook_paths`` (each named like one of the kit's notebooks; others are ignored)."""
    answers = {}
    for path in map(Path, notebook_paths):
        if not (KIT_ROOT / "notebooks" / path.name).is_file():
            continue
        try:
            cells = _markdown(json.loads(path.read_text(encoding="utf-8", errors="replace")))
        except (json.JSONDecodeError, AttributeError):
            continue
        ids = [cell_id for cell_id, _ in source_questions(path.name)]
        by_id = {cell.get("id"): cell for cell in cells if cell.get("id")}
        found = [by_id.get(cell_id) for cell_id in ids]
        if not any(found):
            labelled = [cell for cell in cells if _text(cell).strip().startswith(ANSWER_START)
                        or _text(cell).strip() == release.ANSWER_PLACEHOLDER]
            found = (labelled + [None] * len(ids))[:len(ids)]
        for number, cell in enumerate(found, start=1):
            text = answer_text(_text(cell)) if cell is not None else ""
            if text:
                answers[f"{path.stem}/q{number}"] = text
    return answers
