"""The guide docs/extending.md, followed: a new layer in a copy of the kit (instructor only).

A ``LeakyReLU`` layer (forward and backward, negative slope 0.01) is added to a copy of the kit
with exactly the files the guide's section "A layer" names: its code with solution markers,
two rows of the table of student functions, a visible and a hidden check written like the
others, and its line in the contract. Then, in the copy: the guide's one command passes (the
table agrees, and the reference passes the self-check and the hidden checks), the release
stubs the layer and its self-check says NOT IMPLEMENTED, and the grader gives the reference
zip the layer's points and a zip with the stub none. Only the part graded here is in the
zips, so the grader runs only its checks.
"""
import csv
import hashlib
import re
import shutil

import pytest

from helpers.utils import KIT_ROOT
from instructor import release
from instructor.tests.kit.hostile import pack
from instructor.tests.kit.runner import run_in

pytestmark = pytest.mark.long

PART = "fully_connected_networks"
GUIDE = KIT_ROOT / "docs" / "extending.md"
NOT_COPIED = (".git", "__pycache__", ".pytest_cache", ".ipynb_checkpoints", "data", "results",
              "saved", ".ruff_cache")

LAYER = '''

class LeakyReLU:
    """Leaky rectified linear unit, elementwise ``x`` where ``x > 0``, else ``0.01 * x``."""

    negative_slope = 0.01

    @staticmethod
    def forward(x):
        """Inputs: x of any shape. Returns ``(out, cache)``: ``out`` like x, ``cache = x``.

        TODO: out = x where x > 0, else 0.01 * x (do not modify x in place).
        """
        # BEGIN SOLUTION
        out = torch.where(x > 0, x, x * LeakyReLU.negative_slope)
        # END SOLUTION
        cache = x
        return out, cache

    @staticmethod
    def backward(dout, cache):
        """Inputs: upstream gradient ``dout`` and ``cache = x``, both of the same shape.

        Returns ``dx`` of that shape.
        TODO: the gradient is dout where x > 0, else 0.01 * dout.
        """
        x = cache
        # BEGIN SOLUTION
        dx = torch.where(x > 0, dout, dout * LeakyReLU.negative_slope)
        # END SOLUTION
        return dx
'''

CONTRACT_LINE = ("- `LeakyReLU`: static `forward(x) -> (out, cache)`, `out = x` where `x > 0` else "
                 "`0.01 * x`, `cache = x`; `backward(dout, cache) -> dx`.\n")

ROWS = '''           ("LeakyReLU.forward", {}),
           ("LeakyReLU.backward", {"task": "backward"}),
'''

VISIBLE_CHECKS = '''

@pytest.mark.student("LeakyReLU.forward")
def test_leaky_relu_forward(device_dtype):
    device, dtype = device_dtype
    x = random(5, 7, device=device, dtype=dtype)
    x_before = x.clone()
    out, _ = fcn.LeakyReLU.forward(x)
    assert torch.equal(x, x_before), "LeakyReLU.forward must not modify its input"
    assert torch.allclose(out, F.leaky_relu(x, 0.01)), \\
        "LeakyReLU.forward differs from x where x > 0, else 0.01 * x"


@pytest.mark.student("LeakyReLU.backward")
def test_leaky_relu_backward_matches_autograd_and_numeric(device_dtype):
    device, dtype = device_dtype
    x = random(5, 7, device=device, dtype=dtype)
    dout = random(5, 7, device=device, dtype=dtype, seed=1)
    dx = fcn.LeakyReLU.backward(dout, x)
    leaky = functools.partial(F.leaky_relu, negative_slope=0.01)
    (ref,) = autograd_grads(leaky, x, dout=dout)
    assert rel_error(dx, ref) < tolerance(dtype), \\
        "LeakyReLU.backward differs from autograd: dout where x > 0, else 0.01 * dout"
    if dtype == F64:
        (numeric,) = numeric_grads(leaky, x, dout=dout)
        assert rel_error(dx, numeric) < 1e-7, \\
            "LeakyReLU.backward differs from the numeric gradient"
'''

HIDDEN_CHECKS = '''

@pytest.mark.student("LeakyReLU.forward")
@DTYPES
def test_leaky_relu_forward_on_three_dimensions(dtype):
    x = with_zeros(2, 3, 5, dtype=dtype, seed=14)
    before = x.clone()
    out, _ = fcn.LeakyReLU.forward(x)
    assert torch.equal(x, before), "LeakyReLU.forward must not change its input"
    assert out.shape == x.shape and out.dtype == dtype, "the output must have the input's shape"
    assert torch.allclose(out, F.leaky_relu(before, 0.01)), \\
        "LeakyReLU.forward of a [2, 3, 5] tensor differs from F.leaky_relu"


@pytest.mark.student("LeakyReLU.backward")
@DTYPES
def test_leaky_relu_backward_at_zero(dtype):
    x = with_zeros(4, 9, dtype=dtype, seed=15)
    dout = random(4, 9, dtype=dtype, seed=16)
    dx = fcn.LeakyReLU.backward(dout, x)
    (expected,) = autograd_grads(lambda v: F.leaky_relu(v, 0.01), x, dout=dout)
    assert torch.allclose(dx, expected), \\
        "LeakyReLU.backward must give dout where x > 0, else 0.01 * dout (x == 0 included)"
'''


