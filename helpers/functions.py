"""The functions you write, one row each: their part, what they are built from, and their rules.

Every fact about a student function that the kit's code needs is kept here, once:

- ``part``: the file of ``assignment/`` that defines it (``name`` or ``Class.method``);
- ``built_from`` and ``why``: the functions of yours it calls, whose own versions its
  ``composed=True`` checks use (``python -m helpers.check`` waits until they are written);
- ``task``: what kind of work it is (``"backward"`` for a backward pass or a loss with its
  gradient, ``"update"`` for an update rule, ``"plain"`` otherwise), which words the rules use;
- ``forbids``: what it may not use (keys of ``RULES``);
- ``stand_in``: the name, in ``helpers/stand_ins.py``, of what replaces it while a check of
  ANOTHER function runs (a class there replaces the whole class of yours; "" when no check of
  another function calls it, so nothing needs to replace it);
- ``constant``: True when it takes no argument, so every call gives the same answer;
- ``points``: what it is worth in grading (None: an equal share of what the part's total,
  ``PART_POINTS``, leaves after the rows that give their points). A function earns its points
  when all its checks, visible and hidden, pass.

Adding a function is its code (with solution markers) in ``assignment/``, one row here, its
visible check in ``tests/assignment/`` and its hidden check; the kit's guide
``docs/extending.md`` (instructors) says more.

The rules, in words: no code of yours in ``assignment/`` uses ``torch.autograd`` (no
``.backward()``, no ``requires_grad``, no ``torch.func``), ``torch.nn`` (its modules, and
``torch.nn.functional``), ``torch.optim``, torch's ready-made losses wherever they live
(``log_softmax``, ``cross_entropy``, ``nll_loss``, ``multi_margin_loss``: ``torch.log_softmax``
and ``x.log_softmax()`` too), or the kit's stand-ins and ``torch.nn`` twins
(``helpers/stand_ins.py``, ``helpers/torch_nn_twins.py``). Backward passes and gradients are
written by hand, losses from their formulas, update rules from theirs. ``helpers.rules`` checks
them, in the self-check and in grading; a function that breaks one fails, whatever it returns.
"""
from dataclasses import dataclass
from fractions import Fraction

from helpers.i18n import N_


@dataclass(frozen=True)
class Rule:
    """One thing a student function may not use: ``what`` (in the messages) and the advice."""

    what: str
    advice: str


# The words stay English in the messages the code makes (the grader reads them);
# ``helpers.rules.shown_message`` translates them for the student (``N_`` marks them for the
# catalog: helpers/i18n.py).
RULES = {
    "autograd": Rule("torch.autograd", N_("write the backward pass by hand")),
    "torch.nn": Rule("torch.nn", N_("use plain tensor operations, not torch.nn")),
    "torch.optim": Rule("torch.optim", N_("write the update rule by hand")),
    # Translators: in "<function> uses a ready-made loss of torch (line N): <advice>".
    "losses": Rule(N_("a ready-made loss of torch"),
                   N_("compute the loss and its gradient by hand, from their formulas")),
    # Translators: the stand-ins are the kit's given versions of the student's functions.
    "stand-ins": Rule(N_("the kit's stand-ins"), N_("write your own version")),
}

# Words of the advice that fit the kind of work a function does.
ADVICE = {
    ("autograd", "update"): N_("write the update rule by hand, from its formula"),
    ("autograd", "plain"): N_("compute it with plain tensor operations"),
    ("torch.nn", "backward"):
        N_("compute the loss and its gradient by hand, from their formulas"),
}

EVERYWHERE = tuple(RULES)   # nothing in assignment/ may use any of them



# Points of each part in grading; its functions share them (``StudentFunction.points``).
PART_POINTS = {
    "linear_classifier": 25,
    "metrics": 5,
    "model_selection": 5,
    "two_layer_net": 25,
    "fully_connected_networks": 30,
}


@dataclass(frozen=True)
class StudentFunction:
    """One row of the table."""

    name: str
    part: str
    task: str = "plain"
    built_from: tuple = ()
    why: str = ""
    forbids: tuple = EVERYWHERE
    stand_in: str = ""
    constant: bool = False
    points: float = None

    def advice(self, rule):
        """What to do instead of using ``rule`` (a key of ``RULES``)."""
        return ADVICE.get((rule, self.task), RULES[rule].advice)

    def message(self, rule, line):
        """``<name> uses <what> (line N): <advice>``, the words of a broken rule."""
        return f"{self.name} uses {RULES[rule].what} (line {line}): {self.advice(rule)}"


def _rows(part, *rows):
    return [StudentFunction(name, part, **options) for name, options in rows]


