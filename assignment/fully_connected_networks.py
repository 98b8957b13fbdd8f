"""Fully connected networks built from modular layers.

Every layer is a class with two static methods:

- ``forward(inputs...) -> (out, cache)``: compute the output and keep in
  ``cache`` what the backward pass needs;
- ``backward(dout, cache) -> gradients``: given the upstream gradient
  ``dout = dL/dout`` (same shape as ``out``), return the gradient of the loss
  with respect to each input of ``forward``.

Nets chain layers: the forward pass stores the caches, the backward pass walks
them in reverse order. A loss layer (``svm_loss``, ``softmax_loss``) turns
class scores into a scalar loss and the gradient that starts the backward pass.
Update rules (``sgd``, ``sgd_momentum``, ``rmsprop``, ``adam``) turn gradients
into parameter steps; ``helpers.solver.Solver`` runs the training loop.

Conventions: inputs and outputs are torch tensors; new tensors take their
dtype and device from the inputs; every function works on CPU and CUDA, in
float32 and float64. Data ``x`` is ``[N, D]`` or ``[N, d1, ..., dk]``
(flattened to ``D = d1 * ... * dk`` by ``Linear``), labels ``y`` are int64
``[N]``. Losses are the mean over the batch plus ``reg * sum(W * W)`` over
every weight matrix (never biases).

Rules (``helpers/functions.py``; the self-check and grading apply them): no
``torch.autograd`` (``.backward()``, ``requires_grad``, ``torch.func``), no ``torch.nn``
(its modules, and ``torch.nn.functional`` with its losses) and no ``torch.optim`` in this
file. Backward passes, losses and update rules are written by hand.
"""
import torch

from helpers.checkpoint import load_model, save_model
from helpers.solver import Solver, cosine_schedule, random_horizontal_flip
from helpers.utils import shown_path

# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------

class Linear:
    """Affine (fully connected) layer: ``out = x w + b``."""

    @staticmethod
    def forward(x, w, b):
        """Forward pass of a linear layer.

        Inputs:
        - x: [N, d1, ..., dk] minibatch; each example is flattened to a row of
          D = d1 * ... * dk values
        - w: weights [D, M]
        - b: biases [M]

        Returns ``(out, cache)``: ``out`` [N, M] and ``cache = (x, w, b)``.
        TODO: reshape x to [N, D] (without copying when possible) and compute
        ``out = x w + b``.
        """
        # BEGIN SOLUTION
        out = torch.addmm(b, x.reshape(x.shape[0], -1), w)
        # END SOLUTION
        cache = (x, w, b)
        return out, cache

    @staticmethod
    def backward(dout, cache, need_dx=True):
        """Backward pass of a linear layer.

        Inputs:
        - dout: upstream gradient [N, M]
        - cache: ``(x, w, b)`` from ``forward``
        - need_dx: when False, skip ``dx`` and return ``None`` for it. The
          first layer of a net never needs the gradient with respect to the
          data, and skipping it saves a third of that layer's work.

        Returns ``(dx, dw, db)``: ``dx`` in the shape of ``x``
        [N, d1, ..., dk], ``dw`` [D, M], ``db`` [M].
        TODO: with X the [N, D] view of x:
        ``dx = dout w^T`` (reshaped like x), ``dw = X^T dout``,
        ``db`` = sum of dout over the batch.
        """
        x, w, b = cache
        # BEGIN SOLUTION
        dx = dout.mm(w.t()).reshape(x.shape) if need_dx else None
        dw = x.reshape(x.shape[0], -1).t().mm(dout)
        db = dout.sum(dim=0)
        # END SOLUTION
        return dx, dw, db


