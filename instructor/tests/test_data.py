"""CIFAR-10 loading and preprocessing, including every error path.

These tests read the real data set: from $CIFAR10_ROOT (CI prepares it) or
<kit>/data (downloaded on first use).
"""
import os
import pickle

import pytest
import torch
import torchvision

from helpers import data
from helpers.data import CLASSES, load_cifar10, preprocess_cifar10, read_batch

pytestmark = pytest.mark.cifar10  # most tests read the data set


@pytest.fixture(scope="module")
def raw():
    return load_cifar10()


@pytest.fixture(scope="module")
def small():
    return preprocess_cifar10(num_train=2000, num_val=500, num_test=300, device="cpu")


@pytest.fixture
def copy_of_data(tmp_path):
    """A private root whose batch files link to the real ones; tests may replace any."""
    source = data.default_root() / data.FOLDER
    folder = tmp_path / data.FOLDER
    folder.mkdir()
    for name in data.TRAIN_FILES + data.TEST_FILES:
        (folder / name).symlink_to(source / name)
    return tmp_path, folder


def test_load_returns_spec_shapes_and_dtypes(raw):
    x_train, y_train, x_test, y_test = raw
    assert x_train.shape == (50000, 3, 32, 32) and x_train.dtype == torch.uint8
    assert y_train.shape == (50000,) and y_train.dtype == torch.int64
    assert x_test.shape == (10000, 3, 32, 32) and x_test.dtype == torch.uint8
    assert y_test.shape == (10000,) and y_test.dtype == torch.int64
    assert torch.equal(torch.bincount(y_train), torch.full((10,), 5000))
    assert torch.equal(torch.bincount(y_test), torch.full((10,), 1000))
    assert len(CLASSES) == 10 and CLASSES[0] == "airplane" and CLASSES[9] == "truck"


def test_preprocess_shapes_scale_and_bias_trick(raw):
    d = preprocess_cifar10(num_train=1000, num_val=100, num_test=200, bias_trick=True,
                           subtract_mean=False, dtype=torch.float32, device="cpu")
    assert d["X_train"].shape == (1000, 3073) and d["X_train"].dtype == torch.float32
    assert d["X_val"].shape == (100, 3073) and d["X_test"].shape == (200, 3073)
    assert torch.all(d["X_train"][:, -1] == 1), "the bias trick appends a column of ones"
    pixels = d["X_train"][:, :-1]
    assert pixels.min() >= 0 and pixels.max() <= 1, "pixels are scaled to [0, 1]"
    assert torch.allclose(pixels, raw[0][:1000].reshape(1000, -1).float() / 255)
    images = preprocess_cifar10(num_train=10, num_val=10, num_test=10, flatten=False, device="cpu")
    assert images["X_train"].shape == (10, 3, 32, 32)


def test_preprocess_is_deterministic(small):
    again = preprocess_cifar10(num_train=2000, num_val=500, num_test=300, device="cpu")
    for key, value in small.items():
        assert torch.equal(value, again[key]), f"{key} differs between two calls"


def test_validation_is_disjoint_from_training(raw, small):
    x_train = raw[0]
    train_rows = {row.numpy().tobytes() for row in x_train[:2000].reshape(2000, -1)}
    val_rows = [row.numpy().tobytes() for row in x_train[-500:].reshape(500, -1)]
    assert not any(row in train_rows for row in val_rows)
    # The split takes exactly those images: the first num_train and the last num_val.
    mean = x_train[:2000].double().div(255).mean(dim=0).reshape(1, -1)
    assert torch.allclose(small["X_val"] + mean, x_train[-500:].reshape(500, -1).double() / 255)
    assert torch.equal(small["y_val"], raw[1][-500:])


def test_mean_comes_from_training_only(raw, small):
    assert small["X_train"].mean(dim=0).abs().max() < 1e-12, "training data is centred"
    train_mean = raw[0][:2000].reshape(2000, -1).double().div(255).mean(dim=0)
    test_pixels = raw[2][:300].reshape(300, -1).double() / 255
    assert torch.allclose(small["X_test"], test_pixels - train_mean)
    assert small["X_val"].mean(dim=0).abs().max() > 1e-3, "validation is not re-centred on itself"


