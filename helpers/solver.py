"""The Solver: minibatch training loop for the modular nets of the kit.

A model exposes ``params`` (name -> tensor) and ``loss(X, y=None)``, which
returns scores when ``y`` is None and ``(loss, grads)`` otherwise. The Solver
samples minibatches, calls the model, applies an update rule to every
parameter, decays the learning rate once per epoch (or follows a schedule over
the iterations, ``lr_schedule``), checks train and
validation accuracy once per epoch and keeps the parameters with the best
validation accuracy.

Example::

    solver = Solver(model, data, update_rule=sgd_momentum,
                    optim_config={"learning_rate": 1e-2}, lr_decay=0.95,
                    num_epochs=10, batch_size=100, print_every=100)
    solver.train()

The data stays on ``device``; the loop reads a loss back to the host only to
print it, to check that it is finite (every iteration on a CPU, every
``finite_check_every`` iterations on a GPU) and at the end of training.
"""
import math
import time
import warnings

import torch

from helpers.i18n import _
from helpers.utils import first_non_finite, predict_in_batches, shown_path


def random_horizontal_flip(X, image_shape=(3, 32, 32), generator=None):
    """Mirror a random half of the images of a minibatch left to right.

    Inputs: X [N, D] (flattened images) or [N, C, H, W]; ``image_shape``
    tells how a row of D values is an image. Returns a new tensor like X;
    X itself is not changed. Useful as the ``augment`` option of ``Solver``.
    """
    images = X.reshape(X.shape[0], *image_shape)
    flip = torch.rand(X.shape[0], generator=generator, device=X.device) < 0.5
    flipped = torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)
    return flipped.reshape(X.shape)


def cosine_schedule(progress):
    """Cosine learning-rate factor: 1 at ``progress = 0``, falling smoothly to 0 at 1.

    ``0.5 * (1 + cos(pi * progress))``; as the Solver's ``lr_schedule``, the learning rate of
    iteration t of T is ``base * cosine_schedule(t / T)``: the same rates as
    ``torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=T)`` stepped once per
    iteration (``eta_min=0``).
    """
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _check_update_rule(update_rule):
    """The update rule itself: the Solver takes functions, not names, so that it never imports
    the modules that import it (``assignment.fully_connected_networks``)."""
    if not callable(update_rule):
        raise TypeError(_("update_rule must be a function (w, dw, config) -> (next_w, config), "
                          "e.g. adam from assignment.fully_connected_networks; got "
                          "{update_rule!r}").format(update_rule=update_rule))
    return update_rule


