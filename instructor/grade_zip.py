"""Reading and verifying one submission zip (instructor only; used by instructor/grade.py).

A zip is read into memory once, with a cap on its size, and everything after
that works on those bytes: the path is never opened again. Verification never
raises for a bad zip; it records problems on the ``Submission``, and the first
fatal one ends the list (the submission then scores 0).

- the student id is the FILE NAME's (``<STUDENT_ID>_submission.zip``, the pattern of
  ``helpers.submission.STUDENT_ID``); a manifest naming someone else is a problem,
  never a reason to grade the zip as that student;
- entries: at most ``MAX_ENTRIES``, names of at most ``MAX_NAME_CHARS``, no
  absolute paths, ``..``, links or duplicates; declared sizes and compression
  ratios are checked before anything is inflated, and inflating stops at the
  declared size (headers can lie);
- ``MANIFEST.json`` is checked against a schema (types, sizes, nesting depth,
  lengths) before use, and every file's sha256 against it.
"""
import hashlib
import io
import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from helpers import submission

EXPECTED_PATH = re.compile(
    r"(assignment/[A-Za-z_][A-Za-z0-9_]*\.py"
    rf"|notebooks/({'|'.join(map(re.escape, submission.NOTEBOOKS))})"
    rf"|saved/({'|'.join(map(re.escape, submission.SAVED_MODELS))})"
    rf"|{re.escape(submission.MANIFEST)}|{re.escape(submission.REPORT)})")
MAX_ZIP_BYTES = submission.MAX_ZIP_BYTES + 2**20   # what collect_submission writes, and some
MAX_FILE_BYTES = 20 * 2**20
MAX_TOTAL_BYTES = 60 * 2**20
MAX_RATIO = 200            # inflated / compressed size, for members over RATIO_FLOOR bytes
RATIO_FLOOR = 2**20
MAX_ENTRIES = 100
MAX_NAME_CHARS = 200
MAX_PROBLEMS = 20
MANIFEST_MAX_BYTES = 2**20
MANIFEST_MAX_DEPTH = 4
MANIFEST_KEYS = {"student_id", "name", "created_utc", "files", "self_check"}
SHA256 = re.compile(r"[0-9a-f]{64}")


class SubmissionError(Exception):
    """A problem that stops the verification of one zip (it scores 0)."""


@dataclass
class Submission:
    """One zip as verified: who, the files read from it, and what is wrong with it."""

    zip_name: str                      # shown, never used as a path
    student_id: str                    # the file name's id, or a display form of a bad name
    valid_id: bool = False             # True when ``student_id`` may name a feedback file
    name: str = ""
    created_utc: str = ""
    members: dict = field(default_factory=dict)   # archive name -> bytes, verified
    problems: list = field(default_factory=list)
    fatal: bool = False                # a fatal problem means no grading at all: zero points

    def note(self, problem):
        """Record a problem that costs nothing by itself (ignored after a fatal one)."""
        if self.fatal:
            return
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("more problems not listed")

    def refuse(self, problem):
        """Record a fatal problem; the list stops here."""
        if not self.fatal:
            self.problems = self.problems[:MAX_PROBLEMS] + [problem]
            self.fatal = True


