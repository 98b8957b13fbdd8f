"""Grading the written answers by hand, question by question (instructor only).

``python -m instructor.grade DIR`` writes, next to the gradebook, a folder ``written/``:

- ``index.html`` and one page per question (``<notebook>_q<N>.html``): the question, the
  reference answer and every student's answer, rendered as in the student's report
  (``helpers.markdown_html``: student text escaped, math as MathML, no network), each under an
  anonymous code (``--show-names``: under the student id);
- ``scores.csv``: one row per student (the same code or id), one column per question whose
  header holds the maximum points, e.g. ``linear_classifier/q1 [max 2]``; every cell empty;
- ``codes.csv``: the key from code to student id; keep it from the graders.

``python -m instructor.grade DIR --written written/scores.csv`` then checks the filled-in file
(``read_scores``) and merges it into the gradebook and the feedback files (``merge_scores``).
An empty cell means "not graded yet", never 0. Any bad cell stops the merge with an error naming
its row and column, and nothing is written.
"""
import csv
import html
import io
import json
import re
import secrets
import unicodedata
from pathlib import Path

from helpers.markdown_html import STYLE as MARKDOWN_STYLE
from helpers.markdown_html import markdown_block
from helpers.questions import QuestionError, questions_from_notebooks, questions_in
from helpers.submission import NOTEBOOKS
from helpers.utils import KIT_ROOT
from instructor.grade_report import csv_cell, write_csv

STUDENT_COLUMN = "student"
CODES_FILE = "codes.csv"
SCORES_FILE = "scores.csv"
HEADER = re.compile(r"^(?P<id>\S+) \[max (?P<max>\d+(?:\.\d+)?)\]$")
MAX_ANSWER_CHARS = 20_000     # a longer answer is cut in the page, with a note
MAX_SCORES_BYTES = 2**20
FEEDBACK_MARK = "Written answers (graded by hand):"
WRITTEN_TOTAL = "written_total"
WRITTEN_STATUS = "written_status"
OVERALL_TOTAL = "overall_total"
OVERALL_MAX = "overall_max"
# Gradebook columns that hold text, never numbers (instructor.grade.make_row).
TEXT_COLUMNS = ("student_id", "name", "zip", "created_utc", "problems", WRITTEN_STATUS)

PAGE_STYLE = """
body { font-family: "Noto Sans", "Noto Sans CJK SC", Arial, sans-serif; max-width: 60em;
       margin: 1.5em auto; padding: 0 1em; line-height: 1.45; color: #222; }
.reference { background: #eef6ee; padding: 0.5em 1em; border-left: 4px solid #393; }
.answer { background: #f6f8fa; padding: 0.5em 1em; border-left: 4px solid #446;
          margin-bottom: 1.5em; }
.blank { color: #a00; font-style: italic; }
table { border-collapse: collapse; } td, th { border: 1px solid #bbb; padding: 0.2em 0.6em; }
"""


class WrittenScoresError(ValueError):
    """The filled-in scores cannot be merged; the message names the row and column."""


# ------------------------------------------------------------------ answers ---

def reference_questions(kit_root=KIT_ROOT):
    """The ``Question``s of the source notebooks, each with its reference answer."""
    return questions_from_notebooks([Path(kit_root) / "notebooks" / name for name in NOTEBOOKS])


def answers_from_members(members):
    """dict question id -> answer text from a verified submission's files (``members``: dict
    name in the zip -> bytes). A notebook missing or unreadable gives no answers."""
    answers = {}
    for name in NOTEBOOKS:
        data = members.get(f"notebooks/{name}")
        if data is None:
            continue
        try:
            notebook = json.loads(data.decode("utf-8"))
            found = questions_in(notebook, Path(name).stem)
        except (UnicodeDecodeError, json.JSONDecodeError, QuestionError, AttributeError):
            continue
        answers.update({question.id: question.answer for question in found})
    return answers


