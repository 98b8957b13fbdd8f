"""Untrusted Markdown with TeX math -> safe, self-contained HTML.

One converter for every page the kit writes (the student's ``report.html``, the staff's
written-answer pages, the notebooks' reports): Markdown is rendered by mistune with raw HTML
escaped (never passed through), links keep only safe schemes, images become their alt text
(nothing is fetched from the network), and ``$...$`` / ``$$...$$`` become MathML with
latex2mathml when the page is built, so formulas render in any browser with no network and no
script. A formula the converter cannot handle shows as its TeX source in a ``<code>``.

    >>> markdown_to_html("Loss $L = -\\\\log p$ <script>x</script>")   # doctest: +SKIP
    '<p>Loss <math ...>...</math> &lt;script&gt;x&lt;/script&gt;</p>\\n'
"""
import html
import re
from html.parser import HTMLParser
from urllib.parse import unquote

import mistune
from latex2mathml.converter import convert as tex_to_mathml

from helpers.i18n import _

# Links may point only here; anything else (javascript:, data:, file:, vbscript:) is dropped.
SAFE_SCHEMES = ("http:", "https:", "mailto:")
# What latex2mathml may emit for a formula to be shown as MathML (otherwise: the TeX source).
MATHML_TAGS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup",
    "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
    "mstyle", "mpadded", "mphantom", "menclose", "semantics", "annotation", "mfenced",
})
MATHML_ATTRIBUTES = frozenset({
    "xmlns", "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
    "form", "accent", "accentunder", "movablelimits", "largeop", "symmetric", "minsize",
    "maxsize", "linethickness", "columnalign", "rowalign", "columnspacing", "rowspacing",
    "columnlines", "rowlines", "frame", "displaystyle", "scriptlevel", "width", "height",
    "depth", "notation", "open", "close", "separators", "encoding", "class", "mathsize",
    "mathcolor", "mathbackground", "voffset", "align", "equalrows", "equalcolumns",
    "rowspan", "columnspan",
})
# A TeX command left in the MathML's text: latex2mathml did not know it.
UNKNOWN_COMMAND = re.compile(r"\\[A-Za-z]+")
# Standard TeX that latex2mathml lacks, rewritten before the conversion.
TEX_REWRITES = ((re.compile(r"\\arg(?![A-Za-z])"), r"\\operatorname{arg}"),)
# The CSS that the HTML of this module needs (math fallback, long words, code blocks).
STYLE = """
.md-math-fallback { color: #8a3b00; }
.md-body { overflow-wrap: anywhere; }
.md-body pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.md-image-alt { font-style: italic; }
math[display="block"] { margin: 0.6em 0; overflow-x: auto; }
"""


class _MathMLRebuild(HTMLParser):
    """Rebuild MathML from its parse: tags of ``MATHML_TAGS`` with attributes of
    ``MATHML_ATTRIBUTES`` only (no links, no event handlers), every text escaped again.
    Anything else clears ``ok``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ok = True
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if tag not in MATHML_TAGS or any(name not in MATHML_ATTRIBUTES for name, _ in attrs):
            self.ok = False
            return
        shown = "".join(f' {name}="{html.escape(value or "", quote=True)}"'
                        for name, value in attrs)
        self.parts.append(f"<{tag}{shown}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag not in MATHML_TAGS:
            self.ok = False
        self.parts.append(f"</{tag}>")

    def handle_data(self, data):
        data = data.replace("\\_", "_")   # latex2mathml keeps \_ (an underscore) as it is
        if UNKNOWN_COMMAND.search(data):
            self.ok = False              # a command latex2mathml did not know, left as text
        self.parts.append(html.escape(data, quote=False))

    def unknown(self, *_):
        self.ok = False

    handle_comment = handle_decl = handle_pi = unknown_decl = unknown


def safe_mathml(mathml):
    """``mathml`` (str) rebuilt from plain MathML markup only, or None when it holds anything
    else (latex2mathml passes ``\\text{<script>}`` and ``\\href`` through)."""
    rebuild = _MathMLRebuild()
    try:
        rebuild.feed(mathml)
        rebuild.close()
    except Exception:  # a parser error means the markup is not what we expect
        return None
    return "".join(rebuild.parts) if rebuild.ok else None


def tex_to_html(tex, display=False):
    """One formula (TeX source without its ``$``) as MathML, or as ``<code>`` TeX on failure.

    ``display`` True gives a block formula (``$$...$$``), False an inline one. Returns str.
    """
    source = tex
    for pattern, replacement in TEX_REWRITES:
        source = pattern.sub(replacement, source)
    try:
        mathml = tex_to_mathml(source, display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds of errors on TeX it does not know
        mathml = None
    safe = safe_mathml(mathml) if mathml else None
    if safe:
        return safe
    delimiter = "$$" if display else "$"
    code = f'<code class="md-math-fallback">{html.escape(delimiter + tex + delimiter)}</code>'
    return f"<p>{code}</p>\n" if display else code


class SafeRenderer(mistune.HTMLRenderer):
    """mistune's HTML renderer with raw HTML escaped, safe links, images as text and math
    as MathML."""

    def __init__(self):
        super().__init__(escape=True)

    def safe_url(self, url):
        """``url`` escaped if it is relative, a fragment or uses a ``SAFE_SCHEMES`` scheme;
        otherwise ``#unsafe-link``."""
        plain = re.sub(r"[\x00-\x20\x7f]+", "", unquote(html.unescape(url))).lower()
        scheme = re.match(r"^[a-z][a-z0-9+.-]*:", plain)
        if scheme and scheme.group(0) not in SAFE_SCHEMES:
            return "#unsafe-link"
        return html.escape(url, quote=True)

    def link(self, text, url, title=None):
        attributes = f' href="{self.safe_url(url)}" rel="noopener noreferrer nofollow"'
        if title:
            attributes += f' title="{html.escape(title, quote=True)}"'
        return f"<a{attributes}>{text}</a>"

    def image(self, text, url, title=None):
        """An image is shown as its alt text: a page of the kit loads nothing."""
        return f'<span class="md-image-alt">[image: {text}]</span>'

    def inline_math(self, text):
        return tex_to_html(text, display=False)

    def block_math(self, text):
        return tex_to_html(text, display=True)


_MARKDOWN = mistune.create_markdown(
    renderer=SafeRenderer(),
    plugins=["math", "strikethrough", "table"],
)


def markdown_to_html(text, max_chars=None):
    """Render untrusted Markdown ``text`` (str) to safe HTML (str).

    Raw HTML in ``text`` shows as text. ``max_chars`` (int or None) cuts a longer text and
    says how much was left out, so a huge paste cannot make a page unusable.
    """
    text = str(text)
    note = ""
    if max_chars is not None and len(text) > max_chars:
        note = ('\n<p class="md-cut"><em>'
                + html.escape(_("[{count:,} more characters not shown]").format(
                    count=len(text) - max_chars)) + "</em></p>\n")
        text = text[:max_chars]
    return _MARKDOWN(text) + note


def markdown_block(text, max_chars=None):
    """``markdown_to_html(text)`` inside ``<div class="md-body">`` (for ``STYLE``)."""
    return f'<div class="md-body">\n{markdown_to_html(text, max_chars)}</div>\n'
