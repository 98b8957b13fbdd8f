"""Task 2: a two-layer fully connected neural network, trained with minibatch SGD.

The network maps an input x (D values) to C class scores:

    h      = max(0, x W1 + b1)      hidden layer, H ReLU units
    scores = h W2 + b2

and is trained with the softmax (cross-entropy) loss plus L2 regularization of
both weight matrices:

    L = 1/N sum_i -log softmax(scores_i)[y_i] + reg * (sum(W1 * W1) + sum(W2 * W2))

Parameters live in a dict ``params`` of tensors:

    W1 [D, H]   b1 [H]   W2 [H, C]   b2 [C]

Every function works on CPU and CUDA, in float32 and float64, and never moves
its inputs to another device or dtype. You write the backward pass by hand.

Rules (``helpers/functions.py``; the self-check and grading apply them): no
``torch.autograd`` (``.backward()``, ``requires_grad``, ``torch.func``), no ``torch.nn``
(its modules, and ``torch.nn.functional`` with its losses) and no ``torch.optim`` in this
file. The SGD step is written by hand too.
"""
import math
import warnings

import torch

from assignment.metrics import accuracy
from helpers.checkpoint import load_model, save_model
from helpers.progress import SearchProgress, progress_line
from helpers.utils import detect_divergence, first_non_finite, shown_path

PARAM_NAMES = ("W1", "b1", "W2", "b2")


def nn_forward_pass(params, X):
    """Forward pass of the two-layer net: the class scores and the hidden activations.

    Inputs:
    - params: dict with W1 [D, H], b1 [H], W2 [H, C], b2 [C]
    - X: inputs [N, D]

    Returns ``(scores, hidden)``:
    - scores [N, C]: ``hidden W2 + b2``
    - hidden [N, H]: ``relu(X W1 + b1)``, the ReLU outputs (the backward pass needs them)
    """
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    # TODO: compute hidden = relu(X W1 + b1) and scores = hidden W2 + b2.
    # Two matrix products, no Python loop. ``torch.addmm(b, A, B)`` computes
    # b + A B in one call; ``clamp(min=0)`` (or ``relu``) is the ReLU.
    # BEGIN SOLUTION
    hidden = torch.addmm(b1, X, W1).clamp_(min=0)
    scores = torch.addmm(b2, hidden, W2)
    # END SOLUTION
    return scores, hidden


def nn_forward_backward(params, X, y=None, reg=0.0):
    """Loss and gradients of the two-layer net on a minibatch.

    Inputs:
    - params: dict with W1 [D, H], b1 [H], W2 [H, C], b2 [C]
    - X: inputs [N, D]
    - y: int64 labels [N] in [0, C), or None
    - reg: L2 regularization strength

    Returns:
    - if ``y`` is None: the scores [N, C] (used for prediction);
    - else ``(loss, grads)``: ``loss`` a 0-dim tensor, the mean softmax loss
      over the batch plus ``reg * (sum(W1 * W1) + sum(W2 * W2))``; ``grads``
      a dict with the gradient of the loss for each of W1, b1, W2, b2 (same
      shapes as the parameters).
    """
    scores, hidden = nn_forward_pass(params, X)
    if y is None:
        return scores
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must hold one label per row of X: X has {X.shape[0]} rows, "
                         f"y has shape {tuple(y.shape)}")
    W1, W2 = params["W1"], params["W2"]
    N = X.shape[0]
    loss, grads = None, {}
    # TODO, part 1, the loss: softmax cross-entropy of ``scores``, averaged
    # over the batch, plus the L2 term. Subtract each row's maximum from the
    # scores before exponentiating (numerical stability); log-probabilities
    # are then ``shifted - log(sum(exp(shifted)))``.
    # TODO, part 2, the backward pass (no autograd), with P the softmax
    # probabilities [N, C] and Y the one-hot labels:
    #   dscores = (P - Y) / N                          [N, C]
    #   dW2 = hidden^T dscores + 2 reg W2,   db2 = sum of dscores over rows
    #   dhidden = dscores W2^T, zero where hidden == 0 (ReLU gate)
    #   dW1 = X^T dhidden + 2 reg W1,        db1 = sum of dhidden over rows
    # Store them as grads["W1"], grads["b1"], grads["W2"], grads["b2"].
    # BEGIN SOLUTION
    rows = torch.arange(N, device=X.device)
    shifted = scores - scores.max(dim=1, keepdim=True).values
    exp_scores = shifted.exp()
    sum_exp = exp_scores.sum(dim=1, keepdim=True)
    log_probs_true = shifted[rows, y] - sum_exp.squeeze(1).log()
    loss = -log_probs_true.mean() + reg * ((W1 * W1).sum() + (W2 * W2).sum())

    dscores = exp_scores.div_(sum_exp)          # the probabilities P, reusing the buffer
    dscores[rows, y] -= 1
    dscores.div_(N)
    grads["W2"] = torch.addmm(W2, hidden.t(), dscores, beta=2 * reg)
    grads["b2"] = dscores.sum(dim=0)
    dhidden = dscores.mm(W2.t()).mul_(hidden > 0)
    grads["W1"] = torch.addmm(W1, X.t(), dhidden, beta=2 * reg)
    grads["b1"] = dhidden.sum(dim=0)
    # END SOLUTION
    return loss, grads


