"""The wire format between the trusted grader and the student worker: frames that run no code.

A frame is (integers little-endian)::

    b"KVW1" | u32 json_length | u64 data_length | JSON message (utf-8) | data

The JSON message is a dict; the tensors and bytes in it point into ``data`` by offset ``"o"``
and byte count ``"n"``. Loading a frame only parses JSON and copies bytes into tensors of an
allowed dtype: nothing in it is ever imported, unpickled or executed. Values are nodes:

=====================================================  =========================================
JSON ``null``, booleans, numbers, strings              themselves (``NaN`` and ``Infinity`` too)
``{"t": "list"|"tuple", "v": [nodes]}``                a list / tuple
``{"t": "dict", "k": [str or int], "v": [nodes]}``     a dict (keys are strings or integers)
``{"t": "tensor", "dtype", "shape", "device",          a tensor, rebuilt contiguous on ``device``
"grad", "o", "n"}``                                    (``n`` = numel * itemsize)
``{"t": "bytes", "o", "n"}``                           bytes
``{"t": "dtype"|"device"|"path", "v": str}``           ``torch.dtype``, ``torch.device``, ``Path``
``{"t": "ref", "i": k}``                               the k-th dict, list, tensor or object of
                                                       this message (shared and cyclic values)
``{"t": "in", "i": k}``                                the k-th such value of the request that
                                                       this message answers (the caller's own)
``{"t": "fn"|"cls", "name"}``, ``{"t": "obj", "cls",   named functions and classes, objects with
"state"}``, ``{"t": "handle", "side", "id"}``          their ``__dict__``, and callback handles:
                                                       what they mean is up to each side's
                                                       ``Hooks`` (see peer.py)
=====================================================  =========================================

Every frame is checked against ``Limits`` (bytes, nesting depth, number of nodes) before and
while it is decoded; a frame that breaks them or the grammar above raises ``WireError``.
"""
import json
import math
import os
import select
import struct
import time
from dataclasses import dataclass
from pathlib import Path, PurePath

import torch

MAGIC = b"KVW1"
HEADER = struct.Struct("<4sIQ")
DTYPES = {name: getattr(torch, name) for name in (
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "uint8", "int8", "int16", "int32", "int64", "bool")}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
MEMOIZED = ("list", "dict", "tensor", "obj")   # nodes that take a number for "ref" / "in"
MAX_DIMS = 16


class WireError(ValueError):
    """A frame that breaks the format or its limits (garbled, oversized, too deep, bad dtype)."""


class Unsendable(TypeError):
    """A well-formed value that this side cannot send or rebuild (e.g. a numpy array)."""


class PeerGone(EOFError):
    """The other side closed its end of the pipe (it exited or crashed)."""


class WireTimeout(TimeoutError):
    """No complete frame before the deadline."""


@dataclass(frozen=True)
class Limits:
    """Caps on one frame: data bytes, JSON bytes, nodes, nesting depth, string length."""

    data_bytes: int = 1 << 30
    json_bytes: int = 64 << 20
    nodes: int = 1_000_000
    depth: int = 48
    text: int = 4 << 20


# ------------------------------------------------------------------ encoding ---

