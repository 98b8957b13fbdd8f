"""The grader's building blocks on their own: model checks, zip reading, output hygiene."""
import io
import json
import time

import pytest
import torch

from helpers.checkpoint import load_model
from helpers.data import preprocess_cifar10
from instructor import grade, grade_models, grade_report, grade_zip
from instructor.tests.kit import hostile


def reference_accuracy(kind, path, X, y):
    """Accuracy by the reference implementation (assignment/ of this source), as the grader
    used to compute it."""
    from assignment.fully_connected_networks import FullyConnectedNet
    from assignment.linear_classifier import LinearClassifier
    from assignment.two_layer_net import TwoLayerNet

    config, params = load_model(path)
    if kind == "linear":
        classifier = LinearClassifier().load(path, map_location="cpu")
        labels = classifier.predict(X.to(classifier.W.dtype))
    elif kind == "two_layer_net":
        net = TwoLayerNet(**config, dtype=params["W1"].dtype)
        net.load(path)
        labels = net.predict(X.to(params["W1"].dtype))
    else:
        net = FullyConnectedNet(**config, dtype=params["W1"].dtype)
        net.load(path)
        Xc = X.to(params["W1"].dtype)
        labels = torch.cat([net.loss(Xc[i:i + 1000]).argmax(dim=1) for i in range(0, len(X), 1000)])
    return (labels == y).to(torch.float64).mean().item()


@pytest.mark.long  # over 20 s (the long tier: pytest --all)
@pytest.mark.cifar10
def test_honest_models_score_exactly_as_the_reference(finished_kit, capsys):
    rubric = json.loads(grade.RUBRIC_PATH.read_text())
    for spec in rubric["models"]:
        data = preprocess_cifar10(**{**spec["preprocess"], "dtype": getattr(
            torch, spec["preprocess"]["dtype"])}, device="cpu")
        path = finished_kit / "saved" / spec["file"]
        ours = grade_models.score(spec["kind"], path.read_bytes(), data["X_test"], data["y_test"],
                                  spec["preprocess"])
        assert ours == reference_accuracy(spec["kind"], path, data["X_test"], data["y_test"]), \
            spec["file"]


def test_stride_zero_views_are_refused_fast(tmp_path):
    path = tmp_path / "net.pt"
    hostile.stride_zero_two_layer_net(path)
    assert path.stat().st_size < 4000
    began = time.monotonic()
    with pytest.raises(grade_models.ModelError, match="W1 is a view"):
        grade_models.score("two_layer_net", path.read_bytes(), torch.zeros(10, 3072),
                           torch.zeros(10, dtype=torch.long), {})
    assert time.monotonic() - began < 2


@pytest.mark.parametrize("state, message", [
    ({"W": torch.zeros(3073, 11)}, "W has shape"),
    ({"W": torch.zeros(3073, 10, dtype=torch.int64)}, "float32 or float64"),
    ({"W": torch.zeros(10, 3073).t()}, "is a view"),
    ({"W": torch.zeros(3073 * 10 + 5)[5:].view(3073, 10)}, "is a view"),
    ({"V": torch.zeros(3073, 10)}, "W is missing"),
])
def test_bad_linear_models_are_refused(state, message):
    buffer = io.BytesIO()
    torch.save(hostile.checkpoint_dict("linear", state), buffer)
    with pytest.raises(grade_models.ModelError, match=message):
        grade_models.score("linear", buffer.getvalue(), torch.zeros(2, 3073),
                           torch.zeros(2, dtype=torch.long), {"bias_trick": True})


def test_shared_storage_and_compressed_records_are_refused():
    W = torch.zeros(3072, 10)
    buffer = io.BytesIO()
    torch.save(hostile.checkpoint_dict("fully_connected_net", {"W1": W, "b1": torch.zeros(10)}),
               buffer)
    layers = grade_models.model_layers(grade_models.load_checkpoint(buffer.getvalue()),
                                       "fully_connected_net", 3072)
    with pytest.raises(grade_models.ModelError, match="share memory"):
        grade_models.check_distinct([layers[0][0], layers[0][0]])
    with pytest.raises(grade_models.ModelError, match="torch.save"):
        grade_models.load_checkpoint(b"not a zip")


