"""Every pair of students, part by part, ranked (instructor only)."""
from dataclasses import dataclass

from instructor.similarity.fingerprints import compare

# Pairs at or above this similarity are listed in index.html. Measured on the kit test's
# submissions (docs/similarity.md): a renamed, re-commented, reordered copy scores 0.96 to
# 1.00 on every file, one function copied into the release 0.49, lightly edited answers 0.82
# to 0.99; an independent honest pair and two untouched releases 0.00.
DEFAULT_THRESHOLD = 0.4


@dataclass
class Pair:
    """One pair of students on one part; ``student_a`` < ``student_b``. ``match`` is the
    ``fingerprints.Match`` when the pair is flagged (its regions make the page), else None."""

    student_a: str
    student_b: str
    part: str
    kind: str                   # "code" or "answer"
    similarity: float
    matched_lines: int
    match: object = None


def compare_course(course, threshold=DEFAULT_THRESHOLD):
    """Every pair of students holding the same part, highest similarity first (then most
    matched lines, then part and ids), as a list of ``Pair``."""
    pairs = []
    for part, documents in sorted(course.documents.items()):
        students = sorted(documents)
        for i, student_a in enumerate(students):
            for student_b in students[i + 1:]:
                match = compare(documents[student_a], documents[student_b])
                pairs.append(Pair(student_a, student_b, part, course.kinds[part],
                                  round(match.similarity, 4), match.matched_lines,
                                  match if match.similarity >= threshold else None))
    pairs.sort(key=lambda p: (-p.similarity, -p.matched_lines, p.part, p.student_a,
                              p.student_b))
    return pairs