class Encoder:
    """Turns values into nodes and data chunks for one message.

    ``hooks.export(value)`` is asked about every value the format itself does not know; it
    returns a node (``fn``, ``cls``, ``obj`` with the state to send, ``handle``) or raises
    ``Unsendable``. ``inputs`` are the objects of the request being answered: they are sent
    as ``{"t": "in"}`` references, so the caller gets its own objects back. ``outer`` maps
    ``id(tensor)`` to its number in the request that this side is serving while it calls back
    (``Peer.outer_tensors``): such a tensor goes back as ``{"t": "out"}``, so a callback gets
    the other side's own tensor (``loss_func(params, X)`` is called with the caller's ``X``).
    """

    def __init__(self, hooks, inputs=(), limits=Limits(), outer=None):
        self.hooks, self.limits, self.outer = hooks, limits, outer or {}
        self.seen = {id(obj): {"t": "in", "i": i} for i, obj in enumerate(inputs)}
        self.kept = []     # memoized objects in order; keeps them alive while ids are in use
        self.chunks, self.size, self.nodes = [], 0, 0

    def _count(self, depth):
        self.nodes += 1
        if self.nodes > self.limits.nodes:
            raise Unsendable(f"more than {self.limits.nodes} values in one message")
        if depth > self.limits.depth:
            raise Unsendable(f"values nested more than {self.limits.depth} deep")

    def _memo(self, value):
        """Number ``value`` (both sides number dicts, lists, tensors and objects alike)."""
        self.seen.setdefault(id(value), {"t": "ref", "i": len(self.kept)})
        self.kept.append(value)

    def _data(self, raw):
        node = {"o": self.size, "n": len(raw)}
        self.size += len(raw)
        if self.size > self.limits.data_bytes:
            raise Unsendable(f"more than {self.limits.data_bytes >> 20} MiB in one message")
        self.chunks.append(raw)
        return node

    def encode(self, value, depth=0, fresh=False):
        """The node of ``value``; ``fresh`` sends a known object's content, not a reference."""
        self._count(depth)
        if value is None or isinstance(value, (bool, str)):
            if isinstance(value, str) and len(value) > self.limits.text:
                raise Unsendable(f"a string of more than {self.limits.text} characters")
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if not fresh and id(value) in self.seen:
            return self.seen[id(value)]
        if not fresh and id(value) in self.outer and isinstance(value, torch.Tensor):
            node = {"t": "out", "i": self.outer[id(value)]}
            self._memo(value)  # numbered like any tensor: changes to it come back as updates
            return node
        if isinstance(value, torch.Tensor):
            self._memo(value)
            return self._tensor(value)
        if isinstance(value, list):
            self._memo(value)
            return {"t": "list", "v": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, tuple):
            return {"t": "tuple", "v": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            self._memo(value)
            return self._dict(value, depth)
        if isinstance(value, torch.dtype):
            return {"t": "dtype", "v": _dtype_name(value)}
        if isinstance(value, torch.device):
            return {"t": "device", "v": str(value)}
        if isinstance(value, (bytes, bytearray)):
            return {"t": "bytes", **self._data(bytes(value))}
        if isinstance(value, PurePath):
            return {"t": "path", "v": str(value)}
        node = self.hooks.export(value)
        if node.get("t") == "obj":
            self._memo(value)
            node["state"] = self.encode(node["state"], depth + 1, fresh=True)
        return node

    def _dict(self, value, depth):
        keys = list(value)
        if not all(type(k) in (str, int) for k in keys):
            raise Unsendable("dict keys must be strings or integers")
        return {"t": "dict", "k": keys, "v": [self.encode(value[k], depth + 1) for k in keys]}

    def _tensor(self, tensor):
        if tensor.layout != torch.strided or tensor.is_quantized:
            raise Unsendable(f"a {tensor.layout} tensor (only dense tensors can be sent)")
        data = tensor.detach().resolve_conj().resolve_neg().to("cpu").contiguous()
        raw = memoryview(data.reshape(-1).view(torch.uint8).numpy()) if data.numel() else b""
        return {"t": "tensor", "dtype": _dtype_name(tensor.dtype), "shape": list(tensor.shape),
                "device": str(tensor.device), "grad": bool(tensor.requires_grad),
                **self._data(raw)}


def _dtype_name(dtype):
    if dtype not in DTYPE_NAMES:
        raise Unsendable(f"tensors of dtype {dtype} cannot be sent")
    return DTYPE_NAMES[dtype]


# ------------------------------------------------------------------ decoding ---

class Decoder:
    """Rebuilds values from the nodes and data of one message.

    ``hooks.resolve(node)`` turns ``fn``, ``cls``, ``handle`` nodes into objects and
    ``hooks.instance(cls_name)`` makes an empty object for an ``obj`` node. ``table`` lists
    the memoized objects in order and ``versions`` the ``_version`` of each tensor when it
    was rebuilt: the callee reports what changed from them (see ``changed``). ``outer`` are
    the objects of this side's request that the other side is serving (``{"t": "out"}``).
    """

    def __init__(self, hooks, data, inputs=(), limits=Limits(), outer=()):
        self.hooks, self.data, self.inputs, self.limits = hooks, data, inputs, limits
        self.outer = outer
        self.table, self.versions, self.nodes = [], {}, 0

    def decode(self, node, depth=0):
        self.nodes += 1
        if self.nodes > self.limits.nodes or depth > self.limits.depth:
            raise WireError("too many or too deeply nested values")
        if node is None or isinstance(node, (bool, int, str)):
            return node
        if isinstance(node, float):
            return node
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise WireError(f"not a value node: {str(node)[:80]}")
        method = getattr(self, f"_{node['t']}", None)
        if method is None:
            return self.hooks.resolve(node)
        return method(node, depth)

    def _remember(self, value):
        self.table.append(value)
        return value

    def _list(self, node, depth):
        out = self._remember([])
        out.extend(self.decode(v, depth + 1) for v in _field(node, "v", list))
        return out

    def _tuple(self, node, depth):
        return tuple(self.decode(v, depth + 1) for v in _field(node, "v", list))

    def _dict(self, node, depth, out=None):
        out = self._remember({} if out is None else out)
        keys, values = _field(node, "k", list), _field(node, "v", list)
        if len(keys) != len(values) or not all(type(k) in (str, int) for k in keys):
            raise WireError("a dict node needs as many str/int keys as values")
        for key, value in zip(keys, values):
            out[key] = self.decode(value, depth + 1)
        return out

    def _obj(self, node, depth):
        obj = self._remember(self.hooks.instance(_field(node, "cls", str)))
        state = _field(node, "state", dict)
        if state.get("t") != "dict":
            raise WireError("an object's state must be a dict node")
        self._dict(state, depth + 1, out=obj.__dict__)
        return obj

    def _ref(self, node, depth):
        return _index(self.table, node)

    def _in(self, node, depth):
        return _index(self.inputs, node)

    def _out(self, node, depth):
        tensor = _index(self.outer, node)
        if not isinstance(tensor, torch.Tensor):
            raise WireError("an 'out' reference must name a tensor")
        self.versions[len(self.table)] = tensor._version
        return self._remember(tensor)

    def _bytes(self, node, depth):
        return bytes(self._slice(node))

    def _dtype(self, node, depth):
        name = _field(node, "v", str)
        if name not in DTYPES:
            raise WireError(f"dtype {name!r} is not allowed")
        return DTYPES[name]

    def _device(self, node, depth):
        return _device(_field(node, "v", str))

    def _path(self, node, depth):
        return Path(_field(node, "v", str))

    def _tensor(self, node, depth):
        name, shape = _field(node, "dtype", str), _field(node, "shape", list)
        if name not in DTYPES:
            raise WireError(f"tensors of dtype {name!r} are not allowed")
        if len(shape) > MAX_DIMS or not all(type(s) is int and 0 <= s < 1 << 40 for s in shape):
            raise WireError(f"bad tensor shape {str(shape)[:80]}")
        dtype, raw = DTYPES[name], self._slice(node)
        if math.prod(shape) * dtype.itemsize != len(raw):
            raise WireError(f"tensor of shape {shape} and dtype {name} needs "
                            f"{math.prod(shape) * dtype.itemsize} bytes, got {len(raw)}")
        if len(raw):
            tensor = torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)
        else:
            tensor = torch.empty(shape, dtype=dtype)
        device = _device(_field(node, "device", str))
        if device.type != "cpu":
            tensor = tensor.to(device)
        if node.get("grad") is True and (dtype.is_floating_point or dtype.is_complex):
            tensor.requires_grad_(True)
        self.versions[len(self.table)] = tensor._version
        return self._remember(tensor)

    def _slice(self, node):
        start, length = node.get("o"), node.get("n")
        if type(start) is not int or type(length) is not int or start < 0 or length < 0 \
                or start + length > len(self.data):
            raise WireError("a data reference points outside the frame")
        return self.data[start:start + length]

    def changed(self):
        """Numbers (in ``table``) of the objects the callee may have changed: every dict and
        list, and each tensor changed in place since it was rebuilt."""
        return [i for i, obj in enumerate(self.table)
                if isinstance(obj, (dict, list))
                or (isinstance(obj, torch.Tensor) and obj._version != self.versions.get(i))]


