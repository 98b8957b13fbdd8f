"""The written half, end to end: the report in the zip, the written pages and scores of a
grading run, merging the scores, and both kinds of page in a real browser (headless Chromium).

One quick-mode run of the notebooks serves every test (the session's ``finished_kit``):
copies of it get the reference answers, hostile answers or none, which are Markdown cells and
need no new run.
"""
import base64
import csv
import json
import re
import shutil
import zipfile

import pytest

from helpers import report, submission
from helpers.questions import questions_from_notebooks
from instructor import grade
from instructor.grading import written
from instructor.quick_sample import collect_sample, lay_answers, reference_answers
from instructor.tests.browser import start_chromium
from instructor.tests.kit.hostile import pack
from instructor.tests.kit.runner import run_in, set_run_mode

pytestmark = pytest.mark.long

QUESTION_IDS = [q.id for q in questions_from_notebooks(
    [submission.KIT_ROOT / "notebooks" / name for name in submission.NOTEBOOKS])]
CHINESE = "中文回答：损失函数越小，模型在训练集上的预测越准确。"
HOSTILE = {
    "linear_classifier/q1": "Look: <script>window.pwned = 'script'</script> done",
    "linear_classifier/q2": 'A picture <img src="x" onerror="window.pwned = \'img\'"> here',
    "linear_classifier/q3": "[click for the answer](javascript:window.pwned='link')",
    "linear_classifier/q4": "A" * 1_000_000,
    "linear_classifier/q5": CHINESE,
    "two_layer_net/q1": "<style>body { display: none }</style> $\\text{<b>bold</b>}$",
}


def copy_kit(finished_kit, folder, answers, quick=True):
    """A copy of the finished kit with ``answers`` laid in; its notebooks say quick mode
    (the truth) unless ``quick`` is False."""
    kit = folder / "kit"
    shutil.copytree(finished_kit, kit)
    for name in submission.NOTEBOOKS:
        set_run_mode(kit / "notebooks" / name, quick=quick)
    return lay_answers(kit, answers)


@pytest.fixture(scope="module")
def reference_zip(finished_kit, tmp_path_factory):
    """The reference (solutions and answers) zipped by ``collect_submission.py --sample``."""
    kit = copy_kit(finished_kit, tmp_path_factory.mktemp("reference"), reference_answers())
    result = collect_sample(kit, "ref01", name="Ref Erence")
    assert result.returncode == 0, result.stderr
    return {"kit": kit, "zip": kit / submission.zip_name("ref01"), "result": result}


@pytest.fixture(scope="module")
def hostile_kit(finished_kit, tmp_path_factory):
    """A finished kit whose answers are hostile, huge or Chinese (the others blank)."""
    return copy_kit(finished_kit, tmp_path_factory.mktemp("hostile"), HOSTILE)


@pytest.fixture(scope="module")
def graded_written(working_sandbox, finished_kit, reference_zip, hostile_kit, tmp_path_factory):
    """Three honest submissions graded once: the reference, the hostile answers, and blank
    answers; returns the output folder (grades.csv, feedback/, written/)."""
    folder = tmp_path_factory.mktemp("submissions")
    shutil.copy(reference_zip["zip"], folder)
    pack(hostile_kit, folder, "hostile01")
    pack(finished_kit, folder, "blank01")
    out = tmp_path_factory.mktemp("gradebook")
    # Quick-mode notebooks (collect_submission.py --sample): the grader takes them as samples.
    grade.grade_folder(folder, out / "grades.csv", out / "feedback", jobs=2, timeout=600,
                       memory_mb=4096, progress=False, call_timeout=60, samples=True)
    return out


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


# ---------------------------------------------------------------- the zip ---

