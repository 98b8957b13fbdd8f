"""The grader/worker wire format and conversation (instructor/verdicts/wire.py, peer.py): round
trips, write-backs, random state, and refusal of garbled, oversized or disallowed frames."""
import json
import math
import os
import random
import struct
import threading
from pathlib import Path

import pytest
import torch

from instructor.verdicts import peer, wire


class Plain(peer.Hooks):
    """Hooks that know only the format's own values."""


def round_trip(value, limits=wire.Limits()):
    encoder = wire.Encoder(Plain(), limits=limits)
    node = encoder.encode(value)
    frame = b"".join(bytes(c) for c in wire.pack({"v": node}, encoder.chunks, limits))
    json_length, data_length = wire.unpack_header(frame[:wire.HEADER.size], limits)
    message = wire.parse(frame[wire.HEADER.size:wire.HEADER.size + json_length])
    data = memoryview(frame)[wire.HEADER.size + json_length:]
    assert len(data) == data_length
    return wire.Decoder(Plain(), data, limits=limits).decode(message["v"])


def frame_of(message, data=b""):
    text = json.dumps(message).encode()
    return wire.HEADER.pack(wire.MAGIC, len(text), len(data)) + text + data


def receive(frame, limits=wire.Limits()):
    read_fd, write_fd = os.pipe()
    threading.Thread(target=lambda: (os.write(write_fd, frame), os.close(write_fd))).start()
    try:
        message, data = wire.Pipe(read_fd, -1, limits).receive()
        return wire.Decoder(Plain(), data, limits=limits).decode(message["v"])
    finally:
        os.close(read_fd)


@pytest.mark.parametrize("dtype", list(wire.DTYPES.values()), ids=str)
def test_tensors_of_every_allowed_dtype_round_trip(dtype):
    source = (torch.randn(3, 4, 2, dtype=torch.float64) * 10).to(dtype)
    back = round_trip(source)
    assert back.dtype == dtype and back.shape == source.shape and torch.equal(back, source)
    assert back.is_contiguous() and back.data_ptr() != source.data_ptr()


def test_odd_tensors_round_trip():
    transposed = torch.arange(12.0).reshape(3, 4).t()
    leaf = torch.ones(2).requires_grad_()
    for tensor in (torch.tensor(2.5), torch.zeros(0, 3), transposed, leaf):
        back = round_trip(tensor)
        assert torch.equal(back, tensor.detach()) and back.shape == tensor.shape
        assert back.requires_grad == tensor.requires_grad


def test_plain_values_round_trip():
    value = {"a": [1, 2.5, None, True, "text", (3, "x")], 7: b"\x00\xff", "nan": math.inf,
             "dtype": torch.float32, "device": torch.device("cpu"), "path": Path("/tmp/x.pt")}
    back = round_trip(value)
    assert back == value and isinstance(back["a"][5], tuple) and isinstance(back[7], bytes)
    assert math.isnan(round_trip(float("nan")))


def test_shared_and_cyclic_values_keep_their_identity():
    tensor = torch.ones(3)
    loop = [tensor, tensor]
    loop.append(loop)
    back = round_trip({"x": loop, "y": tensor})
    assert back["x"][0] is back["x"][1] is back["y"] and back["x"][2] is back["x"]


def test_unknown_values_are_refused():
    import numpy

    for value in (numpy.zeros(3), object(), {1.5: 2}, torch.zeros(2, dtype=torch.uint16)):
        with pytest.raises(wire.Unsendable):
            round_trip(value)


def test_limits_refuse_deep_large_and_many_values():
    small = wire.Limits(data_bytes=1000, depth=10, nodes=100)
    nested = []
    for _ in range(20):
        nested = [nested]
    for value in (torch.zeros(1000), nested, list(range(200))):
        with pytest.raises(wire.Unsendable):
            round_trip(value, small)


