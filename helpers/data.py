"""CIFAR-10: download, offline loading and preprocessing.

Where the data comes from, in order:
1. the ``root`` argument, else ``$CIFAR10_ROOT``, else ``<kit>/data``;
2. inside it, the standard python layout ``cifar-10-batches-py/``;
3. if that folder is missing or incomplete and ``download=True``, torchvision
   downloads and unpacks it there.

The batch files are pickles. They are read with a restricted unpickler that
accepts only what CIFAR batches hold (numpy arrays, lists, dicts, bytes and
numbers), so a pickle that would run code is refused instead of executed.
"""
import codecs
import os
import pickle
from pathlib import Path

import numpy as np
import torch

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct

from helpers.i18n import _
from helpers.utils import KIT_ROOT, default_device

CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
FOLDER = "cifar-10-batches-py"
IMAGE_SHAPE = (3, 32, 32)
PIXELS = 3 * 32 * 32


def default_root():
    """``$CIFAR10_ROOT`` if set, else ``<kit>/data``."""
    return Path(os.environ.get("CIFAR10_ROOT") or KIT_ROOT / "data")


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that builds plain containers and numpy arrays, and nothing else."""

    # The only callables a CIFAR batch needs: numpy's array reconstruction
    # (under numpy 1.x and 2.x module names) and the bytes helper that
    # Python-2 pickles use.
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                _("refused to load {name}: CIFAR-10 batch files hold only arrays, lists, dicts, "
                  "bytes and numbers, and this one asks to run code").format(
                    name=f"{module}.{name}")
            ) from None


def _corrupt(path, why):
    # Translators: {why} says what is wrong with the file.
    return ValueError(
        _("{path} is not a valid CIFAR-10 batch file ({why}). Delete it and run again to "
          "download a fresh copy, or point CIFAR10_ROOT at a good copy.").format(path=path, why=why)
    )


def read_batch(path):
    """Read one CIFAR-10 batch file.

    Returns ``(images, labels)``: uint8 tensor [N, 3, 32, 32] and int64 tensor [N].
    Raises ``ValueError`` naming the file when it is truncated, corrupt, not a
    CIFAR-10 batch, or a pickle that would run code.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, encoding="bytes").load()
    except pickle.UnpicklingError as err:
        raise _corrupt(path, str(err)) from err
    except (EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, ImportError) as err:
        raise _corrupt(path, _("truncated or damaged: {error}").format(
            error=f"{type(err).__name__}: {err}")) from err
    if not isinstance(batch, dict):
        raise _corrupt(path, _("expected a dict, found {type}").format(
            type=type(batch).__name__))
    data, labels = batch.get(b"data"), batch.get(b"labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != PIXELS:
        raise _corrupt(path, _("no uint8 'data' array of shape [N, 3072]"))
    if not isinstance(labels, list) or len(labels) != data.shape[0] \
            or not all(isinstance(v, int) and 0 <= v < len(CLASSES) for v in labels):
        raise _corrupt(path, _("no 'labels' list of N class indices in [0, 10)"))
    images = torch.from_numpy(np.ascontiguousarray(data)).view(-1, *IMAGE_SHAPE)
    return images, torch.tensor(labels, dtype=torch.int64)


def _missing_files(folder):
    return [name for name in TRAIN_FILES + TEST_FILES if not (folder / name).is_file()]


def _download(root):
    """Download CIFAR-10 into ``root`` with torchvision. Returns None or the reason it failed."""
    try:
        import torchvision

        torchvision.datasets.CIFAR10(str(root), train=True, download=True)
    except Exception as err:  # any failure becomes the reason in the message
        return f"{type(err).__name__}: {err}"
    return None


def require_cifar10(root=None, download=True):
    """The folder ``<root>/cifar-10-batches-py`` once every batch file is there, downloading
    them first when they are missing (and ``download``); reads no batch.

    Raises ``FileNotFoundError`` when the data is missing and cannot be downloaded: one line
    for where it looked and what is missing, one for why the download failed, one for the fix.
    """
    root = Path(root) if root is not None else default_root()
    folder = root / FOLDER
    if _missing_files(folder):
        # Translators: why CIFAR-10 was not downloaded (the function's argument).
        reason = _download(root) if download else _("download=False was given")
        missing = _missing_files(folder)
        if missing:
            # Translators: {folder} and {root} are folders, {files} the missing files,
            # {subfolder} is cifar-10-batches-py.
            raise FileNotFoundError(
                _("CIFAR-10 not found: looked in {folder} and these files are missing: "
                  "{files}.\nThe download failed: {reason}.\nTo fix it, either connect to the "
                  "internet and run again (the data downloads into {root}), or set CIFAR10_ROOT "
                  "to a folder that holds {subfolder}/ (for example, download "
                  "cifar-10-python.tar.gz on another machine and unpack it there).").format(
                    folder=folder, files=", ".join(missing),
                    reason=reason or _("unknown reason"), root=root, subfolder=FOLDER)
            )
    return folder


def load_cifar10(root=None, download=True):
    """Load all of CIFAR-10 as tensors.

    Inputs:
    - root: folder that holds (or will hold) ``cifar-10-batches-py/``;
      default ``$CIFAR10_ROOT``, else ``<kit>/data``
    - download: let torchvision download the data when it is missing

    Returns ``(x_train, y_train, x_test, y_test)``: uint8 [50000, 3, 32, 32],
    int64 [50000], uint8 [10000, 3, 32, 32], int64 [10000].

    Raises ``FileNotFoundError`` when the data is missing and cannot be
    downloaded (the message says where it looked and how to fix it), and
    ``ValueError`` naming a truncated, corrupt or foreign batch file.
    """
    folder = require_cifar10(root, download)
    train = [read_batch(folder / name) for name in TRAIN_FILES]
    x_test, y_test = read_batch(folder / TEST_FILES[0])
    x_train = torch.cat([images for images, _ in train])
    y_train = torch.cat([labels for _, labels in train])
    return x_train, y_train, x_test, y_test


def preprocess_cifar10(num_train=49000, num_val=1000, num_test=10000, *, flatten=True,
                       bias_trick=False, subtract_mean=True, dtype=torch.float64,
                       device=None, root=None):
    """Load CIFAR-10 and turn it into training, validation and test tensors.

    - pixels are scaled to [0, 1] and cast to ``dtype``;
    - training images are the first ``num_train`` of the 50,000 training
      images, validation images the LAST ``num_val`` of them, so the two never
      overlap and the validation set does not change with ``num_train``;
    - test images are the first ``num_test`` of the 10,000 test images;
    - ``subtract_mean``: the mean image of the training split (only) is
      subtracted from every split;
    - ``flatten``: images become rows of D = 3072 values; ``bias_trick`` then
      appends a constant 1, so D = 3073 and the bias lives in the weights;
    - ``device``: default ``utils.default_device()``.

    Returns a dict with ``X_train [num_train, D]``, ``y_train [num_train]``,
    ``X_val``, ``y_val``, ``X_test``, ``y_test`` (labels int64; images
    ``[N, 3, 32, 32]`` when ``flatten=False``). Deterministic: no randomness.
    """
    if min(num_train, num_val, num_test) < 0:
        raise ValueError(_("num_train, num_val and num_test must be >= 0"))
    if num_train < 1:
        raise ValueError(_("num_train must be at least 1"))
    if num_train + num_val > 50000:
        raise ValueError(_("num_train + num_val = {count} exceeds the 50,000 CIFAR-10 training "
                           "images").format(count=num_train + num_val))
    if num_test > 10000:
        raise ValueError(_("num_test = {count} exceeds the 10,000 CIFAR-10 test images").format(
            count=num_test))
    if bias_trick and not flatten:
        raise ValueError(_("bias_trick=True needs flatten=True (the bias is an extra column)"))
    device = torch.device(device) if device is not None else default_device()

    x_train, y_train, x_test, y_test = load_cifar10(root)
    val_start = x_train.shape[0] - num_val

    def to_float(images):
        return images.to(device=device, dtype=dtype).div_(255.0)

    splits = {
        "train": (to_float(x_train[:num_train]), y_train[:num_train]),
        "val": (to_float(x_train[val_start:]), y_train[val_start:]),
        "test": (to_float(x_test[:num_test]), y_test[:num_test]),
    }
    if subtract_mean:
        mean_image = splits["train"][0].mean(dim=0, keepdim=True)
        for images, _labels in splits.values():
            images.sub_(mean_image)
    data = {}
    for name, (images, labels) in splits.items():
        if flatten:
            images = images.reshape(images.shape[0], PIXELS)
            if bias_trick:
                images = torch.cat([images, images.new_ones(images.shape[0], 1)], dim=1)
        data[f"X_{name}"] = images
        data[f"y_{name}"] = labels.to(device)
    return data


def subsample(data, num_train, num_val=None):
    """The first ``num_train`` training (and ``num_val`` validation) examples of a data dict.

    Other entries (e.g. the test split) are kept as they are; nothing is copied.
    """
    if num_train < 1:
        raise ValueError(_("num_train must be at least 1, got {count}").format(count=num_train))
    small = dict(data)
    small["X_train"], small["y_train"] = data["X_train"][:num_train], data["y_train"][:num_train]
    if num_val is not None:
        small["X_val"], small["y_val"] = data["X_val"][:num_val], data["y_val"][:num_val]
    return small


def add_mirrored_images(data):
    """A data dict whose training split also holds every training image mirrored left-right.

    ``X_train [N, D]`` (rows of 3072 pixel values, ``flatten=True``) or ``[N, 3, 32, 32]``
    becomes ``[2N, ...]``: the N images, then the same N images with the columns of every
    32 x 32 channel in reverse order; ``y_train [N]`` becomes ``[2N]``. A cat facing left is
    still a cat, so the net sees twice as many different training images (data
    augmentation, computed once). The mirror of a mean-subtracted image is the mirrored image
    minus the mirrored mean image, which is close to the mean image: CIFAR-10's mean image is
    nearly symmetric. Other entries (validation, test) are kept as they are.
    """
    X, y = data["X_train"], data["y_train"]
    if X.shape[1:] not in ((PIXELS,), (3, 32, 32)):
        raise ValueError(_("X_train must hold images of shape [N, {pixels}] or [N, 3, 32, 32], "
                           "got {shape} (bias_trick data cannot be mirrored)").format(
            pixels=PIXELS, shape=tuple(X.shape)))
    mirrored = X.reshape(-1, 3, 32, 32).flip(3).reshape(X.shape)
    augmented = dict(data)
    augmented["X_train"], augmented["y_train"] = torch.cat([X, mirrored]), torch.cat([y, y])
    return augmented
