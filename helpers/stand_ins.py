"""Given stand-ins for the functions you write, so that every check tests ONE function of yours.

A check of ``precision_recall`` must not fail because ``confusion_matrix`` is not written yet (or
has a bug), and a check of ``find_best_net`` must not wait for the whole two-layer net. So while
a check of ``tests/assignment/`` runs, :func:`isolate` replaces every OTHER function you write by
its stand-in from this file: given code with the same arguments, results and cache formats,
written another way. A check marked ``@pytest.mark.student("f", composed=True)`` keeps
your own versions of the parts of ``f`` listed in ``helpers.check.COMPOSED``.

You never call these yourself: they only make the self-check's verdicts independent of each
other. They are no answers to copy: each is built from what the assignment's rules forbid in
``assignment/`` (``torch.nn.functional``, autograd, ``torch.optim``; see
``helpers/functions.py``), so a copy in your file fails its checks with the rule's message, and
grading gives it 0 points. Only :func:`accuracy` is plain code (``EXEMPT_STAND_INS`` says why).
Some are also deliberately not what the assignment asks for (the folds of
:func:`k_fold_indices` are round-robin).
"""
import math
import sys
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from helpers.i18n import _

# Stand-ins written in plain code, and why that gives nothing away.
EXEMPT_STAND_INS = {
    "accuracy": "one line that every correct version writes alike (the mean of y_true == y_pred)",
}

# --------------------------------------------------------------- metrics ---

def _same_length_labels(y_true, y_pred):
    if y_true.dim() != 1 or y_true.shape != y_pred.shape:
        raise ValueError(_("labels must be two 1-D tensors of one length, got shapes "
                           "{true_shape} and {pred_shape}").format(
            true_shape=tuple(y_true.shape), pred_shape=tuple(y_pred.shape)))


def accuracy(y_true, y_pred):
    """Fraction of equal labels, a Python float (0.0 for no examples)."""
    _same_length_labels(y_true, y_pred)
    return torch.eq(y_true, y_pred).double().mean().item() if y_true.numel() else 0.0


def confusion_matrix(y_true, y_pred, num_classes):
    """int64 [C, C] counts of (true, predicted) pairs, from ``torch.nn.functional.one_hot``."""
    _same_length_labels(y_true, y_pred)
    pairs = F.one_hot(y_true * num_classes + y_pred, num_classes * num_classes)
    return pairs.sum(dim=0).reshape(num_classes, num_classes)


# ------------------------------------------------------- model selection ---

def k_fold_indices(num_examples, k, *, shuffle=True, seed=0):
    """Round-robin folds: example ``i`` is validated in fold ``i % k`` (``shuffle`` and
    ``seed`` are ignored). A valid k-fold split, though not the one the assignment asks for."""
    if not 2 <= k <= num_examples:
        raise ValueError(_("need 2 <= k <= {num_examples}, got k = {k}").format(
            num_examples=num_examples, k=k))
    index = torch.arange(num_examples)
    in_fold = F.one_hot(index % k, k).bool()
    return [(index[~in_fold[:, fold]], index[in_fold[:, fold]]) for fold in range(k)]


# ----------------------------------------------------- linear classifier ---

def _hinge(scores, y):
    """Multiclass SVM loss (margin 1), the mean over the examples of the sum over classes."""
    return scores.shape[1] * F.multi_margin_loss(scores, y, margin=1.0)


def _loss_and_gradient(data_loss, W, X, y, reg):
    """``(loss, dW)`` of ``data_loss(X W, y) + reg * sum(W * W)`` by autograd."""
    with torch.enable_grad():
        leaf = W.detach().requires_grad_(True)
        loss = data_loss(X @ leaf, y) + reg * leaf.square().sum()
        (gradient,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), gradient


def svm_loss_vectorized(W, X, y, reg):
    """Stand-in of the SVM losses: ``(loss, dW)``, by autograd."""
    return _loss_and_gradient(_hinge, W, X, y, reg)


def softmax_loss_vectorized(W, X, y, reg):
    """Stand-in of the softmax losses: ``(loss, dW)``, by autograd."""
    return _loss_and_gradient(F.cross_entropy, W, X, y, reg)


def sample_batch(X, y, num_train, batch_size):
    """``batch_size`` rows drawn with replacement from the first ``num_train``."""
    if batch_size < 1:
        raise ValueError(_("batch_size must be at least 1, got {batch_size}").format(
            batch_size=batch_size))
    rows = torch.randint(0, num_train, (batch_size,), device=X.device)
    X_batch = F.embedding(rows, X.reshape(X.shape[0], -1)).reshape(batch_size, *X.shape[1:])
    return X_batch, F.embedding(rows.to(y.device), y[:, None]).squeeze(1)