def guide_files(section):
    """The files a section of the guide names (backticked paths with a folder)."""
    text = GUIDE.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([\w.]+/[\w./]+\.(?:py|json|md))`", body))


def digests(root):
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in root.rglob("*")
            if path.is_file() and not set(path.relative_to(root).parts) & set(NOT_COPIED)
            and path.suffix not in (".pyc", ".pyo")}


def append(path, text):
    path.write_text(path.read_text() + text)


def add_leaky_relu(kit):
    """Follow the guide's section "A layer" in ``kit``."""
    append(kit / "assignment" / f"{PART}.py", LAYER)
    table = kit / "helpers" / "functions.py"
    anchor = '           ("ReLU.backward", {"task": "backward", "stand_in": "ReLU"}),\n'
    assert anchor in table.read_text(), "the ReLU rows moved; update this test and the guide"
    table.write_text(table.read_text().replace(anchor, anchor + ROWS))
    append(kit / "tests" / "assignment" / f"test_{PART}.py", VISIBLE_CHECKS)
    append(kit / "instructor" / "tests" / "hidden" / f"test_{PART}.py", HIDDEN_CHECKS)
    contract = kit / "docs" / "CONTRACT.md"
    anchor = "- `svm_loss(x, y)`, `softmax_loss(x, y)`"
    assert anchor in contract.read_text(), "the contract's loss line moved; update this test"
    contract.write_text(contract.read_text().replace(anchor, CONTRACT_LINE + anchor))


def zip_of(kit, folder, student_id, text):
    """A submission zip that holds only ``assignment/<PART>.py`` with ``text``."""
    (kit / "assignment").mkdir(parents=True)
    (kit / "assignment" / f"{PART}.py").write_text(text)
    return pack(kit, folder, student_id)


def test_a_new_layer_takes_the_files_the_guide_names(tmp_path, working_sandbox):
    kit = tmp_path / "kit"
    shutil.copytree(KIT_ROOT, kit, ignore=shutil.ignore_patterns(*NOT_COPIED, "*.pyc"))
    before = digests(kit)
    add_leaky_relu(kit)
    after = digests(kit)
    changed = {path for path in after if before.get(path) != after[path]}
    assert changed == guide_files("A layer"), \
        "adding a layer must change exactly the files the guide's section 'A layer' names"

    # The guide's one command: the table agrees, the reference passes its checks.
    proof = run_in(kit, "-m", "instructor.table_check", "--run", PART)
    assert proof.returncode == 0, proof.stdout[-3000:] + proof.stderr[-3000:]
    for name in ("LeakyReLU.forward", "LeakyReLU.backward"):
        assert f"{PART}.{name}: PASS" in proof.stdout, proof.stdout[-3000:]

    # The release stubs it, and its self-check says so.
    out = tmp_path / "release"
    made = run_in(kit, "-m", "instructor.release", str(out))
    assert made.returncode == 0, made.stderr
    released = (out / "assignment" / f"{PART}.py").read_text()
    assert 'raise NotImplementedError("LeakyReLU.forward: not implemented yet' in released
    stubbed = run_in(out, "-m", "helpers.check", PART)
    for name in ("LeakyReLU.forward", "LeakyReLU.backward"):
        assert f"{PART}.{name}: NOT IMPLEMENTED" in stubbed.stdout, stubbed.stdout[-3000:]
    assert "LeakyReLU.forward: 1.25 points" in run_in(out, "-m", "helpers.check", "--points",
                                                      PART).stdout
    assert "`LeakyReLU.forward` 1.25" in (out / "README.md").read_text()

    # The grader gives the reference the layer's points, and the stub none.
    source_text = (kit / "assignment" / f"{PART}.py").read_text()
    all_but_the_layer = released
    stubs = re.findall(r'raise NotImplementedError\("([\w.]+): not implemented', released)
    for name in dict.fromkeys(stubs):   # a function with two regions has two stubs
        if not name.startswith("LeakyReLU."):
            all_but_the_layer = release.fill_stubs(all_but_the_layer, source_text, name)
    zips = tmp_path / "zips"
    zips.mkdir()
    zip_of(tmp_path / "ref", zips, "ref01", source_text)
    zip_of(tmp_path / "stub", zips, "stub01", all_but_the_layer)
    graded = run_in(kit, "-m", "instructor.grade", str(zips), "--out", str(tmp_path / "g.csv"),
                    "--feedback", str(tmp_path / "feedback"), "--jobs", "2")
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    rows = {row["student_id"]: row for row in csv.DictReader((tmp_path / "g.csv").open())}
    assert float(rows["ref01"][PART]) == 30, rows["ref01"]
    assert float(rows["stub01"][PART]) == 27.5, rows["stub01"]
    ref = (tmp_path / "feedback" / "ref01.txt").read_text()
    stub = (tmp_path / "feedback" / "stub01.txt").read_text()
    for name in ("LeakyReLU.forward", "LeakyReLU.backward"):
        assert f"points for {name}: 1.25 / 1.25" in ref, ref
        assert f"points for {name}: 0 / 1.25" in stub, stub
    assert "points for ReLU.backward: 1.25 / 1.25" in stub, stub
