"""Inputs the student cannot touch: what a call into the student's code may change.

A check calls a student function with its own tensors and dicts, and often reads them again
after the call (to compute the expected value, or to pass them on). In one process a function
could change them in place; over the wire every in-place change would be copied back into the
check's objects. So each call into the worker gets private copies of its arguments, and only
the arguments the contract says a function changes (``MUTATED_ARGUMENTS``, the one list of
them) are sent as the check's own objects, with their changes made to them after the call.
The object a method runs on (``self``) always keeps its changes: that is what a method does.

A callback of the checks (``loss_func`` passed to ``nn_predict``) still gets the check's own
tensor where the student's code passes one on unchanged (``guard`` records which copy stands
for which original; ``original`` maps it back).
"""
import inspect
import types

import torch

# part:function -> the parameters it changes in place (docs/CONTRACT.md, the docstrings).
MUTATED_ARGUMENTS = {
    "two_layer_net:nn_sgd_step": ("params",),
    "two_layer_net:nn_train": ("params",),
    "fully_connected_networks:sgd": ("config",),
    "fully_connected_networks:sgd_momentum": ("config",),
    "fully_connected_networks:rmsprop": ("config",),
    "fully_connected_networks:adam": ("config",),
}


def mutable_names(target, method):
    """The names of the parameters the call of ``target`` (or its ``method``) may change."""
    if method is None and isinstance(target, types.FunctionType):
        return MUTATED_ARGUMENTS.get(vars(target).get("__verdict_name__", ""), ())
    return ()


def signature_of(target, method):
    """The reference signature of the function a call names (a proxy stub's), or None."""
    function = target if method is None else getattr(type(target), method, None)
    try:
        return inspect.signature(function) if function is not None else None
    except (TypeError, ValueError):
        return None


class Copier:
    """Private copies of a call's arguments: tensors, dicts, lists, tuples and objects of the
    checks' classes (a proxied net), deep; everything else (callbacks, numbers) as it is.
    ``originals`` maps ``id(copy)`` to the check's own tensor."""

    def __init__(self, copyable_object):
        self.copyable_object = copyable_object
        self.memo, self.originals = {}, {}

    def copy(self, value):
        key = id(value)
        if key in self.memo:
            return self.memo[key]
        if isinstance(value, torch.Tensor):
            copy = value.detach().clone()
            if value.requires_grad:
                copy.requires_grad_(True)
            self.originals[id(copy)] = value
        elif isinstance(value, dict):
            copy = {}
            self.memo[key] = copy
            copy.update((k, self.copy(v)) for k, v in value.items())
        elif isinstance(value, list):
            copy = []
            self.memo[key] = copy
            copy.extend(self.copy(v) for v in value)
        elif isinstance(value, tuple):
            copy = tuple(self.copy(v) for v in value)
        elif self.copyable_object(value):
            copy = object.__new__(type(value))
            self.memo[key] = copy
            vars(copy).update(self.copy(dict(vars(value))))
        else:
            return value
        self.memo[key] = copy
        return copy


def guard(target, method, args, kwargs, copyable_object):
    """``(args, kwargs, originals)``: the arguments a call sends, each a private copy but those
    its contract lets it change (``MUTATED_ARGUMENTS``), and copy id -> original tensor."""
    keep = set(mutable_names(target, method))
    signature = signature_of(target, method) if keep else None
    bound = None
    if signature is not None:
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError:
            bound = None
    kept_ids = {id(value) for name, value in (bound.arguments.items() if bound else ())
                if name in keep}
    copier = Copier(copyable_object)
    new_args = tuple(a if id(a) in kept_ids else copier.copy(a) for a in args)
    new_kwargs = {k: v if id(v) in kept_ids else copier.copy(v) for k, v in kwargs.items()}
    return new_args, new_kwargs, copier.originals