@pytest.mark.parametrize("frame, why", [
    (b"XXXX" + bytes(12), "marker"),
    (wire.HEADER.pack(wire.MAGIC, (1 << 32) - 1, 0), "over the limits"),
    (wire.HEADER.pack(wire.MAGIC, 0, 1 << 40), "over the limits"),
    (frame_of({"v": 1})[:-1] + b"x", "JSON"),
    (wire.HEADER.pack(wire.MAGIC, 3, 0) + b"[1]", "object"),
    (frame_of({"v": {"t": "tensor", "dtype": "float32", "shape": [4], "device": "cpu",
                     "o": 0, "n": 8}}, bytes(8)), "needs 16 bytes"),
    (frame_of({"v": {"t": "tensor", "dtype": "uint16", "shape": [2], "device": "cpu",
                     "o": 0, "n": 4}}, bytes(4)), "not allowed"),
    (frame_of({"v": {"t": "tensor", "dtype": "float32", "shape": [1], "device": "cpu",
                     "o": 4, "n": 4}}, bytes(4)), "outside the frame"),
    (frame_of({"v": {"t": "tensor", "dtype": "int8", "shape": [-1], "device": "cpu",
                     "o": 0, "n": 0}}), "shape"),
    (frame_of({"v": {"t": "tensor", "dtype": "int8", "shape": [1], "device": "meta",
                     "o": 0, "n": 1}}, bytes(1)), "device"),
    (frame_of({"v": {"t": "ref", "i": 3}}), "does not exist"),
    (frame_of({"v": {"t": "pickle", "v": "cos\nsystem\n"}}), "unknown"),
    (frame_of({"v": [1, 2]}), "not a value node"),
    (frame_of({"v": {"t": "dict", "k": ["a"], "v": []}}), "as many"),
    (frame_of({"v": json.loads("[" * 60 + "]" * 60)}), "not a value node"),
])
def test_garbled_frames_are_refused(frame, why):
    with pytest.raises(wire.WireError, match=why):
        receive(frame)


def test_deeply_nested_json_is_refused():
    text = b"[" * 100000 + b"]" * 100000
    with pytest.raises(wire.WireError):
        receive(wire.HEADER.pack(wire.MAGIC, len(text), 0) + text)


def test_a_closed_or_silent_pipe_ends_the_wait():
    read_fd, write_fd = os.pipe()
    os.write(write_fd, wire.HEADER.pack(wire.MAGIC, 10, 0))
    pipe = wire.Pipe(read_fd, write_fd, deadlines=True)
    with pytest.raises(wire.WireTimeout):
        pipe.receive(deadline=0)
    os.close(write_fd)
    with pytest.raises(wire.PeerGone):
        pipe.receive()
    os.close(read_fd)


class Linked(peer.Hooks):
    """One side of an in-process conversation: callables go as handles."""

    def __init__(self):
        self.handles, self.link = {}, None

    def export(self, value):
        if isinstance(value, Remote):
            return {"t": "handle", "id": value.id, "side": "other"}
        self.handles[id(value)] = value
        return {"t": "handle", "id": id(value), "side": "mine"}

    def resolve(self, node):
        if node["side"] == "other":
            return self.handles[node["id"]]
        return Remote(self.link, node["id"])

    def authorize(self, target, method):
        return target


class Remote:
    def __init__(self, link, handle):
        self.link, self.id = link, handle

    def __call__(self, *args, **kwargs):
        return self.link.call(self, None, args, kwargs)


@pytest.fixture
def linked():
    """A caller Peer and a callee Peer serving in a thread, over two pipes."""
    a_read, b_write = os.pipe()
    b_read, a_write = os.pipe()
    caller, callee = Linked(), Linked()
    caller.link = peer.Peer(wire.Pipe(a_read, a_write), caller)
    callee.link = peer.Peer(wire.Pipe(b_read, b_write), callee)
    thread = threading.Thread(target=callee.link.serve_forever, daemon=True)
    thread.start()
    yield caller.link
    os.close(a_write)
    thread.join(timeout=10)


