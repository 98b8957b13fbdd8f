"""The similarity report on real zips with planted copies (``instructor.similarity``).

One folder of submissions built from this source and its release
(``instructor/tests/kit/copies.py``): the reference; a copy of it with names renamed,
comments added and functions reordered (its answers lightly edited); the release with one
function copied; the release untouched, twice; an honest student who wrote four functions of
linear_classifier.py independently; two students whose Chinese answer is nearly the same; and
a copy whose code comment and answer hold ``<script>``. The report runs once on the folder.
"""
import csv
import os
import shutil
import time
from html.parser import HTMLParser

import pytest
from copydetect import compare_files

from helpers import submission
from instructor import grade
from instructor.grading import gradebook as grading_steps
from instructor.similarity import fingerprints
from instructor.similarity.__main__ import main as similarity_main
from instructor.similarity.collect import boilerplates, release_code
from instructor.similarity.pages import write_csv
from instructor.similarity.pairs import DEFAULT_THRESHOLD, Pair
from instructor.similarity.run import similarity_report
from instructor.tests.kit import copies

HOSTILE_COMMENT = "# </pre><script>alert('code')</script>"
HOSTILE_ANSWER = "<script>alert('answer')</script> <img src=x onerror=alert(1)>"
PLANTED = {("ref01", "renamed01"), ("hostile01", "ref01"), ("hostile01", "renamed01")}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """``(pairs, out, zips)``: the ranked pairs, the report folder and the zips' folder."""
    zips, work = tmp_path_factory.mktemp("zips"), tmp_path_factory.mktemp("work")
    reference, answers = copies.reference_code(), copies.reference_answers()
    copies.write_zip(zips, work, "ref01", reference, copies.notebooks_with_answers(answers))
    copies.write_zip(zips, work, "renamed01",
                     {part: copies.renamed_copy(text) for part, text in reference.items()},
                     copies.notebooks_with_answers({q: copies.edited(a)
                                                    for q, a in answers.items()}))
    copies.write_zip(zips, work, "single01", copies.single_function())
    copies.write_zip(zips, work, "stubs01", release_code())
    copies.write_zip(zips, work, "stubs02", release_code())
    copies.write_zip(zips, work, "honest01", copies.independent(), copies.notebooks_with_answers(
        {"two_layer_net/q1": copies.CHINESE_OWN}))
    for student, text in (("zh01", copies.CHINESE_ANSWER), ("zh02", copies.CHINESE_COPY)):
        copies.write_zip(zips, work, student, release_code(),
                         copies.notebooks_with_answers({"two_layer_net/q1": text}))
    hostile = dict(reference, metrics=reference["metrics"].replace(
        "    # BEGIN SOLUTION", f"    {HOSTILE_COMMENT}\n    # BEGIN SOLUTION", 1))
    copies.write_zip(zips, work, "hostile01", hostile, copies.notebooks_with_answers(
        {"linear_classifier/q1": HOSTILE_ANSWER + "\n" + answers["linear_classifier/q1"]}))
    (zips / submission.zip_name("broken01")).write_bytes(b"not a zip")
    out = tmp_path_factory.mktemp("report")
    return similarity_report(zips, out), out, zips


def score(pairs, a, b, part):
    a, b = sorted((a, b))
    found = [p for p in pairs if (p.student_a, p.student_b, p.part) == (a, b, part)]
    assert len(found) == 1, f"{a}/{b}/{part}: {len(found)} rows"
    return found[0]


def code_parts(pairs):
    return [part for part in submission.PARTS if any(p.part == part for p in pairs)]


def test_renamed_copy_ranks_first_in_every_file(report):
    pairs, _, _ = report
    for part in code_parts(pairs):
        ranked = [p for p in pairs if p.part == part and "hostile01" not in (p.student_a,
                                                                               p.student_b)]
        assert (ranked[0].student_a, ranked[0].student_b) == ("ref01", "renamed01"), part
        assert ranked[0].similarity > 0.9, (part, ranked[0].similarity)


def test_the_single_copied_function_is_found_and_marked(report):
    pairs, out, _ = report
    pair = score(pairs, "ref01", "single01", copies.SINGLE_FUNCTION[0])
    assert pair.similarity >= DEFAULT_THRESHOLD and pair.matched_lines >= 10
    flagged = [p for p in pairs if p.match is not None]
    page = (out / "pages" / f"{flagged.index(pair) + 1:05d}.html").read_text()
    marked = "".join(part.split("</mark>")[0] for part in page.split("<mark>")[1:])
    assert "dscores" in marked and "dhidden" in marked   # names of nn_forward_backward's body


