"""helpers.markdown_html: untrusted Markdown with TeX -> safe HTML, math as MathML offline.

The rendered pages are checked in a real browser in test_report_browser.py; these tests pin the
HTML the converter writes.
"""
import html
import json
import re
from html.parser import HTMLParser

import pytest

from helpers.markdown_html import markdown_block, markdown_to_html, safe_mathml, tex_to_html
from helpers.utils import KIT_ROOT


class Elements(HTMLParser):
    """Every start tag and its attributes, as the browser's parser would see them."""

    def __init__(self, text):
        super().__init__()
        self.tags = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(text):
    return Elements(text).tags


def visible_text(rendered):
    """The text a reader sees: markup removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    "<iframe src='https://example.org'></iframe>",
    '<a href="javascript:alert(1)">click</a>',
    "<style>body { display: none }</style>",
    '<link rel="stylesheet" href="https://cdn.example.org/x.css">',
    "<svg onload=alert(1)>",
])
def test_raw_html_is_shown_as_text_never_passed_through(hostile):
    rendered = markdown_to_html(f"My answer: {hostile} done")
    assert [tag for tag, _ in tags_of(rendered)] == ["p"]
    assert hostile in visible_text(rendered)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)",
                                 "vbscript:msgbox(1)", "data:text/html,<script>x</script>",
                                 "file:///etc/passwd", "java&#x09;script:alert(1)"])
def test_links_with_unsafe_schemes_lead_nowhere(url):
    rendered = markdown_to_html(f"[click me]({url})")
    links = [attrs for tag, attrs in tags_of(rendered) if tag == "a"]
    assert all(attrs["href"] == "#unsafe-link" for attrs in links)
    assert "click me" in rendered


def test_safe_links_keep_their_address_and_images_become_their_alt_text():
    rendered = markdown_to_html("[docs](https://pytorch.org/docs?a=1&b=2) and "
                                "![a cat](https://example.org/cat.png)")
    tags = tags_of(rendered)
    assert ("a", {"href": "https://pytorch.org/docs?a=1&b=2",
                  "rel": "noopener noreferrer nofollow"}) in tags
    assert not [tag for tag, _ in tags if tag in ("img", "script", "link", "iframe")]
    assert "[image: a cat]" in rendered


def test_inline_and_display_math_become_mathml():
    rendered = markdown_to_html(r"The loss $L = -\log p_y$ and $$\frac{a}{b} \leq \sqrt{x}$$")
    maths = [attrs for tag, attrs in tags_of(rendered) if tag == "math"]
    assert [attrs["display"] for attrs in maths] == ["inline", "block"]
    assert "$" not in visible_text(rendered)
    assert "<mfrac>" in rendered and "<msqrt>" in rendered


@pytest.mark.parametrize("tex", [r"\text{<script>alert(1)</script>}",
                                 r"\href{javascript:alert(1)}{x}",
                                 r"\text{<img src=x onerror=alert(1)>}",
                                 r"x^{", r"\begin{nosuchenv} x", r"\nosuchcommand x"])
def test_formula_the_converter_cannot_handle_safely_falls_back_to_its_tex_in_code(tex):
    rendered = tex_to_html(tex)
    assert [tag for tag, _ in tags_of(rendered)] == ["code"]
    assert visible_text(rendered) == f"${tex}$"


def test_tex_that_latex2mathml_lacks_is_rewritten_not_left_as_a_backslash():
    for tex in (r"\hat y = \arg\max_j s_j", r"\text{weight\_scale}"):
        rendered = tex_to_html(tex)
        assert rendered.startswith("<math") and "\\" not in visible_text(rendered)
    assert "weight_scale" in tex_to_html(r"\text{weight\_scale}")


def test_mathml_rebuild_escapes_text_and_refuses_foreign_markup():
    assert safe_mathml("<math><mtext>a < b</mtext></math>") == \
        "<math><mtext>a &lt; b</mtext></math>"
    assert safe_mathml('<math><mrow href="javascript:x"><mi>x</mi></mrow></math>') is None
    assert safe_mathml('<math><mi onclick="x()">x</mi></math>') is None


def test_every_formula_of_the_notebooks_converts():
    """The kit's own text must not fall back: a fallback in it is a formula to rewrite."""
    fallbacks, formulas = [], 0
    for path in sorted((KIT_ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                rendered = markdown_to_html("".join(cell["source"]))
                formulas += rendered.count("<math")
                fallbacks += re.findall(r'md-math-fallback">(.*?)</code>', rendered)
    assert formulas > 100
    assert fallbacks == []


def test_chinese_text_and_a_long_paste():
    assert "损失函数" in markdown_to_html("中文回答：损失函数 $L$ 越小越好。")
    rendered = markdown_block("A" * 1_000_000, max_chars=20_000)
    assert len(rendered) < 21_000
    assert "980,000 more characters not shown" in rendered
