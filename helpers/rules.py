"""The assignment's rules, checked: what each function of yours may not use.

The rules are rows of ``helpers/functions.py``.

Two passes look for a broken rule, and both the self-check and the grader run them:

- :func:`static_findings` reads a file of ``assignment/`` (never runs it): imports, attribute
  chains (``torch.nn.functional.cross_entropy``), names bound to them (``import torch.autograd
  as ag``, ``g = torch.autograd.grad``), ``getattr`` with a constant name, ``.backward()``,
  ``requires_grad``, and the kit's stand-ins;
- :class:`Guard` watches the code while it runs: every torch call made from a file of
  ``assignment/`` that reaches autograd (``.backward()``, ``torch.autograd.grad``,
  ``requires_grad``, ``torch.func``), ``torch.nn`` or ``torch.optim``, or that makes a tensor
  recording a graph, raises :class:`RuleBreak` and is recorded, however the name was reached.

A broken rule reads ``<function> uses torch.autograd (line N): write the backward pass by hand``.
"""
import ast
import inspect
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

from helpers.functions import FUNCTIONS, RULES, functions_of
from helpers.i18n import _

# Dotted names (and everything under them) that each rule forbids.
FORBIDDEN_NAMES = {
    "torch.autograd": "autograd", "torch.func": "autograd", "functorch": "autograd",
    "torch._functorch": "autograd", "torch.enable_grad": "autograd",
    "torch.set_grad_enabled": "autograd", "torch.Tensor.backward": "autograd",
    "torch.overrides": "autograd", "torch._C._nn": "torch.nn", "torch._C": "autograd",
    "torch.nn": "torch.nn", "torch.optim": "torch.optim",
    "helpers.stand_ins": "stand-ins", "helpers.torch_nn_twins": "stand-ins",
}
# Attributes of any object (a tensor, most likely) that belong to autograd.
AUTOGRAD_ATTRIBUTES = {"backward", "requires_grad", "requires_grad_", "grad", "grad_fn",
                       "retain_grad", "register_hook"}
# Ready-made losses, wherever they are reached (``torch.log_softmax``, ``x.log_softmax()``).
LOSS_NAMES = {"log_softmax", "cross_entropy", "nll_loss", "multi_margin_loss",
              "multilabel_margin_loss", "binary_cross_entropy"}
# ``.backward`` of these is a layer of yours (``Linear.backward``), not autograd's.
LAYER_BASES = {"self", "cls"}
RULE_MESSAGE = re.compile(r"(?P<function>[\w.]+) uses (?P<what>[^()]+?) \(line (?P<line>\d+)\): "
                          r"(?P<advice>[^\n]+)")


@dataclass(frozen=True)
class Finding:
    """A broken rule: the student function, the rule (a key of ``RULES``) and the line."""

    function: str
    rule: str
    line: int

    @property
    def message(self):
        row = FUNCTIONS.get(self.function)
        if row is None:   # code of no function of yours (run at import, say)
            rule = RULES[self.rule]
            return f"{self.function} uses {rule.what} (line {self.line}): {rule.advice}"
        return row.message(self.rule, self.line)


class RuleBreak(RuntimeError):
    """Raised where running code of yours breaks a rule; its message is the rule's."""


def rule_of(dotted):
    """The rule a dotted name breaks (``torch.nn.functional.relu`` -> ``"torch.nn"``), else None."""
    for prefix, rule in FORBIDDEN_NAMES.items():
        if dotted == prefix or dotted.startswith(prefix + "."):
            return rule
    return None


# ---------------------------------------------------------------- static ---

