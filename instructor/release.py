"""Build the student release from this source tree.

    python -m instructor.release OUT [--zip] [--force] [--lang zh-CN]

The release is made by a pipeline of small steps, in the manner of
nbgrader's release transforms:

1. take the files of the student layout (``STUDENT_LAYOUT``, an allow-list: everything
   under ``instructor/``, CI, results and data is never listed, and a file of a student
   folder that the layout does not name stops the release as unexpected);
2. pass each file through the transforms for its kind:
   - ``.py``: every solution region becomes ``raise NotImplementedError(...)``;
   - ``.ipynb``: outputs and execution counts are cleared, code cells holding
     a region get the stub, markdown cells holding a region become
     ``*Your answer here.*``;
   - any other text file: must not contain a marker;
3. verify the result: every Python file compiles, no marker and no line of
   any solution region survives;
4. move the finished tree into place (and zip it with ``--zip``).

A solution region is the lines between ``# BEGIN SOLUTION`` and
``# END SOLUTION`` (in markdown cells also ``<!-- BEGIN SOLUTION -->`` and
``<!-- END SOLUTION -->``). The TODO comments above a region stay.
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from helpers import submission
from helpers.questions import ANSWER_PLACEHOLDER, cell_text, set_cell_text
from helpers.submission import STUB_MARK
from helpers.utils import KIT_ROOT
from instructor.i18n.catalogs import LANGUAGES

# The student kit, file by file: the release ships these and nothing else. Files of the
# student folders (``STUDENT_FOLDERS``) that are not listed stop the release as unexpected, so
# a new file is shipped only by adding it here; nothing under instructor/ is ever listed.
STUDENT_LAYOUT = (
    "requirements.txt",
    "pytest.ini",
    "conftest.py",
    "collect_submission.py",
    "assignment/__init__.py",
    *(f"assignment/{name}" for name in submission.ASSIGNMENT_FILES),
    "helpers/__init__.py",
    "helpers/check.py",
    "helpers/checkpoint.py",
    "helpers/data.py",
    "helpers/functions.py",
    "helpers/gradcheck.py",
    "helpers/i18n.py",
    "helpers/markdown_html.py",
    "helpers/plots.py",
    "helpers/progress.py",
    "helpers/questions.py",
    "helpers/report.py",
    "helpers/rules.py",
    "helpers/solver.py",
    "helpers/stand_ins.py",
    "helpers/stub_errors.py",
    "helpers/submission.py",
    "helpers/utils.py",
    "helpers/torch_nn_twins.py",
    "helpers/studies/__init__.py",
    "helpers/studies/evaluation.py",
    "helpers/studies/two_layer_net.py",
    "helpers/studies/fully_connected_networks.py",
    *(f"notebooks/{name}" for name in submission.NOTEBOOKS),
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/assignment/__init__.py",
    *(f"tests/assignment/test_{part}.py" for part in submission.PARTS),
)
# Folders of the student kit: every file in them must be listed in STUDENT_LAYOUT.
STUDENT_FOLDERS = ("assignment", "helpers", "notebooks", "tests")
STUDENT_README = "STUDENT_README.md"  # becomes README.md in the release
JUNK_NAMES = ("__pycache__", ".ipynb_checkpoints", ".pytest_cache")
JUNK_SUFFIXES = (".pyc", ".pyo")

BEGIN = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION\s*$")
END = re.compile(r"^[ \t]*#\s*END SOLUTION\s*$")
ANY_MARKER = re.compile(r"(BEGIN|END) SOLUTION")
# The markers of an inline answer in a markdown cell: ``<!-- BEGIN SOLUTION -->``.
HTML_MARKER = re.compile(r"<!--\s*((?:BEGIN|END) SOLUTION)\s*-->")
DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async\s+)?def\s+(?P<name>\w+)")
CLASS = re.compile(r"^(?P<indent>[ \t]*)class\s+(?P<name>\w+)")
# Lines too generic to count as leaked solution text: punctuation, bare
# keywords, a condition on one name, and anything shorter than MIN_SECRET_LENGTH
# (such as ``solver.train()``); ``dx = dout * mask`` is long enough to count.
TRIVIAL_LINE = re.compile(r"^[\W_]*$|^(else|try|finally|pass|continue|break|return)\W*$"
                          r"|^(if|elif|while) (not )?[\w.]+:$")
MIN_SECRET_LENGTH = 16


class ReleaseError(Exception):
    """A release that cannot be made; the message says what to do."""


@dataclass
class Region:
    """One solution region: where it starts (1-based line) and its lines."""

    start: int
    lines: list = field(default_factory=list)


# ---------------------------------------------------------------- regions ---

def find_regions(lines, where):
    """Solution regions in ``lines`` (a list of str), as a list of ``Region``.

    Raises ``ReleaseError`` for a marker without its partner or nested markers;
    ``where`` names the file in the message.
    """
    regions, current = [], None
    for number, line in enumerate(lines, start=1):
        if BEGIN.match(line):
            if current is not None:
                raise ReleaseError(f"{where}:{number}: BEGIN SOLUTION inside the region "
                                   f"opened at line {current.start}; close it first")
            current = Region(number)
        elif END.match(line):
            if current is None:
                raise ReleaseError(f"{where}:{number}: END SOLUTION without a BEGIN SOLUTION")
            regions.append(current)
            current = None
        elif current is not None:
            current.lines.append(line)
        elif ANY_MARKER.search(line):
            raise ReleaseError(f"{where}:{number}: malformed marker {line.strip()!r}; "
                               "write '# BEGIN SOLUTION' or '# END SOLUTION' on a line of its own")
    if current is not None:
        raise ReleaseError(f"{where}:{current.start}: BEGIN SOLUTION is never closed")
    return regions


def enclosing_function(lines, index, indent):
    """Name of the function around ``lines[index]`` ("Class.method", "function" or None)."""
    width = len(indent.expandtabs())
    name = None
    for line in reversed(lines[:index]):
        match = DEF.match(line) if name is None else CLASS.match(line)
        if match and len(match["indent"].expandtabs()) < width:
            if name is not None:
                return f"{match['name']}.{name}"
            name, width = match["name"], len(match["indent"].expandtabs())
            if width == 0:
                return name
    return name


def stub_regions(text, where, stub_for):
    """Replace each region of ``text`` by one line ``stub_for(name, indent)``.

    ``name`` is the enclosing function's name (or None). Returns the new text.
    """
    lines = text.splitlines(keepends=True)
    find_regions([line.rstrip("\n") for line in lines], where)  # validates the markers
    out, inside = [], False
    for index, line in enumerate(lines):
        begin = BEGIN.match(line.rstrip("\n"))
        if begin:
            inside = True
            indent = begin["indent"]
            out.append(indent + stub_for(enclosing_function(lines, index, indent), indent) + "\n")
        elif END.match(line.rstrip("\n")):
            inside = False
        elif not inside:
            out.append(line)
    return "".join(out)


def function_regions(text, function):
    """The regions of ``function`` ("name" or "Class.method") in ``text``, in order, as
    ``(begin_index, end_index, indent)``: 0-based indices of the marker lines."""
    lines = text.splitlines(keepends=True)
    find_regions([line.rstrip("\n") for line in lines], function)  # validates the markers
    found, begin = [], None
    for index, line in enumerate(lines):
        match = BEGIN.match(line.rstrip("\n"))
        if match and enclosing_function(lines, index, match["indent"]) == function:
            begin = (index, match["indent"])
        elif begin is not None and END.match(line.rstrip("\n")):
            found.append((begin[0], index, begin[1]))
            begin = None
    return found


def fill_stubs(release_text, source_text, function):
    """The released file ``release_text`` with the stubs of ``function`` replaced by its
    solution regions from ``source_text`` (the same file in this source), in order.

    Raises ``ReleaseError`` when the numbers of stubs and regions differ.
    """
    lines = source_text.splitlines(keepends=True)
    bodies = [lines[begin + 1:end] for begin, end, _ in function_regions(source_text, function)]
    stub = f'raise NotImplementedError("{function}{STUB_MARK}'
    out, used = [], 0
    for line in release_text.splitlines(keepends=True):
        if stub in line and used < len(bodies):
            out += bodies[used]
            used += 1
        else:
            out.append(line)
    if not bodies or used != len(bodies) or stub in "".join(out):
        raise ReleaseError(f"{function}: {len(bodies)} solution region(s) but a different "
                           "number of stubs in the released file")
    return "".join(out)


def replace_region(source_text, function, code, number=0):
    """``source_text`` with region ``number`` of ``function`` replaced by ``code`` (text
    written without indentation; it is indented like the region). The markers stay."""
    lines = source_text.splitlines(keepends=True)
    begin, end, indent = function_regions(source_text, function)[number]
    body = [indent + line if line.strip() else line
            for line in code.strip("\n").splitlines(keepends=True)]
    return "".join(lines[:begin + 1] + body + ["\n"] * (not body[-1].endswith("\n"))
                   + lines[end:])


# ------------------------------------------------------------- transforms ---

def transform_python(text, relpath):
    """Stub every region of a Python file and check that the result compiles."""
    def stub_for(name, _indent):
        who = name or Path(relpath).stem
        return f'raise NotImplementedError("{who}{STUB_MARK}; write your code in {relpath}")'

    result = stub_regions(text, relpath, stub_for)
    try:
        compile(result, relpath, "exec")
    except SyntaxError as err:
        raise ReleaseError(
            f"{relpath}: does not compile once its regions are stubbed "
            f"(line {err.lineno}: {err.msg}); check the region's indentation"
        ) from err
    return result


def clear_outputs(notebook, relpath):
    """Remove every output, execution count and run-time metadata."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    notebook.get("metadata", {}).pop("widgets", None)
    return notebook


