"""The student worker: the only process that runs the student's code while grading.

    python worker.py        (cwd: a copy of the student release holding the student's files)

It imports the student's ``assignment`` modules and serves the grader's calls over its
standard input and output (frames of wire.py, conversation of peer.py); whatever the student's
code prints goes to standard error, which the grader drains. It never sees a check, computes
no verdict and writes no result: it only answers calls with values.

The grader copies this file with wire.py and peer.py into a folder of the worker's copy and
runs it there as a script, so the worker imports nothing of the grader's own source.
"""
import builtins
import importlib
import inspect
import os
import socket
import sys
import traceback
import warnings

import torch

try:
    from . import peer, wire
except ImportError:  # run as a script beside copies of peer.py and wire.py
    import peer
    import wire

# Given classes whose objects may be returned to the grader (e.g. a trained Solver).
HELPER_MODULES = (
    "helpers.solver",
    "helpers.gradcheck",
    "helpers.utils",
    "helpers.studies.evaluation",
)
MAX_WARNINGS = 100


class GraderObject:
    """A callable or object that lives in the grader (a check's ``fit_and_score``, an object with
    a ``predict`` method): calling it, or a public method of it, calls back into the grader."""

    def __init__(self, link, handle, name):
        self._link, self._handle, self.__name__ = link, handle, name

    def __call__(self, *args, **kwargs):
        return self._link.call(self, None, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._link.call(self, name, args, kwargs)

    def __repr__(self):
        return f"<{self.__name__} of the checks>"


def lookup(name):
    """The function or class named ``part:qualname`` (an assignment module) or
    ``helpers.module:qualname`` (given code)."""
    module_name, _, qualname = name.partition(":")
    if module_name.startswith("helpers."):
        if module_name not in HELPER_MODULES:
            raise wire.Unsendable(f"{module_name} is not a module the checks use")
    else:
        module_name = f"assignment.{module_name}"
    value = importlib.import_module(module_name)
    for attribute in qualname.split("."):
        value = getattr(value, attribute)
    return value


def name_of(value):
    """``part:qualname`` (or ``helpers.module:qualname``) of a function or class of the
    student's modules or the given helpers, when that name finds it again; else None."""
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    if module.startswith("assignment."):
        name = f"{module.removeprefix('assignment.')}:{qualname}"
    elif module in HELPER_MODULES:
        name = f"{module}:{qualname}"
    else:
        return None
    try:
        return name if lookup(name) is value else None
    except Exception:  # a name that no longer finds it: send it as a handle
        return None


class WorkerHooks(peer.Hooks):
    """The worker's side: student objects go out by name and state; its own other callables
    (lambdas, closures) as handles the grader can call back."""

    def __init__(self, root):
        self.root, self.link = root, None
        self.handles, self.handle_ids = {}, {}
        self.logs = []     # one warnings log per call being served (calls nest)
        self.unsent = []   # warnings recorded and not yet sent

    def export(self, value):
        if isinstance(value, GraderObject):
            return {"t": "handle", "side": "g", "id": value._handle}
        name = name_of(value) if inspect.isfunction(value) or inspect.isclass(value) else None
        if name:
            return {"t": "cls" if inspect.isclass(value) else "fn", "name": name}
        class_name = name_of(type(value))
        if class_name and hasattr(value, "__dict__"):
            return {"t": "obj", "cls": class_name, "state": vars(value)}
        if callable(value):
            return {"t": "handle", "side": "w", "id": self._handle(value),
                    "name": str(getattr(value, "__name__", type(value).__name__))[:100]}
        raise wire.Unsendable(f"a {type(value).__module__}.{type(value).__qualname__} "
                              "cannot be passed to the checks")

    def _handle(self, value):
        if id(value) not in self.handle_ids:
            self.handle_ids[id(value)] = len(self.handles)
            self.handles[len(self.handles)] = value
        return self.handle_ids[id(value)]

    def resolve(self, node):
        kind = node.get("t")
        if kind in ("fn", "cls"):
            value = lookup(str(node.get("name")))
            if inspect.isclass(value) != (kind == "cls"):
                raise wire.Unsendable(f"{node.get('name')} is not a {kind}")
            return value
        if kind == "import":
            return lambda: importlib.import_module(f"assignment.{node.get('part')}") and None
        if kind == "handle" and node.get("side") == "g" and type(node.get("id")) is int:
            return GraderObject(self.link, node["id"], str(node.get("name", "callback"))[:100])
        if kind == "handle" and node.get("side") == "w" and node.get("id") in self.handles:
            return self.handles[node["id"]]
        raise wire.WireError(f"unknown value node {str(kind)[:40]!r}")

    def instance(self, cls_name):
        cls = lookup(cls_name)
        if not inspect.isclass(cls):
            raise wire.Unsendable(f"{cls_name} is not a class")
        return object.__new__(cls)

    def authorize(self, target, method):
        function = getattr(target, method) if method else target
        if not callable(function):
            raise wire.Unsendable(f"{method or target!r} cannot be called")
        return function

    def run(self, function, args, kwargs):
        # A fresh warnings registry per call: each check sees every warning it causes.
        with warnings.catch_warnings(record=True) as log:
            self.logs.append(log)
            try:
                return function(*args, **kwargs)
            finally:
                self.logs.pop()
                self.unsent += log

    def on_error(self, error):
        where = self.where(error)
        if isinstance(error, Exception) and not isinstance(error, MemoryError):
            return "raise", peer.error_payload(error, where)
        kind = {SystemExit: "exit", MemoryError: "memory"}.get(type(error), "crash")
        text = f"sys.exit({error.code!r})" if isinstance(error, SystemExit) else \
            f"{type(error).__name__}: {error}"
        return "abort", {"kind": kind, "message": text[:peer.MAX_MESSAGE], "where": where}

    def where(self, error):
        """``assignment/<file>.py:<line>`` of the last frame of the student's files."""
        frames = traceback.extract_tb(error.__traceback__)
        base = os.path.join(self.root, "assignment") + os.sep
        mine = [f for f in frames if f.filename.startswith(base)]
        return f"{os.path.relpath(mine[-1].filename, self.root)}:{mine[-1].lineno}" if mine else ""

    def outgoing(self):
        if self.logs:  # a callback leaves while a call runs: the warnings so far go with it
            self.unsent += self.logs[-1]
            self.logs[-1].clear()
        log, self.unsent = self.unsent[:MAX_WARNINGS], []
        if not log:
            return {}
        return {"warnings": [[_category_name(w.category), str(w.message)[:peer.MAX_MESSAGE],
                              os.path.relpath(str(w.filename), self.root)[:200], int(w.lineno or 0)]
                             for w in log]}


def _category_name(category):
    """The first built-in warning class in the MRO of ``category``."""
    return next((k.__name__ for k in category.__mro__ if getattr(builtins, k.__name__, None) is k),
                "UserWarning")


def block_network():
    """Refuse every new connection (where the launcher could not give a network namespace)."""
    def refuse(*_args, **_kwargs):
        raise PermissionError("network access is disabled while grading")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse


def watch_the_rules(root):
    """Make every torch call of the student's code that breaks a rule of the assignment raise
    ``RuleBreak`` (helpers/rules.py, from the release's copy: instructor/grading/rules.py
    turns it into 0 points)."""
    from helpers.rules import Guard

    Guard(os.path.join(root, "assignment")).__enter__()


def main():
    # The frames keep the original standard input and output; fd 1 then points to standard
    # error, so that what the student's code prints never mixes with them.
    frames_in, frames_out = os.dup(0), os.dup(1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    root = os.getcwd()
    sys.path.insert(0, root)
    torch.set_num_threads(1)
    if os.environ.get("KIT_GRADE_BLOCK_NETWORK") == "1":
        block_network()
    watch_the_rules(root)
    hooks = WorkerHooks(root)
    link = peer.Peer(wire.Pipe(frames_in, frames_out), hooks)
    hooks.link = link
    link.pipe.send({"op": "hello", "pid": os.getpid()})
    link.serve_forever()


if __name__ == "__main__":
    main()