def train_linear_classifier(loss_func, W, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100,
                            batch_size=200, verbose=False):
    """Minibatch SGD with ``loss_func`` and ``torch.optim.SGD``; returns ``(W, loss_history)``.
    Stops at the first non-finite loss with a RuntimeWarning. ``verbose`` is ignored."""
    if W is None:
        W = 1e-6 * torch.randn(X.shape[1], int(y.max()) + 1, dtype=X.dtype, device=X.device)
    weights, history = W.clone(), []
    optimizer = torch.optim.SGD([weights], lr=learning_rate)
    for iteration in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, X.shape[0], batch_size)
        loss, gradient = loss_func(weights, X_batch, y_batch, reg)
        if not math.isfinite(float(loss)):
            warnings.warn(_("stand-in training: the loss is not finite at iteration {iteration} "
                            "(learning rate {learning_rate:g})").format(
                iteration=iteration, learning_rate=learning_rate), RuntimeWarning, stacklevel=2)
            break
        history.append(float(loss))
        weights.grad = gradient
        optimizer.step()
    return weights, history


def predict_linear_classifier(W, X):
    """Index of the highest score of each row of ``X W``, int64 [N]."""
    return torch.argmax(F.linear(X, W.T), dim=1)


# --------------------------------------------------------- two-layer net ---

def nn_forward_pass(params, X):
    """``(scores, hidden)`` of ``relu(X W1 + b1) W2 + b2``."""
    hidden = F.relu(F.linear(X, params["W1"].T, params["b1"]))
    return F.linear(hidden, params["W2"].T, params["b2"]), hidden


def nn_forward_backward(params, X, y=None, reg=0.0):
    """Scores when ``y`` is None, else ``(loss, grads)`` of the softmax loss plus
    ``reg * (sum(W1^2) + sum(W2^2))``, by autograd."""
    if y is None:
        return nn_forward_pass(params, X)[0]
    if y.shape != (X.shape[0],):
        raise ValueError(_("y must hold one label per row of X, got shape {shape}").format(
            shape=tuple(y.shape)))
    names = list(params)
    with torch.enable_grad():
        leaves = {name: params[name].detach().requires_grad_(True) for name in names}
        loss = F.cross_entropy(nn_forward_pass(leaves, X)[0], y) \
            + reg * (leaves["W1"].square().sum() + leaves["W2"].square().sum())
        gradients = torch.autograd.grad(loss, [leaves[name] for name in names])
    return loss.detach(), dict(zip(names, gradients))


def nn_predict(params, loss_func, X):
    """Index of the highest score of each row, int64 [N]."""
    return torch.argmax(F.softmax(loss_func(params, X), dim=1), dim=1)


def nn_sample_batch(X, y, num_train, batch_size):
    """As :func:`sample_batch`."""
    return sample_batch(X, y, num_train, batch_size)


def nn_sgd_step(params, grads, learning_rate):
    """``p <- p - learning_rate * dp`` for every parameter, in place, by ``torch.optim.SGD``."""
    for name, gradient in grads.items():
        params[name].grad = gradient
    torch.optim.SGD([params[name] for name in grads], lr=learning_rate).step()
    for name in grads:
        params[name].grad = None


# --------------------------------------------- fully connected networks ---

def _vector_jacobian(function, inputs, dout):
    """Gradients of ``sum(dout * function(*inputs))`` with respect to each input, by autograd."""
    with torch.enable_grad():
        leaves = [value.detach().requires_grad_(True) for value in inputs]
        return torch.autograd.grad(function(*leaves), leaves, dout)


def _affine(x, w, b):
    return F.linear(x.reshape(x.shape[0], -1), w.T, b)


def _affine_relu(x, w, b):
    return F.relu(_affine(x, w, b))


class Linear:
    """Stand-in of ``Linear``: same cache ``(x, w, b)``; backward by autograd."""

    @staticmethod
    def forward(x, w, b):
        return _affine(x, w, b), (x, w, b)

    @staticmethod
    def backward(dout, cache, need_dx=True):
        dx, dw, db = _vector_jacobian(_affine, cache, dout)
        return (dx if need_dx else None), dw, db


class ReLU:
    """Stand-in of ``ReLU``: same cache (the input); backward by autograd."""

    @staticmethod
    def forward(x):
        return F.relu(x), x

    @staticmethod
    def backward(dout, cache):
        return _vector_jacobian(F.relu, (cache,), dout)[0]


