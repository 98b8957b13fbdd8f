"""The conversation between the grader and the worker: calls, returns, errors and callbacks.

Both sides run the same ``Peer``. A call is one frame ``{"op": "call", "method", "body"}``
whose body is the node of ``(target, args, kwargs)``; the callee calls ``target`` (or its
attribute ``method``) and answers with one frame:

- ``{"op": "return", "result", "updates"}``: the result, and the new content of every dict
  and list of the request and of each of its tensors changed in place, as ``[number, node]``
  pairs; the caller puts them into its own objects, so in-place changes look as they would in
  one process (``nn_sgd_step(params, ...)``, ``self.__dict__`` of an object whose method ran);
- ``{"op": "raise", "error", "updates"}``: an exception, as the name of a built-in type, its
  arguments and message (see ``error_payload``), raised again on the caller's side;
- ``{"op": "abort", "kind", "message"}`` (worker only): ``sys.exit``, ``MemoryError`` and the
  like; the grader stops the worker.

While it waits for its answer, a side may receive calls from the other (a check's
``fit_and_score`` passed to ``cross_validate`` is called back in the grader) and serves them:
calls nest like in one process. Every frame carries the sender's random state (torch's CPU
generator and Python's ``random``), which the receiver adopts, so seeded checks draw exactly the
numbers they would in one process. Side-specific choices (what can be sent, which targets a
call may name, deadlines, warnings) are the ``Hooks`` of each side.
"""
import builtins
import random

import torch

try:
    from . import wire
except ImportError:  # run by the worker as a script beside a copy of wire.py
    import wire

Decoder, Encoder, WireError = wire.Decoder, wire.Encoder, wire.WireError

# Exceptions that cross the boundary as themselves; others as the first of these in their MRO.
ERROR_TYPES = (
    "NotImplementedError", "RecursionError", "ValueError", "TypeError", "IndexError", "KeyError",
    "AssertionError", "ZeroDivisionError", "OverflowError", "FloatingPointError",
    "ArithmeticError", "LookupError", "AttributeError", "NameError", "UnboundLocalError",
    "ModuleNotFoundError", "ImportError", "SyntaxError", "FileNotFoundError", "OSError",
    "StopIteration", "UnicodeError", "RuntimeError", "Exception")
MAX_MESSAGE = 4000


class Hooks:
    """What one side decides (see wire.Encoder / wire.Decoder for ``export`` and ``resolve``)."""

    def export(self, value):
        raise wire.Unsendable(f"cannot send a {type(value).__qualname__}")

    def resolve(self, node):
        raise WireError(f"unknown value node {node.get('t')!r}")

    def instance(self, cls_name):
        raise WireError(f"objects of {cls_name[:80]!r} cannot be received")

    def authorize(self, target, method):
        """The callable that an incoming call names; raises ``WireError`` when not allowed."""
        raise WireError("this side serves no calls")

    def run(self, function, args, kwargs):
        return function(*args, **kwargs)

    def on_error(self, error):
        """``("raise", payload)`` or ``("abort", payload)`` for an exception of a served call."""
        return "raise", error_payload(error)

    def aborted(self, message):
        return RuntimeError(f"the other side stopped: {message.get('message')}")

    def deadline(self):
        return None

    def original(self, value):
        """The object a callback gets for ``value`` of this side's request (``{"t": "out"}``)."""
        return value

    def outgoing(self):
        """Extra fields for every frame this side sends."""
        return {}

    def incoming(self, message):
        """Called with every frame received."""