def test_calls_write_back_in_place_changes_and_keep_identity(linked):
    def step(params, grads, lr):
        params["W"] -= lr * grads["W"]      # in place: same tensor
        params["b"] = params["b"] - 1       # replaced: a new tensor
        params["new"] = [params["W"]]
        return params

    params = {"W": torch.ones(2, 2), "b": torch.zeros(2)}
    W, b = params["W"], params["b"]
    result = linked.call(step, None, (params, {"W": torch.ones(2, 2)}, 0.5))
    assert result is params and params["W"] is W and torch.equal(W, torch.full((2, 2), 0.5))
    assert params["b"] is not b and torch.equal(params["b"], -torch.ones(2))
    assert params["new"][0] is W and torch.equal(b, torch.zeros(2))


def test_a_callback_gets_the_callers_own_unchanged_tensors(linked):
    X, W = torch.ones(3), torch.ones(2)

    def loss_func(inputs, weights):  # a check's callback: ``calls[0] is X`` must hold
        return inputs is X, weights is W

    assert linked.call(loss_func, None, (X, W)) == (True, True)


def test_a_tensor_changed_before_the_callback_goes_as_a_copy():
    original, changed = torch.ones(2), torch.ones(2)
    encoder = wire.Encoder(Plain())
    request = encoder.encode((original, changed))
    serving = wire.Decoder(Plain(), memoryview(b"".join(bytes(c) for c in encoder.chunks)))
    mine = serving.decode(request)
    link = peer.Peer(None, Plain())
    link.serving.append(serving)
    mine[1].add_(1)  # the student's code changed it in place before calling back
    numbers = link.outer_tensors()
    assert sorted(numbers.values()) == [0] and id(mine[0]) in numbers
    callback = wire.Encoder(Plain(), outer=numbers)
    node = callback.encode([mine[0], mine[0], mine[1]])
    data = memoryview(b"".join(bytes(c) for c in callback.chunks))
    back = wire.Decoder(Plain(), data, outer=encoder.kept).decode(node)
    assert back[0] is original and back[1] is original
    assert node["v"][2]["t"] == "tensor", "a changed tensor is sent with its new content"
    assert torch.equal(back[2], torch.full((2,), 2.0)) and back[2] is not changed


def test_callbacks_nest_and_errors_cross_with_their_type(linked):
    def outer(callback, n):
        return [callback(i) for i in range(n)]

    seen = []
    assert linked.call(outer, None, (lambda i: seen.append(i) or i * i, 3)) == [0, 1, 4]
    assert seen == [0, 1, 2]

    def fails(kind):
        raise {"value": ValueError("bad k"), "key": KeyError("W3"),
               "custom": type("Mine", (LookupError,), {})("mine")}[kind]

    with pytest.raises(ValueError, match="bad k"):
        linked.call(fails, None, ("value",))
    with pytest.raises(KeyError) as info:
        linked.call(fails, None, ("key",))
    assert info.value.args == ("W3",)
    with pytest.raises(LookupError, match="Mine: mine"):
        linked.call(fails, None, ("custom",))


def test_random_state_travels_with_each_frame(linked):
    def draw(n):
        return torch.randn(n), random.random()

    torch.manual_seed(3)
    random.seed(3)
    first = draw(4)
    after = torch.randn(2), random.random()
    torch.manual_seed(3)
    random.seed(3)
    remote = linked.call(draw, None, (4,))
    assert torch.equal(remote[0], first[0]) and remote[1] == first[1]
    assert torch.equal(torch.randn(2), after[0]) and random.random() == after[1]


def test_error_payloads_map_to_builtin_types():
    class Strange(BaseException):
        pass

    assert peer.error_payload(Strange("x"))["type"] == "RuntimeError"
    assert isinstance(peer.rebuild_error({"type": "os.system", "args": [], "message": "m"}),
                      RuntimeError)
    error = peer.rebuild_error({"type": "NotImplementedError", "args": ["f: not implemented yet"],
                                "message": "", "where": "assignment/x.py:3"})
    assert isinstance(error, NotImplementedError) and str(error) == "f: not implemented yet"


def test_struct_header_is_little_endian():
    assert wire.HEADER.size == 16 and wire.HEADER.format == "<4sIQ"
    assert struct.unpack("<I", wire.HEADER.pack(wire.MAGIC, 5, 6)[4:8]) == (5,)