class Linear_ReLU:
    """Stand-in of ``Linear_ReLU``: same cache ``((x, w, b), pre-activation)``."""

    @staticmethod
    def forward(x, w, b):
        pre_activation = _affine(x, w, b)
        return F.relu(pre_activation), ((x, w, b), pre_activation)

    @staticmethod
    def backward(dout, cache, need_dx=True):
        dx, dw, db = _vector_jacobian(_affine_relu, cache[0], dout)
        return (dx if need_dx else None), dw, db


class Dropout:
    """Stand-in of ``Dropout``: the same masks for the same seed, the same cache."""

    @staticmethod
    def forward(x, dropout_param):
        p, mode = dropout_param["p"], dropout_param["mode"]
        if not 0 <= p < 1 or mode not in ("train", "test"):
            raise ValueError(_("dropout needs 0 <= p < 1 and mode train or test, got {p}, "
                               "{mode!r}").format(p=p, mode=mode))
        if mode == "test":
            return x, (dropout_param, None)
        generator = None
        if dropout_param.get("seed") is not None:
            generator = torch.Generator(device=x.device).manual_seed(dropout_param["seed"])
        uniform = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        keep = F.relu(torch.sign(uniform - p) + 1).clamp(max=1)   # 1 where uniform >= p
        scaled_mask = keep / (1 - p)
        return x * scaled_mask, (dropout_param, scaled_mask)

    @staticmethod
    def backward(dout, cache):
        _param, scaled_mask = cache
        if scaled_mask is None:
            return dout
        return _vector_jacobian(lambda value: value * scaled_mask, (dout,), dout)[0]


def _score_loss(data_loss, x, y):
    """``(loss, dx)`` of a loss of the scores ``x``, by autograd."""
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        loss = data_loss(leaf, y)
        (dx,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), dx


def svm_loss(x, y):
    """Stand-in of ``svm_loss``: ``(loss, dx)``."""
    return _score_loss(_hinge, x, y)


def softmax_loss(x, y):
    """Stand-in of ``softmax_loss``: ``(loss, dx)``."""
    return _score_loss(F.cross_entropy, x, y)


def _normal_params(sizes, weight_scale, dtype, device):
    """``W1, b1, ..., WL, bL`` for layer sizes ``sizes``: normal weights, zero biases."""
    params = {}
    for layer, (rows, columns) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        weight = torch.empty(rows, columns, dtype=dtype, device=device)
        params[f"W{layer}"] = nn.init.normal_(weight, std=weight_scale)
        params[f"b{layer}"] = nn.init.zeros_(torch.empty(columns, dtype=dtype, device=device))
    return params


def two_layer_net_init(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10,
                       weight_scale=1e-3, reg=0.0, dtype=torch.float32, device="cpu"):
    """Stand-in of ``TwoLayerNet.__init__``."""
    self.reg, self.dtype, self.device = reg, dtype, device
    self.params = _normal_params([input_dim, hidden_dim, num_classes], weight_scale, dtype, device)


def fully_connected_net_init(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10,
                             dropout=0.0, reg=0.0, weight_scale=1e-2, seed=None,
                             dtype=torch.float, device="cpu"):
    """Stand-in of ``FullyConnectedNet.__init__`` (the given lines, and the parameters)."""
    if not 0 <= dropout < 1:
        raise ValueError(_("dropout must be in [0, 1), got {dropout}").format(dropout=dropout))
    self.reg, self.dropout, self.use_dropout = reg, dropout, dropout != 0
    self.num_layers, self.dtype, self.device = 1 + len(hidden_dims), dtype, device
    self.params = _normal_params([input_dim, *hidden_dims, num_classes], weight_scale, dtype,
                                 device)
    self.dropout_param = {}
    if self.use_dropout:
        self.dropout_param = {"mode": "train", "p": dropout}
        if seed is not None:
            self.dropout_param["seed"] = seed


def net_loss(self, X, y=None):
    """Stand-in of ``TwoLayerNet.loss`` and ``FullyConnectedNet.loss``, by autograd."""
    use_dropout = getattr(self, "use_dropout", False)
    if use_dropout:
        self.dropout_param["mode"] = "test" if y is None else "train"
    names, depth = list(self.params), len(self.params) // 2
    with torch.enable_grad():
        leaves = {name: self.params[name].detach().requires_grad_(y is not None)
                  for name in names}
        activations = X.reshape(X.shape[0], -1)
        for layer in range(1, depth):
            activations = _affine_relu(activations, leaves[f"W{layer}"], leaves[f"b{layer}"])
            if use_dropout:
                activations = Dropout.forward(activations, self.dropout_param)[0]
        scores = _affine(activations, leaves[f"W{depth}"], leaves[f"b{depth}"])
        if y is None:
            return scores.detach()
        penalty = sum(leaves[f"W{layer}"].square().sum() for layer in range(1, depth + 1))
        loss = F.cross_entropy(scores, y) + self.reg * penalty
        gradients = torch.autograd.grad(loss, [leaves[name] for name in names])
    return loss.detach(), dict(zip(names, gradients))