def test_untouched_releases_score_zero(report):
    pairs, _, _ = report
    for part in code_parts(pairs):
        assert score(pairs, "stubs01", "stubs02", part).similarity == 0.0
    assert not any(p.part.startswith(("linear", "two", "fully")) and "/" in p.part
                   and "stubs01" in (p.student_a, p.student_b) for p in pairs), \
        "an untouched answer (the placeholder) is no answer"


def test_the_honest_pair_ranks_below_every_planted_copy(report):
    pairs, _, _ = report
    honest = score(pairs, "honest01", "ref01", "linear_classifier").similarity
    planted = [score(pairs, a, b, part).similarity for a, b in PLANTED
               for part in code_parts(pairs)]
    planted.append(score(pairs, "ref01", "single01", copies.SINGLE_FUNCTION[0]).similarity)
    assert honest < DEFAULT_THRESHOLD <= min(planted), (honest, min(planted))


def test_copied_answers_are_found_in_english_and_chinese(report):
    pairs, _, _ = report
    questions = sorted({p.part for p in pairs if p.kind == "answer"})
    assert len(questions) == 14
    for question in questions:
        assert score(pairs, "ref01", "renamed01", question).similarity >= 0.8, question
    chinese = score(pairs, "zh01", "zh02", "two_layer_net/q1")
    own = [score(pairs, "honest01", other, "two_layer_net/q1").similarity
           for other in ("zh01", "zh02", "ref01")]
    assert chinese.similarity >= 0.7 and max(own) < DEFAULT_THRESHOLD, (chinese, own)


def test_the_overlap_equals_copydetects_own():
    """``fingerprints.compare`` redoes ``copydetect.compare_files`` with one binary search; both
    must give the same shares of each side and the same regions."""
    part = "two_layer_net"
    boilerplate = boilerplates()[part]
    a, b = (fingerprints.code_document(text, f"{part}.py", boilerplate) for text in (
        copies.reference_code()[part], copies.renamed_copy(copies.reference_code()[part])))
    _, (share_a, share_b), (slices_a, slices_b) = compare_files(a.fingerprint, b.fingerprint)
    match = fingerprints.compare(a, b)
    own_a, own_b = a.fingerprint.token_coverage, b.fingerprint.token_coverage
    assert match.similarity == pytest.approx((share_a * own_a + share_b * own_b) / (own_a + own_b))
    assert (match.slices[0] == slices_a).all() and (match.slices[1] == slices_b).all()
    assert 0.9 < match.similarity < 1


