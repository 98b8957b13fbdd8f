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

copydetect 0.5.0 is used as it is (``CodeFingerprint``, ``compare_files``,
``highlight_overlap``) except for the boilerplate: its own removal (``np.intersect1d`` with
``assume_unique=True`` on a list that may repeat a hash) also drops repeated k-grams of the
student's own code, so every k-gram of the release is removed here, after fingerprinting.
"""
import io
import re
import zlib
from dataclasses import dataclass

import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import filter_code, get_token_coverage, hashed_kgrams

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
    characters are, for more than half of them, inside an occurrence of a k-gram of
    ``boilerplate`` (a set of hashes) in this document. A k-gram that merely straddles the
    edge of a stub (the last tokens of a student's code and the given line after it) is not
    evidence of copying. Then recount the tokens its remaining k-grams cover (the denominator
    of its similarity)."""
    k, text = fingerprint.k, fingerprint.filtered_code
    given = np.zeros(len(text) + k, dtype=bool)
    for start, value in enumerate(hashed_kgrams(text, k).tolist()):
        if value in boilerplate:
            given[start:start + k] = True
    given_in_window = np.convolve(given.astype(int), np.ones(k, dtype=int))[k - 1:]
    for value in list(fingerprint.hashes):
        kept = [i for i in fingerprint.hash_idx[value] if given_in_window[i] < k - k // 2]
        if kept:
            fingerprint.hash_idx[value] = kept
        else:
            del fingerprint.hash_idx[value]
            fingerprint.hashes.discard(value)
    fingerprint.token_coverage = get_token_coverage(fingerprint.hash_idx, k, len(text))
    return fingerprint


# --------------------------------------------------------------------- code ---

def code_boilerplate(release_text, filename):
    """Every k-gram hash of the filtered release file (a set of ints)."""
    filtered, _ = filter_code(release_text, filename)
    return set(hashed_kgrams(filtered, CODE_K).tolist())


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
    """Every k-gram hash of the units of ``texts`` (a set of ints)."""
    hashes = set()
    for text in texts:
        hashes.update(hashed_kgrams(text_units(text)[0], TEXT_K).tolist())
    return hashes


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
    lines = document.text.split("\n")
    starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]])
    first = np.searchsorted(starts, slices[0], side="right") - 1
    last = np.searchsorted(starts, np.maximum(slices[1] - 1, slices[0]), side="right") - 1
    touched = np.zeros(len(starts), dtype=bool)
    for begin, end in zip(first, last):
        touched[begin:end + 1] = True
    return sum(1 for index in np.flatnonzero(touched)
               if lines[index].strip() and lines[index].strip() not in document.given)


def raw_slices(document, slices):
    """``slices`` as positions in the document's raw text (answers: from unit positions)."""
    slices = np.asarray(slices, dtype=int).reshape(2, -1)
    if document.spans is None or slices.shape[1] == 0:
        return slices
    return np.array([document.spans[slices[0], 0], document.spans[slices[1] - 1, 1]])


def compare(a, b):
    """The ``Match`` of two ``Document``s of the same part (symmetric)."""
    if a.fingerprint.hashes.isdisjoint(b.fingerprint.hashes):
        return NO_MATCH
    _, (share_a, share_b), (slices_a, slices_b) = compare_files(a.fingerprint, b.fingerprint)
    own_a, own_b = a.fingerprint.token_coverage, b.fingerprint.token_coverage
    similarity = (share_a * own_a + share_b * own_b) / (own_a + own_b)
    slices = (raw_slices(a, slices_a), raw_slices(b, slices_b))
    lines = max(touched_lines(a, slices[0]), touched_lines(b, slices[1]))
    return Match(float(min(1.0, similarity)), lines, slices)