def shown(text, limit=80):
    """``text`` made safe to show: escaped like a Python literal, clipped to ``limit``."""
    text = ascii(str(text))[1:-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def display_id(filename):
    """How a zip whose file name holds no valid id appears in the gradebook."""
    return f"(bad file name: {shown(filename, 60)})"


# ------------------------------------------------------------------ reading ---

def read_capped_file(path, cap):
    """The bytes of the regular file ``path`` (no link, FIFO or device), at most ``cap``.

    Raises ``SubmissionError`` when it is not a regular file or holds more.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        raise SubmissionError(f"cannot open the file ({err.strerror}); is it a link?") from err
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SubmissionError("not a regular file")
        size = os.fstat(fd).st_size
        if size > cap:
            raise SubmissionError(f"the file is over the {cap // 2**20} MB limit")
        data = f.read(size + 1)
    if len(data) > size:
        raise SubmissionError("the file grew while it was read; grade again when it is complete")
    return data


def read_member(archive, info, cap):
    """Inflate one member in small blocks, stopping at ``cap`` bytes whatever its header says."""
    chunks, size = [], 0
    with archive.open(info) as member:
        while True:
            block = member.read(65536)
            if not block:
                return b"".join(chunks)
            size += len(block)
            if size > cap:
                raise SubmissionError(f"{shown(info.filename)} inflates beyond its declared size")
            chunks.append(block)


# ------------------------------------------------------------------ entries ---

def _is_link(info):
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def _unsafe_path(name):
    path = PurePosixPath(name)
    return (name.startswith(("/", "\\")) or "\\" in name or ".." in path.parts
            or re.match(r"^[A-Za-z]:", name) is not None)


def _entry_problem(info):
    """The fatal problem of one zip entry, or None."""
    name = info.filename
    if len(name) > MAX_NAME_CHARS:
        return f"a file name in the zip is longer than {MAX_NAME_CHARS} characters"
    if _unsafe_path(name):
        return f"unsafe path in zip: '{shown(name)}'"
    if _is_link(info):
        return f"link in zip: '{shown(name)}'"
    if info.file_size > MAX_FILE_BYTES:
        return f"{shown(name)} is {info.file_size / 2**20:.0f} MB, over the limit"
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(1, info.compress_size):
        return f"{shown(name)} is compressed more than {MAX_RATIO}x (a zip bomb?)"
    return None


def check_entries(sub, infos):
    """Refuse or note entries; returns dict ``name -> ZipInfo`` of the files to read."""
    if len(infos) > MAX_ENTRIES:
        sub.refuse(f"{len(infos)} entries, more than the {MAX_ENTRIES} allowed")
        return {}
    files = {}
    for info in infos:
        problem = _entry_problem(info)
        if problem:
            sub.refuse(problem)
            return {}
        if info.is_dir():
            continue
        if info.filename in files:
            sub.refuse(f"{shown(info.filename)} is twice in the zip")
            return {}
        if EXPECTED_PATH.fullmatch(info.filename):
            files[info.filename] = info
        else:
            sub.note(f"unexpected file ignored: {shown(info.filename)}")
    if sum(info.file_size for info in infos) > MAX_TOTAL_BYTES:
        sub.refuse("the unpacked zip would exceed the size limit")
        return {}
    return files


# ----------------------------------------------------------------- manifest ---

def _depth(value):
    """Nesting depth of a JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _text(manifest, key, limit, required=False):
    """The string ``manifest[key]`` (at most ``limit`` characters); raises ValueError."""
    value = manifest.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise ValueError(f"'{key}' must be text of at most {limit} characters")
    return value


def _files(manifest):
    """The ``files`` object: archive name -> sha256 hex; raises ValueError."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not 0 < len(files) <= MAX_ENTRIES:
        raise ValueError(f"'files' must be an object of 1 to {MAX_ENTRIES} entries")
    for name, digest in files.items():
        if (len(name) > MAX_NAME_CHARS or not isinstance(digest, str)
                or not SHA256.fullmatch(digest)):
            raise ValueError("'files' must map file names to sha256 digests")
    return files


def parse_manifest(data):
    """The manifest dict from its bytes, checked against the schema; raises ValueError."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except RecursionError as err:
        raise ValueError("it is nested too deeply") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"not JSON ({shown(err, 100)})") from err
    if not isinstance(manifest, dict):
        raise ValueError("it must be a JSON object")
    if _depth(manifest) > MANIFEST_MAX_DEPTH:
        raise ValueError(f"it is nested more than {MANIFEST_MAX_DEPTH} levels deep")
    unknown = sorted(set(manifest) - MANIFEST_KEYS)
    if unknown:
        raise ValueError(f"unknown key '{shown(unknown[0], 40)}'")
    student_id = _text(manifest, "student_id", 64, required=True)
    if not submission.valid_student_id(student_id):
        raise ValueError(f"'student_id' must be {submission.STUDENT_ID_RULE}")
    created = _text(manifest, "created_utc", 40)
    if created:
        try:
            datetime.fromisoformat(created)
        except ValueError as err:
            raise ValueError("'created_utc' must be an ISO 8601 time") from err
    if not isinstance(manifest.get("self_check", {}), (dict, type(None))):
        raise ValueError("'self_check' must be an object")
    return {"student_id": student_id, "name": _text(manifest, "name", submission.MAX_NAME_CHARS),
            "created_utc": created, "files": _files(manifest)}