def test_pairs_csv_is_symmetric_sorted_and_complete(report):
    pairs, out, _ = report
    with open(out / "pairs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["student_a", "student_b", "part", "similarity", "matched_lines"]
    assert len(rows) == len(pairs)
    values = [float(row["similarity"]) for row in rows]
    assert values == sorted(values, reverse=True) and 0 <= min(values) <= max(values) <= 1
    keys = [(row["student_a"], row["student_b"], row["part"]) for row in rows]
    assert len(set(keys)) == len(keys) and all(a < b for a, b, _ in keys)
    students = 9   # every zip but broken01
    assert sum(row["part"] == "metrics" for row in rows) == students * (students - 1) // 2


def test_csv_cells_cannot_be_formulas(tmp_path):
    write_csv(tmp_path / "pairs.csv", [Pair("=cmd|'/c calc'!A1", "+x", "@sum(1)", "code",
                                            0.5, 3)])
    row = list(csv.reader(open(tmp_path / "pairs.csv", newline="")))[1]
    assert row[:3] == ["'=cmd|'/c calc'!A1", "'+x", "'@sum(1)"]


class Elements(HTMLParser):
    """Every start tag and attribute of a page, as a browser's parser sees them."""

    def __init__(self):
        super().__init__()
        self.tags, self.attributes = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def test_hostile_text_is_escaped_on_every_page(report):
    pairs, out, _ = report
    pages = [out / "index.html", *sorted((out / "pages").glob("*.html"))]
    shown = {"code": False, "answer": False}
    for path in pages:
        text = path.read_text()
        parser = Elements()
        parser.feed(text)
        assert "script" not in parser.tags and "img" not in parser.tags, path.name
        assert not [name for name in parser.attributes if name.startswith("on")], path.name
        assert "http://" not in text and "https://" not in text and "src=" not in text.replace(
            "src=x", ""), path.name
        shown["code"] |= "&lt;script&gt;alert(&#39;code&#39;)" in text
        shown["answer"] |= "&lt;script&gt;alert(&#39;answer&#39;)" in text
    assert shown == {"code": True, "answer": True}, "the hostile pages are listed and escaped"


@pytest.fixture(scope="module")
def browser():
    """Headless chromium through selenium; skips where chromium is missing, unless CI is set."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium or chromedriver is missing")
        pytest.skip("chromium and chromedriver are needed for the browser test")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(argument)
    # The system's chromedriver, named, so that Selenium Manager looks nothing up online.
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    yield driver
    driver.quit()


@pytest.mark.long
def test_hostile_text_stays_text_in_a_browser(report, browser):
    pairs, out, _ = report
    flagged = [p for p in pairs if p.match is not None]
    for student, part, shown in (("hostile01", "metrics", "alert('code')"),
                                 ("hostile01", "linear_classifier/q1", "alert('answer')")):
        rank = next(i for i, p in enumerate(flagged, start=1)
                    if p.part == part and student in (p.student_a, p.student_b))
        browser.get((out / "pages" / f"{rank:05d}.html").as_uri())
        assert browser.execute_script("return document.scripts.length") == 0
        assert browser.execute_script("return document.images.length") == 0
        assert f"<script>{shown}</script>" in browser.find_element("tag name", "body").text
        marks = browser.find_elements("tag name", "mark")
        assert marks and all(mark.is_displayed() for mark in marks[:3])


def test_a_zip_the_grader_refuses_is_listed_not_compared(report):
    pairs, out, _ = report
    assert not any("broken01" in (p.student_a, p.student_b) for p in pairs)
    assert "broken01_submission.zip: corrupt zip" in (out / "index.html").read_text()


def test_grade_main_runs_the_report_after_grading(report, tmp_path, monkeypatch, capsys):
    """``grade.main`` with ``--similarity`` writes the report once the gradebook is written.
    Grading itself is replaced by a stand-in that writes an empty gradebook: a real grading
    run takes minutes and is tested in test_grade.py; here only the hook is under test."""
    _, _, zips = report
    written = []

    def grade_folder(folder, out, *args, **kwargs):
        written.append(out)
        out.write_text("student_id\n")
        return [{"total": 0, "problems": "", "max_total": 1, **{p: 0 for p in grade.PARTS}}]

    monkeypatch.setattr(grading_steps, "grade_folder", grade_folder)
    gradebook = tmp_path / "grades.csv"
    assert grade.main([str(zips), "--out", str(gradebook), "--similarity"]) == 0
    assert written == [gradebook]
    assert "read " + str(tmp_path / "grades-similarity" / "index.html") in capsys.readouterr().out
    assert (tmp_path / "grades-similarity" / "pairs.csv").is_file()
    assert grade.parse_args([str(zips), "--similarity", "elsewhere"]).similarity == "elsewhere"
    assert not grade.parse_args([str(zips)]).similarity


def test_the_command_line(report, tmp_path, capsys):
    _, _, zips = report
    assert similarity_main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no *_submission.zip in" in capsys.readouterr().err
    assert similarity_main([str(zips), "--out", str(tmp_path / "out"), "--threshold", "2"]) == 2
    assert "--threshold must be between 0 and 1" in capsys.readouterr().err
    assert similarity_main([str(zips), "--out", str(tmp_path / "out")]) == 0
    assert f"at or above {DEFAULT_THRESHOLD:g}; wrote" in capsys.readouterr().out
    assert similarity_main([str(zips), "--out", str(tmp_path / "out"), "--threshold", "0.9"]) == 0
    assert "at or above 0.9; wrote" in capsys.readouterr().out
    index = (tmp_path / "out" / "index.html").read_text()
    assert "threshold 0.9 are listed" in index and "0.49" not in index
    pages = sorted(path.name for path in (tmp_path / "out" / "pages").iterdir())
    assert pages == [f"{rank:05d}.html" for rank in range(1, index.count("<tr>"))], \
        "the pages of the earlier run at the default threshold are gone"


@pytest.mark.long
def test_a_class_of_twenty(tmp_path):
    """The generator the benchmark uses (``python -m instructor.similarity.benchmark``)."""
    (tmp_path / "zips").mkdir()
    copies.class_of(tmp_path / "zips", tmp_path / "work", 20)
    start = time.perf_counter()
    pairs = similarity_report(tmp_path / "zips", tmp_path / "out")
    seconds = time.perf_counter() - start
    assert len({p.student_a for p in pairs} | {p.student_b for p in pairs}) == 20
    assert sum(p.part == "metrics" for p in pairs) == 190
    print(f"20 submissions: {seconds:.1f} s")