class ReLU:
    """Rectified linear unit, elementwise ``max(0, x)``."""

    @staticmethod
    def forward(x):
        """Inputs: x of any shape. Returns ``(out, cache)``: ``out`` like x, ``cache = x``.

        TODO: out = max(0, x) elementwise (do not modify x in place).
        """
        # BEGIN SOLUTION
        out = x.clamp(min=0)
        # END SOLUTION
        cache = x
        return out, cache

    @staticmethod
    def backward(dout, cache):
        """Inputs: upstream gradient ``dout`` and ``cache = x``, both of the same shape.

        Returns ``dx`` of that shape.
        TODO: the gradient passes where x > 0 and is 0 elsewhere.
        """
        x = cache
        # BEGIN SOLUTION
        dx = dout.masked_fill(x <= 0, 0)
        # END SOLUTION
        return dx


class Linear_ReLU:
    """A linear layer followed by a ReLU: ``out = max(0, x w + b)``."""

    @staticmethod
    def forward(x, w, b):
        """Inputs: x [N, d1, ..., dk], w [D, M], b [M].

        Returns ``(out, cache)``: ``out`` [N, M] and ``cache = (fc_cache, relu_cache)``,
        the caches of ``Linear.forward`` and ``ReLU.forward`` in this order.
        TODO: call ``Linear.forward`` then ``ReLU.forward``.
        """
        # BEGIN SOLUTION
        a, fc_cache = Linear.forward(x, w, b)
        out, relu_cache = ReLU.forward(a)
        cache = (fc_cache, relu_cache)
        # END SOLUTION
        return out, cache

    @staticmethod
    def backward(dout, cache, need_dx=True):
        """Inputs: upstream gradient [N, M], ``cache = (fc_cache, relu_cache)`` from
        ``forward``, ``need_dx`` as in ``Linear``.

        Returns ``(dx, dw, db)`` as ``Linear.backward``.
        TODO: call ``ReLU.backward`` then ``Linear.backward``.
        """
        # BEGIN SOLUTION
        fc_cache, relu_cache = cache
        da = ReLU.backward(dout, relu_cache)
        dx, dw, db = Linear.backward(da, fc_cache, need_dx=need_dx)
        # END SOLUTION
        return dx, dw, db


class Dropout:
    """Inverted dropout: each unit is dropped with probability ``p`` at train time.

    Kept units are scaled by ``1 / (1 - p)``, so the expected value of every
    unit is the same at train and test time; at test time the layer is the
    identity.
    """

    @staticmethod
    def forward(x, dropout_param):
        """Forward pass of inverted dropout.

        Inputs:
        - x: tensor of any shape
        - dropout_param: dict with
          - ``"p"``: probability of DROPPING each unit, in [0, 1)
          - ``"mode"``: ``"train"`` (apply a random mask) or ``"test"`` (identity)
          - ``"seed"`` (optional): when given, the mask is drawn from a
            generator seeded with it, so the same seed gives the same mask
            (useful for gradient checks); otherwise torch's global generator

        Returns ``(out, cache)``: ``out`` like x, ``cache = (dropout_param, mask)``
        where ``mask`` is None in test mode.
        """
        p, mode = dropout_param["p"], dropout_param["mode"]
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability p must be in [0, 1), got {p}")
        if mode not in ("train", "test"):
            raise ValueError(f'dropout mode must be "train" or "test", got {mode!r}')
        generator = None
        if dropout_param.get("seed") is not None:
            generator = torch.Generator(device=x.device).manual_seed(dropout_param["seed"])
        mask = None
        if mode == "train":
            # TODO: draw uniform random numbers like x with
            # ``torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)``;
            # keep a unit where the number is >= p. Store in ``mask`` the kept
            # units scaled by 1 / (1 - p) (0 for dropped units) and set
            # ``out = x * mask``.
            # BEGIN SOLUTION
            keep = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) >= p
            mask = keep.to(x.dtype).div_(1 - p)
            out = x * mask
            # END SOLUTION
        else:
            # TODO: at test time dropout is the identity.
            # BEGIN SOLUTION
            out = x
            # END SOLUTION
        cache = (dropout_param, mask)
        return out, cache

    @staticmethod
    def backward(dout, cache):
        """Inputs: upstream gradient ``dout`` and ``cache = (dropout_param, mask)`` from
        ``forward`` (``mask`` None in test mode). Returns ``dx``, like ``dout``.

        TODO: in train mode the gradient flows through the scaled mask; in
        test mode it passes unchanged.
        """
        dropout_param, mask = cache
        # BEGIN SOLUTION
        dx = dout * mask if dropout_param["mode"] == "train" else dout
        # END SOLUTION
        return dx