def apply_manifest(sub, files):
    """Read, check and apply ``MANIFEST.json``; returns its ``files`` (or None when refused)."""
    info = files.get(submission.MANIFEST)
    if info is None:
        sub.refuse("no MANIFEST.json: the zip was not made by collect_submission.py")
        return None
    if info.file_size > MANIFEST_MAX_BYTES:
        sub.refuse("MANIFEST.json is unreadable: over 1 MB")
        return None
    try:
        manifest = parse_manifest(sub.members.pop(submission.MANIFEST))
    except ValueError as err:
        sub.refuse(f"MANIFEST.json is unreadable: {err}")
        return None
    sub.name, sub.created_utc = manifest["name"], manifest["created_utc"]
    if manifest["student_id"] != sub.student_id:
        sub.note(f"the file name says '{sub.student_id}' but the manifest says "
                 f"'{manifest['student_id']}'; graded as '{sub.student_id}'")
    return manifest["files"]


def check_hashes(sub, listed):
    """Every file read must be listed with its sha256, and every listed file present."""
    for name in sorted(set(sub.members) - set(listed)):
        sub.refuse(f"{name}: modified after packaging (not in the manifest)")
        return
    for name, digest in sorted(listed.items()):
        if name not in sub.members and EXPECTED_PATH.fullmatch(name):
            sub.refuse(f"{shown(name)}: listed in the manifest but missing from the zip")
            return
        if name in sub.members and hashlib.sha256(sub.members[name]).hexdigest() != digest:
            sub.refuse(f"{name}: modified after packaging (sha256 differs from the manifest)")
            return


# ------------------------------------------------------------------- verify ---

def new_submission(path):
    """A ``Submission`` named after the zip's file (its id when the name is valid)."""
    filename = Path(path).name
    student_id = submission.student_id_of(filename)
    if student_id is None:
        sub = Submission(shown(filename, 200), display_id(filename))
        sub.refuse(f"the file name is not <STUDENT_ID>{submission.ZIP_SUFFIX} with an id of "
                   f"{submission.STUDENT_ID_RULE}; rename it and grade again")
        return sub
    return Submission(filename, student_id, valid_id=True)


def verify_bytes(sub, data):
    """Verify the zip's bytes; fills ``sub.members`` or records why not."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        sub.refuse(f"corrupt zip: {shown(err, 120)}")
        return
    with archive:
        files = check_entries(sub, archive.infolist())
        for name, info in files.items():
            if sub.fatal:
                return
            try:
                sub.members[name] = read_member(archive, info, info.file_size)
            except SubmissionError as err:
                sub.refuse(str(err))
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as err:
                sub.refuse(f"{shown(name)}: unreadable ({shown(err, 120)})")
        if sub.fatal:
            return
        listed = apply_manifest(sub, files)
        if listed is not None:
            check_hashes(sub, listed)


def verify_zip(path):
    """Read the zip at ``path`` once and verify it; returns a ``Submission`` (never raises
    for a bad zip)."""
    sub = new_submission(path)
    if sub.fatal:
        return sub
    try:
        data = read_capped_file(path, MAX_ZIP_BYTES)
    except SubmissionError as err:
        sub.refuse(f"corrupt zip: {err}")
        return sub
    verify_bytes(sub, data)
    return sub
