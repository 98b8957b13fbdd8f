"""Numeric gradients agree with torch.autograd; rel_error follows the SPEC formula."""
import math

import pytest
import torch

from helpers.gradcheck import compute_numeric_gradient, grad_check_sparse, rel_error
from helpers.utils import reset_seed


def autograd_gradient(f, x, dLdf=None):
    x = x.clone().requires_grad_(True)
    y = f(x)
    y.backward(torch.ones_like(y) if dLdf is None else dLdf)
    return x.grad


FUNCTIONS = {
    "sin times square": lambda x: (torch.sin(x) * x ** 2).sum(),
    "logsumexp of rows": lambda x: torch.logsumexp(x.reshape(3, -1), dim=1).sum(),
    "softplus of a matrix product": lambda x: torch.nn.functional.softplus(
        x.reshape(3, 4) @ x.reshape(4, 3)).sum(),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_numeric_gradient_matches_autograd(name):
    f = FUNCTIONS[name]
    x = torch.randn(12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x_before = x.clone()
    numeric = compute_numeric_gradient(f, x)
    assert torch.equal(x, x_before), "x is restored after the computation"
    error = rel_error(numeric, autograd_gradient(f, x))
    assert error < 1e-7, f"{name}: rel_error {error:.2e}"


def test_numeric_gradient_with_upstream_gradient():
    f = lambda x: torch.tanh(x) * x  # noqa: E731  (vector-valued)
    x = torch.randn(3, 4, dtype=torch.float64)
    upstream = torch.randn(3, 4, dtype=torch.float64)
    numeric = compute_numeric_gradient(f, x, dLdf=upstream)
    assert numeric.shape == x.shape
    assert rel_error(numeric, autograd_gradient(f, x, upstream)) < 1e-7


def test_grad_check_sparse_tells_right_from_wrong(capsys):
    reset_seed(0)
    f = lambda x: (x ** 3).sum()  # noqa: E731
    x = 1 + torch.rand(5, 5, dtype=torch.float64)  # away from 0, where every check is informative
    assert grad_check_sparse(f, x, 3 * x ** 2, num_checks=5) < 1e-7
    assert "relative error" in capsys.readouterr().out
    assert grad_check_sparse(f, x, 2 * x ** 2 + 1, num_checks=5) > 1e-2


def test_rel_error_formula():
    assert rel_error(torch.ones(3), torch.ones(3)) == 0.0
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0])
    assert math.isclose(rel_error(x, y), 1.0 / 5.0)
    assert rel_error(torch.zeros(2), torch.zeros(2)) == 0.0
    assert math.isclose(
        rel_error(torch.zeros(1, dtype=torch.float64), torch.tensor([1e-12], dtype=torch.float64)),
        1e-12 / 1e-10,
    )