class Peer:
    """One side of the conversation over a ``wire.Pipe``."""

    def __init__(self, pipe, hooks, limits=wire.Limits()):
        self.pipe, self.hooks, self.limits = pipe, hooks, limits
        self.serving = []   # decoders of the calls this side is running, innermost last
        self.waiting = []   # objects of the calls this side awaits answers to, innermost last

    # ------------------------------------------------------------- calling ---

    def call(self, target, method, args=(), kwargs=None):
        """Call ``target`` (or its attribute ``method``) on the other side; serves the calls
        that come back meanwhile and returns the result (or raises the error)."""
        encoder = Encoder(self.hooks, limits=self.limits, outer=self.outer_tensors())
        body = encoder.encode((target, tuple(args), dict(kwargs or {})))
        self._send({"op": "call", "method": method, "body": body}, encoder)
        return self.wait(encoder.kept)

    def outer_tensors(self):
        """``id -> number`` of the tensors of the call being served that are unchanged since
        they arrived: a callback sends them back as references to the caller's own."""
        if not self.serving:
            return {}
        decoder = self.serving[-1]
        return {id(obj): i for i, obj in enumerate(decoder.table)
                if isinstance(obj, torch.Tensor) and obj._version == decoder.versions.get(i)}

    def wait(self, inputs):
        """Serve calls until the answer to the request whose objects are ``inputs`` arrives."""
        self.waiting.append(inputs)
        try:
            return self._wait()
        finally:
            self.waiting.pop()

    def _wait(self):
        inputs = self.waiting[-1]
        while True:
            message, data = self._receive()
            op = message.get("op")
            if op == "call":
                self.serve(message, data)
            elif op in ("return", "raise"):
                return self._answer(message, data, inputs)
            elif op == "abort":
                raise self.hooks.aborted(message)
            else:
                raise WireError(f"unexpected frame {str(op)[:40]!r}")

    def _answer(self, message, data, inputs):
        decoder = Decoder(self.hooks, data, inputs, self.limits)
        result = decoder.decode(message.get("result"))
        updates = message.get("updates")
        if not isinstance(updates, list):
            raise WireError("an answer needs a list of updates")
        changes = []
        for entry in updates:
            if not (isinstance(entry, list) and len(entry) == 2 and type(entry[0]) is int
                    and 0 <= entry[0] < len(inputs)):
                raise WireError("a bad update entry")
            changes.append((inputs[entry[0]], decoder.decode(entry[1])))
        for original, new in changes:
            wire.assign(original, new)
        if message["op"] == "raise":
            raise rebuild_error(message.get("error"))
        return result

    # ------------------------------------------------------------- serving ---

    def serve_forever(self):
        """Serve calls until the other side closes the pipe (the worker's main loop)."""
        while True:
            try:
                message, data = self._receive()
            except wire.PeerGone:
                return
            if message.get("op") != "call":
                raise WireError(f"expected a call, got {str(message.get('op'))[:40]!r}")
            self.serve(message, data)

    def serve(self, message, data):
        """Run one incoming call and send its answer."""
        outer = [self.hooks.original(v) for v in self.waiting[-1]] if self.waiting else ()
        decoder = Decoder(self.hooks, data, limits=self.limits, outer=outer)
        try:
            body = decoder.decode(message.get("body"))
        except wire.Unsendable as err:  # well formed, but names what this side does not know
            self._reply("raise", None, error_payload(err), Decoder(self.hooks, b""))
            return
        if not (isinstance(body, tuple) and len(body) == 3 and isinstance(body[1], tuple)
                and isinstance(body[2], dict) and all(isinstance(k, str) for k in body[2])):
            raise WireError("a call needs (target, args, kwargs)")
        method = message.get("method")
        if method is not None and not isinstance(method, str):
            raise WireError("a method name must be a string")
        function = self.hooks.authorize(body[0], method)
        self.serving.append(decoder)
        try:
            self._run_and_reply(function, body, decoder)
        finally:
            self.serving.pop()

    def _run_and_reply(self, function, body, decoder):
        try:
            result, op, payload = self.hooks.run(function, body[1], body[2]), "return", None
        except BaseException as error:  # noqa: B036 - every outcome is reported to the caller
            result = None
            op, payload = self.hooks.on_error(error)
        if op == "abort":
            self._send({"op": "abort", **payload}, Encoder(self.hooks, limits=self.limits))
            return
        self._reply(op, result, payload, decoder)

    def _reply(self, op, result, error, decoder):
        encoder = Encoder(self.hooks, decoder.table, self.limits)
        try:
            message = {"op": op, "result": encoder.encode(result), "error": error,
                       "updates": [[i, encoder.encode(decoder.table[i], fresh=True)]
                                   for i in decoder.changed()]}
        except (wire.Unsendable, RecursionError) as err:
            encoder = Encoder(self.hooks, limits=self.limits)
            message = {"op": "raise", "result": None, "updates": [],
                       "error": error_payload(TypeError(f"the value cannot be passed on: {err}"))}
        self._send(message, encoder)

    # ------------------------------------------------------------- frames ---

    def _send(self, message, encoder):
        message["rng"] = rng_state(encoder)
        message.update(self.hooks.outgoing())
        self.pipe.send(message, encoder.chunks, self.hooks.deadline())

    def _receive(self):
        message, data = self.pipe.receive(self.hooks.deadline())
        adopt_rng_state(message.get("rng"), data)
        self.hooks.incoming(message)
        return message, data


