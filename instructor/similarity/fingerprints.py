"""Documents and their comparison: winnowed fingerprints from copydetect, the release left out.

A *document* is one student's text of one part. Code goes through copydetect's filter
(pygments tokens; every name becomes ``V``, every string ``S``, comments and spaces go), so
renaming, re-commenting and re-spacing change nothing; its k-grams of filtered characters
are the fingerprints. A written answer becomes a string of *units*: each CJK character is
one unit (Chinese has no spaces to split words) and each word of another script is one unit
(a word is mapped to one private-use character), so that one ``k`` means about as much text
in both. The k-grams of the release's own text (stubs, docstrings, given code; the question's
prompt) are *boilerplate*: they are removed from every document, so that two untouched
releases share nothing.

copydetect 0.5.0 does the tokenizing, filtering, hashing and winnowing (``CodeFingerprint``),
the regions (``get_copied_slices``) and the marking (``highlight_overlap``). Two of its steps
are redone here, thinly: the boilerplate (its own removal, ``np.intersect1d`` with
``assume_unique=True`` on a list that may repeat a hash, also drops repeated k-grams of the
student's own code; and a k-gram straddling a stub's edge is not evidence) and the overlap
of a pair (``compare_files`` loops over the shared hashes in Python: several ms a pair).
"""
import io
import re
import zlib
from dataclasses import dataclass

import numpy as np
from copydetect import CodeFingerprint
from copydetect.utils import filter_code, get_copied_slices, get_token_coverage, hashed_kgrams

# k of the code: filtered characters in a row (a name counts one); copydetect's default. Every
# k-gram is kept (window 1: copydetect's default guarantee threshold equals the noise one).
CODE_K = 25
# k of the answers: units in a row (a CJK character or a word), every k-gram kept.
TEXT_K = 8
WINDOW = 1
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
UNIT = re.compile(rf"[{CJK}]|[^\W_{CJK}]+")
WORD_CHARS = 0xFFFE   # private-use characters of plane 15 that stand for words


@dataclass
class Document:
    """One student's text of one part, fingerprinted.

    ``text``: the raw text (shown on the pages); ``fingerprint``: a copydetect
    ``CodeFingerprint`` (or ``TextFingerprint``) with the boilerplate removed; ``spans``: for
    an answer, an int array (units, 2) of each unit's (start, end) in ``text``; None for code;
    ``given``: stripped lines of the release, never counted as matching lines.
    """

    text: str
    fingerprint: object
    spans: np.ndarray = None
    given: frozenset = frozenset()

    def __post_init__(self):
        """Arrays computed once per document, so that comparing a pair is a few numpy calls:
        every kept k-gram's hash and position (aligned), the sorted distinct hashes, where each
        line starts and which lines may count as matching (not blank, not the release's)."""
        index = self.fingerprint.hash_idx
        self.hash_values = np.array([v for v, at in index.items() for _ in at], dtype=np.int64)
        self.positions = np.array([i for at in index.values() for i in at], dtype=np.int64)
        self.distinct = np.unique(self.hash_values)
        lines = self.text.split("\n")
        self.line_starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]])
        self.countable = np.array([bool(line.strip()) and line.strip() not in self.given
                                   for line in lines])


@dataclass
class Match:
    """How two documents overlap: ``similarity`` in [0, 1] (the share of both documents' own
    text, release text left out, that is found in the other one: ``(matched_a + matched_b) /
    (own_a + own_b)`` in tokens, as Dolos computes it; symmetric), ``matched_lines`` (the
    larger of the two numbers of lines touched by a match, the release's lines left out) and
    ``slices`` (two int arrays (2, regions) of the matching regions' (start, end) in each raw
    text)."""

    similarity: float
    matched_lines: int
    slices: tuple


NO_MATCH = Match(0.0, 0, (np.zeros((2, 0), int), np.zeros((2, 0), int)))