def plain_answer(text, limit=MAX_ANSWER_CHARS):
    """An answer as plain text for a text-only display (Gradescope's output): line breaks kept,
    other control and format characters removed, at most ``limit`` characters."""
    kept = "".join(char for char in str(text) if char in "\n\t"
                   or unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co"))
    if len(kept) > limit:
        kept = kept[:limit] + f"\n[{len(kept) - limit:,} more characters not shown]"
    return kept


def gradescope_entries(members, written_points, entry):
    """Gradescope ``tests`` entries, one per question: the student's answer shown beside the
    autograder's result, worth 0 points (the written part is graded by hand).

    ``entry(name, score, max_score, output, passed)`` makes one entry
    (``instructor.autograder.test_entry``)."""
    answers = answers_from_members(members)
    entries = []
    for question_id, points in written_points.items():
        answer = answers.get(question_id, "")
        output = (plain_answer(answer) if answer else "No answer written.") + (
            f"\n\n(Written question worth {points:g} points, graded by hand; 0 here.)")
        entries.append(entry(f"written answer {question_id} (graded by hand)", 0, 0, output,
                             bool(answer)))
    return entries


# -------------------------------------------------------------------- codes ---

def read_codes(folder):
    """dict code -> student id from ``folder/codes.csv`` ({} when there is none)."""
    path = Path(folder) / CODES_FILE
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        return {row["code"]: row["student_id"] for row in csv.DictReader(f)}


def assign_codes(student_ids, known):
    """dict student id -> anonymous code: the codes of ``known`` (code -> id) kept, new
    students get a new random code (``S`` and 6 hex digits)."""
    codes = {student_id: code for code, student_id in known.items()}
    taken = set(known)
    for student_id in sorted(student_ids):
        while student_id not in codes:
            code = f"S{secrets.token_hex(3)}"
            if code not in taken:
                codes[student_id] = code
                taken.add(code)
    return codes


# -------------------------------------------------------------------- pages ---

def escape(text):
    return html.escape(str(text), quote=True)


def page_name(question_id):
    """A question's page: ``linear_classifier/q1`` -> ``linear_classifier_q1.html``."""
    return question_id.replace("/", "_") + ".html"


def page(title, body):
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{PAGE_STYLE}{MARKDOWN_STYLE}</style>\n"
            f"</head>\n<body>\n{body}</body>\n</html>\n")


def question_page(question, points, answers_by_label):
    """The page of one question: the question, the reference, then each student's answer.

    ``answers_by_label``: dict label (code or student id) -> answer text, in page order."""
    parts = [f'<p><a href="index.html">All questions</a></p>\n<h1>{escape(question.id)} '
             f"({points:g} points)</h1>\n", markdown_block(question.text),
             "<h2>Reference answer</h2>\n",
             f'<div class="reference">{markdown_block(question.answer)}</div>\n',
             f"<h2>Answers ({len(answers_by_label)})</h2>\n"]
    for label, answer in answers_by_label.items():
        shown = (markdown_block(answer, MAX_ANSWER_CHARS) if answer
                 else '<p class="blank">No answer written.</p>\n')
        parts.append(f'<h3 id="{escape(label)}">{escape(label)}</h3>\n'
                     f'<div class="answer" data-student="{escape(label)}">{shown}</div>\n')
    return page(f"Written answers: {question.id}", "".join(parts))


def index_page(questions, written_points, answers_by_label, show_names):
    """The index: every question with its points, link and number of blank answers."""
    rows = []
    for question in questions:
        blank = sum(1 for answers in answers_by_label.values() if not answers.get(question.id))
        rows.append(f'<tr><td><a href="{page_name(question.id)}">{escape(question.id)}</a></td>'
                    f"<td>{written_points[question.id]:g}</td><td>{blank}</td></tr>\n")
    who = ("student ids" if show_names else
           f"anonymous codes (the key is {CODES_FILE}: keep it from the graders)")
    body = (f"<h1>Written answers</h1>\n<p>{len(answers_by_label)} submission(s); answers are "
            f"shown under {who}. Fill in {SCORES_FILE} (an empty cell means not graded yet) "
            "and merge it with <code>python -m instructor.grade DIR --written "
            f"{SCORES_FILE}</code>.</p>\n<table>\n<tr><th>Question</th><th>Points</th>"
            f"<th>Blank answers</th></tr>\n{''.join(rows)}</table>\n")
    return page("Written answers", body)


# ------------------------------------------------------------------- scores ---

def score_header(question_id, points):
    return f"{question_id} [max {points:g}]"


