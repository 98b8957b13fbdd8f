"""The submission zip: what goes in it, its manifest, and its validation.

One module serves both sides: ``collect_submission.py`` (students) writes the
zip, ``instructor/grade.py`` (instructors) checks it. A submission holds exactly:

- ``assignment/*.py``: the student's files;
- ``notebooks/*.ipynb``: the executed notebooks, run in full mode (each records its mode in
  its set-up cell's output: ``helpers.utils.show_run_mode``);
- ``saved/*.pt``: the models the notebooks save;
- ``report.html``: the lab report built from the notebooks (``helpers.report``);
- ``MANIFEST.json``: student id and name, UTC time, the sha256 of every
  file, and the self-check summary.
"""
import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import torch

from helpers.functions import PART_POINTS
from helpers.i18n import _
from helpers.utils import KIT_ROOT, RUN_MODE_MIME

# Every stub the release writes says this (see instructor/release.py).
STUB_MARK = ": not implemented yet"

# The student layout, defined once: the parts (assignment/<part>.py, checked by
# tests/assignment/test_<part>.py), the notebooks and the models they save.
PARTS = tuple(PART_POINTS)   # helpers/functions.py: the parts and their points
ASSIGNMENT_FILES = tuple(f"{part}.py" for part in PARTS)
NOTEBOOKS = ("linear_classifier.ipynb", "two_layer_net.ipynb", "fully_connected_networks.ipynb")
SAVED_MODELS = ("svm_best.pt", "softmax_best.pt", "two_layer_net_best.pt", "fc_net_best.pt")
MANIFEST = "MANIFEST.json"
REPORT = "report.html"          # the lab report (helpers.report), built by collect_submission.py
MAX_ZIP_BYTES = 40 * 1024 * 1024   # the best FC net alone is 14 MiB
# The one definition of a student id, for collect_submission.py and the grader alike.
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
STUDENT_ID_RULE = ("only letters, digits, '.', '_' and '-', 1 to 64 characters, "
                   "starting with a letter or digit")
ZIP_SUFFIX = "_submission.zip"
MAX_NAME_CHARS = 200   # the student's full name in the manifest


def student_id_rule():
    """``STUDENT_ID_RULE`` (English: the grader's messages use it) in the student's language."""
    # Translators: what a student id may hold; it follows "your student id (" or "use ".
    return _("only letters, digits, '.', '_' and '-', 1 to 64 characters, starting with a "
             "letter or digit")


def valid_student_id(text):
    """True when ``text`` is a whole student id (see ``STUDENT_ID_RULE``)."""
    return isinstance(text, str) and STUDENT_ID.fullmatch(text) is not None


def name_problem(name):
    """Why ``name`` cannot be a student's name in the manifest, or None."""
    if len(name) > MAX_NAME_CHARS:
        return _("--name is longer than {count} characters; shorten it").format(
            count=MAX_NAME_CHARS)
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return _("--name holds a line break or control character; use plain text")
    return None


def zip_name(student_id):
    """File name of a student's submission: ``<STUDENT_ID>_submission.zip``."""
    return f"{student_id}{ZIP_SUFFIX}"


def student_id_of(filename):
    """The student id in a zip's file name ``<STUDENT_ID>_submission.zip``, or None."""
    student_id = filename[: -len(ZIP_SUFFIX)] if filename.endswith(ZIP_SUFFIX) else ""
    return student_id if valid_student_id(student_id) else None


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _inside_kit(path, kit_root):
    """True when ``path`` is a real file (not a link) whose target lies inside the kit."""
    return not path.is_symlink() and kit_root.resolve() in path.resolve().parents