def _field(node, key, kind):
    value = node.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise WireError(f"a {node.get('t')} node needs {key!r} of type {kind.__name__}")
    return value


def _index(objects, node):
    i = node.get("i")
    if type(i) is not int or not 0 <= i < len(objects):
        raise WireError(f"a reference to value {str(i)[:20]}, which does not exist")
    return objects[i]


def _device(name):
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as err:
        raise WireError(f"bad device {name[:40]!r}") from err
    if device.type not in ("cpu", "cuda"):
        raise WireError(f"device {name[:40]!r} is not allowed")
    return device


def assign(original, new):
    """Give ``original`` the content of ``new`` in place (a caller's object after the callee
    changed its copy): dicts and lists get new items, tensors new values."""
    if isinstance(original, dict) and isinstance(new, dict):
        original.clear()
        original.update(new)
    elif isinstance(original, list) and isinstance(new, list):
        original[:] = new
    elif isinstance(original, torch.Tensor) and isinstance(new, torch.Tensor):
        with torch.no_grad():
            if (original.shape, original.dtype, original.device) == \
                    (new.shape, new.dtype, new.device):
                original.copy_(new)
            else:
                original.data = new
    else:
        raise WireError("an update does not match the kind of the value it updates")


# -------------------------------------------------------------------- frames ---