class _Reader(ast.NodeVisitor):
    """Collects ``(scope, rule, line)`` uses, the names bound to dotted paths, the module-level
    names each scope refers to, and the scopes that module-level statements bind."""

    def __init__(self, tree):
        self.aliases, self.uses, self.refers, self.bindings = {}, [], {}, []
        self.classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
        self.scope, self.kinds = [], []
        self._bind_aliases(tree)

    def _bind_aliases(self, tree):
        """Names bound to a dotted path anywhere in the file (flow-insensitive, to a fixpoint)."""
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        self.aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for _round in range(5):
            for node in ast.walk(tree):
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, (ast.AnnAssign, ast.NamedExpr)) else []
                value = getattr(node, "value", None)
                dotted = self.dotted(value) if value is not None else None
                for target in targets:
                    if dotted and isinstance(target, ast.Name):
                        self.aliases.setdefault(target.id, dotted)

    def dotted(self, node):
        """The dotted path an expression names (``F.relu`` -> ``torch.nn.functional.relu``)."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            constant = _constant_strings(node.args)
            if node.func.id == "getattr" and len(constant) == 2 and constant[1]:
                base = self.dotted(node.args[0])
                return f"{base}.{constant[1]}" if base else None
            if node.func.id == "__import__" and constant and constant[0]:
                return constant[0]
        if isinstance(node, ast.Call) and self.dotted(node.func) == "importlib.import_module":
            constant = _constant_strings(node.args)
            return constant[0] if constant and constant[0] else None
        return None

    def here(self):
        return ".".join(self.scope) if self.scope else None

    def use(self, rule, node):
        self.uses.append((self.here(), rule, node.lineno))

    def visit_ClassDef(self, node):
        self._scoped(node)

    def visit_FunctionDef(self, node):
        self._scoped(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def _scoped(self, node):
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.scope.append(node.name)
        self.kinds.append(type(node) is ast.ClassDef)
        for statement in node.body:
            self.visit(statement)
        self.scope.pop()
        self.kinds.pop()

    def visit_Import(self, node):
        for alias in node.names:
            self._import(alias.name, alias.asname or alias.name.split(".")[0], node)

    def visit_ImportFrom(self, node):
        for alias in node.names:
            dotted = f"{node.module}.{alias.name}" if node.module else alias.name
            self._import(dotted if alias.name != "*" else node.module or "", alias.name, node)

    def _import(self, dotted, bound, node):
        rule = rule_of(dotted)
        if rule and (self.scope or bound == "*" or bound.split(".")[0] in _top_names()):
            # Inside a function, or at module level when it replaces a function of yours
            # (``from helpers.stand_ins import accuracy``, ``from ... import *``).
            self.uses.append((self.here() if self.scope else f"={bound}", rule, node.lineno))

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.refers.setdefault(self.here(), set()).add(node.id)
            rule = rule_of(self.aliases.get(node.id, ""))
            if rule:
                self.use(rule, node)

    def visit_Attribute(self, node):
        dotted = self.dotted(node)
        rule = rule_of(dotted) if dotted else None
        if rule:
            self.use(rule, node)
            return
        if node.attr in AUTOGRAD_ATTRIBUTES and not self._is_layer(node.value, node.attr):
            self.use("autograd", node)
        elif node.attr in LOSS_NAMES:
            self.use("losses", node)
        self.generic_visit(node)

    def _is_layer(self, base, attr):
        return attr == "backward" and isinstance(base, ast.Name) and (
            base.id in self.classes or base.id in LAYER_BASES)

    def visit_Call(self, node):
        dotted = self.dotted(node)
        if dotted and rule_of(dotted):
            self.use(rule_of(dotted), node)
        if isinstance(node.func, ast.Name) and node.func.id == "getattr":
            constant = _constant_strings(node.args)
            if len(constant) == 2 and constant[1] in AUTOGRAD_ATTRIBUTES and \
                    not self._is_layer(node.args[0], constant[1]):
                self.use("autograd", node)
        for keyword in node.keywords:
            if keyword.arg == "requires_grad" and not (
                    isinstance(keyword.value, ast.Constant) and not keyword.value.value):
                self.use("autograd", keyword.value)
        self.generic_visit(node)

    def visit_Assign(self, node):
        # A module-level or class-level binding of a function of yours is that function.
        bound = [_target_name(target) for target in node.targets]
        before = len(self.uses)
        self.generic_visit(node)
        if not self.scope or self.kinds == [True]:   # ``TwoLayerNet.loss = my_loss``
            prefix = f"{self.scope[0]}." if self.scope else ""
            names = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            self.bindings += [(prefix + target, names) for target in bound if target]
        for index in range(before, len(self.uses)):
            scope, rule, line = self.uses[index]
            if not self.scope or self.kinds == [True]:
                names = [name for name in bound if name]
                prefix = f"{self.scope[0]}." if self.scope else ""
                self.uses[index] = (f"={','.join(prefix + n for n in names)}", rule, line)


def _top_names():
    """Names of yours a module-level import may replace (functions and classes)."""
    return {name.split(".")[0] for name in FUNCTIONS}


def _constant_strings(nodes):
    return [node.value if isinstance(node, ast.Constant) and isinstance(node.value, str)
            else None for node in nodes]


def _target_name(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def static_findings(source, part):
    """The broken rules in the source of ``part`` (a file of ``assignment/``), read, never
    run: ``{function: Finding}``, the first (by line) for each function of the part."""
    tree = ast.parse(source)
    reader = _Reader(tree)
    reader.visit(tree)
    own = {row.name for row in functions_of(part)}
    defined = [node for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    helpers = {node.name for node in defined if node.name not in own}
    findings = {}

    def add(function, rule, line):
        row = FUNCTIONS.get(function)
        if row and row.part == part and rule in row.forbids:
            if function not in findings or line < findings[function].line:
                findings[function] = Finding(function, rule, line)

    by_scope = {}
    for scope, rule, line in reader.uses:
        if scope is None:
            continue  # a module-level use that binds nothing of yours
        if scope.startswith("="):
            targets = [t for t in scope[1:].split(",") if t]
            for target in targets:
                for function in own:
                    if target == "*" or function == target or function.split(".")[0] == target:
                        add(function, rule, line)
            continue
        by_scope.setdefault(scope, []).append((rule, line))
    for scope in list(reader.refers) + list(by_scope):
        if scope is None:
            continue
        function = _student_function(scope, own)
        if function is None:
            continue
        for rule, line in _reached(scope, by_scope, reader.refers, helpers):
            add(function, rule, line)
    for target, names in reader.bindings:   # a function of yours bound to a helper of the file
        for function in own:
            if function == target or function.split(".")[0] == target:
                for name in names & helpers:
                    for rule, line in _reached(name, by_scope, reader.refers, helpers):
                        add(function, rule, line)
    return findings


def _student_function(scope, own):
    """The function of yours a scope (``C.m.inner``) belongs to, else None."""
    parts = scope.split(".")
    for length in (2, 1):
        name = ".".join(parts[:length])
        if name in own:
            return name
    return None


def _reached(scope, by_scope, refers, helpers):
    """The uses in ``scope`` (and nested scopes) and in the module's helper functions it
    refers to, transitively."""
    seen, todo, uses = set(), [scope], []
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for other, found in by_scope.items():
            if other == current or other.startswith(current + "."):
                uses += found
        for other in refers:
            if other and other.startswith(current + "."):
                todo.append(other)
        todo += [name for name in refers.get(current, ()) if name in helpers]
    return uses


def file_findings(path, part):
    """:func:`static_findings` of a file; an empty dict for a file that cannot be parsed
    (the checks report that)."""
    try:
        return static_findings(Path(path).read_text(encoding="utf-8", errors="replace"), part)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return {}


# --------------------------------------------------------------- dynamic ---

TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_THIS_FILE = os.path.abspath(__file__)
_PACKAGE_RULES = (("nn" + os.sep, "torch.nn"), ("optim" + os.sep, "torch.optim"),
                  ("autograd" + os.sep, "autograd"), ("_functorch" + os.sep, "autograd"))
_AUTOGRAD_CALLS = {torch.Tensor.backward, torch.autograd.grad, torch.autograd.backward,
                   torch.Tensor.requires_grad_, torch.Tensor.retain_grad,
                   torch.Tensor.register_hook}
_AUTOGRAD_PROPERTIES = {"requires_grad", "grad", "grad_fn"}


class Guard(TorchFunctionMode):
    """While active, a torch call made by code in ``assignment_dir`` that breaks a rule
    raises :class:`RuleBreak` and is recorded in ``findings`` (function -> Finding).

    Calls made by the kit's own code (the checks, the stand-ins, the given helpers) are not
    watched, even when code of yours calls that code.
    """

    def __init__(self, assignment_dir):
        super().__init__()
        self.assignment_dir = os.path.abspath(assignment_dir) + os.sep
        self.findings = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        student = self._student_frame()
        if student is None:
            return func(*args, **kwargs)
        frame, crossed = student
        rule = _rule_of_call(func, kwargs)
        if func is not torch._C._set_grad_enabled:
            rule = rule or crossed
        if rule is None:
            result = func(*args, **kwargs)
            if _makes_graph(result, args, kwargs):
                self._break(frame, "autograd")
            return result
        self._break(frame, rule)

    def _student_frame(self):
        """``(frame, rule)``: the frame of ``assignment/`` that made this call and the rule of
        the torch package it went through on the way (or None); None when the kit's code made it."""
        frame, crossed = sys._getframe(2), None
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename.startswith(TORCH_DIR):
                inside = filename[len(TORCH_DIR):]
                crossed = crossed or next(
                    (rule for prefix, rule in _PACKAGE_RULES if inside.startswith(prefix)), None)
            elif filename.startswith(self.assignment_dir):
                return frame, crossed
            elif os.path.isabs(filename) and os.path.abspath(filename) != _THIS_FILE:
                return None   # the kit's code, or a library's
            frame = frame.f_back   # code made by exec or eval: whose code made it counts
        return None

    def _break(self, frame, rule):
        part = Path(frame.f_code.co_filename).stem
        function = _function_of(frame, part)
        finding = Finding(function, rule, frame.f_lineno)
        self.findings.setdefault(function, finding)
        raise RuleBreak(finding.message)