def test_empty_splits_keep_their_shape():
    d = preprocess_cifar10(num_train=10, num_val=0, num_test=0, bias_trick=True, device="cpu")
    assert d["X_val"].shape == (0, 3073) and d["X_test"].shape == (0, 3073)


def test_bad_sizes_raise_value_error():
    with pytest.raises(ValueError, match="exceeds the 50,000"):
        preprocess_cifar10(num_train=49900, num_val=200, device="cpu")
    with pytest.raises(ValueError, match="bias_trick=True needs flatten=True"):
        preprocess_cifar10(num_train=10, num_val=10, num_test=10, flatten=False, bias_trick=True)


def test_missing_data_without_download_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / data.FOLDER) in message, "says where it looked"
    assert "download=False" in message, "says why nothing was downloaded"
    assert "CIFAR10_ROOT" in message, "says how to fix it"


def test_failed_download_says_why(tmp_path, monkeypatch):
    # A real download attempt against a port where nothing listens.
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url",
                        "http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path, download=True)
    message = str(info.value)
    assert "The download failed: URLError" in message
    assert "CIFAR10_ROOT" in message and "data_batch_1" in message


def test_truncated_file_is_named(copy_of_data):
    root, folder = copy_of_data
    target = folder / "data_batch_3"
    content = target.read_bytes()
    target.unlink()
    target.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match=r"data_batch_3 is not a valid CIFAR-10 batch file "
                                         r"\(.*truncated.*\)\. Delete it and run again"):
        load_cifar10(root, download=False)


def test_corrupt_file_is_named(copy_of_data):
    root, folder = copy_of_data
    (folder / "test_batch").unlink()
    (folder / "test_batch").write_bytes(os.urandom(5000))
    with pytest.raises(ValueError, match="test_batch is not a valid CIFAR-10 batch file"):
        load_cifar10(root, download=False)


def test_foreign_pickle_is_named(copy_of_data):
    root, folder = copy_of_data
    (folder / "data_batch_1").unlink()
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": [1, 2, 3], b"labels": [0]}))
    with pytest.raises(ValueError, match=r"data_batch_1 is not a valid CIFAR-10 batch file "
                                         r"\(no uint8 'data' array"):
        load_cifar10(root, download=False)


class _CreatesAFile:
    """A pickle payload that creates a file when unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (exec, (f"open({str(self.path)!r}, 'w').close()",))


def test_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": _CreatesAFile(marker), b"labels": [0]})
    # The payload is real: plain pickle would run it.
    pickle.loads(payload)
    assert marker.exists()
    marker.unlink()

    evil = tmp_path / "data_batch_1"
    evil.write_bytes(payload)
    with pytest.raises(ValueError, match=r"data_batch_1 is not a valid CIFAR-10 batch file "
                                         r"\(refused to load builtins.exec"):
        read_batch(evil)
    assert not marker.exists(), "the payload must not run"


def test_read_batch_accepts_the_real_format(copy_of_data):
    _, folder = copy_of_data
    images, labels = read_batch(folder / "test_batch")
    assert images.shape == (10000, 3, 32, 32) and labels.shape == (10000,)


def test_mirrored_images_follow_torchvisions_horizontal_flip(small):
    augmented = data.add_mirrored_images(small)
    n = small["X_train"].shape[0]
    assert augmented["X_train"].shape == (2 * n, 3072)
    assert torch.equal(augmented["X_train"][:n], small["X_train"])
    images = small["X_train"].reshape(n, 3, 32, 32)
    flipped = torchvision.transforms.functional.hflip(images).reshape(n, 3072)
    assert torch.equal(augmented["X_train"][n:], flipped)
    assert torch.equal(augmented["y_train"], torch.cat([small["y_train"], small["y_train"]]))
    assert augmented["X_val"] is small["X_val"] and augmented["X_test"] is small["X_test"]
    assert small["X_train"].shape[0] == n, "the input dict must not change"


def test_mirroring_bias_trick_data_is_refused():
    with_bias = {"X_train": torch.zeros(4, 3073), "y_train": torch.zeros(4, dtype=torch.long)}
    with pytest.raises(ValueError, match="bias_trick"):
        data.add_mirrored_images(with_bias)