class Solver:
    """Train a model with minibatch gradient descent and an update rule.

    Attributes after ``train()``: ``loss_history`` (list of floats, one per
    iteration), ``train_acc_history`` and ``val_acc_history`` (one per check,
    the first before any update), ``best_val_acc`` and ``best_params`` (the
    parameters of the best validation accuracy), ``diverged`` (True when
    training stopped on a non-finite loss), ``train_time`` (seconds).
    """

    def __init__(self, model, data, update_rule, optim_config=None, lr_decay=1.0,
                 batch_size=100, num_epochs=10, num_train_samples=1000, num_val_samples=None,
                 print_every=10, print_acc_every=1, verbose=True, device="cpu",
                 checkpoint_name=None, augment=None, finite_check_every=10, lr_schedule=None):
        """Inputs:

        - model: object with ``params`` and ``loss(X, y=None)``
        - data: dict with ``X_train``, ``y_train``, ``X_val``, ``y_val``
        - update_rule: a function ``(w, dw, config) -> (next_w, config)``, e.g. ``adam``
          from ``assignment.fully_connected_networks``
        - optim_config: hyperparameters given to the update rule (each
          parameter gets its own copy, which also holds its state)
        - lr_decay: the learning rate is multiplied by this after every epoch
        - lr_schedule: optional function ``progress -> factor`` of the training's progress
          ``t / T`` in [0, 1) (t iterations done of T = ``num_epochs`` x iterations per
          epoch); before every iteration, each parameter's ``learning_rate`` is set to its
          base rate (``optim_config``'s, which must then be given) x ``lr_decay ** epoch``
          x ``lr_schedule(t / T)``. ``cosine_schedule`` (above) anneals the rate to 0 like
          ``torch.optim.lr_scheduler.CosineAnnealingLR``. None: only ``lr_decay``
        - batch_size, num_epochs: minibatch size and number of passes over the data
        - num_train_samples, num_val_samples: how many examples the accuracy
          checks use (None = all)
        - print_every: print the loss every this many iterations (when verbose)
        - print_acc_every: check accuracies every this many epochs (always
          at the end)
        - device: where the data lives during training (moved once, if needed)
        - checkpoint_name: when given, write ``{checkpoint_name}_epoch_{e}.pt``
          after every epoch
        - augment: optional function applied to each training minibatch
          ``X_batch -> X_batch``, e.g. ``random_horizontal_flip``
        - finite_check_every: on a GPU, how often the loss is read back to
          check it is finite (on a CPU it is checked every iteration)
        """
        if batch_size < 1:
            raise ValueError(_("batch_size must be at least 1, got {batch_size}").format(
                batch_size=batch_size))
        if num_epochs < 0:
            raise ValueError(_("num_epochs must be >= 0, got {num_epochs}").format(
                num_epochs=num_epochs))
        if lr_schedule is not None and not callable(lr_schedule):
            raise TypeError(_("lr_schedule must be a function progress -> factor, e.g. "
                              "cosine_schedule; got {lr_schedule!r}").format(
                lr_schedule=lr_schedule))
        if lr_schedule is not None and "learning_rate" not in (optim_config or {}):
            raise ValueError(_("lr_schedule needs the base learning rate: give "
                               "optim_config={'learning_rate': ...}"))
        for split in ("train", "val"):
            X, y = data[f"X_{split}"], data[f"y_{split}"]
            if X.shape[0] != y.shape[0]:
                # Translators: {X} and {y} are X_train and y_train, or X_val and y_val.
                raise ValueError(
                    _("{X} has {count_X} examples but {y} has {count_y}").format(
                        X=f"X_{split}", count_X=X.shape[0], y=f"y_{split}", count_y=y.shape[0])
                )
        self.model = model
        self.device = torch.device(device)
        self.X_train = data["X_train"].to(self.device)
        self.y_train = data["y_train"].to(self.device)
        self.X_val = data["X_val"].to(self.device)
        self.y_val = data["y_val"].to(self.device)
        self.update_rule = _check_update_rule(update_rule)
        self.optim_config = dict(optim_config or {})
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.num_epochs = num_epochs
        self.num_train_samples = num_train_samples
        self.num_val_samples = num_val_samples
        self.print_every = print_every
        self.print_acc_every = print_acc_every
        self.verbose = verbose
        self.checkpoint_name = checkpoint_name
        self.augment = augment
        self.lr_schedule = lr_schedule
        self.finite_check_every = 1 if self.device.type == "cpu" else max(1, finite_check_every)
        self._reset()

    def _reset(self):
        """Book-keeping variables; called by ``__init__``, not meant to be called by hand."""
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.diverged = False
        self.train_time = 0.0
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _step(self, X_batch, y_batch):
        """One gradient step on a minibatch; returns the loss (a tensor, not read back)."""
        if self.augment is not None:
            X_batch = self.augment(X_batch)
        loss, grads = self.model.loss(X_batch, y_batch)
        for name, w in self.model.params.items():
            next_w, self.optim_configs[name] = self.update_rule(
                w, grads[name], self.optim_configs[name]
            )
            self.model.params[name] = next_w
        return loss.detach() if isinstance(loss, torch.Tensor) else torch.tensor(float(loss))

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "params": {k: v.detach().cpu() for k, v in self.model.params.items()},
            "update_rule": getattr(self.update_rule, "__name__", str(self.update_rule)),
            "lr_decay": self.lr_decay,
            "lr_schedule": None if self.lr_schedule is None
            else getattr(self.lr_schedule, "__name__", repr(self.lr_schedule)),
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": list(self.loss_history),
            "train_acc_history": list(self.train_acc_history),
            "val_acc_history": list(self.val_acc_history),
        }
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pt"
        if self.verbose:
            print(_('Saving checkpoint to "{path}"').format(path=shown_path(filename)))
        torch.save(checkpoint, filename)

    @torch.no_grad()
    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Accuracy of the model on ``(X, y)``, in minibatches of ``batch_size``.

        With ``num_samples``, a random subsample of that many examples is used.
        Returns a Python float.
        """
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = torch.randperm(N, device=X.device)[:num_samples]
            X, y = X[mask], y[mask]
            N = num_samples
        labels = predict_in_batches(lambda rows: self.model.loss(rows).argmax(dim=1), X,
                                    batch_size)
        return (labels == y).sum().item() / max(N, 1)

    def _record_accuracy(self):
        """Check train and val accuracy, print them, keep the best parameters."""
        train_acc = self.check_accuracy(
            self.X_train, self.y_train, num_samples=self.num_train_samples
        )
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.verbose:
            print(
                _("(Epoch {epoch} / {num_epochs}) train acc: {train_acc:f}; "
                  "val_acc: {val_acc:f}").format(epoch=self.epoch, num_epochs=self.num_epochs,
                                                 train_acc=train_acc, val_acc=val_acc)
            )
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = max(val_acc, self.best_val_acc)
            self.best_params = {k: v.detach().clone() for k, v in self.model.params.items()}

    def train(self, time_limit=None, return_best_params=True):
        """Run the optimization.

        Inputs:
        - time_limit: stop after this many seconds (None: no limit)
        - return_best_params: at the end, put the parameters with the best
          validation accuracy back into the model

        Stops at the first non-finite loss with a ``RuntimeWarning`` naming
        the iteration and learning rate; the history holds the finite losses
        before it. Returns ``self``.
        """
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        losses = []  # loss tensors, read back at print and check times only
        checked = 0
        start_time = time.time()
        self._record_accuracy()  # epoch 0: before any update
        stop = False
        t = 0
        base_rates = {name: config.get("learning_rate")
                      for name, config in self.optim_configs.items()}
        order = torch.randperm(num_train, device=self.X_train.device)
        while t < num_iterations and not stop:
            if self.lr_schedule is not None:
                factor = self.lr_decay ** self.epoch * self.lr_schedule(t / num_iterations)
                for name, config in self.optim_configs.items():
                    config["learning_rate"] = base_rates[name] * factor
            position = (t % iterations_per_epoch) * self.batch_size
            batch = order[position:position + self.batch_size]
            losses.append(self._step(self.X_train[batch], self.y_train[batch]))
            t += 1

            if t % self.finite_check_every == 0 or t == num_iterations:
                bad = first_non_finite(torch.stack(losses[checked:]))
                bad = None if bad is None else checked + bad
                checked = len(losses)
                if bad is not None:
                    lr = self.optim_configs[next(iter(self.optim_configs))].get("learning_rate")
                    warnings.warn(
                        _("Solver: the loss became {loss} at iteration {iteration} (epoch "
                          "{epoch}) with learning rate {lr}; training stopped. Try a smaller "
                          "learning rate or weight scale.").format(
                            loss=losses[bad].item(), iteration=bad + 1, epoch=self.epoch + 1,
                            lr=lr),
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    del losses[bad:]
                    self.diverged = True
                    break
            if self.verbose and (t == 1 or t % self.print_every == 0):
                print(
                    _("(Time {seconds:.2f} sec; Iteration {t} / {num_iterations}) "
                      "loss: {loss:f}").format(seconds=time.time() - start_time, t=t,
                                               num_iterations=num_iterations,
                                               loss=losses[-1].item())
                )

            timed_out = time_limit is not None and time.time() - start_time > time_limit
            if t % iterations_per_epoch == 0 or timed_out:
                if t % iterations_per_epoch == 0:
                    self.epoch += 1
                    for config in self.optim_configs.values():
                        if "learning_rate" in config and self.lr_schedule is None:
                            config["learning_rate"] *= self.lr_decay
                    order = torch.randperm(num_train, device=self.X_train.device)
                last = t == num_iterations
                if timed_out or last or self.epoch % self.print_acc_every == 0:
                    self._record_accuracy()
                    self._save_checkpoint()
                if timed_out:
                    if self.verbose:
                        print(
                            _("(Time {seconds:.2f} sec; Iteration {t} / {num_iterations}) "
                              "stopped: the time limit of {time_limit} sec is over").format(
                                seconds=time.time() - start_time, t=t,
                                num_iterations=num_iterations, time_limit=time_limit)
                        )
                    stop = True

        self.loss_history = torch.stack(losses).tolist() if losses else []
        self.train_time = time.time() - start_time
        if return_best_params and self.best_params:
            self.model.params = {k: v.clone() for k, v in self.best_params.items()}
        return self
