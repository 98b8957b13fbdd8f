"""HTML reports of notebooks that show their math with no network (instructor only).

nbconvert's HTML template leaves TeX in the page for MathJax, which it loads from a CDN
(with require.js): offline, behind a firewall or on a slow campus network every formula
stays raw TeX. Here the TeX of each Markdown cell becomes MathML when the page is built
(``latex2mathml``; browsers render MathML natively), and the template loads nothing:

- :func:`tex_to_mathml`: one formula -> MathML, or its TeX source in a ``<code>`` when the
  converter cannot handle it (never a broken page);
- :func:`math_spans`: where the formulas of a Markdown text are (``$...$``, ``$$...$$``,
  ``\\begin{...}...\\end{...}``), code spans and fenced code left alone;
- :func:`notebook_to_offline_html`: the whole report, via nbconvert's ``lab`` template with
  its script blocks (require.js, MathJax, Mermaid, widgets) emptied; progress lines
  redrawn with ``\\r`` show their final state only.

Issue 23's ``helpers/markdown_html.py`` (untrusted Markdown + math -> safe HTML for the
student's report) does the same TeX -> MathML step; once it lands, :func:`tex_to_mathml`
and :func:`math_spans` are its job and this module keeps only the nbconvert part.
"""
import copy
import html
import re
from pathlib import Path
from xml.etree import ElementTree

from jinja2 import DictLoader

# A formula, in the order nbconvert/MathJax read them: display math first.
MATH = re.compile(
    r"(?P<display>\$\$(?P<display_tex>.+?)\$\$)"
    r"|(?P<environment>\\begin\{(?P<name>[a-zA-Z*]+)\}.+?\\end\{(?P=name)\})"
    r"|(?P<inline>(?<![\\$])\$(?P<inline_tex>(?:(?!\n[ \t]*\n)[^$])+?)\$)",
    re.DOTALL,
)
# Markdown code, where a $ is only a character: fenced blocks and inline code spans.
CODE = re.compile(r"^(```|~~~).*?^\1[ \t]*$|`[^`\n]+`", re.DOTALL | re.MULTILINE)
# Operator names latex2mathml does not know, written as \operatorname{...}, which it does.
OPERATOR_NAMES = re.compile(r"\\(arg)(?![a-zA-Z])")
# The MathML elements latex2mathml writes; anything else (latex2mathml copies \text{...}
# verbatim, so "<script>" would become an element) sends the formula to the fallback.
MATHML_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mover munder "
    "munderover mtable mtr mtd mstyle mpadded mphantom menclose merror mfenced semantics "
    "annotation".split())
MATHML_ATTRIBUTES = frozenset(
    "xmlns display mathvariant accent accentunder stretchy fence separator lspace rspace "
    "width height depth linethickness columnalign rowalign columnspacing rowspacing "
    "columnlines rowlines frame notation form largeop movablelimits symmetric minsize "
    "maxsize open close separators scriptlevel displaystyle mathsize mathcolor "
    "mathbackground encoding".split())
# A report's template: nbconvert's lab page without any script that loads from the network.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style>
math[display="block"] { display: block math; margin: 0.6em 0; overflow-x: auto; }
code.tex-fallback { white-space: pre-wrap; }
</style>
{%- endblock extra_css -%}
"""


def is_safe_mathml(mathml):
    """True when ``mathml`` parses and holds only MathML elements and presentation
    attributes (no script, no event handler, no link)."""
    try:
        root = ElementTree.fromstring(mathml)
    except ElementTree.ParseError:
        return False
    for element in root.iter():
        if element.tag.rpartition("}")[2] not in MATHML_ELEMENTS:
            return False
        if any(name.rpartition("}")[2] not in MATHML_ATTRIBUTES for name in element.attrib):
            return False
    return True


def tex_to_mathml(tex, display=False):
    """MathML for the TeX formula ``tex`` (without its ``$`` delimiters).

    ``display``: a formula on its own line (``$$...$$``). A formula the converter
    rejects, or turns into MathML that still holds a TeX command or is not plain MathML
    (``is_safe_mathml``), comes back as its TeX source, escaped, in
    ``<code class="tex-fallback">``.
    """
    from latex2mathml.converter import convert  # imported when used, like nbconvert below

    try:
        mathml = convert(OPERATOR_NAMES.sub(r"\\operatorname{\1}", tex.strip()),
                         display="block" if display else "inline")
    except Exception:   # noqa: BLE001 - latex2mathml raises many kinds; any means "cannot"
        mathml = None
    if mathml is None or re.search(r">[^<]*\\[a-zA-Z]", mathml) or not is_safe_mathml(mathml):
        delimiter = "$$" if display else "$"
        return f'<code class="tex-fallback">{html.escape(delimiter + tex + delimiter)}</code>'
    return mathml


def math_spans(markdown):
    """``[(start, end, tex, display), ...]``: the formulas of a Markdown text, in order.

    ``tex`` has no ``$`` delimiters (an environment keeps its ``\\begin``/``\\end``);
    ``display`` is True for ``$$...$$`` and environments. Code is skipped.
    """
    code = [match.span() for match in CODE.finditer(markdown)]
    spans = []
    for match in MATH.finditer(markdown):
        if any(start <= match.start() < end for start, end in code):
            continue
        if match["display"]:
            spans.append((*match.span(), match["display_tex"], True))
        elif match["environment"]:
            spans.append((*match.span(), match["environment"], True))
        else:
            spans.append((*match.span(), match["inline_tex"], False))
    return spans


PLACEHOLDER = re.compile(r"KITMATHx(\d+)xKITMATH")
ATTRIBUTE = re.compile(r'="[^"<>]*"')


def _placeholder(number):
    """A token Markdown leaves as it is (letters and digits only): ``PLACEHOLDER``."""
    return f"KITMATHx{number}xKITMATH"


def replace_math(markdown, formulas):
    """``markdown`` with each formula replaced by a placeholder; the MathML (or fallback)
    of each is appended to ``formulas`` (a list, numbered across cells)."""
    pieces, last = [], 0
    for start, end, tex, display in math_spans(markdown):
        pieces += [markdown[last:start], _placeholder(len(formulas))]
        formulas.append(tex_to_mathml(tex, display))
        last = end
    return "".join(pieces) + markdown[last:]


def notebook_to_offline_html(notebook):
    """The HTML report of ``notebook`` (an nbformat node, not changed): math as MathML,
    no script, stylesheet or image loaded from the network, and each progress line
    (``helpers/progress.py``, redrawn with ``\\r``) in its final state only, as Jupyter
    shows it. Returns the page's text."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    notebook = copy.deepcopy(notebook)
    CoalesceStreamsPreprocessor().preprocess(notebook, {})
    formulas = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = replace_math(cell.source, formulas)
    exporter = HTMLExporter(template_name="lab", template_file="offline.html.j2",
                            extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})])
    body, _ = exporter.from_notebook_node(notebook)
    # A heading's anchor (id="...") holds its text: there a formula is left out.
    body = ATTRIBUTE.sub(lambda match: PLACEHOLDER.sub("", match[0]), body)
    return PLACEHOLDER.sub(lambda match: formulas[int(match[1])], body)


def write_offline_html(notebook_path, html_path):
    """Render the notebook at ``notebook_path`` to ``html_path`` with
    :func:`notebook_to_offline_html`."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    Path(html_path).write_text(notebook_to_offline_html(notebook), encoding="utf-8")
