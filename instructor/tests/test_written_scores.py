"""Merging hand-written scores into a gradebook (instructor.grading.written), on a gradebook and
written folder made here: every bad input is refused naming its row and column, and changes
nothing. The same merge after a real grading run: instructor/tests/kit/test_written.py."""
import csv

import pytest

from instructor import grade
from instructor.grade_report import write_csv
from instructor.grading import written

STUDENTS = ("s1", "s2", "s3")


@pytest.fixture
def gradebook(tmp_path):
    """grades.csv, feedback/ and written/ for three students, as a grading run leaves them."""
    rubric = grade.load_rubric(grade.RUBRIC_PATH)
    write_csv(tmp_path / "grades.csv", [
        {"student_id": sid, "name": f"N {sid}", "zip": f"{sid}_submission.zip",
         "created_utc": "2026-01-01", "total": 80, "max_total": 100, "problems": ""}
        for sid in STUDENTS])
    (tmp_path / "feedback").mkdir()
    for sid in STUDENTS:
        (tmp_path / "feedback" / f"{sid}.txt").write_text(f"Feedback for {sid}\nTotal: 80\n")
    written.write_written(tmp_path / "written", {sid: {} for sid in STUDENTS},
                          rubric["written"])
    return tmp_path


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def write_rows(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def merge(folder):
    return grade.main(["unused", "--written", str(folder / "written" / "scores.csv"),
                       "--out", str(folder / "grades.csv"), "--feedback",
                       str(folder / "feedback")])


def test_scores_file_and_merge(gradebook):
    rows = read_rows(gradebook / "written" / "scores.csv")
    assert rows[0][1] == "linear_classifier/q1 [max 2]" and len(rows[0]) == 15
    codes = written.read_codes(gradebook / "written")
    assert sorted(codes.values()) == list(STUDENTS) and sorted(r[0] for r in rows[1:]) == \
        sorted(codes)
    student_of = {row[0]: codes[row[0]] for row in rows[1:]}
    for row in rows[1:]:
        if student_of[row[0]] == "s1":
            row[1:] = ["2"] * 14
        elif student_of[row[0]] == "s2":
            row[2] = "1,5"
    write_rows(gradebook / "written" / "scores.csv", rows)
    assert merge(gradebook) == 0
    merged = {row["student_id"]: row for row in csv.DictReader(open(gradebook / "grades.csv"))}
    assert merged["s1"]["written_total"] == "28" and merged["s1"]["overall_total"] == "108"
    assert merged["s1"]["overall_max"] == "128" and merged["s1"]["written_status"] == "complete"
    assert merged["s2"]["linear_classifier/q2"] == "1.5" and merged["s2"]["written_total"] == "1.5"
    assert merged["s2"]["linear_classifier/q1"] == "", "not graded yet is empty, never 0"
    assert merged["s3"]["written_status"] == "14 of 14 not graded yet"
    feedback = (gradebook / "feedback" / "s2.txt").read_text()
    assert "linear_classifier/q2: 1.5 / 2" in feedback
    assert "linear_classifier/q1: not graded yet" in feedback
    assert merge(gradebook) == 0
    assert (gradebook / "feedback" / "s2.txt").read_text() == feedback, "re-merge replaces"


def test_a_second_grading_run_keeps_codes_and_filled_in_scores(gradebook):
    rows = read_rows(gradebook / "written" / "scores.csv")
    rows[1][3] = "1"
    write_rows(gradebook / "written" / "scores.csv", rows)
    rubric = grade.load_rubric(grade.RUBRIC_PATH)
    written.write_written(gradebook / "written", {sid: {} for sid in STUDENTS + ("s4",)},
                          rubric["written"])
    again = read_rows(gradebook / "written" / "scores.csv")
    assert len(again) == 5 and [row for row in again if row[0] == rows[1][0]][0][3] == "1"


def test_show_names_labels_rows_with_student_ids(tmp_path):
    rubric = grade.load_rubric(grade.RUBRIC_PATH)
    written.write_written(tmp_path, {"s1": {"two_layer_net/q1": "Dead units."}},
                          rubric["written"], show_names=True)
    assert read_rows(tmp_path / "scores.csv")[1][0] == "s1"
    assert 'data-student="s1"' in (tmp_path / "two_layer_net_q1.html").read_text()


def set_cell(row, column, value):
    def change(rows):
        rows[row - 1][column - 1] = value
    return change


# case -> (change to the rows of scores.csv, part of the error message)
BAD_INPUT = {
    "unknown student": (lambda rows: rows.append(["nobody"] + [""] * 14),
                        "row 5, column 1: unknown student 'nobody'"),
    "unknown question": (lambda rows: rows[0].append("two_layer_net/q9 [max 2]"),
                         "row 1, column 16 ('two_layer_net/q9 [max 2]'): no such question"),
    "not a number": (set_cell(2, 3, "two"),
                     "column 3 (linear_classifier/q2): 'two' is not a number"),
    "negative": (set_cell(3, 3, "-1"), "column 3 (linear_classifier/q2): '-1' is negative"),
    "above the maximum": (set_cell(4, 15, "2.5"),
                          "column 15 (fully_connected_networks/q6): 2.5 is above the maximum"),
    "duplicated row": (lambda rows: rows.append(list(rows[1])), "row 5, column 1:"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_scores_are_refused_naming_row_and_column_and_change_nothing(gradebook, case,
                                                                        capsys):
    change, message = BAD_INPUT[case]
    scores = gradebook / "written" / "scores.csv"
    rows = read_rows(scores)
    rows[1][1] = "1"            # a good cell before the bad one: nothing is merged either
    change(rows)
    write_rows(scores, rows)
    before = (gradebook / "grades.csv").read_bytes()
    feedback_before = {p.name: p.read_bytes() for p in (gradebook / "feedback").iterdir()}
    assert merge(gradebook) == 2
    error = capsys.readouterr().err
    assert message in error and "Nothing was changed" in error
    assert (gradebook / "grades.csv").read_bytes() == before
    assert {p.name: p.read_bytes() for p in (gradebook / "feedback").iterdir()} == \
        feedback_before


def test_merging_before_grading_says_to_grade_first(tmp_path, capsys):
    (tmp_path / "scores.csv").write_text("student\n")
    code = grade.main(["unused", "--written", str(tmp_path / "scores.csv"),
                       "--out", str(tmp_path / "grades.csv")])
    assert code == 2 and "grade the submissions first" in capsys.readouterr().err