def nn_predict(params, loss_func, X):
    """Predicted labels of the net for the inputs ``X``.

    Inputs:
    - params: dict of parameters
    - loss_func: function ``loss_func(params, X)`` returning scores [N, C]
      (e.g. ``nn_forward_backward``)
    - X: inputs [N, D]

    Returns int64 [N]: for each row, the class with the highest score.
    """
    y_pred = None
    # TODO: one call of loss_func and an argmax over the classes.
    # BEGIN SOLUTION
    y_pred = loss_func(params, X).argmax(dim=1)
    # END SOLUTION
    return y_pred


def nn_sample_batch(X, y, num_train, batch_size):
    """A random minibatch of ``batch_size`` examples, drawn with replacement.

    Inputs: X [N, D], y [N], num_train = N, batch_size. Returns ``(X_batch [batch_size, D],
    y_batch [batch_size])`` on the device of ``X``.
    """
    X_batch, y_batch = None, None
    # TODO: draw batch_size random indices in [0, num_train) with
    # ``torch.randint`` (on X's device) and index X and y with them.
    # BEGIN SOLUTION
    indices = torch.randint(num_train, (batch_size,), device=X.device)
    X_batch, y_batch = X[indices], y[indices]
    # END SOLUTION
    return X_batch, y_batch


def nn_sgd_step(params, grads, learning_rate):
    """One step of vanilla gradient descent, in place: ``p -= learning_rate * dp``.

    Inputs: params and grads, dicts with the same keys; learning_rate a number.
    Updates the tensors of ``params`` in place and returns nothing.
    """
    # TODO: update every parameter in place (``p.add_(dp, alpha=...)`` or ``-=``).
    # BEGIN SOLUTION
    for name, grad in grads.items():
        params[name].add_(grad, alpha=-learning_rate)
    # END SOLUTION


# How often the training loop looks at the recent losses (a look waits for the device).
_FINITE_CHECK_EVERY = 10
# Examples used to measure the training accuracy once per epoch.
_TRAIN_ACC_SAMPLES = 1000


def _check_training_args(X, y, X_val, y_val, num_iters, batch_size, learning_rate):
    if X.shape[0] != y.shape[0] or X_val.shape[0] != y_val.shape[0]:
        raise ValueError(f"X and y need the same number of examples: got {X.shape[0]} and "
                         f"{y.shape[0]} (training), {X_val.shape[0]} and {y_val.shape[0]} "
                         "(validation)")
    if X.shape[0] < 1:
        raise ValueError("the training set is empty")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if num_iters < 0:
        raise ValueError(f"num_iters must be >= 0, got {num_iters}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")