def stub_notebook_cells(notebook, relpath):
    """Code cells: regions become stubs. Markdown cells with a region: the placeholder."""
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        text = cell_text(cell)
        if not ANY_MARKER.search(text):
            continue
        where = f"{relpath} cell {number}"
        if cell.get("cell_type") == "markdown":
            markdown_regions(text, where)
            set_cell_text(cell, ANSWER_PLACEHOLDER)
        elif cell.get("cell_type") == "code":
            def stub_for(_name, _indent):
                return (f'raise NotImplementedError("{relpath} cell {number}{STUB_MARK}; '
                        'write this cell\'s code")')
            set_cell_text(cell, stub_regions(text, where, stub_for))
        else:
            raise ReleaseError(f"{where}: a {cell.get('cell_type')} cell holds a solution marker")
    return notebook


def markdown_regions(text, where):
    """Lines of the regions in a markdown cell (``<!-- BEGIN SOLUTION -->`` or
    ``# BEGIN SOLUTION``)."""
    return find_regions(markdown_as_python(text).splitlines(), where)


def markdown_as_python(text):
    """``text`` with every ``<!-- BEGIN/END SOLUTION -->`` on a line of its own as
    ``# BEGIN/END SOLUTION``, so that ``find_regions`` reads markdown cells too."""
    return HTML_MARKER.sub(r"\n# \1\n", text)