# ---------------------------------------------------------------------------
# Loss layers
# ---------------------------------------------------------------------------

def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1, averaged over the batch.

    Inputs: scores x [N, C]; labels y int64 [N] in [0, C).
    Returns ``(loss, dx)``: a scalar tensor and the gradient [N, C].
    TODO (no Python loop): margins = max(0, x[i, j] - x[i, y_i] + 1) for
    j != y_i; loss = sum of margins / N. Each positive margin adds 1/N to
    dx[i, j] and subtracts 1/N from dx[i, y_i].
    """
    # BEGIN SOLUTION
    N = x.shape[0]
    rows = torch.arange(N, device=x.device)
    correct = x[rows, y].unsqueeze(1)
    margins = (x - correct + 1).clamp(min=0)
    margins[rows, y] = 0
    loss = margins.sum() / N
    positive = (margins > 0).to(x.dtype)
    dx = positive
    dx[rows, y] = -positive.sum(dim=1)
    dx /= N
    # END SOLUTION
    return loss, dx


def softmax_loss(x, y):
    """Softmax (cross-entropy) loss, averaged over the batch; numerically stable.

    Inputs: scores x [N, C]; labels y int64 [N] in [0, C).
    Returns ``(loss, dx)``: a scalar tensor and the gradient [N, C].
    TODO (no Python loop): subtract each row's maximum m before exponentiating;
    log p = (x - m) - log(sum_j exp(x_j - m)) (never the log of p itself, which
    is -inf where p underflows to 0); loss = -mean of log p[i, y_i];
    dx = (p - one_hot(y)) / N.
    """
    # BEGIN SOLUTION
    N = x.shape[0]
    rows = torch.arange(N, device=x.device)
    shifted = x - x.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs[rows, y].sum() / N
    dx = log_probs.exp()
    dx[rows, y] -= 1
    dx /= N
    # END SOLUTION
    return loss, dx


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

class _SavableModel:
    """Given code shared by the models: ``save`` and ``load`` in the kit's checkpoint format
    (``helpers.checkpoint``: the model's kind, its constructor arguments, its parameters).

    A model keeps its parameters in ``self.params`` (name -> tensor: ``W1`` [D, H1], ``b1``,
    ..., ``WL`` [H, C], ``bL``), names its kind in ``_kind`` and the settings that ``load``
    restores in ``_settings``; ``constructor_args()`` gives the rest of what it was built with.
    """

    _kind = None
    _settings = ("reg",)

    def layer_sizes(self):
        """``[D, H1, ..., C]``: the input size, every hidden size and the number of classes."""
        num_layers = sum(1 for name in self.params if name.startswith("W"))
        return ([self.params["W1"].shape[0]]
                + [self.params[f"W{i}"].shape[1] for i in range(1, num_layers + 1)])

    def constructor_args(self):
        """The constructor arguments that rebuild this model (no dtype or device)."""
        raise NotImplementedError("each model lists its constructor arguments")

    def save(self, path):
        """Write the kind, constructor arguments and parameters to ``path``."""
        save_model(path, self._kind, self.constructor_args(), self.params)
        print(f"Saved in {shown_path(path)}")

    def load(self, path):
        """Read a file written by ``save``; parameters move to this model's dtype and device."""
        config, params = load_model(path, kind=self._kind)
        for name in self._settings:
            setattr(self, name, config[name])
        self.params = {k: v.to(dtype=self.dtype, device=self.device) for k, v in params.items()}
        print(f"Loaded checkpoint from {shown_path(path)}")


class TwoLayerNet(_SavableModel):
    """Two-layer net: ``Linear - ReLU - Linear - softmax``, built from the layers above.

    Parameters in ``self.params``: ``W1`` [D, H], ``b1`` [H], ``W2`` [H, C], ``b2`` [C].
    """

    _kind = "modular_two_layer_net"

    def constructor_args(self):
        input_dim, hidden_dim, num_classes = self.layer_sizes()
        return {"input_dim": input_dim, "hidden_dim": hidden_dim, "num_classes": num_classes,
                "reg": self.reg}

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, dtype=torch.float32, device="cpu"):
        """Initialize the net.

        Inputs: input size D, hidden size H, number of classes C; weights are
        drawn from a normal distribution with standard deviation
        ``weight_scale``, biases are zero; ``reg`` is the L2 strength; the
        parameters live on ``device`` in ``dtype``.
        """
        self.reg = reg
        self.dtype = dtype
        self.device = device
        self.params = {}
        # TODO: initialize W1, b1, W2, b2 as described above.
        # BEGIN SOLUTION
        self.params["W1"] = weight_scale * torch.randn(
            input_dim, hidden_dim, dtype=dtype, device=device
        )
        self.params["b1"] = torch.zeros(hidden_dim, dtype=dtype, device=device)
        self.params["W2"] = weight_scale * torch.randn(
            hidden_dim, num_classes, dtype=dtype, device=device
        )
        self.params["b2"] = torch.zeros(num_classes, dtype=dtype, device=device)
        # END SOLUTION

    def loss(self, X, y=None):
        """Scores, or loss and gradients, for a minibatch.

        Inputs: X [N, d1, ..., dk]; y int64 [N] or None.
        Returns: if y is None, the scores [N, C] (test time). Otherwise
        ``(loss, grads)``: the softmax loss plus ``reg * (sum(W1^2) + sum(W2^2))``
        and a dict with the gradient of every parameter, same keys as ``params``.
        TODO: forward with ``Linear_ReLU`` and ``Linear``, loss with
        ``softmax_loss``, backward through the same layers, add the
        regularization and its gradient ``2 * reg * W``.
        """
        scores = None
        # BEGIN SOLUTION
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        hidden, cache1 = Linear_ReLU.forward(X, W1, b1)
        scores, cache2 = Linear.forward(hidden, W2, b2)
        # END SOLUTION
        if y is None:
            return scores
        loss, grads = 0, {}
        # BEGIN SOLUTION
        loss, dscores = softmax_loss(scores, y)
        loss = loss + self.reg * ((W1 * W1).sum() + (W2 * W2).sum())
        dhidden, grads["W2"], grads["b2"] = Linear.backward(dscores, cache2)
        _, grads["W1"], grads["b1"] = Linear_ReLU.backward(dhidden, cache1, need_dx=False)
        grads["W2"] += 2 * self.reg * W2
        grads["W1"] += 2 * self.reg * W1
        # END SOLUTION
        return loss, grads


