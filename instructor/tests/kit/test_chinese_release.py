"""Issue 25: the Chinese student release is the English one with its text in Chinese: the same
code, checks and stubs byte for byte, every Markdown cell and README section translated, and
its notebooks proven to run (instructor only)."""
import gettext
import json
import re
import shutil
import subprocess
import sys

import pytest

from helpers import submission
from helpers.check import NOT_IMPLEMENTED, PASS, STATUSES
from helpers.functions import FUNCTIONS
from helpers.utils import KIT_ROOT
from instructor.i18n import check
from instructor.tests.kit.runner import lay_reference_solutions, run_in

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_WORDS = re.compile(r"\b[A-Za-z]{3,}\b(?:\W+\b[A-Za-z]{3,}\b){3,}")
PROSE_ONLY = re.compile(r"```.*?```|`[^`\n]+`|\$\$.+?\$\$|\$[^$\n]+\$|\]\([^)]*\)", re.S)
TRANSLATED = ("README.md", *(f"notebooks/{name}" for name in submission.NOTEBOOKS))


def files(kit):
    return {path.relative_to(kit).as_posix(): path for path in kit.rglob("*") if path.is_file()}


def test_the_code_is_byte_for_byte_the_english(student_kit, chinese_kit):
    english, chinese = files(student_kit), files(chinese_kit)
    added = set(chinese) - set(english)
    assert added == {"helpers/locale/LANGUAGE", "helpers/locale/zh_CN/LC_MESSAGES/kit.mo"}
    assert set(english) <= set(chinese)
    differing = [name for name in english if name not in TRANSLATED
                 and english[name].read_bytes() != chinese[name].read_bytes()]
    assert not differing, differing
    assert any(name.startswith("assignment/") for name in english)


@pytest.mark.parametrize("name", submission.NOTEBOOKS)
def test_every_notebook_has_the_same_cells_with_its_text_in_chinese(student_kit, chinese_kit,
                                                                    name):
    english = json.loads((student_kit / "notebooks" / name).read_text(encoding="utf-8"))
    chinese = json.loads((chinese_kit / "notebooks" / name).read_text(encoding="utf-8"))
    assert [(c["id"], c["cell_type"], c.get("metadata")) for c in english["cells"]] == \
        [(c["id"], c["cell_type"], c.get("metadata")) for c in chinese["cells"]]
    assert chinese["metadata"]["language"] == "zh-CN"
    for mine, theirs in zip(english["cells"], chinese["cells"]):
        text, translated = "".join(mine["source"]), "".join(theirs["source"])
        if mine["cell_type"] == "code":
            assert text == translated, f"{name} cell {mine['id']}: code differs"
        elif ENGLISH_WORDS.search(PROSE_ONLY.sub(" ", text)):
            assert CJK.search(translated), f"{name} cell {mine['id']} is not in Chinese"
            assert not check.differences(text, translated), (name, mine["id"])


def test_the_readme_is_chinese_with_its_glossary(student_kit, chinese_kit):
    readme = (chinese_kit / "README.md").read_text(encoding="utf-8")
    headings = [line for line in readme.splitlines() if line.startswith("#")]
    english_headings = [line for line in (student_kit / "README.md").read_text(
        encoding="utf-8").splitlines() if line.startswith("#")]
    assert len(headings) == len(english_headings) + 1, "the glossary is the one more section"
    assert "## 术语表 (Glossary)" in headings
    assert all(CJK.search(line) for line in headings), headings
    for english, chinese in (("cross-validation", "交叉验证"), ("precision", "精确率"),
                             ("dropout", "丢弃法")):
        assert re.search(rf"^\| {re.escape(english)} \| {re.escape(chinese)}", readme, re.M)
    assert "<!-- POINTS OF EACH FUNCTION -->" not in readme, "the points were filled in"
    assert "Linear.backward" in readme


