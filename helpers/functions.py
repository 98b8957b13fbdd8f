"""The functions you write, one row each: their part, what they are built from, and their rules.

Every fact about a student function that the kit's code needs is kept here, once:

- ``part``: the file of ``assignment/`` that defines it (``name`` or ``Class.method``);
- ``built_from`` and ``why``: the functions of yours it calls, whose own versions its
  ``composed=True`` checks use (``python -m helpers.check`` waits until they are written);
- ``task``: what kind of work it is (``"backward"`` for a backward pass or a loss with its
  gradient, ``"update"`` for an update rule, ``"plain"`` otherwise), which words the rules use;
- ``forbids``: what it may not use (keys of ``RULES``).

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


@dataclass(frozen=True)
class Rule:
    """One thing a student function may not use: ``what`` (in the messages) and the advice."""

    what: str
    advice: str


RULES = {
    "autograd": Rule("torch.autograd", "write the backward pass by hand"),
    "torch.nn": Rule("torch.nn", "use plain tensor operations, not torch.nn"),
    "torch.optim": Rule("torch.optim", "write the update rule by hand"),
    "losses": Rule("a ready-made loss of torch",
                   "compute the loss and its gradient by hand, from their formulas"),
    "stand-ins": Rule("the kit's stand-ins", "write your own version"),
}

# Words of the advice that fit the kind of work a function does.
ADVICE = {
    ("autograd", "update"): "write the update rule by hand, from its formula",
    ("autograd", "plain"): "compute it with plain tensor operations",
    ("torch.nn", "backward"): "compute the loss and its gradient by hand, from their formulas",
}

EVERYWHERE = tuple(RULES)   # nothing in assignment/ may use any of them


@dataclass(frozen=True)
class StudentFunction:
    """One row of the table."""

    name: str
    part: str
    task: str = "plain"
    built_from: tuple = ()
    why: str = ""
    forbids: tuple = EVERYWHERE

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
           ("accuracy", {}),
           ("confusion_matrix", {}),
           ("precision_recall", {})),
    *_rows("model_selection",
           ("k_fold_indices", {}),
           ("cross_validate", {})),
    *_rows("linear_classifier",
           ("svm_loss_naive", {"task": "backward"}),
           ("svm_loss_vectorized", {"task": "backward"}),
           ("softmax_loss_naive", {"task": "backward"}),
           ("softmax_loss_vectorized", {"task": "backward"}),
           ("sample_batch", {}),
           ("train_linear_classifier", {
               "built_from": ("sample_batch",),
               "why": "the given SGD loop draws every minibatch with your sample_batch"}),
           ("predict_linear_classifier", {}),
           ("svm_get_search_params", {}),
           ("softmax_get_search_params", {}),
           ("test_one_param_set", {
               "built_from": ("train_linear_classifier", "predict_linear_classifier",
                              "softmax_loss_vectorized", "accuracy"),
               "why": "it trains a Softmax classifier (your loss and SGD) and scores it with "
                      "your accuracy"})),
    *_rows("two_layer_net",
           ("nn_forward_pass", {}),
           ("nn_forward_backward", {
               "task": "backward",
               "built_from": ("nn_forward_pass",),
               "why": "its given first line computes the scores with your nn_forward_pass"}),
           ("nn_predict", {}),
           ("nn_sample_batch", {}),
           ("nn_sgd_step", {"task": "update"}),
           ("nn_get_search_params", {}),
           ("find_best_net", {
               "built_from": ("nn_forward_pass", "nn_forward_backward", "nn_predict",
                              "nn_sample_batch", "nn_sgd_step", "accuracy"),
               "why": "it trains TwoLayerNets, whose given training loop calls these functions "
                      "of yours"})),
    *_rows("fully_connected_networks",
           ("Linear.forward", {}),
           ("Linear.backward", {"task": "backward"}),
           ("ReLU.forward", {}),
           ("ReLU.backward", {"task": "backward"}),
           ("Linear_ReLU.forward", {
               "built_from": ("Linear.forward", "ReLU.forward"),
               "why": "the sandwich layer is Linear.forward followed by ReLU.forward"}),
           ("Linear_ReLU.backward", {
               "task": "backward",
               "built_from": ("Linear_ReLU.forward", "ReLU.backward", "Linear.backward"),
               "why": "it walks back through ReLU.backward and Linear.backward, with the cache "
                      "of your forward"}),
           ("Dropout.forward", {}),
           ("Dropout.backward", {"task": "backward"}),
           ("svm_loss", {"task": "backward"}),
           ("softmax_loss", {"task": "backward"}),
           ("TwoLayerNet.__init__", {}),
           ("TwoLayerNet.loss", {
               "task": "backward",
               "built_from": ("Linear_ReLU.forward", "Linear.forward", "softmax_loss",
                              "Linear.backward", "Linear_ReLU.backward"),
               "why": "the net is built from your layers and your softmax_loss"}),
           ("FullyConnectedNet.__init__", {}),
           ("FullyConnectedNet.loss", {
               "task": "backward",
               "built_from": ("Linear_ReLU.forward", "Dropout.forward", "Linear.forward",
                              "softmax_loss", "Linear.backward", "Dropout.backward",
                              "Linear_ReLU.backward"),
               "why": "the net is built from your layers, your dropout and your softmax_loss"}),
           ("create_solver_instance", {}),
           ("train_best_fc_net", {}),
           ("get_three_layer_network_params", {}),
           ("get_five_layer_network_params", {}),
           ("sgd", {"task": "update"}),
           ("sgd_momentum", {"task": "update"}),
           ("rmsprop", {"task": "update"}),
           ("adam", {"task": "update"})),
]}


def functions_of(part):
    """The rows of ``part``, in file order."""
    return [row for row in FUNCTIONS.values() if row.part == part]


def composed():
    """``name -> (built_from, why)`` for every function built from others of yours."""
    return {row.name: (row.built_from, row.why) for row in FUNCTIONS.values() if row.built_from}