def transform_notebook(text, relpath):
    """Clear outputs and stub regions of a notebook; returns its JSON text."""
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as err:
        raise ReleaseError(f"{relpath}: not a valid notebook ({err})") from err
    for step in (clear_outputs, stub_notebook_cells):
        notebook = step(notebook, relpath)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def transform_other(text, relpath):
    """Any other text file is copied as it is, but may not hold a marker."""
    if ANY_MARKER.search(text):
        raise ReleaseError(f"{relpath}: holds a solution marker, but only .py files and "
                           "notebooks may have solution regions")
    return text


def transform_pytest_ini(text, relpath):
    """The release's pytest.ini: the source's settings, without the instructor's folder (which
    the release does not have) in ``testpaths`` and in the comments."""
    lines = []
    for line in transform_other(text, relpath).splitlines(keepends=True):
        if line.startswith("#"):
            continue   # the source's comments describe the source's folders
        if line.startswith("testpaths"):
            line = re.sub(r"[ \t]+instructor\b", "", line)
            lines.append("# The assignment checks (tests/) and every notebook in quick mode.\n")
        lines.append(line)
    return "".join(lines)


TRANSFORMS = {".py": transform_python, ".ipynb": transform_notebook,
              "pytest.ini": transform_pytest_ini}


# --------------------------------------------------------------- the tree ---

def _is_junk(path):
    return (any(part in JUNK_NAMES or part.startswith(".") for part in path.parts)
            or path.suffix in JUNK_SUFFIXES)