@pytest.mark.long
def test_the_main_job_runs_the_chinese_notebooks(tmp_path):
    """``run_notebooks --lang zh-CN --quick``: the Chinese notebooks execute, not only parse."""
    out = tmp_path / "results"
    result = subprocess.run([sys.executable, "-m", "instructor.run_notebooks", "--lang", "zh-CN",
                             "--quick", "--out", str(out)], cwd=KIT_ROOT, capture_output=True,
                            text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in submission.NOTEBOOKS:
        executed = json.loads((out / name).read_text(encoding="utf-8"))
        assert executed["metadata"]["language"] == "zh-CN"
        assert CJK.search("".join(executed["cells"][0]["source"])), name
        assert (out / name.replace(".ipynb", ".html")).is_file()
    assert not list(KIT_ROOT.glob(".notebooks-*")), "the translated copies were removed"


# ------------------------------------------------------------- self-check ---

def verdict_words(kit):
    """The Chinese release's word for each verdict -> the verdict (from its compiled catalog)."""
    catalog = gettext.translation("kit", kit / "helpers" / "locale", languages=["zh_CN"])
    words = {catalog.gettext(status): status for status in STATUSES}
    assert all(CJK.search(word) for word in words), words
    return words


def verdicts(output, words=None):
    """``{function: verdict}`` from the self-check's lines ``part.function: VERDICT...``."""
    found = {}
    for line in output.strip().splitlines()[:-1]:
        function, _, rest = line.partition(": ")
        word = rest.split(": ")[0]
        found[function] = (words or {}).get(word, word)
    return found


def self_check(kit, language):
    return run_in(kit, "-m", "helpers.check", env_extra={"KIT_LANG": language})


def test_the_self_check_speaks_chinese_with_the_english_verdicts_on_the_stubs(student_kit,
                                                                               chinese_kit):
    english, chinese = self_check(student_kit, "en"), self_check(chinese_kit, "")
    assert english.returncode == chinese.returncode != 0
    expected = verdicts(english.stdout)
    assert set(expected.values()) == {NOT_IMPLEMENTED}
    assert verdicts(chinese.stdout, verdict_words(chinese_kit)) == expected
    assert CJK.search(chinese.stdout.strip().splitlines()[-1]), "the summary is Chinese too"
    assert not CJK.search(english.stdout)


@pytest.mark.long
def test_the_self_check_passes_the_reference_in_both_languages(chinese_kit, tmp_path):
    kit = tmp_path / "kit"
    shutil.copytree(chinese_kit, kit)
    lay_reference_solutions(kit)
    english, chinese = self_check(kit, "en"), self_check(kit, "zh-CN")
    assert english.returncode == chinese.returncode == 0, chinese.stdout + chinese.stderr
    expected = verdicts(english.stdout)
    assert set(expected.values()) == {PASS} and len(expected) == len(FUNCTIONS)
    assert verdicts(chinese.stdout, verdict_words(kit)) == expected
    assert not CJK.search(english.stdout), "KIT_LANG=en shows the English"


# ------------------------------------------------------------ the report ---

GLYPHS_DIFFER = """
const font = getComputedStyle(document.querySelector(arguments[0])).font;
function pixels(text) {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 64;
  const context = canvas.getContext("2d");
  context.font = font.replace(/\\d+(\\.\\d+)?px/, "40px");
  context.fillText(text, 4, 48);
  return Array.from(context.getImageData(0, 0, 64, 64).data).join(",");
}
const missing = pixels("\\u{F0000}");   // a private-use code point: no font has it (tofu)
return Array.from(arguments[1]).filter(ch => pixels(ch) === missing);
"""


def test_the_chinese_report_shows_chinese_headings_without_tofu(chinese_kit, tmp_path):
    """The lab report (helpers.report) of the Chinese release, opened offline in Chromium: the
    course's headings, and every Chinese character drawn by a real font (no tofu boxes)."""
    from instructor.tests.browser import chromium

    page = tmp_path / "report.html"
    result = run_in(chinese_kit, "-m", "helpers.report", "--out", str(page),
                    "--student-id", "s1", "--name", "张三")
    assert result.returncode == 0, result.stdout + result.stderr
    assert CJK.search(result.stdout), "its message is Chinese"
    with chromium(offline=True) as browser:
        browser.get(page.as_uri())
        headings = [h.text for h in browser.find_elements("css selector", "h1, h2")]
        assert "数据和要求" in headings and "实验结果与分析" in headings, headings
        assert browser.find_element("css selector", "html").get_attribute("lang") == "zh-CN"
        sample = "".join(dict.fromkeys("".join(headings) + "张三"))
        tofu = browser.execute_script(GLYPHS_DIFFER, "h2", "".join(CJK.findall(sample)))
        assert tofu == [], f"drawn as tofu boxes (install fonts-noto-cjk): {tofu}"
        browser.save_screenshot(str(tmp_path / "report.png"))
