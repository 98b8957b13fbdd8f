"""The ``torch.nn`` twins: the kit's nets rebuilt with ``torch.nn`` + autograd + ``torch.optim``.

Each twin computes what a hand-written net of the assignment computes, the way PyTorch users
write it, so that the notebooks and benchmarks can check the kit's numbers against it and time
both side by side, in one process, on the same data, device and dtype.

Task 2 (``assignment/two_layer_net.py``, with ``torch.optim.SGD``):

- :func:`autograd_loss_and_grads`: loss and gradients of the kit's parameter
  dict by autograd and ``torch.nn.functional.cross_entropy``;
- :class:`TorchTwoLayerNet`: the same architecture as an ``nn.Module``,
  started from the kit's parameters;
- :func:`sgd_losses_side_by_side`: both nets trained by SGD on the same
  minibatches, step by step (the losses must agree);
- :func:`torch_train`: the ``torch.nn`` twin of ``nn_train`` (same schedule,
  same per-epoch evaluation);
- :func:`time_per_epoch`: both training loops timed side by side, in one process.

Task 3 (``FullyConnectedNet`` + ``Solver``, with ``torch.optim`` SGD / momentum / RMSprop /
Adam):

- :func:`torch_fc_net`: the twin of ``FullyConnectedNet``;
- :func:`train_torch_epoch`: one Solver-like epoch of the twin;
- :func:`compare_fc_training_speed`: kit and twin timed side by side. Its twin does the same
  work per epoch as the Solver: one pass over a fresh permutation of the training data in
  minibatches, softmax loss plus ``reg * sum(W * W)`` over the weight matrices, one optimizer
  step per minibatch, then one accuracy check on ``num_train_samples`` training and all
  validation examples.
"""
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from assignment.metrics import accuracy
from assignment.two_layer_net import nn_forward_backward, nn_predict, nn_sgd_step, nn_train
from helpers.i18n import _
from helpers.solver import Solver
from helpers.utils import predict_in_batches, reset_seed, time_side_by_side, timing_is_unreliable


def clone_params(params):
    """A deep copy of a parameter dict (the training loops update in place)."""
    return {name: value.detach().clone() for name, value in params.items()}


def autograd_loss_and_grads(params, X, y, reg=0.0):
    """Loss and gradients of the kit's two-layer net, computed by autograd.

    Same inputs and outputs as ``nn_forward_backward(params, X, y, reg)``:
    ``(loss, grads)`` with the mean cross-entropy from
    ``torch.nn.functional.cross_entropy`` plus ``reg * (sum(W1^2) + sum(W2^2))``.
    """
    leaves = {name: value.detach().clone().requires_grad_(True)
              for name, value in params.items()}
    hidden = F.relu(X @ leaves["W1"] + leaves["b1"])
    scores = hidden @ leaves["W2"] + leaves["b2"]
    loss = F.cross_entropy(scores, y) + reg * (leaves["W1"].square().sum()
                                               + leaves["W2"].square().sum())
    loss.backward()
    return loss.detach(), {name: leaf.grad for name, leaf in leaves.items()}


class TorchTwoLayerNet(nn.Module):
    """``Linear -> ReLU -> Linear`` with the kit's parameters as starting weights.

    ``nn.Linear`` stores its weight as [out, in], the transpose of the kit's
    W1 [D, H] and W2 [H, C]; dtype and device follow ``params``.
    """

    def __init__(self, params):
        super().__init__()
        W1, W2 = params["W1"], params["W2"]
        factory = {"dtype": W1.dtype, "device": W1.device}
        self.fc1 = nn.Linear(W1.shape[0], W1.shape[1], **factory)
        self.fc2 = nn.Linear(W2.shape[0], W2.shape[1], **factory)
        with torch.no_grad():
            self.fc1.weight.copy_(W1.t())
            self.fc1.bias.copy_(params["b1"])
            self.fc2.weight.copy_(W2.t())
            self.fc2.bias.copy_(params["b2"])

    def forward(self, X):
        """Class scores [N, C] of inputs [N, D]."""
        return self.fc2(F.relu(self.fc1(X)))

    def loss(self, X, y, reg=0.0):
        """Mean cross-entropy plus ``reg`` times the squared weights (not biases)."""
        penalty = self.fc1.weight.square().sum() + self.fc2.weight.square().sum()
        return F.cross_entropy(self(X), y) + reg * penalty

    def params_dict(self):
        """The weights in the kit's layout: W1 [D, H], b1, W2 [H, C], b2 (copies)."""
        return {"W1": self.fc1.weight.detach().t().clone(), "b1": self.fc1.bias.detach().clone(),
                "W2": self.fc2.weight.detach().t().clone(), "b2": self.fc2.bias.detach().clone()}

    @torch.no_grad()
    def predict(self, X):
        """Predicted labels, int64 [N]."""
        return self(X).argmax(dim=1)


