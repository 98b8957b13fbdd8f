"""helpers.report on notebooks built here (fast); the report of a real quick-mode run is
checked in a browser in instructor/tests/kit/test_written.py."""
import base64
import io
import json
import re

import matplotlib
import pytest

from helpers import report
from helpers.questions import QUESTION_KEY
from helpers.submission import NOTEBOOKS
from helpers.utils import KIT_ROOT, RUN_MODE_MIME

SOURCE_NOTEBOOKS = [KIT_ROOT / "notebooks" / name for name in NOTEBOOKS]


def png_base64():
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure = plt.figure(figsize=(1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def executed_notebook(path, quick):
    """A small executed notebook: a set-up output, two sections with figures, a question."""
    image = png_base64()
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Task 9: Demo\nDo $x^2$."},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "setup()",
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {RUN_MODE_MIME: {"quick_mode": quick}, "text/plain": "q"}},
                     {"output_type": "stream", "name": "stdout",
                      "text": "device: cpu; CPU threads: 2\n"}]},
        {"cell_type": "markdown", "metadata": {}, "source": "## 1. Curves"},
        {"cell_type": "code", "metadata": {}, "execution_count": 2, "source": "plot()",
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"image/png": image}},
                     {"output_type": "display_data", "metadata": {},
                      "data": {"image/png": base64.b64encode(b"<svg onload=x>").decode()}}]},
        {"cell_type": "markdown", "metadata": {}, "source": "## 2. More\n### 2.1 Sub"},
        {"cell_type": "code", "metadata": {}, "execution_count": 3, "source": "plot()",
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"image/png": image}}]},
        {"cell_type": "markdown", "metadata": {QUESTION_KEY: "demo/q1"},
         "source": "**Inline question 1.** Why?"},
        {"cell_type": "markdown", "metadata": {}, "source": "Because <script>x()</script>."},
    ]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_report_of_an_executed_notebook(tmp_path):
    path = executed_notebook(tmp_path / "demo.ipynb", quick=False)
    header = report.Header(student_id="s1", name="<b>Ada</b>", created="today")
    page = report.build_report([path], {"demo": {"test_acc": 0.51234, "runs": [1, 2],
                                                 "best": {"lr": 0.1}}}, header)
    assert header.run_mode == "full (every notebook)" and header.device == "cpu"
    assert "&lt;b&gt;Ada&lt;/b&gt;" in page and "<b>Ada" not in page
    assert "<h1>Task 9: Demo</h1>" in page and "<math" in page
    assert re.findall(r"<h3>([^<]*)</h3>\n<figure>", page) == ["1. Curves", "2.1 Sub"]
    assert page.count("data:image/png;base64,") == 2, "the fake PNG is left out"
    assert "<td>0.5123</td>" in page and "lr=0.1" in page and "runs" not in page
    assert "Because &lt;script&gt;x()&lt;/script&gt;." in page
    assert "break-before: page" in page


def test_report_says_quick_mode_and_blank_answers(tmp_path):
    path = executed_notebook(tmp_path / "demo.ipynb", quick=True)
    notebook = json.loads(path.read_text())
    notebook["cells"][-1]["source"] = "*Your answer here.*"
    path.write_text(json.dumps(notebook))
    page = report.build_report([path], {}, report.Header())
    assert "demo: quick (KIT_QUICK=1" in page and "No answer written." in page
    assert "No results recorded" in page and "(not given)" in page


def test_the_source_notebooks_give_every_question_with_its_reference_answer(tmp_path):
    out = tmp_path / "report.html"
    assert report.main(["--out", str(out), "--student-id", "s9"]) == 0
    page = out.read_text(encoding="utf-8")
    ids = re.findall(r'data-question-id="([^"]+)"', page)
    assert len(ids) == 14 and ids[0] == "linear_classifier/q1"
    assert "No answer written." not in page and "BEGIN SOLUTION" not in page
    assert not re.search(r"<(script|link|img|iframe)\b", page)


@pytest.mark.parametrize("value, shown", [(0.123456, "0.1235"), (True, "True"), (3, "3"),
                                          ({"a": 0.5, "b": "x"}, "a=0.5, b=x")])
def test_format_value(value, shown):
    assert report.format_value(value) == shown
