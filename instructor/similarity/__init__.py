"""Which submissions look copied from each other: a report for a person to read (instructor only).

    python -m instructor.similarity ZIPS_DIR --out DIR [--threshold T]

Every pair of submissions is compared part by part: each ``assignment/<part>.py`` file
(winnowed token fingerprints, ``copydetect``) and each written answer (winnowed n-grams of
characters for Chinese, of words for other scripts), with the release's own text (stubs,
docstrings, given code; question prompts and the answer placeholder) left out, so that two
untouched releases score 0. The zips are read exactly as the grader reads them
(``instructor.grade_zip.verify_zip``). Writes ``DIR/pairs.csv`` (every pair and part,
highest first) and ``DIR/index.html`` (the pairs at or above the threshold, each linking to a
side-by-side page with the matching regions highlighted). See docs/similarity.md.

- ``fingerprints``: the documents and their comparison (copydetect, thinly wrapped);
- ``answers``: the written answers of a notebook, by question id;
- ``collect``: the documents of a folder of zips, and the release's text to leave out;
- ``pairs``: every pair of students, part by part, ranked;
- ``pages``: ``pairs.csv`` and the HTML pages;
- ``run``: the report of a folder, alone or after grading (``instructor.grade --similarity``);
- ``benchmark``: the time for a class of N generated submissions.
"""
