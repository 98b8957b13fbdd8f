"""``pairs.csv`` and the HTML pages of a similarity report (instructor only).

Everything a submission controls (code, answers, ids) is escaped; the pages are
self-contained (inline CSS, no script, no link outside the report folder) and their
Content-Security-Policy forbids scripts and every network request, should anything slip by.
"""
import csv
from html import escape
from pathlib import Path

import numpy as np
from copydetect.utils import highlight_overlap

from instructor.grade_report import csv_cell

# Side-by-side pages written at most (the highest pairs first); the rest are in pairs.csv.
MAX_PAGES = 500
COLUMNS = ("student_a", "student_b", "part", "similarity", "matched_lines")
POLICY = "default-src 'none'; style-src 'unsafe-inline'"
STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
.sides { display: flex; gap: 1em; }
.side { flex: 1; min-width: 0; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; white-space: pre-wrap;
      word-break: break-word; font-size: 0.85em; }
mark { background: #ffd54f; }
.note { color: #555; max-width: 60em; }
"""
NOTE = ("A lead for a person to read, never a verdict: the release's own text is left out, but "
        "short or standard code can match by chance, and code rewritten by hand or copied from "
        "outside the class is not seen. Read both sides before asking anyone about it.")


def write_csv(path, pairs):
    """Write one row per pair and part (``COLUMNS``), in the order of ``pairs``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for pair in pairs:
            writer.writerow([csv_cell(pair.student_a), csv_cell(pair.student_b),
                             csv_cell(pair.part), pair.similarity, pair.matched_lines])


def page(title, body):
    """A whole self-contained HTML page (``title`` is escaped; ``body`` is HTML)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
            f'<meta name="referrer" content="no-referrer">\n'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def line_ranges(text, slices):
    """The matching regions as 1-based line ranges of ``text``, e.g. ``"12-30, 41"``."""
    starts = np.array([0] + [i + 1 for i, char in enumerate(text) if char == "\n"])
    ranges = []
    for begin, end in zip(*slices):
        first = int(np.searchsorted(starts, begin, side="right"))
        last = int(np.searchsorted(starts, max(end - 1, begin), side="right"))
        ranges.append(f"{first}" if first == last else f"{first}-{last}")
    return ", ".join(ranges) or "none"


def side(student, document, slices):
    """One column of a pair's page: the student's text with the matching regions marked."""
    marked, _ = highlight_overlap(document.text, np.asarray(slices, dtype=int), "<mark>",
                                  "</mark>", escape_html=True)
    return (f'<div class="side"><h2>{escape(student)}</h2>'
            f"<p>marked text on lines {escape(line_ranges(document.text, slices))}</p>"
            f"<pre>{marked}</pre></div>")


def pair_page(pair, course):
    """The side-by-side page of a flagged pair."""
    documents = course.documents[pair.part]
    what = "file assignment/" + pair.part + ".py" if pair.kind == "code" else "answer " + pair.part
    body = (f'<p><a href="../index.html">back to the list</a></p>'
            f"<h1>{escape(pair.student_a)} and {escape(pair.student_b)}: {escape(what)}</h1>"
            f"<p>similarity {pair.similarity:.2f} (the share of both sides' own text found in "
            f"the other), {pair.matched_lines} matching line(s), marked "
            f"<mark>like this</mark>. The release's own text never counts.</p>"
            f'<p class="note">{escape(NOTE)}</p><div class="sides">'
            + side(pair.student_a, documents[pair.student_a], pair.match.slices[0])
            + side(pair.student_b, documents[pair.student_b], pair.match.slices[1])
            + "</div>")
    return page(f"{pair.student_a} / {pair.student_b}: {pair.part}", body)


def index_page(flagged, course, threshold, total_pairs, more=0):
    """The list of flagged pairs, each linking to its page (``more``: flagged pairs without a
    page, past ``MAX_PAGES``)."""
    rows = "".join(
        f'<tr><td>{rank}</td><td><a href="pages/{rank:05d}.html">{pair.similarity:.2f}</a></td>'
        f"<td>{pair.matched_lines}</td><td>{escape(pair.part)}</td>"
        f"<td>{escape(pair.student_a)}</td><td>{escape(pair.student_b)}</td></tr>"
        for rank, pair in enumerate(flagged, start=1))
    skipped = "".join(f"<li>{escape(name)}: {escape(reason)}</li>"
                      for name, reason in course.skipped)
    body = (f"<h1>Similar submissions</h1><p class=\"note\">{escape(NOTE)}</p>"
            f"<p>{len(course.students)} submissions compared, {total_pairs} pairs of parts; "
            f"{len(flagged)} at or above the threshold {threshold:g} are listed (every pair is "
            f'in <a href="pairs.csv">pairs.csv</a>).</p>'
            + (f"<p>{more} more pairs at or above the threshold have no page (only the "
               f"{len(flagged)} highest get one); they are in pairs.csv.</p>" if more else "")
            + (f"<p>Zips left out (the grader refuses them too):</p><ul>{skipped}</ul>"
               if skipped else "")
            + "<table><tr><th>#</th><th>similarity</th><th>matching lines</th><th>part</th>"
            f"<th>student</th><th>student</th></tr>{rows}</table>")
    return page("Similar submissions", body)


def write_report(out, pairs, course, threshold, max_pages=MAX_PAGES):
    """Write ``pairs.csv``, ``index.html`` and ``pages/NNNNN.html`` (for the ``max_pages``
    highest flagged pairs) into ``out``, replacing an earlier report there; returns the path
    of index.html."""
    out = Path(out)
    (out / "pages").mkdir(parents=True, exist_ok=True)
    for old in (out / "pages").glob("[0-9][0-9][0-9][0-9][0-9].html"):   # an earlier run's
        old.unlink()
    write_csv(out / "pairs.csv", pairs)
    flagged = [pair for pair in pairs if pair.match is not None]
    more = max(0, len(flagged) - max_pages)
    flagged = flagged[:max_pages]
    for rank, pair in enumerate(flagged, start=1):
        (out / "pages" / f"{rank:05d}.html").write_text(pair_page(pair, course), encoding="utf-8")
    index = out / "index.html"
    index.write_text(index_page(flagged, course, threshold, len(pairs), more),
                     encoding="utf-8")
    return index
