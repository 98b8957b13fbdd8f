"""instructor.html_math: notebook reports whose math is MathML and that load nothing."""
import re

import nbformat

from instructor.html_math import math_spans, notebook_to_offline_html, tex_to_mathml

# A tag that would load something from the network.
NETWORK = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.I)


def test_math_spans_find_inline_display_and_environments_but_not_code():
    text = ("a $x^2$ b\n$$ y = 1 $$\n`$not math$`\n```\n$ also code $\n```\n"
            "\\begin{bmatrix} 1 \\end{bmatrix} costs \\$5")
    found = [(tex, display) for _, _, tex, display in math_spans(text)]
    assert found == [("x^2", False), (" y = 1 ", True),
                     ("\\begin{bmatrix} 1 \\end{bmatrix}", True)]


def test_tex_becomes_mathml_and_what_cannot_convert_falls_back_to_escaped_code():
    assert tex_to_mathml(r"\frac{a}{b}").startswith("<math")
    assert 'display="block"' in tex_to_mathml(r"\sum_i x_i", display=True)
    assert "<mo>arg</mo>" in tex_to_mathml(r"\arg\max_j s_j")
    assert tex_to_mathml(r"\nosuchcommand{<b>}") == \
        '<code class="tex-fallback">$\\nosuchcommand{&lt;b&gt;}$</code>'
    assert "<script" not in tex_to_mathml(r"\text{<script>alert(1)</script>}")


def test_a_report_has_mathml_and_loads_nothing_from_the_network():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## The loss $L$\nWith $p_j = e^{s_j}$:\n\n"
                                      "$$ L = -\\log p $$"),
        nbformat.v4.new_code_cell("x = '$not math$'"),
    ])
    page = notebook_to_offline_html(notebook)
    markdown = page.split('data-mime-type="text/markdown">')[1].split("jp-CodeCell")[0]
    assert markdown.count("<math") == 3 and "$" not in re.sub(r"<[^>]+>", "", markdown)
    assert not NETWORK.findall(page), NETWORK.findall(page)
    assert "mathjax" not in page.lower() and "require.min.js" not in page
    assert "not math" in page.split('data-mime-type="text/markdown">')[1], "code keeps its $"
    assert "KITMATH" not in page
    assert notebook.cells[0].source.startswith("## The loss $L$"), "the notebook is unchanged"
