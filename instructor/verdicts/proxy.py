"""Proxy modules: ``assignment.<part>`` in the grader, with the student's code in the worker.

The checks import ``assignment.linear_classifier`` and friends as always; in the grading process
these names are proxy modules built from the **reference** modules (this source's own
``assignment/*.py``, imported from the grader's source before any student code runs). The
reference decides what the proxies hold, never the student's files, so a submission cannot
change the shape of what the checks call:

- each function of the module becomes a stub with the reference's name, signature and doc that
  forwards the call to the worker, where the student's function of that name runs;
- each class becomes a proxy class with the same name and bases. Its objects keep their state
  (``__dict__``: tensors, dicts, numbers, strings) in the grader; each method call sends the
  object's state and the arguments, the worker rebuilds the object with
  ``object.__new__(StudentClass)``, runs the student's method and sends back the result and the
  new state. Static and class methods (``Linear.forward``) are forwarded the same way. So given
  code such as ``helpers.solver.Solver`` trains a proxied net and reads ``model.params``;
- names the module imports from ``helpers`` stay the grader's own (given code), other
  constants keep the reference's value.
"""
import inspect
import sys
import types
from contextlib import contextmanager

import assignment

STUB_DUNDERS = ("__init__", "__call__")


def build_modules(references, session):
    """Proxy modules, part -> module, for the reference modules ``references`` (part -> module);
    they call into ``session`` (a ``WorkerSession``), which also learns them."""
    modules = {part: _build_module(part, reference, session)
               for part, reference in references.items()}
    session.proxies.update(modules)
    from helpers import solver  # given code that a student's function may return
    session.trusted["helpers.solver:Solver"] = solver.Solver
    # given functions a returned Solver may hold as options (augment=, lr_schedule=)
    for name in ("random_horizontal_flip", "cosine_schedule"):
        session.trusted[f"helpers.solver:{name}"] = getattr(solver, name)
    return modules


def _build_module(part, reference, session):
    module = types.ModuleType(reference.__name__, reference.__doc__)
    module.__file__ = f"<proxy of assignment/{part}.py>"
    classes = {}
    for name, value in vars(reference).items():
        if name.startswith("__") or inspect.ismodule(value):
            continue
        origin = getattr(value, "__module__", None) or ""
        if inspect.isclass(value) and origin.startswith("assignment."):
            setattr(module, name, _proxy_class(part, value, session, classes))
        elif inspect.isfunction(value) and origin.startswith("assignment."):
            setattr(module, name, function_stub(session, part, name, value))
        else:
            setattr(module, name, value)  # given helpers and constants: the grader's own
    return module


def function_stub(session, part, name, reference):
    """A function like ``reference`` that calls the student's ``name`` of ``part``."""
    def stub(*args, **kwargs):
        return session.call(part, name, stub, None, args, kwargs)

    _dress(stub, reference, part, name, name)
    return stub


def _proxy_class(part, reference, session, classes):
    """The proxy of class ``reference`` (and, first, of its bases from the same module)."""
    if reference in classes:
        return classes[reference]
    bases = tuple(_proxy_class(part, base, session, classes)
                  if base.__module__ == reference.__module__ else object
                  for base in reference.__bases__)
    namespace = {"__module__": f"assignment.{part}", "__qualname__": reference.__qualname__,
                 "__doc__": reference.__doc__,
                 "__verdict_name__": f"{part}:{reference.__qualname__}"}
    for name, value in vars(reference).items():
        if isinstance(value, (staticmethod, classmethod)) or inspect.isfunction(value) \
                and (not name.startswith("__") or name in STUB_DUNDERS):
            continue  # added below, once the class exists
        if not name.startswith("__") and not isinstance(value, property):
            namespace[name] = value  # class constants
    cls = type(reference.__name__, tuple(dict.fromkeys(bases)), namespace)
    for name, value in vars(reference).items():
        label = f"{reference.__name__}.{name}"
        if isinstance(value, staticmethod):
            setattr(cls, name, staticmethod(_static_stub(session, part, cls, name, label,
                                                         value.__func__)))
        elif isinstance(value, classmethod):
            setattr(cls, name, classmethod(_class_stub(session, part, name, label, value.__func__)))
        elif inspect.isfunction(value) and (not name.startswith("__") or name in STUB_DUNDERS):
            setattr(cls, name, _method_stub(session, part, name, value))
    classes[reference] = cls
    return cls


def _static_stub(session, part, cls, name, label, reference):
    def stub(*args, **kwargs):
        return session.call(part, label, cls, name, args, kwargs)

    return _dress(stub, reference, part, name, label)


def _class_stub(session, part, name, label, reference):
    def stub(cls, *args, **kwargs):
        return session.call(part, label, cls, name, args, kwargs)

    return _dress(stub, reference, part, name, label)


def _method_stub(session, part, name, reference):
    def stub(self, *args, **kwargs):
        return session.call(part, f"{type(self).__name__}.{name}", self, name, args, kwargs)

    return _dress(stub, reference, part, name, reference.__qualname__)


def _dress(stub, reference, part, name, qualname):
    """Give ``stub`` the reference's name, doc and signature (``__name__`` names checks)."""
    stub.__name__, stub.__qualname__, stub.__doc__ = name, qualname, reference.__doc__
    stub.__module__ = f"assignment.{part}"
    stub.__verdict_name__ = f"{part}:{qualname}"  # how the worker finds the student's own
    try:
        stub.__signature__ = inspect.signature(reference)
    except (TypeError, ValueError):
        pass
    return stub


@contextmanager
def installed(modules):
    """Make ``modules`` (part -> proxy) the ``assignment.<part>`` modules of this process."""
    saved = {part: (sys.modules.get(f"assignment.{part}"), vars(assignment).get(part))
             for part in modules}
    for part, module in modules.items():
        sys.modules[f"assignment.{part}"] = module
        setattr(assignment, part, module)
    try:
        yield modules
    finally:
        for part, (module, attribute) in saved.items():
            for mapping, key, value in ((sys.modules, f"assignment.{part}", module),
                                        (vars(assignment), part, attribute)):
                if value is None:
                    mapping.pop(key, None)
                else:
                    mapping[key] = value