def read_csv_rows(path):
    """The rows of a CSV file (lists of str); raises ``WrittenScoresError`` when unreadable."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SCORES_BYTES:
            raise WrittenScoresError(f"{path}: larger than {MAX_SCORES_BYTES} bytes; is it the "
                                     "scores file?")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise WrittenScoresError(f"{path}: cannot be read ({err})") from err
    try:
        return list(csv.reader(io.StringIO(text)))
    except csv.Error as err:
        raise WrittenScoresError(f"{path}: not a CSV file ({err})") from err


def previous_scores(path):
    """dict (label, question id) -> cell text of an existing scores file, best effort: a rerun
    of the grader keeps what was filled in."""
    try:
        rows = read_csv_rows(path)
    except WrittenScoresError:
        return {}
    if not rows:
        return {}
    ids = [(HEADER.match(column) or re.match(r"(?P<id>.*)", column)).group("id")
           for column in rows[0]]
    return {(row[0], ids[index]): cell for row in rows[1:] if row
            for index, cell in enumerate(row[1:], start=1) if index < len(ids) and cell.strip()}


def write_scores_template(path, labels, questions, written_points):
    """Write ``scores.csv``: a header with each question's maximum, one row per label, cells
    empty (or as filled in before, when the file exists)."""
    kept = previous_scores(path) if Path(path).exists() else {}
    header = [STUDENT_COLUMN] + [score_header(q.id, written_points[q.id]) for q in questions]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for label in labels:
        writer.writerow([csv_cell(label)] + [kept.get((label, q.id), "") for q in questions])
    partial = Path(path).with_name(Path(path).name + ".partial")
    partial.write_text(buffer.getvalue(), encoding="utf-8")
    partial.replace(path)


def write_written(folder, answers_by_student, written_points, show_names=False,
                  kit_root=KIT_ROOT):
    """Write the written-grading folder: index, one page per question, scores.csv, codes.csv.

    Inputs: ``answers_by_student``, dict student id -> dict question id -> answer text;
    ``written_points``, dict question id -> maximum points (the rubric's ``written``).
    Returns the list of pages written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    questions = [q for q in reference_questions(kit_root) if q.id in written_points]
    codes = assign_codes(answers_by_student, read_codes(folder))
    write_csv(folder / CODES_FILE, [{"code": codes[student_id], "student_id": student_id}
                                    for student_id in sorted(codes, key=codes.get)]
              or [{"code": "", "student_id": ""}])
    label_of = {student_id: (student_id if show_names else codes[student_id])
                for student_id in answers_by_student}
    by_label = {label_of[s]: answers_by_student[s] for s in sorted(answers_by_student,
                                                                   key=label_of.get)}
    pages = [folder / "index.html"]
    pages[0].write_text(index_page(questions, written_points, by_label, show_names),
                        encoding="utf-8")
    for question in questions:
        answers = {label: answers.get(question.id, "") for label, answers in by_label.items()}
        path = folder / page_name(question.id)
        path.write_text(question_page(question, written_points[question.id], answers),
                        encoding="utf-8")
        pages.append(path)
    write_scores_template(folder / SCORES_FILE, list(by_label), questions, written_points)
    return pages


# -------------------------------------------------------------------- merge ---

def parse_score(text, maximum, where):
    """A cell's score (float), or None for an empty cell; ``where`` names the cell in errors."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise WrittenScoresError(f"{where}: {text[:40]!r} is not a number; write the points "
                                 "(e.g. 1.5) or leave the cell empty") from None
    if value != value or value < 0:
        raise WrittenScoresError(f"{where}: {text[:40]!r} is negative; points are 0 or more")
    if value > maximum:
        raise WrittenScoresError(f"{where}: {value:g} is above the maximum of {maximum:g}")
    return value


def score_columns(header, written_points):
    """list of question ids of the scores file's columns after the first, checked against
    the rubric."""
    if not header or header[0].strip() != STUDENT_COLUMN:
        raise WrittenScoresError(f"row 1: the first column must be {STUDENT_COLUMN!r}; use the "
                                 f"{SCORES_FILE} that the grader wrote")
    ids = []
    for number, column in enumerate(header[1:], start=2):
        match = HEADER.match(column.strip())
        question_id = match.group("id") if match else column.strip()
        if question_id not in written_points:
            raise WrittenScoresError(f"row 1, column {number} ({column[:60]!r}): no such "
                                     f"question in the rubric's 'written' section")
        if question_id in ids:
            raise WrittenScoresError(f"row 1, column {number}: {question_id} appears twice")
        ids.append(question_id)
    return ids


def read_scores(path, written_points, student_ids, codes=None):
    """The filled-in scores: dict student id -> dict question id -> float or None.

    ``student_ids``: the gradebook's students; ``codes``: dict code -> student id (a row may
    name a student by either). Raises ``WrittenScoresError`` naming the row and column of the
    first bad cell: an unknown student or question, a duplicated row, a score that is not a
    number, negative or above the question's maximum.
    """
    rows = read_csv_rows(path)
    if not rows:
        raise WrittenScoresError(f"{path}: empty; use the {SCORES_FILE} the grader wrote")
    ids = score_columns(rows[0], written_points)
    codes = codes or {}
    scores, seen = {}, {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        label = row[0].strip().lstrip("'")
        student_id = label if label in student_ids else codes.get(label)
        if student_id not in student_ids:
            raise WrittenScoresError(f"row {number}, column 1: unknown student {label[:60]!r} "
                                     "(not in the gradebook, nor a code of codes.csv)")
        if student_id in seen:
            raise WrittenScoresError(f"row {number}, column 1: {label[:60]!r} is already in "
                                     f"row {seen[student_id]}; keep one row per student")
        seen[student_id] = number
        if len(row) > len(ids) + 1:
            raise WrittenScoresError(f"row {number}: {len(row)} cells, more than the "
                                     f"{len(ids) + 1} columns of the header")
        cells = row[1:] + [""] * (len(ids) + 1 - len(row))
        scores[student_id] = {
            question_id: parse_score(cell, written_points[question_id],
                                     f"row {number} ({label[:40]}), column {column} "
                                     f"({question_id})")
            for column, (question_id, cell) in enumerate(zip(ids, cells), start=2)}
    return scores


def tidy(number):
    """A number as the gradebook shows it: ``2`` rather than ``2.0``, else 2 decimals."""
    number = round(float(number), 2)
    return int(number) if number.is_integer() else number


def written_row(row, scores, written_points):
    """The gradebook ``row`` (dict) with one column per question, the written total, the
    status and the overall total; a question not graded yet is an empty cell."""
    graded = {qid: scores.get(qid) for qid in written_points}
    row = dict(row)
    for question_id, value in graded.items():
        row[question_id] = "" if value is None else tidy(value)
    missing = sum(value is None for value in graded.values())
    written_total = sum(value for value in graded.values() if value is not None)
    row[WRITTEN_TOTAL] = tidy(written_total)
    row[WRITTEN_STATUS] = ("complete" if not missing
                           else f"{missing} of {len(graded)} not graded yet")
    row[OVERALL_TOTAL] = tidy(float(row["total"]) + written_total)
    row[OVERALL_MAX] = tidy(float(row["max_total"]) + sum(written_points.values()))
    return row


def read_gradebook(path):
    """The gradebook's rows (dicts of str); raises ``WrittenScoresError`` when missing."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except OSError as err:
        raise WrittenScoresError(f"{path}: no gradebook to merge into ({err.strerror}); grade "
                                 "the submissions first") from err


