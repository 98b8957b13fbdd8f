"""Reference twins of the kit's fully connected nets in ``torch.nn`` + autograd + ``torch.optim``.

``compare_fc_training_speed`` trains a ``FullyConnectedNet`` with the kit's
``Solver`` and the same net in plain PyTorch side by side, in one process, on
the same data, device and dtype, and reports the time per epoch of each and
their ratio. The twin does the same work per epoch as the Solver: one pass
over a fresh permutation of the training data in minibatches, softmax loss
plus ``reg * sum(W * W)`` over the weight matrices, one optimizer step per
minibatch, then one accuracy check on ``num_train_samples`` training and all
validation examples.
"""
import torch
from torch import nn

from helpers.solver import Solver
from helpers.utils import reset_seed, time_side_by_side, timing_is_unreliable

TORCH_OPTIMIZERS = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "sgd_momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "rmsprop": lambda params, lr: torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-8),
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8),
}


def torch_fc_net(hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=0.0,
                 dtype=torch.float32, device="cpu"):
    """``nn.Sequential`` of ``{Linear - ReLU - [Dropout]} x (L - 1) - Linear``: the twin of
    ``FullyConnectedNet`` (same layer sizes; PyTorch's default initialization)."""
    layers, fan_in = [], input_dim
    for width in hidden_dims:
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        fan_in = width
    layers.append(nn.Linear(fan_in, num_classes))
    return nn.Sequential(nn.Flatten(), *layers).to(dtype=dtype, device=device)


@torch.no_grad()
def torch_accuracy(model, X, y, num_samples=None, batch_size=100):
    """Accuracy of a ``torch.nn`` model on ``(X, y)`` (optional random subsample), as in
    ``Solver.check_accuracy``."""
    model.eval()
    if num_samples is not None and X.shape[0] > num_samples:
        pick = torch.randperm(X.shape[0], device=X.device)[:num_samples]
        X, y = X[pick], y[pick]
    correct = torch.zeros((), dtype=torch.int64, device=X.device)
    for start in range(0, X.shape[0], batch_size):
        correct += (model(X[start:start + batch_size]).argmax(dim=1) == y[start:start + batch_size]).sum()
    model.train()
    return correct.item() / max(X.shape[0], 1)


def train_torch_epoch(model, optimizer, data, reg=0.0, batch_size=100, num_train_samples=1000):
    """One Solver-like epoch of a ``torch.nn`` model; returns ``(mean loss, train_acc, val_acc)``."""
    X, y = data["X_train"], data["y_train"]
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    order = torch.randperm(X.shape[0], device=X.device)
    total = torch.zeros((), dtype=X.dtype, device=X.device)
    num_batches = max(X.shape[0] // batch_size, 1)
    for i in range(num_batches):
        batch = order[i * batch_size:(i + 1) * batch_size]
        loss = nn.functional.cross_entropy(model(X[batch]), y[batch])
        if reg:
            loss = loss + reg * sum((w * w).sum() for w in weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach()
    train_acc = torch_accuracy(model, X, y, num_samples=num_train_samples)
    val_acc = torch_accuracy(model, data["X_val"], data["y_val"])
    return total.item() / num_batches, train_acc, val_acc


def compare_fc_training_speed(data, hidden_dims, update_rule="adam", learning_rate=1e-3,
                              dropout=0.0, reg=0.0, batch_size=100, num_epochs=1, repeats=3,
                              seed=0):
    """Time per epoch of ``FullyConnectedNet`` + ``Solver`` and of its ``torch.nn`` twin.

    Inputs: ``data`` dict (``X_train``, ``y_train``, ``X_val``, ``y_val``; its
    device and dtype are used for both), the net's hidden sizes, update rule
    name and learning rate, dropout, reg, batch size; each side trains
    ``num_epochs`` epochs, ``repeats`` times, alternating kit and twin so that
    both see the same machine load (``utils.time_side_by_side``); the best
    repeat of each counts.

    Returns a dict: ``kit_sec_per_epoch``, ``torch_sec_per_epoch``, ``ratio``
    (kit / torch; below 1 means the kit is faster), ``kit_val_acc``,
    ``torch_val_acc`` (after the last repeat), ``unreliable`` (True when the
    rounds disagree widely: a busy machine, see
    ``helpers.utils.timing_is_unreliable``), ``device``, ``dtype``.
    """
    from assignment.fully_connected_networks import FullyConnectedNet

    X = data["X_train"]
    dtype, device = X.dtype, X.device
    val_acc = {}

    def run_kit():
        model = FullyConnectedNet(hidden_dims, input_dim=X[0].numel(), dropout=dropout, reg=reg,
                                  weight_scale=1e-2, dtype=dtype, device=device)
        solver = Solver(model, data, update_rule=update_rule,
                        optim_config={"learning_rate": learning_rate}, batch_size=batch_size,
                        num_epochs=num_epochs, verbose=False, device=device)
        solver.train(return_best_params=False)
        val_acc["kit"] = solver.val_acc_history[-1]

    def run_torch():
        twin = torch_fc_net(hidden_dims, input_dim=X[0].numel(), dropout=dropout,
                            dtype=dtype, device=device)
        optimizer = TORCH_OPTIMIZERS[update_rule](twin.parameters(), learning_rate)
        for _ in range(num_epochs):
            _, _, val_acc["torch"] = train_torch_epoch(twin, optimizer, data, reg=reg,
                                                      batch_size=batch_size)

    reset_seed(seed)
    times = time_side_by_side({"kit": run_kit, "torch": run_torch}, repeats, device)
    kit, ref = min(times["kit"]) / num_epochs, min(times["torch"]) / num_epochs
    return {"kit_sec_per_epoch": kit, "torch_sec_per_epoch": ref, "ratio": kit / ref,
            "kit_val_acc": val_acc["kit"], "torch_val_acc": val_acc["torch"],
            "unreliable": timing_is_unreliable(times),
            "device": str(device), "dtype": str(dtype).replace("torch.", "")}