def _rule_of_call(func, kwargs):
    if func is torch._C._set_grad_enabled:
        return None   # torch.no_grad() and its like are harmless; requires_grad is not
    if func in _AUTOGRAD_CALLS:
        return "autograd"
    owner = getattr(func, "__self__", None)   # a property's __set__ (x.requires_grad = True)
    if getattr(owner, "__name__", None) in _AUTOGRAD_PROPERTIES and \
            getattr(func, "__name__", "") == "__set__":
        return "autograd"
    if kwargs.get("requires_grad"):
        return "autograd"
    module = getattr(func, "__module__", None) or ""
    if module.startswith(("torch.nn", "torch.optim", "torch._C._nn")):
        return rule_of(module)
    return "losses" if getattr(func, "__name__", None) in LOSS_NAMES else None


def _makes_graph(result, args, kwargs):
    """Whether ``result`` records a graph that none of the inputs did."""
    outputs = result if isinstance(result, (tuple, list)) else (result,)
    if not any(isinstance(t, torch.Tensor) and t.requires_grad for t in outputs):
        return False
    inputs = list(args) + list(kwargs.values())
    flat = [item for value in inputs
            for item in (value if isinstance(value, (tuple, list)) else (value,))]
    return not any(isinstance(t, torch.Tensor) and t.requires_grad for t in flat)