def numbers(row):
    """A gradebook row read back from CSV: the numeric cells of the points columns as numbers
    again (text columns such as the student id stay text)."""
    out = {}
    for key, value in row.items():
        if key in TEXT_COLUMNS or not isinstance(value, str):
            out[key] = value
        elif re.fullmatch(r"-?\d+", value):
            out[key] = int(value)
        elif re.fullmatch(r"-?\d+\.\d+", value):
            out[key] = float(value)
        else:
            out[key] = value
    return out


def feedback_section(scores, written_points):
    """The feedback lines of the written part."""
    lines = [FEEDBACK_MARK]
    for question_id, maximum in written_points.items():
        value = scores.get(question_id)
        shown = "not graded yet" if value is None else f"{value:g} / {maximum:g}"
        lines.append(f"  {question_id}: {shown}")
    graded = [v for v in scores.values() if v is not None]
    lines.append(f"  written total: {sum(graded):g} / {sum(written_points.values()):g}"
                 + ("" if len(graded) == len(written_points) else " (not all graded yet)"))
    return "\n".join(lines) + "\n"


def with_feedback_section(text, section):
    """Feedback ``text`` with its written section replaced by ``section`` (added if none)."""
    before = text.split(FEEDBACK_MARK)[0].rstrip("\n")
    return f"{before}\n\n{section}"


def merge_scores(scores_path, gradebook_path, written_points, feedback_dir=None):
    """Merge a filled-in scores file into the gradebook (and the feedback files, when
    ``feedback_dir`` is given). Everything is checked first: on any error nothing is
    written. Returns the gradebook's new rows."""
    rows = read_gradebook(gradebook_path)
    student_ids = {row["student_id"] for row in rows}
    codes = read_codes(Path(scores_path).parent)
    scores = read_scores(scores_path, written_points, student_ids, codes)
    merged = [numbers(written_row(row, scores.get(row["student_id"], {}), written_points))
              for row in rows]
    feedback = {}
    if feedback_dir is not None:
        for row in rows:
            path = Path(feedback_dir) / f"{row['student_id']}.txt"
            if path.is_file():
                section = feedback_section(scores.get(row["student_id"], {}), written_points)
                feedback[path] = with_feedback_section(path.read_text(encoding="utf-8"), section)
    write_csv(gradebook_path, merged)
    for path, text in feedback.items():
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    return merged