class _TorchRule:
    """An update rule ``(w, dw, config) -> (next_w, config)`` that takes ``torch.optim``'s step.

    ``config`` gets the rule's defaults and keeps the optimizer (``torch_optimizer``); the
    learning rate is read from ``config["learning_rate"]`` at every step (the Solver decays it).
    """

    def __init__(self, make_optimizer, **defaults):
        self.make_optimizer, self.defaults = make_optimizer, defaults

    def __call__(self, w, dw, config=None):
        config = {} if config is None else config
        for key, value in self.defaults.items():
            config.setdefault(key, value)
        if config.get("torch_optimizer") is None:
            config["torch_param"] = torch.nn.Parameter(w.detach().clone())
            config["torch_optimizer"] = self.make_optimizer([config["torch_param"]], config)
        param, optimizer = config["torch_param"], config["torch_optimizer"]
        with torch.no_grad():
            param.copy_(w)
        for group in optimizer.param_groups:
            group["lr"] = config["learning_rate"]
        param.grad = dw.detach().clone()
        optimizer.step()
        return param.detach().clone(), config


sgd = _TorchRule(lambda params, c: torch.optim.SGD(params, lr=c["learning_rate"]),
                 learning_rate=1e-2)
sgd_momentum = _TorchRule(
    lambda params, c: torch.optim.SGD(params, lr=c["learning_rate"], momentum=c["momentum"]),
    learning_rate=1e-2, momentum=0.9)
rmsprop = _TorchRule(
    lambda params, c: torch.optim.RMSprop(params, lr=c["learning_rate"], alpha=c["decay_rate"],
                                          eps=c["epsilon"]),
    learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
adam = _TorchRule(
    lambda params, c: torch.optim.Adam(params, lr=c["learning_rate"],
                                       betas=(c["beta1"], c["beta2"]), eps=c["epsilon"]),
    learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8)


# ------------------------------------------------------------- isolation ---

def _module_replacements(module, part):
    """The replacements in the module of ``part``: ``(owner, attribute, stand-in, names)``,
    one for each ``stand_in`` of the table of student functions (``helpers/functions.py``): a
    stand-in class replaces the class (for all its methods), a stand-in function replaces a
    function of the module or a method of its class. A function of another part that the
    module imports (``accuracy``) is replaced there too."""
    from helpers.functions import FUNCTIONS

    entries = {}
    for row in FUNCTIONS.values():
        class_name, _, attribute = row.name.rpartition(".")
        if not row.stand_in or (row.part != part and class_name):
            continue
        stand_in = globals()[row.stand_in]
        if class_name and isinstance(stand_in, type):
            owner, attribute = module, class_name
        elif class_name:
            owner = getattr(module, class_name, None)
        else:
            owner = module
        if owner is not None and hasattr(owner, attribute):
            entry = entries.setdefault((id(owner), attribute), (owner, attribute, stand_in, set()))
            entry[3].add(row.name)
    return list(entries.values())


def replacements():
    """Every replacement :func:`isolate` can make: ``(owner, attribute, stand-in, names)``,
    where ``names`` are the student functions the stand-in takes the place of.

    Only the assignment modules already imported are touched: a check never imports another
    part (one that fails to import, or exits, must cost only its own checks), and a module
    that is not imported cannot be running.
    """
    from helpers.functions import PART_POINTS

    table = []
    for part in PART_POINTS:
        module = sys.modules.get(f"assignment.{part}")
        if module is not None:
            table += _module_replacements(module, part)
    return table


def kept_functions(item):
    """The student functions a check runs in your own version: the ones it is marked with,
    and for ``composed=True`` checks also their parts (``helpers.check.COMPOSED``)."""
    from helpers.check import composed_parts, student_marks

    names, composed = student_marks(item)
    kept = set(names)
    if composed:
        for name in names:
            kept.update(composed_parts(name))
    return kept


# The grader turns isolation off: it runs every check with the student's own functions (as the
# hidden checks always do), since the student's code runs in a separate worker process where
# the stand-ins of this process could not reach the calls one student function makes to another.
ISOLATING = True


def isolate(item, monkeypatch):
    """Replace, for the check ``item`` (a pytest item), every student function it does not
    keep (:func:`kept_functions`) by its stand-in; ``monkeypatch`` undoes it afterwards."""
    if not ISOLATING:
        return
    kept = kept_functions(item)
    for owner, attribute, stand_in, names in replacements():
        if not names & kept:
            monkeypatch.setattr(owner, attribute, stand_in)
