"""Checks of given code in assignment/fully_connected_networks.py (instructor only), on the
reference solutions: saving and loading the models (``_SavableModel``, ``FullyConnectedNet.load``).
"""
import torch

from assignment.fully_connected_networks import FullyConnectedNet, TwoLayerNet
from helpers.checkpoint import load_model
from helpers.gradcheck import rel_error


def test_fully_connected_net_save_and_load(tmp_path):
    torch.manual_seed(0)
    model = FullyConnectedNet([8], input_dim=6, num_classes=3, dropout=0.25, reg=0.3,
                              dtype=torch.float64)
    X = torch.randn(4, 6, dtype=torch.float64)
    path = tmp_path / "net.pt"
    model.save(path)
    other = FullyConnectedNet([8], input_dim=6, num_classes=3, dtype=torch.float64)
    other.load(path)
    assert other.reg == 0.3 and other.dropout == 0.25, "load must restore reg and dropout"
    assert other.use_dropout and other.dropout_param["p"] == 0.25, "load must switch dropout on"
    assert rel_error(other.loss(X), model.loss(X)) < 1e-12, \
        "a loaded model must give the same scores"
    config, params = load_model(path, kind="fully_connected_net")
    assert config == {"hidden_dims": [8], "input_dim": 6, "num_classes": 3, "dropout": 0.25,
                      "reg": 0.3}, config
    assert set(params) == {"W1", "b1", "W2", "b2"}, sorted(params)


def test_two_layer_net_save_and_load_moves_to_the_model_dtype(tmp_path):
    torch.manual_seed(0)
    model = TwoLayerNet(input_dim=5, hidden_dim=4, num_classes=3, dtype=torch.float64)
    path = tmp_path / "net.pt"
    model.save(path)
    other = TwoLayerNet(input_dim=5, hidden_dim=4, num_classes=3, dtype=torch.float32)
    other.load(path)
    assert all(value.dtype == torch.float32 for value in other.params.values())
    assert torch.equal(other.params["W1"], model.params["W1"].float())