def student_files(source, layout=None):
    """Relative paths of every file of ``layout`` (default ``STUDENT_LAYOUT``), sorted: the
    files that go into the release.

    Raises ``ReleaseError`` listing every file of ``STUDENT_FOLDERS`` that the layout does not
    name (an unexpected file: list it in ``STUDENT_LAYOUT`` to ship it, or move it to
    ``instructor/``), and every listed file that is missing.
    """
    layout = {Path(name) for name in (STUDENT_LAYOUT if layout is None else layout)}
    found = {path.relative_to(source) for folder in STUDENT_FOLDERS
             for path in (source / folder).rglob("*") if path.is_file()}
    unexpected = sorted(path for path in found - layout if not _is_junk(path))
    missing = sorted(path for path in layout if not (source / path).is_file())
    problems = [f"unexpected file {path}: list it in STUDENT_LAYOUT (instructor/release.py) to "
                "ship it, or move it to instructor/ if students must not get it"
                for path in unexpected]
    problems += [f"missing file {path} (listed in STUDENT_LAYOUT)" for path in missing]
    if problems:
        raise ReleaseError("the source does not match the student layout:\n  "
                           + "\n  ".join(problems))
    return sorted(layout)


def solution_lines(source, relpaths):
    """Every distinctive line (see ``TRIVIAL_LINE``) of every solution region in
    the released files, stripped of indentation."""
    secret = set()
    for relpath in relpaths:
        if relpath.suffix not in TRANSFORMS:
            continue
        text = (source / relpath).read_text(encoding="utf-8")
        if relpath.suffix == ".ipynb":
            chunks = [markdown_as_python(cell_text(c)) for c in json.loads(text).get("cells", [])]
        else:
            chunks = [text]
        for chunk in chunks:
            for region in find_regions(chunk.splitlines(), str(relpath)):
                secret |= {line.strip() for line in region.lines}
    return {
        line for line in secret if len(line) >= MIN_SECRET_LENGTH and not TRIVIAL_LINE.match(line)
    }


def verify_release(root, secret_lines):
    """Raise ``ReleaseError`` if a marker or a solution line survives under ``root``."""
    problems = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        relpath = path.relative_to(root)
        if ANY_MARKER.search(text):
            problems.append(f"{relpath}: a solution marker survived")
        lines = text.splitlines()
        if path.suffix == ".ipynb":
            lines = [line for cell in json.loads(text).get("cells", [])
                     for line in cell_text(cell).splitlines()]
        leaked = sorted({line.strip() for line in lines} & secret_lines)
        problems += [f"{relpath}: solution line survived: {line!r}" for line in leaked]
    if problems:
        raise ReleaseError("the release would leak solutions:\n  " + "\n  ".join(problems))


def _check_destination(out, source, force):
    if out == source or source in out.parents or out in source.parents:
        raise ReleaseError(f"refusing to write the release into the source tree ({source}); "
                           "choose a folder outside it, e.g. ../student_release")
    if out.exists() and not out.is_dir():
        raise ReleaseError(f"{out} exists and is not a folder; choose another path")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ReleaseError(f"{out} is not empty; choose a new or empty folder, "
                           "or pass --force to replace its contents")


def _check_table(source, checks):
    """Raise ``ReleaseError`` with one line per disagreement between the table of student
    functions (``helpers/functions.py``, when the source has one) and the code
    (``instructor.table_check``); ``checks``: also whether every function has its checks."""
    from instructor import table_check

    if not (Path(source) / table_check.TABLE).is_file():
        return
    found = table_check.problems(source, checks=checks)
    if found:
        raise ReleaseError(f"the table of student functions and the kit disagree "
                           f"({len(found)} problem(s)); nothing was written:\n" + "\n".join(found))


class Language:
    """The release's language step: English as it is, another language from its catalogs
    (instructor/i18n: every notebook's Markdown cells, the README with a glossary, and the
    compiled messages of helpers.i18n); the code is the same in every language."""

    def __init__(self, lang, source):
        from instructor import i18n

        try:
            self.code = i18n.locale_code(lang)
            if self.code is not None:
                from instructor.i18n import translate

                self.translate = translate
                self.catalogs = translate.require_complete(lang, source)
                self.folder = i18n.catalog_dir(lang, source)
        except i18n.TranslationError as err:
            raise ReleaseError(str(err)) from None

    def file(self, text, relpath):
        if self.code is None or relpath.suffix != ".ipynb":
            return text
        return self.translate.notebook(text, self.catalogs[f"notebooks/{relpath.stem}.po"],
                                       self.code)

    def readme(self, text):
        if self.code is None:
            return text
        return self.translate.readme(text, self.catalogs["STUDENT_README.po"], self.folder,
                                     self.code)

    def messages(self, root):
        if self.code is not None:
            self.translate.messages(self.catalogs["kit.po"], root, self.code)


