"""What keeps a language in step with the English: every entry translated, none stale, and
each translation carrying the same math, code, numbers, links and placeholders as its English.
"""
import difflib
import re
from collections import Counter

from helpers.utils import KIT_ROOT

from . import catalogs

FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.S | re.M)
DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$[^$\n]+?\$")
INLINE_CODE = re.compile(r"`[^`\n]+`")
LINK_TARGET = re.compile(r"\]\(([^)\s]+)[^)]*\)")
URL = re.compile(r"(?<!\()https?://[^\s)>\]]+")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
PLACEHOLDER = re.compile(r"(?<!\{)\{[A-Za-z_][\w.]*(?:![rsa])?(?::[^{}]*)?\}")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)?%?")


def tokens(text):
    """What a translation must carry over unchanged: ``{kind: Counter}`` of the fenced code
    blocks, math (``$…$``, ``$$…$$``), inline code, link targets, URLs, HTML comments,
    ``{placeholders}`` and the numbers of the remaining prose."""
    found = {}
    for kind, pattern in (("code block", FENCED), ("math", DISPLAY_MATH),
                          ("math", INLINE_MATH), ("inline code", INLINE_CODE),
                          ("HTML comment", HTML_COMMENT)):
        found.setdefault(kind, Counter()).update(m.group(0).strip() for m in
                                                 pattern.finditer(text))
        text = pattern.sub(" ", text)
    found["link"] = Counter(LINK_TARGET.findall(text)) + Counter(URL.findall(text))
    found["placeholder"] = Counter(PLACEHOLDER.findall(text))
    found["number"] = Counter(NUMBER.findall(LINK_TARGET.sub(" ", URL.sub(" ", text))))
    return found


def differences(english, translation):
    """``["math: missing $x$; extra $y$", ...]`` where the two texts do not carry the same."""
    mine, theirs = tokens(english), tokens(translation)
    found = []
    for kind in mine:
        missing, extra = mine[kind] - theirs[kind], theirs[kind] - mine[kind]
        if missing or extra:
            parts = [f"missing {', '.join(sorted(missing))}" if missing else "",
                     f"extra {', '.join(sorted(extra))}" if extra else ""]
            found.append(f"{kind}: " + "; ".join(p for p in parts if p))
    return found


def _strings(message):
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _ids(message):
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _key(message):
    return message.context or _ids(message)[0]


def problems(lang, source=KIT_ROOT, loaded=None):
    """Every reason ``lang``'s release cannot be built, one readable paragraph each."""
    found = []
    loaded = catalogs.load(lang, source) if loaded is None else loaded
    for relpath, template in catalogs.templates(source).items():
        catalog = loaded[relpath]
        by_context = {m.context: m for m in catalog if m.id and m.context and not m.fuzzy}
        for wanted in (m for m in template if m.id):
            where = f"{relpath} [{_key(wanted)[:60]}]"
            have = catalog.get(wanted.id, context=wanted.context)
            if have is None or have.fuzzy:
                old = have if have is not None else by_context.get(wanted.context)
                if old is not None and _strings(old)[0]:
                    found.append(
                        f"{where}: stale: the English changed since it was translated.\n"
                        f"  English it was translated from:\n"
                        f"{_indent(catalogs.translated_from(old))}\n"
                        f"  English now:\n{_indent(_ids_text(wanted.id))}\n"
                        f"  what changed:\n{_changes(catalogs.translated_from(old), wanted.id)}\n"
                        f"  translation:\n{_indent(_strings(old)[0])}")
                else:
                    found.append(f"{where}: not translated")
                continue
            if not all(_strings(have)):
                found.append(f"{where}: not translated")
                continue
            for english, translated in zip(_ids(wanted) * 2, _strings(have)):
                for difference in differences(english, translated):
                    found.append(f"{where}: the translation does not carry the same "
                                 f"{difference}")
    return found


def _ids_text(ids):
    return ids if isinstance(ids, str) else "\n".join(ids)


def _changes(before, after):
    """The lines that differ, ``-`` before and ``+`` now."""
    after = _ids_text(after)
    return "\n".join("    " + line for line in difflib.ndiff(before.splitlines(),
                                                                after.splitlines())
                     if line[:1] in "+-")


def _indent(text):
    return "\n".join("    | " + line for line in text.splitlines())