class FullyConnectedNet(_SavableModel):
    """Fully connected net of any depth with ReLU and optional dropout.

    Architecture for L layers (L - 1 hidden layers):
    ``{Linear - ReLU - [Dropout]} x (L - 1) - Linear - softmax``.
    Parameters in ``self.params``: ``W1``, ``b1`` for the first layer up to
    ``WL``, ``bL`` for the last.
    """

    _kind = "fully_connected_net"
    _settings = ("reg", "dropout")

    def constructor_args(self):
        sizes = self.layer_sizes()
        return {"hidden_dims": sizes[1:-1], "input_dim": sizes[0], "num_classes": sizes[-1],
                "dropout": self.dropout, "reg": self.reg}

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=0.0,
                 reg=0.0, weight_scale=1e-2, seed=None, dtype=torch.float, device="cpu"):
        """Initialize the net.

        Inputs:
        - hidden_dims: list of hidden layer sizes
        - input_dim, num_classes: D and C
        - dropout: probability of dropping each hidden unit (0 = no dropout)
        - reg: L2 strength
        - weight_scale: standard deviation of the normal initial weights (biases are 0)
        - seed: when given, dropout masks are drawn from a generator seeded
          with it (the same mask every call; for gradient checks)
        - dtype, device: where the parameters live
        """
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.reg = reg
        self.dropout = dropout
        self.use_dropout = dropout != 0
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.device = device
        self.params = {}
        # TODO: for layer i = 1 .. L, store weights ``W{i}`` [in, out] drawn with
        # standard deviation ``weight_scale`` and zero biases ``b{i}`` [out],
        # where the sizes run input_dim -> hidden_dims... -> num_classes.
        # BEGIN SOLUTION
        sizes = [input_dim, *hidden_dims, num_classes]
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            self.params[f"W{i}"] = weight_scale * torch.randn(
                fan_in, fan_out, dtype=dtype, device=device
            )
            self.params[f"b{i}"] = torch.zeros(fan_out, dtype=dtype, device=device)
        # END SOLUTION

        # One dropout_param dict shared by every dropout layer; ``loss`` sets its mode.
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout}
            if seed is not None:
                self.dropout_param["seed"] = seed

    def load(self, path):
        super().load(path)
        self.num_layers = len(self.layer_sizes()) - 1
        self.use_dropout = self.dropout != 0
        self.dropout_param = {"mode": "train", "p": self.dropout} if self.use_dropout else {}

    def loss(self, X, y=None):
        """Scores, or loss and gradients, for a minibatch.

        Inputs: X [N, d1, ..., dk]; y int64 [N] or None.
        Returns: if y is None (test mode: dropout is the identity), the scores
        [N, C]. Otherwise (train mode) ``(loss, grads)``: the softmax loss plus
        ``reg * sum(W * W)`` over every weight matrix, and the gradient of every
        parameter (same keys as ``params``).
        TODO: forward through ``Linear_ReLU`` (and ``Dropout`` when
        ``self.use_dropout``) for each hidden layer, then ``Linear``; keep every
        cache. Backward in reverse order. The first layer needs no ``dx``.
        """
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        scores = None
        # BEGIN SOLUTION
        L = self.num_layers
        caches = []
        out = X
        for i in range(1, L):
            out, cache = Linear_ReLU.forward(out, self.params[f"W{i}"], self.params[f"b{i}"])
            caches.append(cache)
            if self.use_dropout:
                out, cache = Dropout.forward(out, self.dropout_param)
                caches.append(cache)
        scores, last_cache = Linear.forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
        # END SOLUTION
        if mode == "test":
            return scores
        loss, grads = 0.0, {}
        # BEGIN SOLUTION
        loss, dout = softmax_loss(scores, y)
        dout, grads[f"W{L}"], grads[f"b{L}"] = Linear.backward(dout, last_cache, need_dx=L > 1)
        for i in range(L - 1, 0, -1):
            if self.use_dropout:
                dout = Dropout.backward(dout, caches.pop())
            dout, grads[f"W{i}"], grads[f"b{i}"] = Linear_ReLU.backward(
                dout, caches.pop(), need_dx=i > 1)
        for i in range(1, L + 1):
            W = self.params[f"W{i}"]
            loss = loss + self.reg * (W * W).sum()
            grads[f"W{i}"].add_(W, alpha=2 * self.reg)
        # END SOLUTION
        return loss, grads


