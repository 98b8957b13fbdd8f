"""The translation catalogs: what the English source offers to translate (templates), and
reading, updating and writing the ``.po`` files of a language with Babel."""
import io
import json
import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from helpers import submission
from helpers.questions import SOLUTION_MARKER, cell_text
from helpers.utils import KIT_ROOT

# The languages of a release: the code users type -> the gettext locale (None: the source's).
LANGUAGES = {"en": None, "zh-CN": "zh_CN"}
I18N_FOLDER = "i18n"
README = "STUDENT_README.md"
MESSAGE_DOMAIN = "kit"
# The files whose ``_("...")`` messages a student sees (helpers.i18n).
MESSAGE_SOURCES = ("collect_submission.py", "helpers/*.py", "helpers/studies/*.py",
                   "tests/conftest.py", "tests/assignment/*.py")
PO_WIDTH = 100


class TranslationError(Exception):
    """A language is unknown, or its catalogs are missing, stale or inconsistent."""


def locale_code(lang):
    """``zh_CN`` for ``zh-CN`` (either spelling); None for English; else TranslationError."""
    for name, code in LANGUAGES.items():
        if lang in (name, code):
            return code
    raise TranslationError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")


def catalog_dir(lang, source=KIT_ROOT):
    """The folder of ``lang``'s catalogs in ``source``."""
    return Path(source) / I18N_FOLDER / locale_code(lang)


# ------------------------------------------------------------ the English ---

def released_markdown_cells(source, name):
    """``[(cell id, text)]`` of the Markdown cells of ``notebooks/<name>`` that the English
    release shows as they are: not the answer cells (a solution region, which the release
    replaces by the placeholder each language has once, ``helpers.questions``)."""
    notebook = json.loads((Path(source) / "notebooks" / name).read_text(encoding="utf-8"))
    return [(cell["id"], cell_text(cell)) for cell in notebook["cells"]
            if cell.get("cell_type") == "markdown" and cell_text(cell).strip()
            and not SOLUTION_MARKER.search(cell_text(cell))]


HEADING = re.compile(r"^(#{1,3}) \S")
FENCE = re.compile(r"^\s*(```|~~~)")


def readme_sections(text):
    """``[(key, text)]``: the README cut before each heading of level 1 to 3 outside code
    blocks; the key is the heading line. The sections joined give ``text`` back."""
    sections, current, key, fenced = [], [], None, False
    for line in text.splitlines(keepends=True):
        if FENCE.match(line):
            fenced = not fenced
        if not fenced and HEADING.match(line) and current:
            sections.append((key, "".join(current)))
            current = []
        if not current:
            key = line.strip()
        current.append(line)
    if current:
        sections.append((key, "".join(current)))
    return sections


def _template(entries, project):
    template = Catalog(project=project, fuzzy=False)
    for context, text in entries:
        template.add(text, context=context)
    return template


def message_template(source):
    """The template of every ``_()`` / ``ngettext()`` message in the student's files."""
    template = Catalog(project="kit messages", fuzzy=False)
    for pattern in MESSAGE_SOURCES:
        for path in sorted(Path(source).glob(pattern)):
            relpath = path.relative_to(source).as_posix()
            for line, message, comments, _context in extract_from_file(
                    "python", path, keywords={"_": None, "N_": None, "ngettext": (1, 2)},
                    comment_tags=("Translators:",)):
                flags = ("python-brace-format",) if "{" in "".join(
                    message if isinstance(message, tuple) else (message,)) else ()
                template.add(message, locations=[(relpath, line)], auto_comments=comments,
                             flags=flags)
    return template


def templates(source=KIT_ROOT):
    """``{catalog path relative to the language folder: template}`` for the whole release."""
    source = Path(source)
    found = {f"notebooks/{Path(name).stem}.po":
             _template(released_markdown_cells(source, name), f"notebooks/{name}")
             for name in submission.NOTEBOOKS}
    found["STUDENT_README.po"] = _template(
        readme_sections((source / README).read_text(encoding="utf-8")), README)
    found[f"{MESSAGE_DOMAIN}.po"] = message_template(source)
    return found


# ------------------------------------------------------------- catalogs ---

def read(path, code):
    """The catalog at ``path`` (an empty one of locale ``code`` where there is none)."""
    if not Path(path).is_file():
        return Catalog(locale=code, fuzzy=False)
    with open(path, "rb") as handle:
        return read_po(handle, locale=code)


def write(path, catalog):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=PO_WIDTH, sort_output=False, omit_header=False)
    path.write_bytes(buffer.getvalue())


def load(lang, source=KIT_ROOT):
    """``{relative path: catalog}`` of ``lang`` (empty catalogs where a file is missing)."""
    code, folder = locale_code(lang), catalog_dir(lang, source)
    return {relpath: read(folder / relpath, code) for relpath in templates(source)}


def update(lang, source=KIT_ROOT):
    """Bring ``lang``'s catalogs in step with the English source: new entries are added
    untranslated, changed ones are marked fuzzy with the English they were made from, removed
    ones are dropped. Returns ``{relative path: (entries, untranslated or fuzzy)}``."""
    code, folder = locale_code(lang), catalog_dir(lang, source)
    if code is None:
        raise TranslationError("English is the source: it has no catalogs to update")
    counts = {}
    for relpath, template in templates(source).items():
        catalog = read(folder / relpath, code)
        before = {m.context: m for m in catalog if m.id and m.context}
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False,
                       update_creation_date=False)
        for message in catalog:
            old = before.get(message.context) if message.id and message.context else None
            if old is not None and old.id != message.id and old.string and not message.string:
                keep_as_stale(message, old)
                catalog.obsolete.pop((old.id, old.context), None)
        catalog.obsolete.clear()   # an entry whose English is gone (git keeps its history)
        catalog.project = template.project
        write(folder / relpath, catalog)
        entries = [m for m in catalog if m.id]
        counts[relpath] = (len(entries),
                           sum(1 for m in entries if m.fuzzy or not _translated(m)))
    return counts


# A stale entry keeps the English it was translated from in its translator comments (Babel
# neither writes nor reads ``#| msgid`` faithfully for long texts), below this line.
TRANSLATED_FROM = "English it was translated from:"


def keep_as_stale(message, old):
    """``message`` (new English, no translation yet) takes ``old``'s translation, marked fuzzy,
    with the English that translation was made from."""
    message.string = old.string
    message.flags.add("fuzzy")
    message.user_comments = [TRANSLATED_FROM] + [
        "| " + line for line in translated_from(old).splitlines()]


def translated_from(message):
    """The English ``message``'s translation was made from: its own ``msgid``, or for a stale
    (fuzzy) entry the English kept in its comments."""
    comments = list(message.user_comments)
    if TRANSLATED_FROM in comments:
        return "\n".join(line[2:] for line in comments[comments.index(TRANSLATED_FROM) + 1:])
    return message.id if isinstance(message.id, str) else message.id[0]


def _translated(message):
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)