def submission_files(kit_root=KIT_ROOT):
    """The files that go into the zip: dict ``archive name -> path``.

    ``assignment/*.py`` (every visible Python file), the notebooks of
    ``NOTEBOOKS`` and the models of ``SAVED_MODELS``, when they exist.
    """
    kit_root = Path(kit_root)
    files = {f"assignment/{p.name}": p for p in sorted((kit_root / "assignment").glob("*.py"))
             if not p.name.startswith(".")}
    files.update({f"notebooks/{name}": kit_root / "notebooks" / name for name in NOTEBOOKS})
    files.update({f"saved/{name}": kit_root / "saved" / name for name in SAVED_MODELS})
    return {name: path for name, path in files.items() if path.exists() or path.is_symlink()}


def stubbed_functions(source, filename="<file>"):
    """Names of the functions in Python ``source`` that still hold a release stub:
    ``raise NotImplementedError("<name>: not implemented yet; ...")``.

    Other ``NotImplementedError``s (an abstract method of given code) do not count.
    """
    names = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if any(_is_stub(inner) for inner in ast.walk(child)):
                    names.append(f"{prefix}{child.name}")

    visit(ast.parse(source, filename), "")
    return names


def _is_stub(node):
    if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
        return False
    call = node.exc
    return (isinstance(call.func, ast.Name) and call.func.id == "NotImplementedError"
            and bool(call.args) and isinstance(call.args[0], ast.Constant)
            and STUB_MARK in str(call.args[0].value))


def run_mode_records(notebook):
    """The run-mode records (``helpers.utils.show_run_mode``) in a notebook's outputs."""
    return [output["data"][RUN_MODE_MIME]
            for cell in notebook.get("cells", []) for output in cell.get("outputs", [])
            if isinstance(output.get("data"), dict)
            and isinstance(output["data"].get(RUN_MODE_MIME), dict)]


def run_mode_problems(notebook, relpath, allow_quick=False):
    """A notebook run in quick mode, or one that does not record its mode, cannot be submitted
    (``allow_quick``: a sample of the kit, which accepts quick mode)."""
    records = run_mode_records(notebook)
    if not records:
        # Translators: 'Restart & Run All' names Jupyter's menu item.
        return [_("{notebook}: does not record how it was run (its set-up cell, which calls "
                  "utils.show_run_mode(), has no output); choose 'Restart & Run All', save "
                  "it").format(notebook=relpath)]
    if not allow_quick and any(record.get("quick_mode") is not False for record in records):
        return [_("{notebook}: was run in quick mode (KIT_QUICK=1), on a small subsample: its "
                  "results and saved models are not final. Re-run it without KIT_QUICK (unset "
                  "it, or start Jupyter without it; 'Restart & Run All'), save it, and run "
                  "collect_submission.py again").format(notebook=relpath)]
    return []


def notebook_problems(path, relpath, allow_quick=False):
    """Problems with one executed notebook: never run, an error output, or run in quick mode
    (unless ``allow_quick``)."""
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return [_("{notebook}: not a valid notebook file ({error})").format(
            notebook=relpath, error=err)]
    code_cells = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    if not any(c.get("execution_count") for c in code_cells):
        return [_("{notebook}: was never run; open it, choose 'Restart & Run All', save it").format(
            notebook=relpath)]
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return [
                    _("{notebook}: cell {number} ends in an error ({error}); fix it and "
                      "re-run").format(notebook=relpath, number=number,
                                       error=f"{output.get('ename')}: "
                                             f"{output.get('evalue', '')[:120]}")
                ]
    return run_mode_problems(notebook, relpath, allow_quick)


def model_problems(path, relpath):
    """Problems with one saved model: it must load with ``weights_only=True``."""
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any failure to load is the student's problem to fix
        return [
            _("{model}: does not load ({error}); re-run the notebook that saves it").format(
                model=relpath, error=f"{type(err).__name__}: {str(err).splitlines()[0][:120]}")
        ]
    return []