def drop_boilerplate(fingerprint, boilerplate):
    """Remove from ``fingerprint`` every k-gram that is mostly release text: one whose
    characters are, for more than half of them, inside an occurrence in this document of a
    k-gram of ``boilerplate`` (a sorted int array of hashes). A release k-gram is wholly
    inside itself, so it goes; so does one that merely straddles the edge of a stub (the last
    tokens of a student's code and the given line after it), which is no evidence of copying.
    Then recount the tokens its remaining k-grams cover (the denominator of its similarity)."""
    k, text = fingerprint.k, fingerprint.filtered_code
    if len(text) < k:   # no k-gram at all
        return fingerprint
    starts = np.isin(hashed_kgrams(text, k), boilerplate).astype(int)
    given = np.convolve(starts, np.ones(k, dtype=int))[:len(text)] > 0
    given_in_window = np.convolve(given.astype(int), np.ones(k, dtype=int))[k - 1:]
    for value in list(fingerprint.hashes):
        kept = [i for i in fingerprint.hash_idx[value] if given_in_window[i] <= k // 2]
        if kept:
            fingerprint.hash_idx[value] = kept
        else:
            del fingerprint.hash_idx[value]
            fingerprint.hashes.discard(value)
    fingerprint.token_coverage = get_token_coverage(fingerprint.hash_idx, k, len(text))
    return fingerprint


# --------------------------------------------------------------------- code ---

def code_boilerplate(release_text, filename):
    """Every k-gram hash of the filtered release file (a sorted int array)."""
    filtered, _ = filter_code(release_text, filename)
    return np.unique(hashed_kgrams(filtered, CODE_K).astype(np.int64))


def code_document(text, filename, boilerplate, given=frozenset()):
    """The ``Document`` of one Python file (``filename`` picks the lexer and is shown;
    ``given``: the release file's stripped lines)."""
    fingerprint = CodeFingerprint(filename, CODE_K, WINDOW, fp=io.StringIO(text))
    return Document(text, drop_boilerplate(fingerprint, boilerplate), given=given)


# -------------------------------------------------------------------- texts ---

class TextFingerprint:
    """A copydetect-style fingerprint of a written answer: the same attributes as
    ``CodeFingerprint`` (``filtered_code`` is the string of units; no offsets: a match is
    mapped back to the text through the units' spans)."""

    def __init__(self, units):
        self.filtered_code = units
        self.offsets = np.array([])
        self.k = TEXT_K
        hashes = hashed_kgrams(units, TEXT_K).tolist()
        self.hash_idx = {}
        for index, value in enumerate(hashes):
            self.hash_idx.setdefault(value, []).append(index)
        self.hashes = set(self.hash_idx)
        self.token_coverage = get_token_coverage(self.hash_idx, TEXT_K, len(units))


def text_units(text):
    """``(units, spans)``: one character per unit of ``text`` (CJK characters as they are,
    casefolded words as a private-use character each) and an int array (units, 2) of their
    (start, end) in ``text``."""
    units, spans = [], []
    for match in UNIT.finditer(text):
        unit = match.group().casefold()
        units.append(unit if len(unit) == 1 and re.match(f"[{CJK}]", unit)
                     else chr(0xF0000 + zlib.crc32(unit.encode()) % WORD_CHARS))
        spans.append(match.span())
    return "".join(units), np.array(spans, dtype=int).reshape(-1, 2)


def text_boilerplate(*texts):
    """Every k-gram hash of the units of ``texts`` (a sorted int array)."""
    return np.unique(np.concatenate([hashed_kgrams(text_units(text)[0], TEXT_K).astype(np.int64)
                                     for text in texts]))


def text_document(text, boilerplate):
    """The ``Document`` of one written answer."""
    units, spans = text_units(text)
    return Document(text, drop_boilerplate(TextFingerprint(units), boilerplate), spans)


# ---------------------------------------------------------------- comparing ---

def touched_lines(document, slices):
    """How many lines of the document's text a region of ``slices`` (2, regions) touches,
    blank lines and lines of the release (``document.given``) left out."""
    if slices.shape[1] == 0:
        return 0
    starts = document.line_starts
    first = np.searchsorted(starts, slices[0], side="right") - 1
    last = np.searchsorted(starts, np.maximum(slices[1] - 1, slices[0]), side="right") - 1
    change = np.zeros(len(starts) + 1, dtype=int)
    np.add.at(change, first, 1)
    np.add.at(change, last + 1, -1)
    return int(((np.cumsum(change)[:-1] > 0) & document.countable).sum())


def found_in(a, b):
    """copydetect's slices (2, regions) of the k-grams of ``a`` that ``b`` holds too, in
    positions of a's filtered text. The same as ``copydetect.compare_files`` computes, with
    one binary search in b's sorted hashes instead of its loop over the shared hashes."""
    if len(b.distinct) == 0:
        return np.zeros((2, 0), int)
    at = np.minimum(np.searchsorted(b.distinct, a.hash_values), len(b.distinct) - 1)
    held = b.distinct[at] == a.hash_values
    return get_copied_slices(a.positions[held], a.fingerprint.k).astype(int).reshape(2, -1)


def raw_slices(document, slices):
    """``slices`` of the filtered text as positions in the document's raw text (code: through
    copydetect's offsets, as ``compare_files`` maps them; answers: through the units' spans)."""
    if slices.shape[1] == 0:
        return slices
    if document.spans is not None:
        return np.array([document.spans[slices[0], 0], document.spans[slices[1] - 1, 1]])
    offsets = document.fingerprint.offsets
    if len(offsets) == 0:
        return slices
    at = np.clip(np.searchsorted(offsets[:, 0], slices), 0, offsets.shape[0] - 1)
    return slices + offsets[:, 1][at]


def compare(a, b):
    """The ``Match`` of two ``Document``s of the same part (symmetric)."""
    own = a.fingerprint.token_coverage + b.fingerprint.token_coverage
    if own == 0:
        return NO_MATCH
    found = (found_in(a, b), found_in(b, a))
    if found[0].shape[1] == 0:
        return NO_MATCH
    matched = sum(int((f[1] - f[0]).sum()) for f in found)
    slices = (raw_slices(a, found[0]), raw_slices(b, found[1]))
    lines = max(touched_lines(a, slices[0]), touched_lines(b, slices[1]))
    return Match(min(1.0, matched / own), lines, slices)
