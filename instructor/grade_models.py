"""Scoring saved models without trusting them (instructor only; used by instructor/grade.py).

A saved model is bytes from a verified zip. Before any arithmetic:

1. the file must be a ``torch.save`` zip whose records are stored (not
   compressed) and no larger than the file itself;
2. it is read with ``torch.load(weights_only=True)`` from memory, and its header (the kit's
   checkpoint format, ``helpers/checkpoint.py``) must name the model kind the rubric expects;
3. every tensor is checked: float32 or float64, the shape its model kind
   needs (input size from the rubric's preprocessing, 10 classes, hidden
   sizes and depth capped), a cap on all elements together, and its own
   contiguous storage of exactly its size (no stride-0 or expanded views, no
   two tensors sharing memory).

The forward pass is this module's own (the reference arithmetic: ``addmm``
and ReLU), run in batches against a deadline, so scoring neither imports
``assignment/`` nor runs for long.
"""
import io
import time
import zipfile

import torch

from helpers.checkpoint import read_checkpoint

NUM_CLASSES = 10
IMAGE_SIZE = 3 * 32 * 32
MAX_ELEMENTS = 8_000_000
MAX_HIDDEN = 4096
MAX_LAYERS = 8
MAX_RECORDS = 1000
BATCH = 1000
DTYPES = (torch.float32, torch.float64)


class ModelError(ValueError):
    """A saved model that cannot be scored; the message says why."""


def check_torch_zip(data):
    """Refuse what ``torch.load`` would inflate or over-read: only a zip of stored records."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise ModelError("not a file written by torch.save (zip format)") from err
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_RECORDS:
            raise ModelError(f"{len(infos)} records, more than {MAX_RECORDS}")
        if any(info.compress_type != zipfile.ZIP_STORED for info in infos):
            raise ModelError("compressed records; save it with torch.save")
        if sum(info.file_size for info in infos) > len(data):
            raise ModelError("its records claim more bytes than the file holds")


def load_checkpoint(data):
    """The object saved in ``data``, read with ``weights_only=True`` after ``check_torch_zip``."""
    check_torch_zip(data)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # whatever torch refuses, the student gets the reason
        raise ModelError(f"does not load ({type(err).__name__}: {str(err)[:150]})") from err


def check_tensor(name, tensor, rows, cols=None):
    """One parameter: a float tensor of shape ``[rows, cols]`` (or ``[rows]``) in its own storage.

    ``rows`` or ``cols`` may be a ``range`` of allowed sizes. Returns the tensor.
    """
    if not isinstance(tensor, torch.Tensor):
        raise ModelError(f"{name} is not a tensor")
    if tensor.dtype not in DTYPES or tensor.layout != torch.strided or tensor.is_quantized:
        raise ModelError(f"{name} must be a float32 or float64 tensor, not {tensor.dtype}")
    wanted = (rows,) if cols is None else (rows, cols)
    fits = len(tensor.shape) == len(wanted) and all(
        size in want if isinstance(want, range) else size == want
        for size, want in zip(tensor.shape, wanted))
    if not fits:
        raise ModelError(f"{name} has shape {list(tensor.shape)}; expected {_shape_text(wanted)}")
    storage = tensor.untyped_storage()
    if (not tensor.is_contiguous() or tensor.storage_offset() != 0
            or storage.nbytes() != tensor.numel() * tensor.element_size()):
        raise ModelError(f"{name} is a view into other memory (strided, expanded or offset); "
                         "save a plain tensor (.contiguous().clone())")
    return tensor


def _shape_text(wanted):
    parts = [f"{w.start}..{w.stop - 1}" if isinstance(w, range) else str(w) for w in wanted]
    return f"[{', '.join(parts)}]"


def check_distinct(tensors):
    """No two parameters share storage, and all together stay under ``MAX_ELEMENTS``."""
    pointers = [t.untyped_storage().data_ptr() for t in tensors if t.numel()]
    if len(set(pointers)) != len(pointers):
        raise ModelError("two parameters share memory; save independent tensors")
    total = sum(t.numel() for t in tensors)
    if total > MAX_ELEMENTS:
        raise ModelError(f"{total} numbers in all, over the {MAX_ELEMENTS} allowed")


def _param(params, name):
    if name not in params:
        raise ModelError(f"{name} is missing")
    return params[name]


def model_layers(checkpoint, kind, input_dim):
    """The layers of a loaded checkpoint (``helpers.checkpoint``'s format) of ``kind``, checked:
    ``[(W, None)]`` for a linear classifier (``W`` [D, 10]), ``[(W1, b1), (W2, b2)]`` for the
    two-layer net, ``[(W1, b1), ..., (WL, bL)]`` (1 <= L <= ``MAX_LAYERS``) for a
    ``FullyConnectedNet``. ``input_dim`` is D. The one loader of every saved model."""
    try:
        _, _, params = read_checkpoint(checkpoint, kind)
    except ValueError as err:
        raise ModelError(str(err)[:200]) from err
    if kind == "linear":
        return [(check_tensor("W", _param(params, "W"), input_dim, NUM_CLASSES), None)]
    depth = sum(1 for name in params if isinstance(name, str) and name.startswith("W"))
    depths = range(2, 3) if kind == "two_layer_net" else range(1, MAX_LAYERS + 1)
    if depth not in depths or len(params) != 2 * depth:
        raise ModelError(f"params must hold W1, b1 ... WL, bL with L in "
                         f"{depths.start}..{depths.stop - 1}")
    layers, fan_in = [], input_dim
    for i in range(1, depth + 1):
        fan_out = NUM_CLASSES if i == depth else range(1, MAX_HIDDEN + 1)
        W = check_tensor(f"W{i}", _param(params, f"W{i}"), fan_in, fan_out)
        b = check_tensor(f"b{i}", _param(params, f"b{i}"), W.shape[1])
        layers.append((W, b))
        fan_in = W.shape[1]
    return layers


# The kinds of model the rubric can name.
KINDS = ("linear", "two_layer_net", "fully_connected_net")


def input_dim(preprocess):
    """Length of one preprocessed image row for the rubric's ``preprocess`` options."""
    return IMAGE_SIZE + (1 if preprocess.get("bias_trick") else 0)


def predict(layers, X, deadline):
    """Labels from ``layers`` (ReLU between them), in batches, as the reference computes them."""
    dtype = layers[0][0].dtype
    layers = [(W.to(dtype), None if b is None else b.to(dtype)) for W, b in layers]
    labels = []
    for start in range(0, len(X), BATCH):
        if time.monotonic() > deadline:
            raise ModelError("scoring ran out of time")
        out = X[start:start + BATCH].to(dtype)
        for index, (W, b) in enumerate(layers):
            out = out.mm(W) if b is None else torch.addmm(b, out, W)
            if index < len(layers) - 1:
                out = out.clamp(min=0)
        labels.append(out.argmax(dim=1))
    return torch.cat(labels)


def score(kind, data, X, y, preprocess, seconds=60.0):
    """Test accuracy of the saved model ``data`` (bytes) of ``kind``; raises ``ModelError``."""
    deadline = time.monotonic() + seconds
    layers = model_layers(load_checkpoint(data), kind, input_dim(preprocess))
    check_distinct([t for layer in layers for t in layer if t is not None])
    with torch.no_grad():
        labels = predict(layers, X, deadline)
    return (labels == y).to(torch.float64).mean().item()