FUNCTIONS = {row.name: row for row in [
    *_rows("metrics",
           ("accuracy", {"stand_in": "accuracy"}),
           ("confusion_matrix", {"stand_in": "confusion_matrix"}),
           ("precision_recall", {})),
    *_rows("model_selection",
           ("k_fold_indices", {"stand_in": "k_fold_indices"}),
           ("cross_validate", {})),
    *_rows("linear_classifier",
           ("svm_loss_naive", {"task": "backward"}),
           ("svm_loss_vectorized", {"task": "backward", "stand_in": "svm_loss_vectorized"}),
           ("softmax_loss_naive", {"task": "backward"}),
           ("softmax_loss_vectorized", {"task": "backward",
                                        "stand_in": "softmax_loss_vectorized"}),
           ("sample_batch", {"stand_in": "sample_batch"}),
           ("train_linear_classifier", {
               "stand_in": "train_linear_classifier",
               "built_from": ("sample_batch",),
               "why": "the given SGD loop draws every minibatch with your sample_batch"}),
           ("predict_linear_classifier", {"stand_in": "predict_linear_classifier"}),
           ("svm_get_search_params", {"constant": True}),
           ("softmax_get_search_params", {"constant": True}),
           ("test_one_param_set", {
               "built_from": ("train_linear_classifier", "predict_linear_classifier",
                              "softmax_loss_vectorized", "accuracy"),
               "why": "it trains a Softmax classifier (your loss and SGD) and scores it with "
                      "your accuracy"})),
    *_rows("two_layer_net",
           ("nn_forward_pass", {"stand_in": "nn_forward_pass"}),
           ("nn_forward_backward", {
               "task": "backward", "stand_in": "nn_forward_backward",
               "built_from": ("nn_forward_pass",),
               "why": "its given first line computes the scores with your nn_forward_pass"}),
           ("nn_predict", {"stand_in": "nn_predict"}),
           ("nn_sample_batch", {"stand_in": "nn_sample_batch"}),
           ("nn_sgd_step", {"task": "update", "stand_in": "nn_sgd_step"}),
           ("nn_get_search_params", {"constant": True}),
           ("find_best_net", {
               "built_from": ("nn_forward_pass", "nn_forward_backward", "nn_predict",
                              "nn_sample_batch", "nn_sgd_step", "accuracy"),
               "why": "it trains TwoLayerNets, whose given training loop calls these functions "
                      "of yours"})),
    *_rows("fully_connected_networks",
           ("Linear.forward", {"stand_in": "Linear"}),
           ("Linear.backward", {"task": "backward", "stand_in": "Linear"}),
           ("ReLU.forward", {"stand_in": "ReLU"}),
           ("ReLU.backward", {"task": "backward", "stand_in": "ReLU"}),
           ("Linear_ReLU.forward", {
               "stand_in": "Linear_ReLU",
               "built_from": ("Linear.forward", "ReLU.forward"),
               "why": "the sandwich layer is Linear.forward followed by ReLU.forward"}),
           ("Linear_ReLU.backward", {
               "task": "backward", "stand_in": "Linear_ReLU",
               "built_from": ("Linear_ReLU.forward", "ReLU.backward", "Linear.backward"),
               "why": "it walks back through ReLU.backward and Linear.backward, with the cache "
                      "of your forward"}),
           ("Dropout.forward", {"stand_in": "Dropout"}),
           ("Dropout.backward", {"task": "backward", "stand_in": "Dropout"}),
           ("svm_loss", {"task": "backward", "stand_in": "svm_loss"}),
           ("softmax_loss", {"task": "backward", "stand_in": "softmax_loss"}),
           ("TwoLayerNet.__init__", {"stand_in": "two_layer_net_init"}),
           ("TwoLayerNet.loss", {
               "task": "backward", "stand_in": "net_loss",
               "built_from": ("Linear_ReLU.forward", "Linear.forward", "softmax_loss",
                              "Linear.backward", "Linear_ReLU.backward"),
               "why": "the net is built from your layers and your softmax_loss"}),
           ("FullyConnectedNet.__init__", {"stand_in": "fully_connected_net_init"}),
           ("FullyConnectedNet.loss", {
               "task": "backward", "stand_in": "net_loss",
               "built_from": ("Linear_ReLU.forward", "Dropout.forward", "Linear.forward",
                              "softmax_loss", "Linear.backward", "Dropout.backward",
                              "Linear_ReLU.backward"),
               "why": "the net is built from your layers, your dropout and your softmax_loss"}),
           ("create_solver_instance", {}),
           ("train_best_fc_net", {}),
           ("get_three_layer_network_params", {"constant": True}),
           ("get_five_layer_network_params", {"constant": True}),
           ("sgd", {"task": "update", "stand_in": "sgd"}),
           ("sgd_momentum", {"task": "update", "stand_in": "sgd_momentum"}),
           ("rmsprop", {"task": "update", "stand_in": "rmsprop"}),
           ("adam", {"task": "update", "stand_in": "adam"})),
]}


def functions_of(part):
    """The rows of ``part``, in file order."""
    return [row for row in FUNCTIONS.values() if row.part == part]


def composed():
    """``name -> (built_from, why)`` for every function built from others of yours."""
    return {row.name: (row.built_from, row.why) for row in FUNCTIONS.values() if row.built_from}


def points(name):
    """What ``name`` is worth, exactly (a ``Fraction``): its row's ``points``, else an equal
    share of what its part's total leaves after the rows that give theirs."""
    row = FUNCTIONS[name]
    if row.points is not None:
        return Fraction(row.points)
    rows = functions_of(row.part)
    given = sum(Fraction(r.points) for r in rows if r.points is not None)
    shared = sum(r.points is None for r in rows)
    return (Fraction(PART_POINTS[row.part]) - given) / shared


def worth(name):
    """What ``name`` is worth, for people: ``2.5``, ``1.36`` (two decimals at most)."""
    return f"{float(points(name)):.2f}".rstrip("0").rstrip(".")


def constant_functions(part):
    """Names of ``part``'s functions that take no argument: every call gives one answer."""
    return [row.name for row in functions_of(part) if row.constant]


def points_lines():
    """One Markdown list item per part: its total, then each function and its worth (the list
    in the student README, kept true by a test)."""
    return [f"- `{part}` ({total:g} points): "
            + ", ".join(f"`{row.name}` {worth(row.name)}" for row in functions_of(part))
            for part, total in PART_POINTS.items()]