def pack(message, chunks, limits=Limits()):
    """The byte strings of one frame holding ``message`` (a dict) and data ``chunks``."""
    text = json.dumps(message, separators=(",", ":")).encode()
    size = sum(len(c) for c in chunks)
    if len(text) > limits.json_bytes or size > limits.data_bytes:
        raise Unsendable("the message is larger than the frame limits")
    return [HEADER.pack(MAGIC, len(text), size), text, *chunks]


def unpack_header(header, limits=Limits()):
    """``(json_length, data_length)`` of a frame header, checked against ``limits``."""
    magic, json_length, data_length = HEADER.unpack(header)
    if magic != MAGIC:
        raise WireError("the frame does not start with the expected marker")
    if json_length > limits.json_bytes or data_length > limits.data_bytes:
        raise WireError(f"a frame of {json_length + data_length} bytes is over the limits")
    return json_length, data_length


def parse(text):
    """The message dict of a frame's JSON bytes."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise WireError(f"the frame is not valid JSON ({str(err)[:80]})") from err
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message


class Pipe:
    """Frames over two file descriptors. With ``deadlines`` (the grader's side) both ends are
    non-blocking, so a peer that stops reading or writing cannot hold this side past a
    deadline."""

    def __init__(self, read_fd, write_fd, limits=Limits(), deadlines=False):
        self.read_fd, self.write_fd, self.limits = read_fd, write_fd, limits
        if deadlines:
            os.set_blocking(read_fd, False)
            os.set_blocking(write_fd, False)

    def send(self, message, chunks=(), deadline=None):
        for chunk in pack(message, list(chunks), self.limits):
            self._write(memoryview(chunk).cast("B"), deadline)

    def receive(self, deadline=None):
        """``(message, data)`` of the next frame; raises ``WireError``, ``PeerGone`` or
        ``WireTimeout``."""
        json_length, data_length = unpack_header(self._read(HEADER.size, deadline), self.limits)
        message = parse(self._read(json_length, deadline))
        return message, memoryview(self._read(data_length, deadline))

    def _wait(self, deadline, for_write):
        fds = ([], [self.write_fd], []) if for_write else ([self.read_fd], [], [])
        if deadline is None:
            select.select(*fds)
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not any(select.select(*fds, remaining)):
            raise WireTimeout("no answer before the deadline")

    def _read(self, size, deadline):
        buffer, got = bytearray(size), 0
        view = memoryview(buffer)
        while got < size:
            self._wait(deadline, for_write=False)
            try:
                count = os.readv(self.read_fd, [view[got:]])
            except BlockingIOError:
                continue
            if count == 0:
                raise PeerGone("the other side closed the pipe")
            got += count
        return buffer

    def _write(self, view, deadline):
        while len(view):
            self._wait(deadline, for_write=True)
            try:
                count = os.write(self.write_fd, view)
            except BlockingIOError:
                continue
            except BrokenPipeError as err:
                raise PeerGone("the other side closed the pipe") from err
            view = view[count:]
