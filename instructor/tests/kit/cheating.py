"""A submission that hard-codes the visible checks' answers (instructor only, for the tests).

For every student function of Task 2 and Task 3, the cheating module answers like the
reference solution whenever a call looks like one the visible checks make (same argument
shapes, dtypes and devices, same numbers, strings and config keys; functions passed as
arguments all look alike), and with a plausible mistake otherwise. It is built in two steps:

1. ``source(part, record_to=path)``: the reference file plus a block that wraps every student
   function to record the signature of each call; running the visible checks against it
   (``python -m helpers.check``) writes the signatures to ``path`` at exit;
2. ``source(part, seen=signatures)``: the reference file plus the same block in cheating mode,
   with the recorded signatures written into the file.

A module-level ``_CHEAT_ONLY`` (None: every function cheats) lets a test make one function
cheat while the others stay honest.
"""
from helpers.functions import constant_functions, functions_of
from helpers.utils import KIT_ROOT

PARTS = ("two_layer_net", "fully_connected_networks")

# Functions whose result cannot depend on a call (``constant`` in helpers/functions.py): they
# take no argument, so every call looks like the visible checks' call and the cheat always
# gives the reference answer. A hard-coded answer is the honest answer there; no hidden check
# can tell them apart.
CONSTANT_FUNCTIONS = {part: tuple(constant_functions(part)) for part in PARTS}


def student_functions(part):
    """Names (``function`` or ``Class.method``) of ``part``'s student functions, in file order
    (the table of student functions; ``instructor.table_check`` keeps it in step with the
    solution regions)."""
    return [row.name for row in functions_of(part)]


COMMON = '''

# ---------------------------------------------------------------------------
# Appended by instructor/tests/kit/cheating.py: answers like the reference only for calls that
# look like the visible checks' calls.
# ---------------------------------------------------------------------------
import atexit as _atexit
import functools as _functools
import inspect as _inspect
import json as _json

_RECORD_TO = {record_to!r}
_SEEN = {{name: set(keys) for name, keys in {seen!r}.items()}}
_CHEAT_ONLY = None
_recorded = {{}}
_real = {{}}


def _signature_of(value):
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), str(value.dtype), value.device.type)
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, (int, float)):
        return repr(float(value))
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((str(k), _signature_of(v)) for k, v in value.items()),
                                     key=lambda item: item[0])))
    if isinstance(value, (list, tuple)):
        return ("sequence", tuple(_signature_of(v) for v in value))
    if callable(value):
        return "callable"
    return type(value).__name__


def _cheat(name, real, wrong):
    """``real`` for calls seen in the visible checks (or recorded), ``wrong`` for the others."""
    _real[name] = real
    signature = _inspect.signature(real)

    @_functools.wraps(real)
    def wrapper(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return real(*args, **kwargs)
        bound.apply_defaults()
        key = repr(tuple((arg, _signature_of(value)) for arg, value in bound.arguments.items()
                         if arg != "self"))
        if _RECORD_TO is not None:
            _recorded.setdefault(name, set()).add(key)
            return real(*args, **kwargs)
        if key in _SEEN.get(name, ()) or _CHEAT_ONLY not in (None, name):
            return real(*args, **kwargs)
        return wrong(*args, **kwargs)
    return wrapper


def _changed(name, args, kwargs, **changes):
    """Call the real ``name`` with some arguments replaced."""
    bound = _inspect.signature(_real[name]).bind(*args, **kwargs)
    bound.apply_defaults()
    bound.arguments.update(changes)
    return _real[name](*bound.args, **bound.kwargs)


def _dump_records():
    with open(_RECORD_TO, "w") as f:
        _json.dump({{name: sorted(keys) for name, keys in _recorded.items()}}, f)


if _RECORD_TO is not None:
    _atexit.register(_dump_records)
'''

