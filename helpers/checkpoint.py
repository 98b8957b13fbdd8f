"""One file format for every model the kit saves (``saved/*.pt``), and its save/load pair.

A checkpoint is a plain dict written by ``torch.save`` and read back with
``torch.load(weights_only=True)`` (no pickled code):

    {"format": "cifar10-kit-model/1",
     "kind": "linear" | "two_layer_net" | "modular_two_layer_net" | "fully_connected_net",
     "config": {constructor argument: number, string, bool or list of numbers},
     "params": {name: tensor}}          # CPU tensors, each in its own storage

``kind`` says which model wrote it, ``config`` holds what its constructor needs (sizes,
``reg``, ``dropout``; never dtype or device) and ``params`` the tensors in the kit's layout
(``W`` [D, C] for a linear classifier, ``W1`` [D, H], ``b1`` [H], ... for the nets).
The grader reads the same header (``instructor/grade_models.py``).
"""
import torch

from helpers.i18n import _

FORMAT = "cifar10-kit-model/1"
KINDS = ("linear", "two_layer_net", "modular_two_layer_net", "fully_connected_net")


def save_model(path, kind, config, params):
    """Write a model to ``path``: its ``kind`` (one of ``KINDS``), its constructor
    arguments ``config`` (dict) and its ``params`` (dict name -> tensor, copied to the CPU)."""
    if kind not in KINDS:
        raise ValueError(_("unknown model kind {kind!r}; choose one of {kinds}").format(
            kind=kind, kinds=", ".join(KINDS)))
    torch.save({"format": FORMAT, "kind": kind, "config": dict(config),
                "params": {name: value.detach().cpu().contiguous().clone()
                           for name, value in params.items()}}, path)


def read_checkpoint(checkpoint, kind=None, where=None):
    """``(kind, config, params)`` of a loaded checkpoint dict, after checking its header.

    Raises ``ValueError`` naming ``where`` when it is not a kit checkpoint or, with ``kind``
    given, holds another kind of model (``where`` None: "the file").
    """
    # Translators: names a model file in the messages below when its path is not known.
    where = _("the file") if where is None else where
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise ValueError(_("{file} is not a model saved by the kit (format {format}); save it "
                           "again with the model's save method").format(file=where, format=FORMAT))
    found = checkpoint.get("kind")
    if found not in KINDS or (kind is not None and found != kind):
        # Translators: {found} and {kind} are kinds of model, e.g. 'linear' ('known': any).
        raise ValueError(_("{file} holds a {found!r} model, not a {kind!r} one").format(
            file=where, found=found, kind=kind or "known"))
    config, params = checkpoint.get("config"), checkpoint.get("params")
    if not isinstance(config, dict) or not isinstance(params, dict):
        raise ValueError(_("{file}: 'config' and 'params' must be dicts").format(file=where))
    return found, config, params


def load_model(path, kind=None):
    """``(config, params)`` of the model saved at ``path`` (CPU tensors); ``kind`` as in
    :func:`read_checkpoint`."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    _kind, config, params = read_checkpoint(checkpoint, kind, where=str(path))
    return config, params