# ---------------------------------------------------------------------------
# Training with the Solver
# ---------------------------------------------------------------------------

def create_solver_instance(data_dict, dtype, device):
    """Train a ``TwoLayerNet`` with a ``Solver`` to at least 50% validation accuracy.

    Inputs: ``data_dict`` with ``X_train``, ``y_train``, ``X_val``, ``y_val``
    (full CIFAR-10 reaches 50%; a subsample less); ``dtype`` and ``device`` of
    the model. Returns the trained ``Solver``.
    The checks call it on easy synthetic data of CIFAR's shape (2000 training and 200
    validation examples, noisy copies of one random template per class) and ask for a
    ``Solver`` with a ``TwoLayerNet`` model, trained (``train()`` called), that reaches a best
    validation accuracy above 0.9 there; a recipe that reaches 50% on CIFAR-10 does.
    TODO: choose the hidden size, weight scale, update rule, learning rate,
    decay, batch size and number of epochs; build the model and the Solver,
    call ``train()``. Keep it under a minute on a CPU.
    """
    solver = None
    # BEGIN SOLUTION
    model = TwoLayerNet(hidden_dim=256, weight_scale=1e-2, reg=1e-4, dtype=dtype, device=device)
    solver = Solver(model, data_dict, update_rule=sgd_momentum,
                    optim_config={"learning_rate": 2e-2}, lr_decay=0.9,
                    batch_size=200, num_epochs=10, print_every=1000, device=device)
    solver.train()
    # END SOLUTION
    return solver