@pytest.mark.parametrize("checkpoint, message", [
    ({"W": torch.zeros(3073, 10)}, "not a model saved by the kit"),
    (hostile.checkpoint_dict("two_layer_net", {"W": torch.zeros(3073, 10)}),
     "holds a 'two_layer_net' model, not a 'linear' one"),
    ({**hostile.checkpoint_dict("linear", {}), "params": [1, 2]}, "must be dicts"),
])
def test_a_file_without_the_kit_header_or_of_another_kind_is_refused(checkpoint, message):
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    with pytest.raises(grade_models.ModelError, match=message):
        grade_models.score("linear", buffer.getvalue(), torch.zeros(2, 3073),
                           torch.zeros(2, dtype=torch.long), {"bias_trick": True})


def test_scoring_stops_at_its_deadline():
    layers = [(torch.zeros(3072, 10), torch.zeros(10))]
    with pytest.raises(grade_models.ModelError, match="ran out of time"):
        grade_models.predict(layers, torch.zeros(5000, 3072), deadline=time.monotonic() - 1)


def test_a_lying_zip_member_is_not_inflated(tmp_path):
    import tracemalloc

    path = hostile.lying_zip(tmp_path / "x_submission.zip", "MANIFEST.json",
                             hostile.zeros_deflated(2**28), 1024)
    tracemalloc.start()
    sub = grade_zip.verify_zip(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sub.fatal and peak < 16 * 2**20


def test_fifo_and_links_are_not_read(tmp_path):
    import os

    os.mkfifo(tmp_path / "fifo_submission.zip")
    (tmp_path / "link_submission.zip").symlink_to("/dev/zero")
    for name in ("fifo_submission.zip", "link_submission.zip"):
        sub = grade_zip.verify_zip(tmp_path / name)
        assert sub.fatal and "corrupt zip" in sub.problems[0]


@pytest.mark.parametrize("text, expected", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'=1"), ("a\nb\rc", "a b c"), ("x\u202ey", "xy"), ("x" * 2000, "x" * 997 + "..."),
])
def test_csv_cells_are_escaped_and_capped(text, expected):
    assert grade_report.csv_cell(text) == expected
    assert grade_report.csv_cell(3.5) == 3.5


def test_output_shown_hides_hidden_check_lines():
    secrets = grade_report.secret_lines(["    assert rel_error(dW, expected) < 1e-7\n"])
    shown = grade_report.shown_output(
        "\n".join(f"line {i}" for i in range(40)) + "\nassert rel_error(dW, expected) < 1e-7\n"
        + "z" * 5000, secrets)
    assert len(shown) == 15 and max(map(len, shown)) <= 200
    assert "[line removed: it quotes a hidden check]" in shown


@pytest.mark.parametrize("manifest, message", [
    ({"student_id": "a", "files": []}, "'files' must be an object"),
    ({"student_id": "../x", "files": {"a": "0" * 64}}, "'student_id' must be"),
    ({"student_id": "a", "files": {"a": "zz"}}, "sha256"),
    ({"student_id": "a", "files": {"a": "0" * 64}, "extra": 1}, "unknown key"),
    ({"student_id": "a", "files": {"a": "0" * 64}, "created_utc": "soon"}, "ISO 8601"),
    ({"student_id": "a", "files": {"a": "0" * 64}, "self_check": {"x": [[[1]]]}}, "nested"),
    ([1, 2], "JSON object"),
])
def test_manifest_schema(manifest, message):
    with pytest.raises(ValueError, match=message):
        grade_zip.parse_manifest(json.dumps(manifest).encode())


def test_deep_manifest_is_refused():
    with pytest.raises(ValueError, match="nested too deeply"):
        grade_zip.parse_manifest(b"[" * 100_000 + b"]" * 100_000)