POINTS_PLACEHOLDER = "<!-- POINTS OF EACH FUNCTION -->"


def with_points(readme_text, source):
    """The student README with ``POINTS_PLACEHOLDER`` replaced by what each function is worth
    (``helpers/functions.py`` of ``source``), so that adding a function changes no README."""
    if POINTS_PLACEHOLDER not in readme_text:
        return readme_text
    from instructor import table_check

    lines = table_check.load_table(source).points_lines()
    return readme_text.replace(POINTS_PLACEHOLDER, "\n".join(lines))


def build_release(out, source=KIT_ROOT, force=False, make_zip=False, layout=None, lang="en"):
    """Write the student release of ``source`` into ``out``; return the list of files written.

    ``layout``: the files to ship (default ``STUDENT_LAYOUT``); ``lang``: the language of its
    text (``en``, ``zh-CN``: instructor/i18n). Raises ``ReleaseError`` (nothing written) when
    ``out`` is inside the source tree, is non-empty without ``force``, the source does not match
    the layout, the language's translation is incomplete or stale, or the result would leak a
    solution.
    """
    source, out = Path(source).resolve(), Path(out).resolve()
    _check_destination(out, source, force)
    zip_path = out.with_name(out.name + ".zip")
    if make_zip and zip_path.exists() and not force:
        raise ReleaseError(f"{zip_path} exists; pass --force to replace it")
    if not (source / "assignment").is_dir():
        raise ReleaseError(f"{source} holds none of the kit's files; is it the kit's source?")
    _check_table(source, checks=False)
    relpaths = student_files(source, layout)
    language = Language(lang, source)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for relpath in relpaths:
            text = (source / relpath).read_text(encoding="utf-8")
            transform = TRANSFORMS.get(str(relpath), TRANSFORMS.get(relpath.suffix,
                                                                     transform_other))
            target = staging / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(language.file(transform(text, str(relpath)), relpath),
                              encoding="utf-8")
        readme = source / STUDENT_README
        if readme.is_file():
            text = language.readme(transform_other(readme.read_text(encoding="utf-8"),
                                                   STUDENT_README))
            (staging / "README.md").write_text(with_points(text, source), encoding="utf-8")
        language.messages(staging)
        verify_release(staging, solution_lines(source, relpaths))
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if make_zip:
        submission.write_zip(zip_path, {Path(out.name) / path.relative_to(out): path
                                        for path in out.rglob("*") if path.is_file()})
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m instructor.release",
        description="Write the student release of this kit: solutions stubbed, "
                    "outputs cleared, instructor-only files left out.")
    parser.add_argument("out", type=Path, help="a new or empty folder outside the kit")
    parser.add_argument("--zip", action="store_true", help="also write OUT.zip")
    parser.add_argument(
        "--force", action="store_true", help="replace OUT (and OUT.zip) if they exist"
    )
    parser.add_argument("--source", type=Path, default=KIT_ROOT,
                        help="the instructor source tree (default: this kit)")
    parser.add_argument("--lang", default="en", choices=tuple(LANGUAGES),
                        help="the language of the notebooks, README and messages (default: en; "
                             "zh-CN from the catalogs in i18n/zh_CN/, docs/translations.md)")
    args = parser.parse_args(argv)
    try:
        _check_destination(args.out.resolve(), args.source.resolve(), args.force)
        _check_table(args.source.resolve(), checks=True)
        files = build_release(args.out, args.source, force=args.force, make_zip=args.zip,
                              lang=args.lang)
    except ReleaseError as err:
        print(f"release: error: {err}", file=sys.stderr)
        return 2
    print(f"release: wrote {len(files)} files ({args.lang}) to {args.out.resolve()}")
    if args.zip:
        print(f"release: wrote {args.out.resolve()}.zip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
