"""One source, two languages: the translations of the student release (issue 25).

    python -m instructor.i18n update zh-CN   # bring the catalogs in step with the English
    python -m instructor.i18n check zh-CN    # what is missing, stale or inconsistent
    python -m instructor.release OUT --lang zh-CN

The English text stays the source. Each translation is a gettext catalog (``.po``, read and
written with Babel) in ``i18n/<locale>/``, keyed by what it translates and holding the English
it was made from:

- ``notebooks/<notebook>.po``: one entry per Markdown cell, keyed by the cell's id (``msgctxt``),
  its ``msgid`` the cell's text as the English release shows it;
- ``STUDENT_README.po``: one entry per section of ``STUDENT_README.md``, keyed by its heading;
- ``kit.po``: every message a student's code prints through ``helpers.i18n._``;
- ``glossary.csv``: the terms (English, translation, note) the README's glossary lists.

An entry whose English changed since it was translated no longer matches: ``update`` marks it
fuzzy (keeping the English it was translated from in its comments), ``check`` reports it with
the cell and both texts, and the release refuses to build until it is translated again
(docs/translations.md).
"""
from .catalogs import LANGUAGES, TranslationError, catalog_dir, locale_code

__all__ = ["LANGUAGES", "TranslationError", "catalog_dir", "locale_code"]
