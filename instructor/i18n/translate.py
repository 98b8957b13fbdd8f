"""Make a language's release from the English one: the release's steps for ``--lang``.

Each function takes what the English release wrote and returns it in the language; each
refuses (``TranslationError``) where the language's catalogs are not complete and in step
(``check.problems``), so a release never mixes stale text into a language.
"""
import csv
import io
import json

from babel.messages.mofile import write_mo

from helpers.i18n import DOMAIN
from helpers.questions import (
    ANSWER_PLACEHOLDER,
    ANSWER_PLACEHOLDERS,
    SOLUTION_MARKER,
    cell_text,
    set_cell_text,
)

from . import catalogs, check
from .catalogs import TranslationError

GLOSSARY_FILE = "glossary.csv"
GLOSSARY_HEADING = {"zh_CN": ("## 术语表 (Glossary)", "本作业所用术语的中英对照：", "英文", "中文",
                              "说明")}
MAX_LISTED = 12


def require_complete(lang, source):
    """The loaded catalogs of ``lang``; raises TranslationError listing what is missing."""
    loaded = catalogs.load(lang, source)
    found = check.problems(lang, source, loaded)
    if found:
        listed = "\n".join(found[:MAX_LISTED])
        more = f"\n... and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
        raise TranslationError(
            f"the {lang} translation is not complete ({len(found)} problem(s)); see "
            f"docs/translations.md, then run `python -m instructor.i18n check {lang}`:\n"
            f"{listed}{more}")
    return loaded


def _lookup(catalog, text, context):
    message = catalog.get(text, context=context)
    return message.string


def notebook(json_text, catalog, code):
    """A notebook (JSON text) with every Markdown cell in the language: an English release
    notebook, or a source notebook for the main job (``run_notebooks --lang``). An answer
    cell's placeholder becomes the language's; a cell with a solution region (the source's
    reference answer, instructors' text, never released) stays as it is."""
    document = json.loads(json_text)
    for cell in document["cells"]:
        text = cell_text(cell)
        if cell.get("cell_type") != "markdown" or not text.strip() or SOLUTION_MARKER.search(text):
            continue
        if text == ANSWER_PLACEHOLDER:
            set_cell_text(cell, ANSWER_PLACEHOLDERS[code])
        else:
            set_cell_text(cell, _lookup(catalog, text, cell["id"]))
    document.setdefault("metadata", {})["language"] = code.replace("_", "-")
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def glossary(folder, code):
    """The glossary section (Markdown) from ``folder/glossary.csv``."""
    path = folder / GLOSSARY_FILE
    if not path.is_file():
        raise TranslationError(f"{path} is missing: the {code} README needs its glossary")
    heading, intro, english, translated, note = GLOSSARY_HEADING[code]
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    lines = [heading, "", intro, "", f"| {english} | {translated} | {note} |", "|---|---|---|"]
    lines += [f"| {row['english']} | {row['chinese']} | {row.get('note') or ''} |"
              for row in rows]
    return "\n".join(lines) + "\n\n"


def readme(text, catalog, folder, code):
    """The student README in the language, its glossary after the first section."""
    sections = [_lookup(catalog, section, key) for key, section in catalogs.readme_sections(text)]
    if not sections[0].endswith("\n\n"):
        sections[0] = sections[0].rstrip("\n") + "\n\n"
    return "".join([sections[0], glossary(folder, code), *sections[1:]])


def messages(catalog, target_root, code):
    """Write the compiled messages (``helpers/locale/<code>/LC_MESSAGES/kit.mo``) and
    ``helpers/locale/LANGUAGE`` into the release at ``target_root``; returns their paths."""
    locale = target_root / "helpers" / "locale"
    compiled = locale / code / "LC_MESSAGES" / f"{DOMAIN}.mo"
    compiled.parent.mkdir(parents=True, exist_ok=True)
    with open(compiled, "wb") as handle:
        write_mo(handle, catalog)
    (locale / "LANGUAGE").write_text(code + "\n", encoding="utf-8")
    return [compiled, locale / "LANGUAGE"]


def source_notebooks(lang, source, names, folder):
    """Write the translated source notebooks ``names`` (without .ipynb) into ``folder``."""
    loaded = require_complete(lang, source)
    code = catalogs.locale_code(lang)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        text = (source / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8")
        (folder / f"{name}.ipynb").write_text(
            notebook(text, loaded[f"notebooks/{name}.po"], code), encoding="utf-8")
    return folder