def validate_kit(kit_root=KIT_ROOT, allow_quick=False):
    """Every problem that stops a submission from ``kit_root``, as a list of sentences
    (``allow_quick``: notebooks run in quick mode are accepted, for a sample of the kit)."""
    kit_root = Path(kit_root)
    files = submission_files(kit_root)
    problems = []
    required = (
        [f"assignment/{n}" for n in ASSIGNMENT_FILES]
        + [f"notebooks/{n}" for n in NOTEBOOKS]
        + [f"saved/{n}" for n in SAVED_MODELS]
    )
    for name in required:
        if name not in files:
            if name.startswith("saved/"):
                problems.append(_("{file}: missing; run the notebook that saves it").format(
                    file=name))
            else:
                problems.append(_("{file}: missing; restore it").format(file=name))
    for name, path in files.items():
        if not _inside_kit(path, kit_root):
            problems.append(_("{file}: is a link to outside the kit; replace it with the real "
                              "file").format(file=name))
            continue
        if name.startswith("assignment/"):
            try:
                stubs = stubbed_functions(path.read_text(encoding="utf-8"), name)
            except SyntaxError as err:
                # Translators: {error} is Python's own description of the syntax error.
                problems.append(_("{file}: does not compile (line {line}: {error})").format(
                    file=name, line=err.lineno, error=err.msg))
                continue
            problems += [_("{file}: {function} still raises NotImplementedError").format(
                file=name, function=stub) for stub in stubs]
        elif name.startswith("notebooks/"):
            problems += notebook_problems(path, name, allow_quick)
        else:
            problems += model_problems(path, name)
    return problems


def self_check_summary(kit_root=KIT_ROOT, timeout=1800):
    """Run ``python -m helpers.check`` in ``kit_root``; returns dict ``summary``, ``lines``,
    ``exit_code``.

    The summary only informs the manifest: a self-check that has not finished
    after ``timeout`` seconds (a very busy machine) is recorded as such, with
    ``exit_code`` None, and never stops the submission.
    """
    try:
        result = subprocess.run([sys.executable, "-m", "helpers.check"], cwd=kit_root,
                                capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"summary": _("self-check not finished after {seconds} s (a busy "
                             "machine?)").format(seconds=timeout),
                "lines": [], "exit_code": None}
    lines = result.stdout.strip().splitlines()
    return {"summary": lines[-1] if lines else result.stderr.strip()[-200:],
            "lines": lines[:-1], "exit_code": result.returncode}


def build_manifest(student_id, name, files, self_check):
    """The manifest dict for ``files`` (archive name -> path)."""
    return {
        "student_id": student_id,
        "name": name,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": {arcname: sha256_of(path) for arcname, path in sorted(files.items())},
        "self_check": self_check,
    }


def write_zip(zip_path, files, texts=None, max_bytes=None):
    """Write a zip atomically (nothing is left at ``zip_path`` on failure); returns its size.

    Inputs: ``files`` dict name in the zip -> path of a file; ``texts`` dict name in the zip ->
    str (written after the files); ``max_bytes``: raise ``ValueError`` and write nothing when
    the zip would be larger. The one zip writer of the kit (submissions and the release).
    """
    zip_path = Path(zip_path)
    handle, partial = tempfile.mkstemp(prefix=f".{zip_path.name}-", dir=zip_path.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for arcname, path in sorted(files.items()):
                archive.write(path, str(arcname))
            for arcname, text in (texts or {}).items():
                archive.writestr(str(arcname), text)
        size = os.path.getsize(partial)
        if max_bytes is not None and size > max_bytes:
            raise ValueError(_("the zip would be {size:.1f} MB, over the {limit} MB limit; make "
                               "your saved models smaller").format(size=size / 2**20,
                                                                   limit=max_bytes // 2**20))
        os.replace(partial, zip_path)
        return size
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def write_submission(zip_path, files, manifest):
    """Write the submission zip: ``files`` (name in the zip -> path) and ``MANIFEST.json``,
    atomically, at most ``MAX_ZIP_BYTES``; returns its size in bytes."""
    return write_zip(zip_path, files, {MANIFEST: json.dumps(manifest, indent=2)},
                     max_bytes=MAX_ZIP_BYTES)
