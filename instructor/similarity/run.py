"""Run the similarity report on a folder of zips, alone or after grading."""
from pathlib import Path

from instructor.similarity.collect import collect
from instructor.similarity.pages import write_report
from instructor.similarity.pairs import DEFAULT_THRESHOLD, compare_course


def similarity_report(folder, out, threshold=DEFAULT_THRESHOLD):
    """Compare every submission zip of ``folder`` and write the report into ``out``; returns
    the ranked list of ``pairs.Pair``."""
    course = collect(folder)
    pairs = compare_course(course, threshold)
    write_report(out, pairs, course, threshold)
    return pairs


def report_folder(gradebook, choice):
    """Where ``python -m instructor.grade --similarity [DIR]`` writes: DIR, or beside the
    gradebook CSV (``grades.csv`` -> ``grades-similarity/``) when DIR is not given."""
    gradebook = Path(gradebook)
    return gradebook.with_name(f"{gradebook.stem}-similarity") if choice is True else Path(choice)


def after_grading(folder, gradebook, choice):
    """The report of the zips just graded (see ``report_folder``); returns the line to print."""
    out = report_folder(gradebook, choice)
    pairs = similarity_report(folder, out)
    flagged = sum(pair.match is not None for pair in pairs)
    return (f"similarity: {flagged} pair(s) of parts at or above {DEFAULT_THRESHOLD:g}; "
            f"read {out / 'index.html'} (a lead to check by hand, never a verdict)")