def sgd_losses_side_by_side(params, X, y, *, learning_rate=1e-1, reg=1e-3, num_steps=10,
                            batch_size=50, seed=0):
    """Train the kit's net and the ``torch.nn`` twin from the same start on the same batches.

    Each step draws one minibatch (with replacement, from a generator seeded
    with ``seed``); the kit takes ``nn_forward_backward`` + ``nn_sgd_step``,
    the twin autograd + ``torch.optim.SGD``.

    Returns a dict: ``kit_losses`` and ``torch_losses`` (float64 [num_steps],
    the loss before each step) and ``kit_params``, ``torch_params`` (the
    parameters after the last step, in the kit's layout).
    """
    generator = torch.Generator().manual_seed(seed)
    batches = [torch.randint(X.shape[0], (batch_size,), generator=generator).to(X.device)
               for _ in range(num_steps)]
    kit_params = clone_params(params)
    model = TorchTwoLayerNet(params)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    kit_losses, torch_losses = [], []
    for indices in batches:
        loss, grads = nn_forward_backward(kit_params, X[indices], y[indices], reg)
        nn_sgd_step(kit_params, grads, learning_rate)
        kit_losses.append(loss.detach())

        optimizer.zero_grad()
        torch_loss = model.loss(X[indices], y[indices], reg)
        torch_loss.backward()
        optimizer.step()
        torch_losses.append(torch_loss.detach())
    return {"kit_losses": torch.stack(kit_losses).double().cpu(),
            "torch_losses": torch.stack(torch_losses).double().cpu(),
            "kit_params": kit_params, "torch_params": model.params_dict()}