# ------------------------------------------------------------------ errors ---

def error_payload(error, where=""):
    """An exception as ``{"type", "args", "message", "where"}``: the first allowed type in its
    MRO, its simple arguments, its message (capped) and where it was raised (for the log)."""
    name = next((k.__name__ for k in type(error).__mro__
                 if k.__name__ in ERROR_TYPES and getattr(builtins, k.__name__, None) is k),
                "RuntimeError")
    args = [a[:MAX_MESSAGE] if isinstance(a, str) else a for a in getattr(error, "args", ())
            if a is None or isinstance(a, (bool, int, float, str))][:4]
    message = str(error)[:MAX_MESSAGE] if type(error).__name__ == name \
        else f"{type(error).__name__}: {error}"[:MAX_MESSAGE]
    if type(error).__name__ != name:
        args = [message]
    return {"type": name, "args": args, "message": message, "where": where}


def rebuild_error(payload):
    """The exception described by ``error_payload``'s dict."""
    if not isinstance(payload, dict):
        raise WireError("an error needs a description")
    name, message = payload.get("type"), str(payload.get("message", ""))[:MAX_MESSAGE]
    args = payload.get("args")
    if name not in ERROR_TYPES or not isinstance(args, list) or not all(
            a is None or isinstance(a, (bool, int, float, str)) for a in args):
        return RuntimeError(message)
    kind = getattr(builtins, name)
    try:
        error = kind(*args)
    except Exception:  # a type whose constructor wants other arguments
        error = kind(message)
    where = payload.get("where")
    if isinstance(where, str) and where:
        error.add_note(f"(raised in {where[:200]})")
    return error


# --------------------------------------------------------------------- rng ---

def rng_state(encoder):
    """The sender's random state: torch's CPU generator and Python's ``random``."""
    version, state, gauss = random.getstate()
    return {"torch": encoder.encode(torch.get_rng_state().numpy().tobytes()),
            "py": [version, list(state), gauss]}


def adopt_rng_state(fields, data):
    """Make the sender's random state this process's own."""
    if not isinstance(fields, dict):
        raise WireError("a frame needs the random state")
    raw = Decoder(Hooks(), data).decode(fields.get("torch"))
    py = fields.get("py")
    if not isinstance(raw, bytes) or not (isinstance(py, list) and len(py) == 3
                                          and isinstance(py[1], list) and len(py[1]) == 625):
        raise WireError("a bad random state")
    try:
        torch.set_rng_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
        random.setstate((py[0], tuple(py[1]), py[2]))
    except (RuntimeError, TypeError, ValueError, OverflowError) as err:
        raise WireError(f"a bad random state ({err})") from err
