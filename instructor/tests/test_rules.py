"""The assignment's rules (helpers/functions.py, helpers/rules.py): each forbidden use is found,
by reading the file and by running it, with the rule's words; honest code never is."""
import importlib.util
import inspect
import textwrap

import pytest
import torch

from helpers import stand_ins
from helpers.functions import FUNCTIONS, functions_of
from helpers.rules import Guard, RuleBreak, static_findings
from helpers.submission import PARTS
from helpers.utils import KIT_ROOT
from instructor.tests.kit.cheating import student_functions

FCN = "fully_connected_networks"


def reference(part):
    return (KIT_ROOT / "assignment" / f"{part}.py").read_text()


def test_the_table_has_one_row_per_solution_region():
    for part in PARTS:
        assert [row.name for row in functions_of(part)] == student_functions(part), \
            f"helpers/functions.py: the rows of {part} differ from its solution regions"


@pytest.mark.parametrize("part", PARTS)
def test_the_reference_breaks_no_rule(part):
    assert static_findings(reference(part), part) == {}


# One use of each rule, plus aliased and indirect ones: (source of a layer file, the function
# it breaks, what it uses, the line).
BREAKS = {
    "backward": ("""
        def softmax_loss(x, y):
            loss = x.sum()
            loss.backward()
        """, "softmax_loss", "torch.autograd", 4),
    "requires_grad": ("""
        def svm_loss(x, y):
            leaf = x.detach().requires_grad_(True)
        """, "svm_loss", "torch.autograd", 3),
    "autograd, aliased": ("""
        import torch.autograd as ag
        differentiate = ag.grad

        class Linear:
            @staticmethod
            def backward(dout, cache, need_dx=True):
                return differentiate(cache[0].sum(), cache[1])
        """, "Linear.backward", "torch.autograd", 8),
    "autograd, by getattr": ("""
        import torch

        class ReLU:
            @staticmethod
            def backward(dout, cache):
                return getattr(torch, "autograd").grad(cache, dout)
        """, "ReLU.backward", "torch.autograd", 7),
    "torch.func": ("""
        from torch import func

        def softmax_loss(x, y):
            return func.grad(lambda s: s.sum())(x), None
        """, "softmax_loss", "torch.autograd", 5),
    "functional loss": ("""
        import torch.nn.functional as F

        def softmax_loss(x, y):
            return F.cross_entropy(x, y), None
        """, "softmax_loss", "torch.nn", 5),
    "log_softmax, in a helper": ("""
        from torch.nn.functional import log_softmax as lsm

        def _log_probabilities(x):
            return lsm(x, dim=1)

        def softmax_loss(x, y):
            return -_log_probabilities(x)[range(len(y)), y].mean(), None
        """, "softmax_loss", "torch.nn", 5),
    "a loss outside torch.nn": ("""
        import torch

        def softmax_loss_vectorized(W, X, y, reg):
            log_p = torch.log_softmax(X @ W, dim=1)
        """, "softmax_loss_vectorized", "a ready-made loss of torch", 5, "linear_classifier"),
    "torch.nn module": ("""
        from torch import nn

        class Linear:
            @staticmethod
            def forward(x, w, b):
                return nn.Linear(3, 4)(x), (x, w, b)
        """, "Linear.forward", "torch.nn", 7),
    "torch.optim": ("""
        import torch

        def adam(w, dw, config=None):
            optimizer = torch.optim.Adam([w])
        """, "adam", "torch.optim", 5),
    "a stand-in, imported": ("""
        from helpers.stand_ins import Dropout
        """, "Dropout.forward", "the kit's stand-ins", 2),
    "a stand-in, bound": ("""
        from helpers import stand_ins

        sgd = stand_ins.sgd
        """, "sgd", "the kit's stand-ins", 4),
}


@pytest.mark.parametrize("case", BREAKS)
def test_each_forbidden_use_is_read_with_its_line(case):
    source, function, what, line, *part = BREAKS[case]
    findings = static_findings(textwrap.dedent(source), part[0] if part else FCN)
    assert function in findings, f"{case}: not found in {findings}"
    message = findings[function].message
    assert message.startswith(f"{function} uses {what} (line {line}): "), message


def test_the_words_fit_the_task():
    findings = static_findings(textwrap.dedent(BREAKS["autograd, aliased"][0]), FCN)
    assert findings["Linear.backward"].message == \
        "Linear.backward uses torch.autograd (line 8): write the backward pass by hand"


def test_a_layer_calling_another_layers_backward_is_honest():
    source = textwrap.dedent("""
        class ReLU:
            @staticmethod
            def backward(dout, cache):
                return dout * (cache > 0)

        class Linear_ReLU:
            @staticmethod
            def backward(dout, cache, need_dx=True):
                return ReLU.backward(dout, cache[1])
        """)
    assert static_findings(source, FCN) == {}