def train_best_fc_net(data_dict, dtype, device, num_epochs):
    """Design and train the best ``FullyConnectedNet`` you can for CIFAR-10.

    Inputs:
    - data_dict: ``X_train`` [N, 3072], ``y_train`` int64 [N], ``X_val`` [N_val, 3072],
      ``y_val`` int64 [N_val] (full CIFAR-10 in the notebook, mean image subtracted)
    - dtype, device: of the model's parameters (the data already lives there)
    - num_epochs: how many passes over the training data (the notebook passes fewer in quick
      mode); train for exactly this many
    Returns the trained ``Solver``; ``solver.model`` is the ``FullyConnectedNet`` with the
    parameters of its best validation accuracy (the Solver's default).

    TODO: build a ``FullyConnectedNet`` and a ``Solver`` and call ``train()``. Ingredients
    that help a fully connected net on CIFAR-10 (try them one at a time, on the validation
    accuracy):
    - capacity: wider layers (hundreds to a thousand units) and a second hidden layer;
    - regularization: dropout (``dropout=``, e.g. 0.2 to 0.5) and a little L2 (``reg=``);
    - the update rule: ``adam`` (learning rate about 1e-3) converges much faster than ``sgd``;
    - a learning-rate schedule: a per-epoch decay (``lr_decay=``) or a schedule over the
      iterations (the Solver's ``lr_schedule=``, e.g. the given ``cosine_schedule``, which
      anneals the rate to 0; see ``helpers/solver.py``), so that the last epochs take small
      steps;
    - data augmentation: ``augment=random_horizontal_flip`` (given, in ``helpers/solver.py``)
      mirrors half of every minibatch, and a mirrored cat is still a cat.
    Keep the printing low (e.g. ``print_every=1000``). Mind the time: an epoch of a
    [1024, 512] net on 49,000 images takes about 13 s on 2 idle CPU cores (40 s on one busy
    core), so the notebook's 30 epochs take 6 to 20 minutes on a CPU.
    """
    solver = None
    # BEGIN SOLUTION
    # The reference recipe: two wide hidden layers, dropout against their overfitting, Adam
    # with a per-iteration cosine from 1e-3 to 0, flips.
    best_net = FullyConnectedNet([1024, 512], dropout=0.3, reg=1e-4, dtype=dtype,
                                 weight_scale=2e-2, device=device)
    solver = Solver(best_net, data_dict, update_rule=adam, optim_config={"learning_rate": 1e-3},
                    lr_schedule=cosine_schedule, batch_size=200, num_epochs=num_epochs,
                    print_every=1000, augment=random_horizontal_flip, device=device)
    solver.train()
    # END SOLUTION
    return solver


def get_three_layer_network_params():
    """``(weight_scale, learning_rate)`` with which a three-layer net (hidden sizes
    [100, 100]) trained with plain ``sgd`` reaches 100% training accuracy on 50
    images within 20 epochs (batch size 25).

    TODO: try a few values on a log scale.
    """
    # BEGIN SOLUTION
    weight_scale = 1.5e-1
    learning_rate = 5e-2
    # END SOLUTION
    return weight_scale, learning_rate