def _function_of(frame, part):
    """The function of yours running in ``frame`` or in the nearest caller that is one (by
    its code, so that ``Linear.backward = staticmethod(helper)`` names ``Linear.backward``)."""
    own = {row.name for row in functions_of(part)}
    outermost = None
    while frame is not None:
        if Path(frame.f_code.co_filename).stem == part:
            name = _bound_name(frame, own) or _student_function(
                frame.f_code.co_qualname.replace(".<locals>", ""), own)
            if name:
                return name
            outermost = outermost or frame.f_code.co_qualname
        frame = frame.f_back
    return outermost or part


def _bound_name(frame, own):
    """The function of yours whose code runs in ``frame``, looked up in its module."""
    for name in own:
        value = frame.f_globals
        for attribute in name.split("."):
            value = value.get(attribute) if isinstance(value, dict) else \
                inspect.getattr_static(value, attribute, None)
        value = getattr(value, "__func__", value)   # a staticmethod
        if getattr(value, "__code__", None) is frame.f_code:
            return name
    return None


def first_rule_message(text):
    """The rule's message in a failure's text, else None."""
    match = RULE_MESSAGE.search(str(text))
    return match.group(0) if match and match["function"] in FUNCTIONS else None


def shown_message(text):
    """``text`` as the student reads it: a rule's message (English, as the grader reads it)
    in the student's language; any other text unchanged."""
    match = RULE_MESSAGE.fullmatch(str(text))
    if match is None:
        return text
    # Translators: a broken rule of the assignment, e.g. "Linear.backward uses torch.autograd
    # (line 12): write the backward pass by hand".
    return _("{function} uses {what} (line {line}): {advice}").format(
        function=match["function"], what=_(match["what"]), line=match["line"],
        advice=_(match["advice"]))
