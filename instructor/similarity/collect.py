"""The documents of a folder of submission zips, and the release's text to leave out.

The zips are read and verified exactly as the grader reads them
(``instructor.grade_zip.verify_zip``: size caps, safe entries, the manifest's sha256); a zip
that the grader would refuse is left out of the comparison and listed with the reason.
"""
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from helpers import submission
from helpers.utils import KIT_ROOT
from instructor import release
from instructor.grade_zip import verify_zip
from instructor.similarity import fingerprints
from instructor.similarity.answers import answers_from_notebooks, question_prompts


@dataclass
class Course:
    """Every document of a course, ready to compare.

    ``documents``: dict part -> dict student id -> ``fingerprints.Document``; a part is an
    assignment file's stem (``two_layer_net``) or a question id (``two_layer_net/q1``);
    ``kinds``: part -> "code" or "answer"; ``students``: the ids compared, sorted;
    ``skipped``: ``(zip name, reason)`` of each zip left out.
    """

    documents: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)
    students: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def release_code():
    """dict part -> the release's text of ``assignment/<part>.py`` (the release pipeline's own
    transform of this source's file)."""
    return {part: release.transform_python(
        (KIT_ROOT / "assignment" / f"{part}.py").read_text(encoding="utf-8"),
        f"assignment/{part}.py") for part in submission.PARTS}


def boilerplates():
    """dict part -> the set of hashes to leave out: the release's code for each file, the
    prompt and the placeholder for each question."""
    sets = {part: fingerprints.code_boilerplate(text, f"{part}.py")
            for part, text in release_code().items()}
    for question, prompt in question_prompts(submission.NOTEBOOKS).items():
        sets[question] = fingerprints.text_boilerplate(prompt, release.ANSWER_PLACEHOLDER)
    return sets


def student_answers(members):
    """dict question id -> answer text, from a verified zip's ``members``."""
    with tempfile.TemporaryDirectory(prefix="answers-") as folder:
        paths = []
        for name in submission.NOTEBOOKS:
            data = members.get(f"notebooks/{name}")
            if data is not None:
                (Path(folder) / name).write_bytes(data)
                paths.append(Path(folder) / name)
        return answers_from_notebooks(paths)


def add_submission(course, sub, boilerplate, given):
    """Fingerprint every part of one verified submission into ``course`` (``given``: part ->
    the release file's stripped lines)."""
    for part in submission.PARTS:
        data = sub.members.get(f"assignment/{part}.py")
        if data is not None:
            document = fingerprints.code_document(data.decode("utf-8", errors="replace"),
                                                  f"{part}.py", boilerplate[part], given[part])
            course.documents.setdefault(part, {})[sub.student_id] = document
            course.kinds[part] = "code"
    for question, text in student_answers(sub.members).items():
        if question in boilerplate:
            document = fingerprints.text_document(text, boilerplate[question])
            course.documents.setdefault(question, {})[sub.student_id] = document
            course.kinds[question] = "answer"


def collect(folder):
    """The ``Course`` of every ``*_submission.zip`` in ``folder``; raises FileNotFoundError
    when there is none."""
    zips = sorted(Path(folder).glob(f"*{submission.ZIP_SUFFIX}"))
    if not zips:
        raise FileNotFoundError(f"no *{submission.ZIP_SUFFIX} in {folder}")
    course, boilerplate = Course(), boilerplates()
    given = {part: frozenset(line.strip() for line in text.splitlines())
             for part, text in release_code().items()}
    for path in zips:
        sub = verify_zip(path)
        if sub.fatal:
            course.skipped.append((sub.zip_name, sub.problems[-1]))
            continue
        add_submission(course, sub, boilerplate, given)
        course.students.append(sub.student_id)
    course.students.sort()
    return course