def nn_train(params, loss_func, pred_func, X, y, X_val, y_val, learning_rate=1e-3,
             learning_rate_decay=0.95, reg=5e-6, num_iters=100, batch_size=200,
             verbose=False, progress=False):
    """Train the net with minibatch stochastic gradient descent (given code).

    Inputs:
    - params: dict of parameters, updated in place
    - loss_func: ``loss_func(params, X, y, reg) -> (loss, grads)`` and
      ``loss_func(params, X) -> scores`` (e.g. ``nn_forward_backward``)
    - pred_func: ``pred_func(params, loss_func, X) -> labels`` (e.g. ``nn_predict``)
    - X [N, D], y [N]: training data; X_val, y_val: validation data
    - learning_rate: initial step size; multiplied by ``learning_rate_decay``
      after every epoch (an epoch is ``max(N // batch_size, 1)`` iterations)
    - reg: L2 regularization strength
    - num_iters: number of SGD steps; batch_size: examples per step
    - verbose: print the loss every 100 iterations
    - progress: show a progress line, one step per epoch, with the validation accuracy
      (``helpers.progress``)

    Returns a dict:
    - ``loss_history``: list of the loss (float) at each iteration
    - ``train_acc_history``, ``val_acc_history``: accuracy (float) after each
      epoch, the training one measured on a fixed random subset of at most
      1000 training examples

    Stops at the first non-finite loss with a ``RuntimeWarning`` naming the
    iteration and the learning rate, and returns the histories up to it.
    """
    _check_training_args(X, y, X_val, y_val, num_iters, batch_size, learning_rate)
    iterations_per_epoch = max(X.shape[0] // batch_size, 1)
    train_probe = torch.randperm(X.shape[0], device=X.device)[:_TRAIN_ACC_SAMPLES]
    losses = X.new_zeros(num_iters)   # kept on the device: no wait for it per step
    train_acc_history, val_acc_history = [], []
    checked = 0                        # losses[:checked] are known to be finite
    step_size = learning_rate          # the learning rate of the current epoch

    num_epochs = -(-num_iters // iterations_per_epoch)   # the last one may be partial
    line = progress_line(total=num_epochs, what="training", unit="epoch", shown=progress)
    for it in range(num_iters):
        X_batch, y_batch = nn_sample_batch(X, y, X.shape[0], batch_size)
        loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        losses[it] = loss
        last = it == num_iters - 1
        epoch_end = (it + 1) % iterations_per_epoch == 0
        report = verbose and it % 100 == 0
        if report or epoch_end or last or it + 1 - checked >= _FINITE_CHECK_EVERY:
            bad = first_non_finite(losses[checked:it + 1])
            if bad is not None:
                it_bad = checked + bad
                warnings.warn(f"nn_train: the loss is not finite at iteration {it_bad} "
                              f"(learning rate {learning_rate:g}, decayed to {step_size:g}); "
                              "training stopped. Try a smaller learning rate.",
                              RuntimeWarning, stacklevel=2)
                line.close()
                return {"loss_history": losses[:it_bad].tolist(),
                        "train_acc_history": train_acc_history,
                        "val_acc_history": val_acc_history}
            checked = it + 1
        nn_sgd_step(params, grads, step_size)
        if report:
            print(f"Iteration {it} / {num_iters}: loss {losses[it].item():f}")
        if epoch_end:
            train_acc_history.append(
                accuracy(y[train_probe], pred_func(params, loss_func, X[train_probe])))
            val_acc_history.append(accuracy(y_val, pred_func(params, loss_func, X_val)))
            step_size *= learning_rate_decay
            line.set_postfix_str(f"val acc {val_acc_history[-1]:.4f}", refresh=False)
            line.update()
        elif last:
            line.update()   # a last, partial epoch
    line.close()
    return {"loss_history": losses.tolist(), "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history}


class TwoLayerNet:
    """A two-layer net ``relu(X W1 + b1) W2 + b2`` with softmax loss (given code).

    The weights start as ``std * randn`` and the biases as zeros (the default,
    ``std=1e-4``: tiny weights), or, with ``std=None``, as ``torch.nn.Linear``'s
    default: the weights AND biases of a layer with ``fan_in`` inputs uniform in
    ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` (fan_in = input_size for ``W1, b1``,
    hidden_size for ``W2, b2``; drawn in the order W1, b1, W2, b2). All in ``dtype``
    on ``device``. The parameters are in ``self.params``.
    """

    def __init__(self, input_size, hidden_size=100, output_size=10, dtype=torch.float32,
                 device="cpu", std=1e-4):
        if min(input_size, hidden_size, output_size) < 1:
            raise ValueError("input_size, hidden_size and output_size must be at least 1, got "
                             f"{input_size}, {hidden_size}, {output_size}")
        self.params = {}
        for index, (fan_in, fan_out) in enumerate(
                [(input_size, hidden_size), (hidden_size, output_size)], start=1):
            if std is None:
                bound = 1.0 / math.sqrt(fan_in)
                weights = torch.empty(fan_in, fan_out, dtype=dtype, device=device)
                biases = torch.empty(fan_out, dtype=dtype, device=device)
                self.params[f"W{index}"] = weights.uniform_(-bound, bound)
                self.params[f"b{index}"] = biases.uniform_(-bound, bound)
            else:
                self.params[f"W{index}"] = std * torch.randn(fan_in, fan_out, dtype=dtype,
                                                             device=device)
                self.params[f"b{index}"] = torch.zeros(fan_out, dtype=dtype, device=device)

    def loss(self, X, y=None, reg=0.0):
        """``nn_forward_backward`` with this net's parameters."""
        return nn_forward_backward(self.params, X, y, reg)

    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95,
              reg=5e-6, num_iters=100, batch_size=200, verbose=False, progress=False):
        """``nn_train`` on this net; returns its dict of histories."""
        return nn_train(self.params, nn_forward_backward, nn_predict, X, y, X_val, y_val,
                        learning_rate, learning_rate_decay, reg, num_iters, batch_size,
                        verbose, progress)

    def predict(self, X):
        """Predicted labels, int64 [N]."""
        return nn_predict(self.params, nn_forward_backward, X)

    def save(self, path):
        """Write the sizes and parameters to ``path`` (the kit's checkpoint format,
        ``helpers.checkpoint``)."""
        W1, W2 = self.params["W1"], self.params["W2"]
        config = {"input_size": W1.shape[0], "hidden_size": W1.shape[1],
                  "output_size": W2.shape[1]}
        save_model(path, "two_layer_net", config, {name: self.params[name] for name in PARAM_NAMES})
        print(f"Saved in {shown_path(path)}")

    def load(self, path):
        """Read parameters written by ``save``, onto this net's device and dtype."""
        _, params = load_model(path, kind="two_layer_net")
        missing = [name for name in PARAM_NAMES if name not in params]
        if missing:
            raise ValueError(f"{path} holds no two-layer net: missing {', '.join(missing)}")
        W1 = self.params["W1"]
        self.params = {name: params[name].to(device=W1.device, dtype=W1.dtype)
                       for name in PARAM_NAMES}
        print(f"Loaded from {shown_path(path)}")


def nn_get_search_params():
    """The grid that ``find_best_net`` searches.

    Returns ``(learning_rates, hidden_sizes, regularization_strengths,
    learning_rate_decays)``, four lists. Every combination is trained, so keep
    the grid small (about 8 to 16 combinations): use what the parameter
    studies taught you.
    """
    learning_rates, hidden_sizes, regularization_strengths, learning_rate_decays = [], [], [], []
    # TODO: choose the values.
    # BEGIN SOLUTION
    learning_rates = [0.2, 0.4]
    hidden_sizes = [512, 1024]
    regularization_strengths = [1e-4, 5e-4]
    learning_rate_decays = [0.85, 0.95]
    # END SOLUTION
    return learning_rates, hidden_sizes, regularization_strengths, learning_rate_decays


def find_best_net(data_dict, get_param_set_fn, *, num_epochs=10, batch_size=200,
                  verbose=True):
    """Train a net for every combination of ``get_param_set_fn()`` and keep the best.

    Inputs:
    - data_dict: dict with X_train, y_train, X_val, y_val
    - get_param_set_fn: function returning ``(learning_rates, hidden_sizes,
      regularization_strengths, learning_rate_decays)``, e.g. ``nn_get_search_params``
    - num_epochs, batch_size: training length and minibatch size of every run
    - verbose: print one line per combination

    Returns ``(best_net, best_stat, best_val_acc)``:
    - best_net: the ``TwoLayerNet`` with the highest validation accuracy after
      training (measured with ``accuracy`` on X_val, y_val);
    - best_stat: its dict of histories (what ``TwoLayerNet.train`` returns) plus
      two keys: ``"config"``, a dict of its hyperparameters with exactly the keys
      ``"learning_rate"``, ``"hidden_size"``, ``"reg"`` and ``"learning_rate_decay"``
      (the notebook reads ``best_stat["config"]["hidden_size"]``), and ``"runs"``, the
      record of the whole search: a list with one dict per combination, in the order
      trained, holding that combination's config keys plus ``"val_acc"`` (a float, 0.0
      for a run that diverged), e.g. ``{"learning_rate": 0.2, "hidden_size": 512,
      "reg": 1e-4, "learning_rate_decay": 0.9, "val_acc": 0.47}``;
    - best_val_acc: that accuracy (a float).

    Every net starts from ``TwoLayerNet(..., std=None)``, the initialization of
    ``torch.nn.Linear`` (notebook, section 3).

    A run whose loss diverges counts as accuracy 0 and the search goes on.
    ``nn_train`` stops such a run at the first non-finite loss with a
    RuntimeWarning; the given ``detect_divergence`` (helpers/utils.py, imported
    above) runs a training function and tells whether it did:
    ``stats, diverged = detect_divergence(lambda: net.train(...))``.
    """
    X_train, y_train = data_dict["X_train"], data_dict["y_train"]
    X_val, y_val = data_dict["X_val"], data_dict["y_val"]
    num_iters = num_epochs * max(X_train.shape[0] // batch_size, 1)
    best_net, best_stat, best_val_acc = None, None, -1.0
    runs = []
    # TODO: for every combination build a TwoLayerNet
    # with std=None and the inputs' dtype and device (D = X_train.shape[1], C = 10),
    # train it for num_iters iterations with batch_size inside detect_divergence,
    # measure its validation accuracy with ``accuracy`` (0 if it diverged), add
    # stats["config"], append the config plus "val_acc" to ``runs`` and keep the
    # best net, its stats and its accuracy. With verbose, print one line per
    # combination.
    # Loop with the given ``SearchProgress`` (helpers/progress.py), which shows
    # "run 3/16" and the best accuracy so far while the search runs:
    #     search = SearchProgress(get_param_set_fn())
    #     for lr, hidden, reg, decay in search:
    #         ...
    #         search.record(val_acc)
    # BEGIN SOLUTION
    search = SearchProgress(get_param_set_fn())
    for lr, hidden, reg, decay in search:
        net = TwoLayerNet(X_train.shape[1], hidden, 10, dtype=X_train.dtype, device=X_train.device,
                          std=None)
        stat, diverged = detect_divergence(lambda: net.train(
            X_train, y_train, X_val, y_val, learning_rate=lr, learning_rate_decay=decay,
            reg=reg, num_iters=num_iters, batch_size=batch_size))
        val_acc = 0.0 if diverged else accuracy(y_val, net.predict(X_val))
        stat["config"] = {"learning_rate": lr, "hidden_size": hidden, "reg": reg,
                          "learning_rate_decay": decay}
        runs.append({**stat["config"], "val_acc": val_acc})
        search.record(val_acc)
        if verbose:
            print(f"lr {lr:g} hidden {hidden} reg {reg:g} decay {decay:g}: "
                  + ("diverged" if diverged else f"val acc {val_acc:.4f}"))
        if val_acc > best_val_acc:
            best_net, best_stat, best_val_acc = net, stat, val_acc
    # END SOLUTION
    if best_stat is not None:
        best_stat["runs"] = runs
    return best_net, best_stat, best_val_acc
