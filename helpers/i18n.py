"""The language of what the kit tells a student, through the standard gettext machinery.

    from helpers.i18n import _
    print(_("{count} of {total} functions pass").format(count=3, total=44))

The English release ships no catalog: ``_`` returns the English text it is given. The Chinese
release (``python -m instructor.release OUT --lang zh-CN``) ships the compiled catalog
``helpers/locale/zh_CN/LC_MESSAGES/kit.mo`` and ``helpers/locale/LANGUAGE`` naming it, so every
message passed through ``_`` is printed in Chinese. ``KIT_LANG=en`` (or ``zh-CN``) chooses the
language for one run, e.g. to read a message in English.

Only what is *shown* is translated: verdicts such as ``PASS`` stay English values in the code
(the grader reads them); they are translated where they are printed.
"""
import functools
import gettext
import os
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "kit"
ENGLISH = "en"


def language():
    """The language code (``en``, ``zh_CN``): ``KIT_LANG``, else the release's own."""
    chosen = os.environ.get("KIT_LANG", "").strip()
    if not chosen:
        try:
            chosen = (LOCALE_DIR / "LANGUAGE").read_text(encoding="utf-8").strip()
        except OSError:
            chosen = ENGLISH
    return chosen.replace("-", "_") or ENGLISH


@functools.lru_cache(maxsize=4)
def _catalog(code):
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)


def _(message):
    """``message`` in the student's language (the English ``message`` where no translation)."""
    return _catalog(language()).gettext(message)


def N_(message):
    """Mark ``message`` for the catalog without translating it here (gettext's ``gettext_noop``):
    for English constants that the code keeps and ``_`` translates where they are shown."""
    return message


def ngettext(singular, plural, count):
    """``singular`` or ``plural`` for ``count``, in the student's language."""
    return _catalog(language()).ngettext(singular, plural, count)