def test_every_stand_in_pasted_in_place_breaks_a_rule():
    """Each part's reference with the whole of helpers/stand_ins.py pasted after it (so every
    stand-in takes its function's place), read: every function a stand-in replaced is found,
    but the exempt ones."""
    pasted = inspect.getsource(stand_ins) + NET_BINDINGS
    for part in PARTS:
        findings = static_findings(reference(part) + "\n\n" + pasted, part)
        replaced = [name for name in replaced_by_stand_ins(part)
                    if name not in stand_ins.EXEMPT_STAND_INS]
        assert replaced, part
        missed = [name for name in replaced if name not in findings]
        assert not missed, f"{part}: pasted stand-ins of {missed} break no rule"


# What pasting helpers/stand_ins.py after a part needs to take the nets' places too.
NET_BINDINGS = """
if "TwoLayerNet" in globals():
    TwoLayerNet.__init__ = two_layer_net_init
    TwoLayerNet.loss = net_loss
    FullyConnectedNet.__init__ = fully_connected_net_init
    FullyConnectedNet.loss = net_loss
"""


def replaced_by_stand_ins(part):
    """The functions of ``part`` that pasting helpers/stand_ins.py (and NET_BINDINGS) replaces."""
    nets = {"TwoLayerNet", "FullyConnectedNet"} if part == FCN else set()
    return [row.name for row in functions_of(part)
            if hasattr(stand_ins, row.name.split(".")[0]) or row.name.split(".")[0] in nets]


# ---------------------------------------------------------------- running ---

RUNNING = '''
import torch

ag = __import__("torch").autograd


class Linear:
    @staticmethod
    def backward(dout, cache, need_dx=True):
        x, w, b = cache
        w = w.detach()
        w.requires_grad = True
        return ag.grad((x @ w).sum(), w)


def softmax_loss(x, y):
    names = {"x": x, "y": y}
    exec("import torch.nn.functional as F\\nloss = F.cross_entropy(x, y)", names)
    return names["loss"], None


def sgd(w, dw, config=None):
    try:
        torch.zeros(3, requires_grad=True)
    except Exception:
        pass
    return w - dw, config


def adam(w, dw, config=None):
    with torch.no_grad():
        return w - 1e-3 * dw, config


def svm_loss(x, y):
    return torch.func.grad(lambda s: (s * s).sum())(x), None


def rmsprop(w, dw, config=None):
    return given(w, dw), config
'''


@pytest.fixture
def running_module(tmp_path):
    """RUNNING as ``assignment/fully_connected_networks.py`` of a folder, imported, with a
    stand-in it may call (``given``)."""
    folder = tmp_path / "assignment"
    folder.mkdir()
    path = folder / f"{FCN}.py"
    path.write_text(RUNNING)
    spec = importlib.util.spec_from_file_location("rules_probe", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.given = stand_ins.sgd   # the kit's code, called from the student's: not watched
    return folder, module


def test_running_code_that_breaks_a_rule_raises_and_is_recorded(running_module):
    folder, module = running_module
    x, w = torch.randn(2, 3), torch.randn(3, 4)
    calls = {
        "Linear.backward": lambda: module.Linear.backward(x, (x, w, None)),
        "softmax_loss": lambda: module.softmax_loss(x, torch.tensor([0, 1])),
        "svm_loss": lambda: module.svm_loss(x, None),
    }
    with Guard(folder) as guard:
        for name, call in calls.items():
            with pytest.raises(RuleBreak, match=rf"^{name} uses "):
                call()
        module.sgd(w, w)                    # caught by the student's code: still recorded
        module.adam(w, w)                   # torch.no_grad() is honest
        module.rmsprop(w, w, {})            # a stand-in called by it: the kit's code
        leaf = torch.zeros(2, requires_grad=True)
        (leaf * 2).sum().backward()         # the checks' own autograd
    found = {name: (f.rule, f.line) for name, f in guard.findings.items()}
    assert found == {"Linear.backward": ("autograd", 12), "softmax_loss": ("torch.nn", 18),
                     "sgd": ("autograd", 24), "svm_loss": ("autograd", 36)}
    assert guard.findings["sgd"].message == \
        "sgd uses torch.autograd (line 24): write the update rule by hand, from its formula"


def test_every_row_forbids_something():
    assert all(row.forbids for row in FUNCTIONS.values())


def test_a_composer_failing_only_with_a_failing_part_is_blocked_by_it():
    from helpers.check import FunctionResult, blame_failing_parts

    dropout = FunctionResult(FCN, "Dropout.forward", failures=["dropout keeps every unit"],
                             own_check_failed=True)
    net = FunctionResult(FCN, "FullyConnectedNet.loss", failures=["net loss differs"])
    layer = FunctionResult(FCN, "Linear.forward")
    blame_failing_parts([dropout, net, layer])
    assert net.line() == \
        "fully_connected_networks.FullyConnectedNet.loss: FAIL: blocked by Dropout.forward " \
        "(fix it first)"
    assert dropout.line().endswith("FAIL: dropout keeps every unit")
    own = FunctionResult(FCN, "FullyConnectedNet.loss", failures=["wrong"], own_check_failed=True)
    blame_failing_parts([dropout, own])
    assert own.line().endswith("FAIL: wrong"), "its own check failed: no blame"