def test_collect_sample_puts_the_report_in_the_zip(reference_zip):
    with zipfile.ZipFile(reference_zip["zip"]) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read(submission.MANIFEST))
        page = archive.read(submission.REPORT).decode("utf-8")
    assert submission.REPORT in names and submission.REPORT in manifest["files"]
    assert "WARNING" not in reference_zip["result"].stderr
    assert page.count('class="question"') == len(QUESTION_IDS) == 14
    assert "Ref Erence" in page and "quick (KIT_QUICK=1" in page
    assert "softmax_test_acc" in page, "the results table comes from results/metrics.json"


def test_quick_mode_work_is_refused_without_the_sample_flag(reference_zip):
    result = run_in(reference_zip["kit"], "collect_submission.py", "ref01", "--overwrite")
    assert result.returncode == 2 and "was run in quick mode" in result.stderr


def test_blank_answers_warn_with_their_ids(finished_kit, capsys):
    """The warning collect_submission.py prints after its checks (the release's answers are
    all blank); it never stops the zip, which test_student_workflow writes from this kit."""
    import collect_submission

    collect_submission.warn_blank_answers(finished_kit)
    warning = capsys.readouterr().err
    assert "WARNING: 14 written answer(s) still blank" in warning
    assert all(question_id in warning for question_id in QUESTION_IDS)
    collect_submission.warn_blank_answers(finished_kit.parent / "no such kit")
    assert "could not be read" in capsys.readouterr().err


# ------------------------------------------------------- grading by hand ---

def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_grading_writes_a_page_per_question_and_an_empty_scores_file(graded_written):
    folder = graded_written / "written"
    pages = sorted(path.name for path in folder.glob("*.html"))
    assert len(pages) == 15 and "index.html" in pages
    rows = read_csv(folder / written.SCORES_FILE)
    assert rows[0] == ["student"] + [f"{qid} [max 2]" for qid in QUESTION_IDS]
    assert len(rows) == 4 and all(cell == "" for row in rows[1:] for cell in row[1:])
    codes = {row["code"]: row["student_id"] for row in csv.DictReader(
        open(folder / written.CODES_FILE, encoding="utf-8"))}
    assert sorted(codes.values()) == ["blank01", "hostile01", "ref01"]
    assert sorted(row[0] for row in rows[1:]) == sorted(codes)
    page = (folder / "linear_classifier_q2.html").read_text(encoding="utf-8")
    assert "ref01" not in page and "hostile01" not in page, "anonymous by default"
    assert "Reference answer" in page and page.count('class="answer"') == 3


