"""The rules where verdicts are made (instructor only): the grader gives nothing for a stand-in or
a torch.nn twin in place of a student function, pasted or imported, and the self-check shows
the rule's words (and blames a failing part, not the function built from it)."""
import inspect
import re
import shutil

import pytest

from helpers import stand_ins, torch_nn_twins
from helpers.check import PARTS, PASS
from helpers.rules import first_rule_message
from helpers.utils import KIT_ROOT
from instructor.tests.kit.runner import run_in
from instructor.tests.test_rules import NET_BINDINGS, replaced_by_stand_ins
from instructor.verdicts.runner import run_trusted_checks

# The torch.nn twin of nn_forward_backward, pasted after the stand-ins of two_layer_net.
TWIN = inspect.getsource(torch_nn_twins.autograd_loss_and_grads) + \
    "\n\nnn_forward_backward = autograd_loss_and_grads\n"


def pasted(part):
    """The reference of ``part`` with every stand-in (and a twin) pasted in place."""
    text = (KIT_ROOT / "assignment" / f"{part}.py").read_text()
    text += "\n\n" + inspect.getsource(stand_ins) + NET_BINDINGS
    return text + ("\n\n" + TWIN if part == "two_layer_net" else "")


def imported(part):
    """The reference of ``part`` with every stand-in (and a twin) imported in place."""
    text = (KIT_ROOT / "assignment" / f"{part}.py").read_text()
    text += "\n\nfrom helpers.stand_ins import *  # noqa\n" + NET_BINDINGS
    if part == "two_layer_net":
        text += ("from helpers.torch_nn_twins import autograd_loss_and_grads "
                 "as nn_forward_backward\n")
    return text


def graded_kit(student_kit, tmp_path, make):
    kit = tmp_path / make.__name__
    shutil.copytree(student_kit, kit, ignore=shutil.ignore_patterns("tests"))
    for part in PARTS:
        (kit / "assignment" / f"{part}.py").write_text(make(part))
    return kit


@pytest.mark.long
@pytest.mark.parametrize("make", [pasted, imported])
def test_a_stand_in_or_twin_in_place_earns_nothing(student_kit, tmp_path, make):
    kit = graded_kit(student_kit, tmp_path, make)
    report = run_trusted_checks(kit, PARTS, timeout=300)
    assert not (kit / "helpers" / "stand_ins.py").exists(), "the worker's copy has the stand-ins"
    for part in PARTS:
        replaced = set(replaced_by_stand_ins(part)) - set(stand_ins.EXEMPT_STAND_INS)
        if part == "two_layer_net":
            replaced.add("nn_forward_backward")
        graded = [f for f in report[part]["functions"] if f["name"] in replaced]
        if make is imported:   # the worker has no stand-ins: the part cannot even be imported
            assert report[part]["errors"], report[part]
        else:
            assert {f["name"] for f in graded} == replaced, report[part]
        passed = [f["name"] for f in graded if f["status"] == PASS]
        assert not passed, f"{part}: {passed} earn points with a stand-in in place"
        if make is pasted:
            unexplained = [f["name"] for f in graded
                           if not first_rule_message(f["failures"][0] if f["failures"] else "")]
            assert not unexplained, f"{part}: {unexplained} fail without the rule's words"


BROKEN_LAYERS = '''

import torch.autograd as _differentiate


def _linear_backward(dout, cache, need_dx=True):
    x, w, b = cache
    leaf = w.detach().requires_grad_(True)
    (dw,) = _differentiate.grad(((x.reshape(x.shape[0], -1) @ leaf) * dout).sum(), leaf)
    return None, dw, dout.sum(dim=0)


Linear.backward = staticmethod(_linear_backward)
Dropout.forward = staticmethod(lambda x, dropout_param: (x, (dropout_param, None)))
'''


@pytest.mark.long
def test_the_self_check_shows_the_rule_and_the_failing_part(student_kit, tmp_path):
    kit = tmp_path / "kit"
    shutil.copytree(student_kit, kit)
    for path in (KIT_ROOT / "assignment").glob("*.py"):
        shutil.copy(path, kit / "assignment" / path.name)
    layers = kit / "assignment" / "fully_connected_networks.py"
    layers.write_text(layers.read_text() + BROKEN_LAYERS)
    line = layers.read_text().splitlines().index(
        "    leaf = w.detach().requires_grad_(True)") + 1
    result = run_in(kit, "-m", "helpers.check", "fully_connected_networks", timeout=900)
    lines = result.stdout.splitlines()
    assert f"fully_connected_networks.Linear.backward: FAIL: Linear.backward uses torch.autograd " \
           f"(line {line}): write the backward pass by hand" in lines, result.stdout
    assert any(text.startswith("fully_connected_networks.Dropout.forward: FAIL: ")
               for text in lines), result.stdout
    loss = next(text for text in lines
                if text.startswith("fully_connected_networks.FullyConnectedNet.loss"))
    assert re.fullmatch(r".*: FAIL: blocked by [\w., ]*Dropout\.forward[\w., ]* \(fix it first\)",
                        loss), loss
    assert "Linear.forward: PASS" in result.stdout
