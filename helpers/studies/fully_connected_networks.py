"""Studies of the fully connected networks notebook (given code, reached by the tests).

Each study trains several ``FullyConnectedNet``s with the kit's ``Solver``
and returns the solvers, keyed by setting, so that the notebook can plot
their histories and check its expectations:

- ``compare_update_rules``: the same net trained with each update rule;
- ``compare_dropout``: nets of several widths with and without dropout on a
  small training set;
- ``learning_rate_study``: constant learning rates and decay schedules.

Studies name update rules (``"sgd"``, ``"adam"``, ...); ``rule_named`` turns a name into the
student's function, which is what ``Solver`` takes.

A run whose loss stops being finite is recorded (``solver.diverged``) and
the study goes on.
"""
from assignment import fully_connected_networks
from helpers.i18n import _
from helpers.progress import progress_line
from helpers.solver import Solver
from helpers.utils import reset_seed

UPDATE_RULES = ("sgd", "sgd_momentum", "rmsprop", "adam")


def rule_named(name):
    """The update rule ``name`` (one of ``UPDATE_RULES``) of
    ``assignment/fully_connected_networks.py``, looked up when called (so a stand-in installed
    on the module is found)."""
    if name not in UPDATE_RULES:
        raise ValueError(_('unknown update rule "{name}"; choose one of {rules}').format(
            name=name, rules=", ".join(UPDATE_RULES)))
    return getattr(fully_connected_networks, name)


def train_fc_net(data, hidden_dims, *, update_rule="sgd", learning_rate=1e-2, weight_scale=1e-2,
                 dropout=0.0, reg=0.0, seed=0, **solver_options):
    """Build a ``FullyConnectedNet`` (dtype and device of ``data``) and train it with a ``Solver``.

    ``solver_options`` go to ``Solver`` (``num_epochs``, ``batch_size``,
    ``lr_decay``, ``augment``, ...; ``verbose`` defaults to False). The
    random seed makes the initialization and the minibatches repeatable.
    Returns the trained ``Solver`` (its ``model`` holds the best parameters).
    """
    X = data["X_train"]
    reset_seed(seed)
    model = fully_connected_networks.FullyConnectedNet(
        hidden_dims, input_dim=X[0].numel(), dropout=dropout, reg=reg, weight_scale=weight_scale,
        dtype=X.dtype, device=X.device)
    solver_options.setdefault("verbose", False)
    solver = Solver(model, data, update_rule=rule_named(update_rule),
                    optim_config={"learning_rate": learning_rate}, device=X.device,
                    **solver_options)
    solver.train()
    return solver


def train_each(data, runs, what):
    """``{label: train_fc_net(data, hidden_dims, **options)}`` for each ``(label, hidden_dims,
    options)`` of ``runs``, in order, with a progress line (``<what>: run 2/4``)."""
    solvers = {}
    for label, hidden_dims, options in progress_line(runs, total=len(runs), what=what,
                                                     unit="run"):
        solvers[label] = train_fc_net(data, hidden_dims, **options)
    return solvers


def compare_update_rules(data, learning_rates=None, hidden_dims=(100, 100, 100, 100),
                         weight_scale=1e-1, **options):
    """Train the same net with each update rule, from the same initialization.

    ``learning_rates``: dict rule name -> learning rate (default: sgd 1e-2,
    sgd_momentum 1e-2, rmsprop 1e-4, adam 1e-3). ``options`` go to
    ``train_fc_net`` (``num_epochs``, ``batch_size``, ``seed``, ...).
    Returns dict rule name -> trained ``Solver``.
    """
    if learning_rates is None:
        learning_rates = {"sgd": 1e-2, "sgd_momentum": 1e-2, "rmsprop": 1e-4, "adam": 1e-3}
    return train_each(data, [(rule, list(hidden_dims),
                              dict(options, update_rule=rule, learning_rate=lr,
                                   weight_scale=weight_scale))
                             for rule, lr in learning_rates.items()], what="update rules")


def compare_dropout(data, widths=(256, 512), dropouts=(0.0, 0.5), update_rule="adam",
                    learning_rate=5e-4, **options):
    """Nets with one hidden layer of each width, trained with each dropout probability.

    Meant for a small training set, where a net without dropout overfits.
    ``options`` go to ``train_fc_net``. Returns dict ``(width, p)`` -> ``Solver``.
    """
    return train_each(data, [((width, p), [width],
                              dict(options, update_rule=update_rule, learning_rate=learning_rate,
                                   dropout=p))
                             for width in widths for p in dropouts], what="dropout study")


def learning_rate_study(data, learning_rates=(1e-4, 1e-3, 1e-2, 1e-1), schedules=((1e-1, 0.7),),
                        hidden_dims=(100,), update_rule="sgd_momentum", **options):
    """Train one net with several constant learning rates and per-epoch decay schedules.

    ``schedules``: ``(initial rate, decay per epoch)`` pairs. ``options`` go
    to ``train_fc_net`` (``lr_decay`` is set by the study). Returns dict
    label -> ``Solver``, labels like ``"lr 1e-02"`` and ``"lr 1e-01, decay 0.7"``.
    """
    runs = [(f"lr {lr:.0e}", lr, 1.0) for lr in learning_rates]
    runs += [(f"lr {lr:.0e}, decay {decay:g}", lr, decay) for lr, decay in schedules]
    return train_each(data, [(label, list(hidden_dims),
                              dict(options, update_rule=update_rule, learning_rate=lr,
                                   lr_decay=decay))
                             for label, lr, decay in runs], what="learning-rate study")


def final_loss(solver, last=50):
    """Mean training loss over the last ``last`` iterations (inf for a run that diverged
    or has no loss)."""
    if solver.diverged or not solver.loss_history:
        return float("inf")
    tail = solver.loss_history[-last:]
    return sum(tail) / len(tail)