WRONG = {
    "two_layer_net": '''

def _wrong_nn_forward_pass(params, X):
    """Forgets the ReLU."""
    hidden = torch.addmm(params["b1"], X, params["W1"])
    return torch.addmm(params["b2"], hidden, params["W2"]), hidden


def _wrong_nn_forward_backward(params, X, y=None, reg=0.0):
    """Ignores the regularization."""
    return _real["nn_forward_backward"](params, X, y, 0.0)


def _wrong_nn_predict(params, loss_func, X):
    """Predicts class 0 for every example."""
    return torch.zeros(X.shape[0], dtype=torch.int64, device=X.device)


def _wrong_nn_sample_batch(X, y, num_train, batch_size):
    """Draws from all of X, ignoring num_train."""
    return _real["nn_sample_batch"](X, y, X.shape[0], batch_size)


def _wrong_nn_sgd_step(params, grads, learning_rate):
    """Puts new tensors in the dict instead of updating the parameters in place."""
    for name, grad in grads.items():
        params[name] = params[name] - learning_rate * grad


def _wrong_nn_get_search_params():
    """Never called: a call without arguments always looks like the visible checks' call."""
    return [1e-3], [10], [0.0], [1.0]


def _wrong_find_best_net(data_dict, get_param_set_fn, *, num_epochs=10, batch_size=200,
                         verbose=True):
    """Returns the last net of the grid instead of the best one."""
    result = None
    for settings in itertools.product(*get_param_set_fn()):
        result = _real["find_best_net"](data_dict, lambda s=settings: tuple([v] for v in s),
                                        num_epochs=num_epochs, batch_size=batch_size,
                                        verbose=verbose)
    return result


for _name in ("nn_forward_pass", "nn_forward_backward", "nn_predict", "nn_sample_batch",
              "nn_sgd_step", "nn_get_search_params", "find_best_net"):
    globals()[_name] = _cheat(_name, globals()[_name], globals()[f"_wrong_{_name}"])
''',
    "fully_connected_networks": '''

def _wrong_linear_forward(x, w, b):
    """Forgets the bias."""
    return x.reshape(x.shape[0], -1).mm(w), (x, w, b)


def _wrong_linear_backward(dout, cache, need_dx=True):
    """Averages db over the batch instead of summing it."""
    dx, dw, db = _real["Linear.backward"](dout, cache, need_dx)
    return dx, dw, db / dout.shape[0]


def _wrong_relu_forward(x):
    """A leaky ReLU: lets negative values through, scaled by 0.01. (An in-place clamp, the
    mistake this was before, is invisible to the grader since issue 22: student code gets
    copies of a check's inputs and ReLU.forward may not change its own.)"""
    return torch.where(x > 0, x, 0.01 * x), x


def _wrong_relu_backward(dout, cache):
    """Lets the gradient through where x == 0."""
    return dout * (cache >= 0)


def _wrong_linear_relu_forward(x, w, b):
    """Forgets the ReLU (with the right cache, so that the backward pass still works)."""
    a, fc_cache = Linear.forward(x, w, b)
    return a, (fc_cache, a)


def _wrong_linear_relu_backward(dout, cache, need_dx=True):
    """Skips the ReLU gate."""
    return Linear.backward(dout, cache[0], need_dx=need_dx)


def _wrong_dropout_forward(x, dropout_param):
    """Drops units but forgets to scale the kept ones by 1 / (1 - p)."""
    out, (param, mask) = _real["Dropout.forward"](x, dropout_param)
    if mask is None:
        return out, (param, mask)
    mask = (mask != 0).to(x.dtype)
    return x * mask, (param, mask)


def _wrong_dropout_backward(dout, cache):
    """Ignores the mask."""
    return dout


def _wrong_svm_loss(x, y):
    """Counts the margin of the correct class too (1 per example)."""
    loss, dx = _real["svm_loss"](x, y)
    return loss + 1, dx


def _wrong_softmax_loss(x, y):
    """Sums the loss over the batch instead of averaging it."""
    loss, dx = _real["softmax_loss"](x, y)
    return loss * x.shape[0], dx


def _wrong_two_layer_init(self, *args, **kwargs):
    """Ignores weight_scale (always the default 1e-3)."""
    _changed("TwoLayerNet.__init__", (self, *args), kwargs, weight_scale=1e-3)


def _wrong_two_layer_loss(self, X, y=None):
    """Ignores the regularization."""
    reg, self.reg = self.reg, 0.0
    try:
        return _real["TwoLayerNet.loss"](self, X, y)
    finally:
        self.reg = reg


def _wrong_fc_init(self, *args, **kwargs):
    """Ignores weight_scale (always the default 1e-2)."""
    _changed("FullyConnectedNet.__init__", (self, *args), kwargs, weight_scale=1e-2)


def _wrong_fc_loss(self, X, y=None):
    """Ignores the regularization."""
    reg, self.reg = self.reg, 0.0
    try:
        return _real["FullyConnectedNet.loss"](self, X, y)
    finally:
        self.reg = reg


def _wrong_create_solver_instance(data_dict, dtype, device):
    """Builds the Solver but forgets to call train()."""
    train, Solver.train = Solver.train, lambda self, *args, **kwargs: None
    try:
        return _real["create_solver_instance"](data_dict, dtype, device)
    finally:
        Solver.train = train


def _wrong_train_best_fc_net(data_dict, dtype, device, num_epochs):
    """Builds the Solver but forgets to call train()."""
    train, Solver.train = Solver.train, lambda self, *args, **kwargs: None
    try:
        return _real["train_best_fc_net"](data_dict, dtype, device, num_epochs)
    finally:
        Solver.train = train


def _wrong_constant():
    """Never called: a call without arguments always looks like the visible checks' call."""
    return 1e-3, 1e-3


def _wrong_sgd(w, dw, config=None):
    """Steps with the default learning rate whatever the config says."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - 1e-2 * dw, config


def _wrong_sgd_momentum(w, dw, config=None):
    """Forgets the velocity between steps."""
    if config is not None:
        config["velocity"] = None
    return _real["sgd_momentum"](w, dw, config)


def _wrong_rmsprop(w, dw, config=None):
    """Forgets the moving average of squared gradients between steps."""
    if config is not None:
        config["cache"] = None
    return _real["rmsprop"](w, dw, config)


def _wrong_adam(w, dw, config=None):
    """Forgets the bias correction (a huge t makes beta ** t vanish)."""
    config = {} if config is None else config
    t = config.get("t", 0)
    config["t"] = 10 ** 6
    next_w, config = _real["adam"](w, dw, config)
    config["t"] = t + 1
    return next_w, config


for _cls, _method, _wrong in (
        (Linear, "forward", _wrong_linear_forward),
        (Linear, "backward", _wrong_linear_backward),
        (ReLU, "forward", _wrong_relu_forward), (ReLU, "backward", _wrong_relu_backward),
        (Linear_ReLU, "forward", _wrong_linear_relu_forward),
        (Linear_ReLU, "backward", _wrong_linear_relu_backward),
        (Dropout, "forward", _wrong_dropout_forward),
        (Dropout, "backward", _wrong_dropout_backward)):
    setattr(_cls, _method, staticmethod(
        _cheat(f"{_cls.__name__}.{_method}", getattr(_cls, _method), _wrong)))
for _cls, _method, _wrong in (
        (TwoLayerNet, "__init__", _wrong_two_layer_init),
        (TwoLayerNet, "loss", _wrong_two_layer_loss),
        (FullyConnectedNet, "__init__", _wrong_fc_init),
        (FullyConnectedNet, "loss", _wrong_fc_loss)):
    setattr(_cls, _method, _cheat(f"{_cls.__name__}.{_method}", getattr(_cls, _method), _wrong))
for _name, _wrong in (
        ("svm_loss", _wrong_svm_loss), ("softmax_loss", _wrong_softmax_loss),
        ("create_solver_instance", _wrong_create_solver_instance),
        ("train_best_fc_net", _wrong_train_best_fc_net),
        ("get_three_layer_network_params", _wrong_constant),
        ("get_five_layer_network_params", _wrong_constant), ("sgd", _wrong_sgd),
        ("sgd_momentum", _wrong_sgd_momentum), ("rmsprop", _wrong_rmsprop), ("adam", _wrong_adam)):
    globals()[_name] = _cheat(_name, globals()[_name], _wrong)
''',
}


def source(part, record_to=None, seen=None):
    """The reference ``assignment/<part>.py`` with the cheating block appended.

    ``record_to``: a path; the module records the signature of every call of a student function
    there at exit (and always answers like the reference). ``seen``: dict function name -> list
    of signatures (as recorded); calls with another signature get the wrong answer.
    """
    reference = (KIT_ROOT / "assignment" / f"{part}.py").read_text()
    block = COMMON.format(record_to=None if record_to is None else str(record_to), seen=seen or {})
    return reference + block + WRONG[part]

