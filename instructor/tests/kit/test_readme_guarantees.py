"""The list of what the grading sandbox guarantees (docs/grading.md), checked against the tests.

Every guarantee in docs/grading.md (moved there from the README) names the tests that prove it
(``test_name`` in instructor/tests/kit/test_sandbox.py, or ``file.py::test_name`` in
instructor/tests/kit/); each named test must exist, so a guarantee cannot outlive its proof.
"""
import ast
import re

from helpers.utils import KIT_ROOT

BEGIN, END = "<!-- guarantees:", "<!-- end of guarantees -->"
TEST_NAME = re.compile(r"`(?:(test_\w+\.py)::)?(test_\w+)`")


def guarantees():
    """The guarantee items of docs/grading.md (a '- ' line and its indented continuation lines)."""
    text = (KIT_ROOT / "docs" / "grading.md").read_text()
    block = text[text.index(BEGIN):text.index(END)].splitlines()[1:]
    items = []
    for line in block:
        if line.startswith("- "):
            items.append(line[2:])
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()
    return items


def defined_tests(filename):
    """Names of the test functions defined in instructor/tests/kit/<filename>."""
    tree = ast.parse((KIT_ROOT / "instructor" / "tests" / "kit" / filename).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_guarantee_names_existing_tests():
    items = guarantees()
    assert len(items) >= 8, "docs/grading.md lists what the sandbox guarantees"
    for item in items:
        named = TEST_NAME.findall(item)
        assert named, f"guarantee without a test: {item}"
        for filename, name in named:
            assert name in defined_tests(filename or "test_sandbox.py"), \
                f"docs/grading.md names {filename or 'test_sandbox.py'}::{name}, " \
                "which does not exist"