def fill(scores_path, values):
    """Write ``values`` (dict (student id, question id) -> text) into the scores file."""
    student_of = written.read_codes(scores_path.parent)
    rows = read_csv(scores_path)
    header = [column.split(" [")[0] for column in rows[0]]
    for row in rows[1:]:
        for (student, question_id), value in values.items():
            if student_of[row[0]] == student:
                row[header.index(question_id)] = value
    with open(scores_path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


@pytest.fixture
def gradebook(graded_written, tmp_path):
    """A private copy of the gradebook, its feedback and the written folder."""
    for name in ("grades.csv", "feedback", "written"):
        source = graded_written / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    return tmp_path


def test_merging_scores_adds_columns_totals_and_feedback(gradebook):
    scores = gradebook / "written" / written.SCORES_FILE
    every = {("ref01", qid): "2" for qid in QUESTION_IDS}
    fill(scores, {**every, ("hostile01", "linear_classifier/q5"): "1.5"})
    before = {row["student_id"]: row for row in csv.DictReader(open(gradebook / "grades.csv"))}
    code = grade.main(["unused", "--written", str(scores), "--out", str(gradebook / "grades.csv"),
                       "--feedback", str(gradebook / "feedback")])
    assert code == 0
    rows = {row["student_id"]: row for row in csv.DictReader(open(gradebook / "grades.csv"))}
    ref, hostile, blank = rows["ref01"], rows["hostile01"], rows["blank01"]
    assert float(ref["written_total"]) == 28 and ref["written_status"] == "complete"
    assert float(ref["overall_total"]) == float(before["ref01"]["total"]) + 28
    assert float(ref["overall_max"]) == float(before["ref01"]["max_total"]) + 28
    assert hostile["linear_classifier/q5"] == "1.5" and hostile["linear_classifier/q1"] == ""
    assert hostile["written_status"] == "13 of 14 not graded yet"
    assert blank["written_total"] in ("0", "0.0") and blank["linear_classifier/q1"] == ""
    feedback = (gradebook / "feedback" / "hostile01.txt").read_text()
    assert "linear_classifier/q5: 1.5 / 2" in feedback
    assert "linear_classifier/q1: not graded yet" in feedback
    grade.main(["unused", "--written", str(scores), "--out", str(gradebook / "grades.csv"),
                "--feedback", str(gradebook / "feedback")])
    again = (gradebook / "feedback" / "hostile01.txt").read_text()
    assert again.count(written.FEEDBACK_MARK) == 1, "a second merge replaces the section"


# ----------------------------------------------------------- in a browser ---

def page_state(driver):
    """What the loaded page shows: images, questions, scripts and the hostile flag."""
    return driver.execute_script("""
        return {
          images: [...document.images].map(i => i.complete && i.naturalWidth > 0),
          questions: [...document.querySelectorAll('section.question')].map(
              s => s.dataset.questionId),
          scripts: document.scripts.length,
          handlers: [...document.querySelectorAll('*')].filter(
              e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
          remote: [...document.querySelectorAll('[src],[href]')].map(
              e => e.getAttribute('src') || e.getAttribute('href')).filter(
              u => /^(https?:)?\\/\\//.test(u)),
          pwned: window.pwned === undefined ? null : window.pwned,
        };""")


def notebook_figures(kit):
    return sum(len(report.png_outputs(cell))
               for name in submission.NOTEBOOKS
               for cell in json.loads((kit / "notebooks" / name).read_text())["cells"]
               if cell["cell_type"] == "code")


def test_the_reference_report_shows_every_figure_and_question(reference_zip, browser,
                                                               tmp_path):
    with zipfile.ZipFile(reference_zip["zip"]) as archive:
        archive.extract(submission.REPORT, tmp_path)
    browser.get((tmp_path / submission.REPORT).as_uri())
    state = page_state(browser)
    assert len(state["images"]) == notebook_figures(reference_zip["kit"]) > 10
    assert all(state["images"]), "a figure did not load"
    assert state["questions"] == QUESTION_IDS
    assert state["scripts"] == 0 and state["remote"] == []
    maths = browser.execute_script(
        "return [...document.querySelectorAll('math')].map(m => m.getBoundingClientRect().width)")
    assert len(maths) > 30 and all(width > 0 for width in maths)
    pdf = base64.b64decode(browser.print_page())
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert pages >= len(QUESTION_IDS) + 3, f"{pages} PDF pages for 14 questions and 3 tasks"


def assert_hostile_answers_inert(browser, path):
    browser.get(path.as_uri())
    state = page_state(browser)
    assert state["scripts"] == 0 and state["handlers"] == 0 and state["pwned"] is None
    text = browser.execute_script("return document.body.innerText")
    assert "<script>window.pwned = 'script'</script>" in text
    assert '<img src="x" onerror=' in text and "<style>" in text
    links = browser.execute_script(
        "return [...document.querySelectorAll('a')].filter(a => a.textContent.includes("
        "'click for the answer')).map(a => a.getAttribute('href'))")
    assert links == ["#unsafe-link"]
    browser.execute_script("document.querySelectorAll('a[href=\"#unsafe-link\"]')"
                           ".forEach(a => a.click())")
    assert page_state(browser)["pwned"] is None
    assert browser.execute_script("return getComputedStyle(document.body).display") != "none"
    return state, text


def test_hostile_answers_render_as_text_in_the_report(hostile_kit, browser, tmp_path):
    path = report.write_report(tmp_path / "report.html", kit_root=hostile_kit, student_id="h1",
                               metrics_path=hostile_kit / "results" / "metrics.json")
    state, text = assert_hostile_answers_inert(browser, path)
    assert state["questions"] == QUESTION_IDS, "the 1 MB paste must not swallow the rest"
    assert "more characters not shown" in text
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= browser.execute_script("return window.innerWidth") + 1, "no page overflow"


def test_hostile_answers_render_as_text_on_the_written_pages(graded_written, browser):
    folder = graded_written / "written"
    for question_id, shown in (("linear_classifier/q1", "<script>window.pwned"),
                               ("linear_classifier/q2", '<img src="x" onerror='),
                               ("linear_classifier/q3", "click for the answer"),
                               ("linear_classifier/q4", "more characters not shown"),
                               ("two_layer_net/q1", "<style>body")):
        browser.get((folder / written.page_name(question_id)).as_uri())
        state = page_state(browser)
        assert state["scripts"] == 0 and state["handlers"] == 0 and state["pwned"] is None
        assert len(browser.find_elements("css selector", "div.answer")) == 3
        assert shown in browser.execute_script("return document.body.innerText")
    browser.get((folder / written.page_name("linear_classifier/q3")).as_uri())
    browser.execute_script("document.querySelectorAll('a[href=\"#unsafe-link\"]')"
                           ".forEach(a => a.click())")
    assert page_state(browser)["pwned"] is None


def test_chinese_answers_render_in_real_glyphs_not_boxes(hostile_kit, browser, tmp_path):
    """A screenshot of the answer differs from one of as many private-use characters (which no
    font has: they show the box of a missing glyph), and two different characters look
    different (boxes would look the same)."""
    path = report.write_report(tmp_path / "report.html", kit_root=hostile_kit,
                               metrics_path=hostile_kit / "results" / "metrics.json")
    browser.get(path.as_uri())
    answer = browser.find_element("css selector", '[data-question-id="linear_classifier/q5"] '
                                                  ".answer p")
    assert answer.text == CHINESE
    real = answer.screenshot_as_png
    browser.execute_script("arguments[0].textContent = '\\ue000'.repeat(arguments[1])",
                           answer, len(CHINESE))
    boxes = answer.screenshot_as_png
    browser.execute_script("arguments[0].textContent = arguments[1]", answer, CHINESE)
    assert real != boxes, "the Chinese answer renders as boxes: is fonts-noto-cjk installed?"
    shots = []
    for text in ("损损损", "失失失"):
        browser.execute_script("arguments[0].textContent = arguments[1]", answer, text)
        shots.append(answer.screenshot_as_png)
    assert shots[0] != shots[1], "two different characters look the same: boxes"


def test_gradescope_shows_each_answer_as_a_zero_point_entry(reference_zip, hostile_kit,
                                                            tmp_path):
    from instructor.autograder import results_for
    from instructor.grade import RUBRIC_PATH, Graded, load_rubric
    from instructor.grade_zip import verify_zip

    rubric = load_rubric(RUBRIC_PATH)
    hostile_zip = pack(hostile_kit, tmp_path, "hostile01")
    for path, answers in ((reference_zip["zip"], reference_answers()), (hostile_zip, HOSTILE)):
        sub = verify_zip(path)
        assert not sub.fatal, sub.problems
        results = results_for(Graded(sub, {}, {}, {}, {"total": 0}, ""), rubric, 1)
        shown = [t for t in results["tests"] if t["name"].startswith("written answer ")]
        assert [t["name"] for t in shown] == [f"written answer {qid} (graded by hand)"
                                              for qid in QUESTION_IDS]
        assert all(t["score"] == t["max_score"] == 0 and t["visibility"] == "visible"
                   for t in shown)
        for entry, question_id in zip(shown, QUESTION_IDS):
            answer = answers.get(question_id, "")
            assert entry["output"].startswith(answer[:200] or "No answer written.")
            assert len(entry["output"]) < 21_000
