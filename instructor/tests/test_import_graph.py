"""The kit's modules import each other without a cycle (read from the source, not run)."""
import ast

from helpers.utils import KIT_ROOT

PACKAGES = ("assignment", "helpers", "instructor", "tests")


def module_name(path):
    """``helpers/studies/evaluation.py`` -> ``helpers.studies.evaluation`` (packages: their
    ``__init__``'s folder name)."""
    parts = path.relative_to(KIT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def kit_modules():
    """Module name -> path of every Python file of the kit's packages."""
    return {module_name(path): path for package in PACKAGES
            for path in sorted((KIT_ROOT / package).rglob("*.py"))}


def imported_names(path, name):
    """Every module ``path`` (module ``name``) imports, anywhere in the file (late imports
    inside functions count too), as absolute dotted names; ``from x import y`` gives both
    ``x`` and ``x.y``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def import_graph():
    """Module -> the kit modules it imports (a module importing ``a.b.c`` depends on ``a.b.c``
    only, not on its packages, whose ``__init__`` files import nothing of the kit)."""
    modules = kit_modules()
    return {name: sorted(imported & set(modules) - {name})
            for name, path in modules.items()
            for imported in [imported_names(path, name)]}


def find_cycle(graph):
    """One cycle of ``graph`` (a list of modules, first == last), or None (depth-first)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for neighbour in graph.get(node, ()):
            if state.get(neighbour) == "open":
                return stack[stack.index(neighbour):] + [neighbour]
            if neighbour not in state and (cycle := visit(neighbour)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in graph:
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


def test_late_and_relative_imports_are_read(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("from . import peer\n\ndef f():\n    from assignment import two_layer_net\n")
    assert imported_names(path, "instructor.verdicts.mod") >= {
        "instructor.verdicts.peer", "assignment.two_layer_net"}


def test_the_kit_has_no_import_cycle():
    graph = import_graph()
    studies = graph["helpers.studies.fully_connected_networks"]
    assert "assignment.fully_connected_networks" in studies, "the graph must see imports"
    assert "helpers.solver" in graph["assignment.fully_connected_networks"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_student_wing_never_imports_the_instructor_wing():
    graph = import_graph()
    leaks = {name: [m for m in imports if m.startswith("instructor")]
             for name, imports in graph.items()
             if name.split(".")[0] in ("assignment", "helpers")
             or name.startswith("tests.assignment") or name == "tests.conftest"}
    assert not {name: found for name, found in leaks.items() if found}