def torch_train(model, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95,
                reg=5e-6, num_iters=100, batch_size=200):
    """The ``torch.nn`` twin of ``nn_train``: same sampling, schedule and evaluation.

    Minibatches drawn with replacement by ``torch.randint``; autograd and
    ``torch.optim.SGD``; the rate decays by ``learning_rate_decay`` after
    every epoch (``ExponentialLR``), when the train (on 1000 fixed examples)
    and val accuracies are recorded. Stops at the first non-finite loss
    with a ``RuntimeWarning``. Returns the same dict of histories.
    """
    iterations_per_epoch = max(X.shape[0] // batch_size, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=learning_rate_decay)
    train_probe = torch.randperm(X.shape[0], device=X.device)[:1000]
    losses = X.new_zeros(num_iters)
    train_acc_history, val_acc_history = [], []
    for it in range(num_iters):
        indices = torch.randint(X.shape[0], (batch_size,), device=X.device)
        loss = model.loss(X[indices], y[indices], reg)
        optimizer.zero_grad()
        loss.backward()
        losses[it] = loss.detach()
        if (it + 1) % 10 == 0 or it == num_iters - 1:
            if not torch.isfinite(losses[:it + 1]).all():
                warnings.warn(_("torch_train: the loss is not finite by iteration {iteration} "
                                "(learning rate {learning_rate:g})").format(
                    iteration=it, learning_rate=learning_rate), RuntimeWarning, stacklevel=2)
                break
        optimizer.step()
        if (it + 1) % iterations_per_epoch == 0:
            train_acc_history.append(accuracy(y[train_probe], model.predict(X[train_probe])))
            val_acc_history.append(accuracy(y_val, model.predict(X_val)))
            scheduler.step()
    return {"loss_history": losses[:it + 1].tolist(), "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history}


def time_per_epoch(params, X, y, X_val, y_val, *, learning_rate=1e-1,
                   learning_rate_decay=0.95, reg=1e-4, batch_size=200, num_epochs=1,
                   repeats=3):
    """Seconds per epoch of ``nn_train`` and of :func:`torch_train`, side by side.

    Both start from copies of ``params`` and train for ``num_epochs`` epochs,
    ``repeats`` times each, alternating which goes first; the figure is the
    best (least disturbed) of the repeats.

    Returns a dict: ``kit_seconds``, ``torch_seconds`` (best seconds per
    epoch), ``ratio`` (kit / torch: below 1 means the hand-written net is
    faster), ``kit_runs``, ``torch_runs`` (every measurement), ``unreliable``
    (True when the rounds disagree widely: a busy machine, see
    ``helpers.utils.timing_is_unreliable``) and ``device``, ``dtype``.
    """
    num_iters = num_epochs * max(X.shape[0] // batch_size, 1)
    settings = {"learning_rate": learning_rate, "learning_rate_decay": learning_rate_decay,
                "reg": reg, "num_iters": num_iters, "batch_size": batch_size}

    def run_kit():
        nn_train(clone_params(params), nn_forward_backward, nn_predict, X, y, X_val, y_val,
                 **settings)

    def run_torch():
        torch_train(TorchTwoLayerNet(params), X, y, X_val, y_val, **settings)

    runs = {name: [t / num_epochs for t in times] for name, times in
            time_side_by_side({"kit": run_kit, "torch": run_torch}, repeats, X.device,
                              what="timing both training loops").items()}
    kit_seconds, torch_seconds = min(runs["kit"]), min(runs["torch"])
    return {"kit_seconds": kit_seconds, "torch_seconds": torch_seconds,
            "ratio": kit_seconds / torch_seconds, "kit_runs": runs["kit"],
            "torch_runs": runs["torch"], "unreliable": timing_is_unreliable(runs),
            "device": str(X.device),
            "dtype": str(X.dtype).replace("torch.", "")}


# ------------------------------------------------------------ Task 3 ---

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
    """Accuracy of a ``torch.nn`` model on ``(X [N, ...], y [N])`` (optional random subsample
    of ``num_samples``), in batches, as in ``Solver.check_accuracy``."""
    model.eval()
    if num_samples is not None and X.shape[0] > num_samples:
        pick = torch.randperm(X.shape[0], device=X.device)[:num_samples]
        X, y = X[pick], y[pick]
    labels = predict_in_batches(lambda rows: model(rows).argmax(dim=1), X, batch_size)
    model.train()
    return (labels == y).sum().item() / max(X.shape[0], 1)


def train_torch_epoch(model, optimizer, data, reg=0.0, batch_size=100, num_train_samples=1000):
    """One Solver-like epoch of a ``torch.nn`` model; returns
    ``(mean loss, train_acc, val_acc)``."""
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
    # Imported when used: Task 2's checks import this module, and must work while
    # assignment/fully_connected_networks.py is still being written.
    from assignment.fully_connected_networks import FullyConnectedNet
    from helpers.studies.fully_connected_networks import rule_named

    X = data["X_train"]
    dtype, device = X.dtype, X.device
    val_acc = {}

    def run_kit():
        model = FullyConnectedNet(hidden_dims, input_dim=X[0].numel(), dropout=dropout, reg=reg,
                                  weight_scale=1e-2, dtype=dtype, device=device)
        solver = Solver(model, data, update_rule=rule_named(update_rule),
                        optim_config={"learning_rate": learning_rate}, batch_size=batch_size,
                        num_epochs=num_epochs, verbose=False, device=device)
        solver.train(return_best_params=False)
        val_acc["kit"] = solver.val_acc_history[-1]

    def run_torch():
        twin = torch_fc_net(hidden_dims, input_dim=X[0].numel(), dropout=dropout,
                            dtype=dtype, device=device)
        optimizer = TORCH_OPTIMIZERS[update_rule](twin.parameters(), learning_rate)
        for _epoch in range(num_epochs):
            _loss, _acc, val_acc["torch"] = train_torch_epoch(twin, optimizer, data, reg=reg,
                                                              batch_size=batch_size)

    reset_seed(seed)
    times = time_side_by_side({"kit": run_kit, "torch": run_torch}, repeats, device,
                              what="timing the kit and torch.nn")
    kit, ref = min(times["kit"]) / num_epochs, min(times["torch"]) / num_epochs
    return {"kit_sec_per_epoch": kit, "torch_sec_per_epoch": ref, "ratio": kit / ref,
            "kit_val_acc": val_acc["kit"], "torch_val_acc": val_acc["torch"],
            "unreliable": timing_is_unreliable(times),
            "device": str(device), "dtype": str(dtype).replace("torch.", "")}