def get_five_layer_network_params():
    """``(weight_scale, learning_rate)`` with which a five-layer net (hidden sizes
    [100, 100, 100, 100]) trained with plain ``sgd`` reaches 100% training
    accuracy on 50 images within 20 epochs (batch size 25).

    TODO: deeper nets are more sensitive to the initial scale; search again.
    """
    # BEGIN SOLUTION
    weight_scale = 1.5e-1
    learning_rate = 5e-2
    # END SOLUTION
    return weight_scale, learning_rate


# ---------------------------------------------------------------------------
# Update rules
# ---------------------------------------------------------------------------
# Each rule has the interface ``next_w, config = rule(w, dw, config)``:
# - w: current weights; dw: gradient of the loss with respect to w (same shape)
# - config: dict of hyperparameters and state (e.g. moving averages) that the
#   rule reads and updates; None means the defaults.
# A rule may update ``w`` in place and return it as ``next_w`` (this saves
# memory traffic); the state tensors take w's shape, dtype and device.

def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: ``w <- w - learning_rate * dw``.

    config: ``learning_rate`` (default 1e-2).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    # BEGIN SOLUTION
    next_w = w.add_(dw, alpha=-config["learning_rate"])
    # END SOLUTION
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum.

    ``v <- momentum * v - learning_rate * dw``; ``w <- w + v``.
    config: ``learning_rate`` (default 1e-2), ``momentum`` (default 0.9),
    ``velocity`` (zeros like w at the first call).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", None)
    if v is None:
        v = torch.zeros_like(w)
    # BEGIN SOLUTION
    v.mul_(config["momentum"]).add_(dw, alpha=-config["learning_rate"])
    next_w = w.add_(v)
    # END SOLUTION
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: scale each step by a moving average of squared gradients.

    ``cache <- decay_rate * cache + (1 - decay_rate) * dw^2``;
    ``w <- w - learning_rate * dw / (sqrt(cache) + epsilon)``.
    config: ``learning_rate`` (1e-2), ``decay_rate`` (0.99), ``epsilon`` (1e-8),
    ``cache`` (zeros like w at the first call).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    if config.get("cache") is None:
        config["cache"] = torch.zeros_like(w)
    # BEGIN SOLUTION
    decay = config["decay_rate"]
    cache = config["cache"].mul_(decay).addcmul_(dw, dw, value=1 - decay)
    denominator = cache.sqrt().add_(config["epsilon"])
    next_w = w.addcdiv_(dw, denominator, value=-config["learning_rate"])
    # END SOLUTION
    return next_w, config


def adam(w, dw, config=None):
    """Adam: momentum on the gradient and RMSProp scaling, both bias-corrected.

    With ``t`` incremented BEFORE use (the first step has t = 1):
    ``m <- beta1 m + (1 - beta1) dw``, ``v <- beta2 v + (1 - beta2) dw^2``,
    ``m_hat = m / (1 - beta1^t)``, ``v_hat = v / (1 - beta2^t)``,
    ``w <- w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)``.
    config: ``learning_rate`` (1e-3), ``beta1`` (0.9), ``beta2`` (0.999),
    ``epsilon`` (1e-8), ``m`` and ``v`` (zeros like w), ``t`` (0).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    for state in ("m", "v"):
        if config.get(state) is None:
            config[state] = torch.zeros_like(w)
    config.setdefault("t", 0)
    # BEGIN SOLUTION
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    m = config["m"].mul_(beta1).add_(dw, alpha=1 - beta1)
    v = config["v"].mul_(beta2).addcmul_(dw, dw, value=1 - beta2)
    # sqrt(v_hat) + eps, then the step lr * m_hat / (sqrt(v_hat) + eps)
    denominator = v.div(1 - beta2 ** t).sqrt_().add_(config["epsilon"])
    next_w = w.addcdiv_(m, denominator, value=-config["learning_rate"] / (1 - beta1 ** t))
    # END SOLUTION
    return next_w, config
