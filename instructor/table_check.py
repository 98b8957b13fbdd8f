"""Does the table of student functions (``helpers/functions.py``) agree with the code?

    python -m instructor.table_check [--source KIT] [--run part ...]

One line per problem, each naming the file to change and how: a solution region in
``assignment/`` with no row, a row with no solution region, a function with no visible check
(``tests/assignment/``) or no hidden check (``instructor/tests/hidden/``), a ``built_from``
entry or a stand-in that does not exist, a part whose points do not add up to its total
(``PART_POINTS`` and ``instructor/rubric.json``), a function the student API of
``docs/CONTRACT.md`` does not name. ``python -m instructor.release`` runs it
before it writes anything; ``instructor/tests/test_table_check.py`` runs it on the kit.
``--run part ...`` then runs the self-check and the hidden checks of those parts on the
reference solutions: the one command that proves a change to the kit sound
(``docs/extending.md``).
"""
import argparse
import ast
import importlib.util
import json
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

from helpers.utils import KIT_ROOT

TABLE = "helpers/functions.py"
VISIBLE = "tests/assignment"
HIDDEN = "instructor/tests/hidden"
RUBRIC = "instructor/rubric.json"
CONTRACT = "docs/CONTRACT.md"


def load_table(source=KIT_ROOT):
    """The module ``helpers/functions.py`` of the kit at ``source`` (not necessarily this one)."""
    spec = importlib.util.spec_from_file_location("_student_functions_table",
                                                  Path(source) / TABLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BEGIN = re.compile(r"^[ \t]*#\s*BEGIN SOLUTION\s*$")   # as instructor/release.py reads it


def solution_functions(path):
    """Names (``function`` or ``Class.method``) of the functions holding a solution region,
    in file order (the innermost function around each ``# BEGIN SOLUTION``)."""
    text = Path(path).read_text(encoding="utf-8")
    begins = [number for number, line in enumerate(text.splitlines(), start=1)
              if BEGIN.match(line)]
    spans = []   # (first line, last line, name) of every function and method

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                spans.append((child.lineno, child.end_lineno, prefix + child.name))
                visit(child, prefix + child.name + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(ast.parse(text), "")
    names = []
    for line in begins:
        around = [span for span in spans if span[0] < line <= span[1]]
        if around:
            names.append(max(around, key=lambda span: span[0])[2])
    return list(dict.fromkeys(names))


# Collects the checks of the folders given in argv[1:] (in the kit that is the working
# directory) and prints, as JSON, the names each folder's checks are marked with
# (pytest.mark.student).
_COLLECT = """
import json, sys, pytest
from pathlib import Path
folders = {folder: set() for folder in sys.argv[1:]}
class Marks:
    def pytest_collection_modifyitems(self, items):
        for item in items:
            folder = next(f for f in folders if Path(f).resolve() in Path(item.path).parents)
            for marker in item.iter_markers("student"):
                folders[folder].update(marker.args)
pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *folders], plugins=[Marks()])
print("MARKED " + json.dumps({folder: sorted(names) for folder, names in folders.items()}))
"""


def marked_functions(source, folders):
    """``folder -> names`` given to ``pytest.mark.student(...)`` by the checks of each folder
    (collected by pytest in the kit at ``source``, so marks made by helpers count too)."""
    result = subprocess.run([sys.executable, "-c", _COLLECT, *folders], cwd=source,
                            capture_output=True, text=True, timeout=600)
    for line in result.stdout.splitlines():
        if line.startswith("MARKED "):
            return {folder: set(names)
                    for folder, names in json.loads(line[len("MARKED "):]).items()}
    raise RuntimeError(f"collecting {', '.join(folders)} failed: "
                       f"{result.stdout[-2000:]}{result.stderr[-2000:]}")


def defined_names(path):
    """Top-level names a Python file defines (functions, classes, assignments)."""
    names = set()
    for node in ast.parse(Path(path).read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _region_problems(source, table):
    problems = []
    for part in table.PART_POINTS:
        path = source / "assignment" / f"{part}.py"
        found = solution_functions(path) if path.is_file() else []
        rows = [row.name for row in table.functions_of(part)]
        for name in found:
            if name not in table.FUNCTIONS:
                problems.append(f"assignment/{part}.py: {name} has a solution region but no row "
                                f"in {TABLE}: add one to FUNCTIONS (part {part!r})")
            elif table.FUNCTIONS[name].part != part:
                problems.append(f"{TABLE}: {name}'s row says part "
                                f"{table.FUNCTIONS[name].part!r}, but its solution region is in "
                                f"assignment/{part}.py: move the row to part {part!r}")
        for name in rows:
            if name not in found:
                problems.append(f"{TABLE}: {name} has a row but no solution region in "
                                f"assignment/{part}.py: mark its body with # BEGIN SOLUTION / "
                                "# END SOLUTION, or remove the row")
    parts = set(table.PART_POINTS)
    for name, row in table.FUNCTIONS.items():
        if row.part not in parts:
            problems.append(f"{TABLE}: {name}'s part {row.part!r} is none of PART_POINTS "
                            f"({', '.join(parts)}): fix the part, or add it to PART_POINTS")
    return problems


def _check_problems(source, table):
    problems = []
    marks = marked_functions(source, (VISIBLE, HIDDEN))
    for folder, kind in ((VISIBLE, "visible"), (HIDDEN, "hidden")):
        marked = marks[folder]
        for name, row in table.FUNCTIONS.items():
            if name not in marked:
                problems.append(f"{folder}/test_{row.part}.py: {name} has no {kind} check: add "
                                f'one marked @pytest.mark.student("{name}")')
        for name in sorted(marked - set(table.FUNCTIONS)):
            problems.append(f"{folder}: a check is marked with {name!r}, which has no row in "
                            f"{TABLE}: fix the mark, or add the row")
    return problems


def _row_problems(source, table):
    problems = []
    stand_ins = defined_names(source / "helpers" / "stand_ins.py")
    for name, row in table.FUNCTIONS.items():
        for part in row.built_from:
            if part not in table.FUNCTIONS:
                problems.append(f"{TABLE}: {name} is built from {part!r}, which is no student "
                                f"function: fix the name in built_from, or add its row")
        if row.built_from and not row.why:
            problems.append(f"{TABLE}: {name} is built from others but says not why: add 'why'")
        if row.stand_in and row.stand_in not in stand_ins:
            problems.append(f"{TABLE}: {name}'s stand-in {row.stand_in!r} is not defined in "
                            f"helpers/stand_ins.py: write it there, or fix 'stand_in'")
    return problems


def _contract_problems(source, table):
    """Rows whose function the student API of the contract (section 4) does not name."""
    path = source / CONTRACT
    if not path.is_file():
        return []
    api = path.read_text(encoding="utf-8").split("## 4. Student API", 1)[-1].split("\n## ", 1)[0]
    problems = []
    for name in table.FUNCTIONS:
        owner, _, method = name.rpartition(".")
        named = re.search(rf"`{re.escape(owner or method)}\b", api)
        if not named or (owner and method != "__init__"
                         and not re.search(rf"\b{re.escape(method)}\b", api)):
            problems.append(f"{CONTRACT}: section 4 (Student API) does not name {name}: add its "
                            "signature and shapes there")
    return problems


def _point_problems(source, table):
    problems = []
    rubric_path = source / RUBRIC
    rubric_parts = json.loads(rubric_path.read_text())["parts"] if rubric_path.is_file() else {}
    for part, total in table.PART_POINTS.items():
        rows = table.functions_of(part)
        given = sum(Fraction(row.points) for row in rows if row.points is not None)
        shared = [row for row in rows if row.points is None]
        if given > total or (given != total and not shared):
            problems.append(f"{TABLE}: the points of {part}'s functions add up to {float(given):g}"
                            f", but the part is worth {total:g} (PART_POINTS): change their "
                            "'points', or the part's total here and in " + RUBRIC)
        if rubric_path.is_file() and rubric_parts.get(part) != total:
            problems.append(f"{RUBRIC}: parts.{part} is {rubric_parts.get(part)}, but "
                            f"{TABLE} gives the part {total:g} (PART_POINTS): make them agree")
    for part in sorted(set(rubric_parts) - set(table.PART_POINTS)):
        problems.append(f"{RUBRIC}: parts.{part} is no part of {TABLE} (PART_POINTS): remove it "
                        "or add the part")
    return problems


def problems(source=KIT_ROOT, checks=True):
    """Every disagreement between the table of student functions and the kit at ``source``,
    one line each (empty when they agree). ``checks=False`` leaves out whether every function
    has a visible and a hidden check (that collects the checks with pytest: seconds)."""
    source = Path(source)
    try:
        table = load_table(source)
    except Exception as err:  # the table must load before anything can be compared
        return [f"{TABLE}: cannot be loaded ({type(err).__name__}: {err}): fix it"]
    found = (_region_problems(source, table) + _row_problems(source, table)
             + _point_problems(source, table) + _contract_problems(source, table))
    return found + (_check_problems(source, table) if checks else [])


def run_reference(source, parts):
    """Run, on the reference solutions of ``source``, the self-check and the hidden checks of
    ``parts``; returns one line per failed run (empty when the reference passes them all)."""
    runs = [("the self-check", [sys.executable, "-m", "helpers.check", *parts]),
            ("the hidden checks", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                   *(f"{HIDDEN}/test_{part}.py" for part in parts)])]
    failed = []
    for what, command in runs:
        print(f"table_check: running {what} on the reference ({' '.join(command[1:])})",
              flush=True)
        result = subprocess.run(command, cwd=source, capture_output=True, text=True)
        if command[2] == "helpers.check":
            print(result.stdout, end="", flush=True)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            failed.append(f"{what} fails on the reference solutions:\n{tail}")
    return failed


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m instructor.table_check",
        description="Check the table of student functions against the kit; with --run, also "
                    "run the self-check and the hidden checks of parts on the reference.")
    parser.add_argument("--source", type=Path, default=KIT_ROOT, help="the kit (default: this)")
    parser.add_argument("--run", nargs="+", metavar="part", default=[],
                        help="parts whose checks to run on the reference solutions")
    args = parser.parse_args(argv)
    table = load_table(args.source)
    unknown = [part for part in args.run if part not in table.PART_POINTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}: choose among "
                     f"{', '.join(table.PART_POINTS)}")
    found = problems(args.source)
    for line in found:
        print(line)
    print(f"table_check: {len(found)} problem(s)" if found else "table_check: the table agrees")
    if found:
        return 1
    failed = run_reference(args.source, args.run) if args.run else []
    for line in failed:
        print(line)
    if args.run and not failed:
        print(f"table_check: the reference passes the self-check and the hidden checks of "
              f"{', '.join(args.run)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
