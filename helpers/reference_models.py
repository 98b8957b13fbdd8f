"""The two-layer net of Task 2 rebuilt with ``torch.nn`` + autograd + ``torch.optim.SGD``.

Reference for the checks and the timing of ``assignment/two_layer_net.py``:

- :func:`autograd_loss_and_grads`: loss and gradients of the kit's parameter
  dict by autograd and ``torch.nn.functional.cross_entropy``;
- :class:`TorchTwoLayerNet`: the same architecture as an ``nn.Module``,
  started from the kit's parameters;
- :func:`sgd_losses_side_by_side`: both nets trained by SGD on the same
  minibatches, step by step (the losses must agree);
- :func:`torch_train`: the ``torch.nn`` twin of ``nn_train`` (same schedule,
  same per-epoch evaluation);
- :func:`time_per_epoch`: both training loops timed side by side, in one process.
"""
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from assignment.metrics import accuracy
from assignment.two_layer_net import nn_forward_backward, nn_predict, nn_sgd_step, nn_train
from helpers.utils import time_side_by_side, timing_is_unreliable


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
                warnings.warn(f"torch_train: the loss is not finite by iteration {it} "
                              f"(learning rate {learning_rate:g})", RuntimeWarning, stacklevel=2)
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
            time_side_by_side({"kit": run_kit, "torch": run_torch}, repeats, X.device).items()}
    kit_seconds, torch_seconds = min(runs["kit"]), min(runs["torch"])
    return {"kit_seconds": kit_seconds, "torch_seconds": torch_seconds,
            "ratio": kit_seconds / torch_seconds, "kit_runs": runs["kit"],
            "torch_runs": runs["torch"], "unreliable": timing_is_unreliable(runs),
            "device": str(X.device),
            "dtype": str(X.dtype).replace("torch.", "")}
