"""Tools to check hand-written gradients: relative error and numeric gradients."""
import random

import torch

from helpers.i18n import _


def rel_error(x, y, eps=1e-10):
    """Relative error ``max|x - y| / max(eps, max(|x| + |y|))`` between two tensors.

    Inputs: tensors (or numbers) of the same shape. Returns a Python float;
    values below about 1e-7 in float64 mean the two agree.
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64, device=x.device)
    top = (x - y).abs().max().item()
    bottom = (x.abs() + y.abs()).max().item()
    return top / max(eps, bottom)


def compute_numeric_gradient(f, x, dLdf=None, h=1e-7):
    """Numeric gradient of ``f`` at ``x`` by centred differences.

    Inputs:
    - f: function taking the tensor ``x`` and returning a tensor (any shape)
    - x: tensor of shape [*]; modified in place during the computation and
      restored afterwards
    - dLdf: upstream gradient with the shape of ``f(x)``; default ones, so a
      scalar ``f`` gives its plain gradient
    - h: step size

    Returns: tensor ``grad`` with the shape of ``x``, where
    ``grad[i] = sum(dLdf * (f(x + h e_i) - f(x - h e_i))) / (2 h)``.
    """
    flat_x = x.contiguous().view(-1)
    grad = torch.zeros_like(x)
    flat_grad = grad.view(-1)
    y0 = f(x)
    if dLdf is None:
        dLdf = torch.ones_like(torch.as_tensor(y0))
    for i in range(flat_x.shape[0]):
        old = flat_x[i].item()
        flat_x[i] = old + h
        y_pos = torch.as_tensor(f(x))
        flat_x[i] = old - h
        y_neg = torch.as_tensor(f(x))
        flat_x[i] = old
        flat_grad[i] = (dLdf * (y_pos - y_neg)).sum() / (2 * h)
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-7):
    """Compare ``analytic_grad`` with numeric derivatives at random entries of ``x``.

    Inputs:
    - f: function taking ``x`` and returning a scalar (tensor or float)
    - x: tensor of shape [*], modified in place and restored
    - analytic_grad: tensor of the shape of ``x``
    - num_checks: how many random entries to check

    Prints one line per entry (numeric, analytic, their relative error) and
    returns ``rel_error`` of the checked entries taken together: the largest
    difference over the largest magnitude. One entry whose true derivative is
    nearly 0 can have a large relative error of its own from rounding alone;
    taken together, only a real mistake gives a large error.
    """
    numeric_values, analytic_values = [], []
    flat_x = x.contiguous().view(-1)
    flat_grad = analytic_grad.contiguous().view(-1)
    for _check in range(num_checks):
        i = random.randrange(flat_x.shape[0])
        old = flat_x[i].item()
        flat_x[i] = old + h
        f_pos = float(f(x))
        flat_x[i] = old - h
        f_neg = float(f(x))
        flat_x[i] = old
        numeric = (f_pos - f_neg) / (2 * h)
        analytic = flat_grad[i].item()
        numeric_values.append(numeric)
        analytic_values.append(analytic)
        print(_("numerical: {numeric:f} analytic: {analytic:f}, relative error: {error:e}").format(
            numeric=numeric, analytic=analytic, error=rel_error(numeric, analytic)))
    return rel_error(torch.tensor(numeric_values, dtype=torch.float64),
                     torch.tensor(analytic_values, dtype=torch.float64))


def check_layer(name, forward, backward, inputs, seed=0, verbose=True):
    """Worst relative error of a layer's backward pass against numeric and autograd gradients.

    Inputs: ``forward(*inputs) -> (out, cache)`` and ``backward(dout, cache) -> gradients``
    (one tensor, or a tuple with one gradient per input, each shaped like its input) of a
    modular layer; ``inputs``: float64 tensors. A random upstream gradient ``dout`` (seeded
    with ``seed``, shaped like ``out``) is passed back; the reference gradients are those of
    ``sum(dout * forward(*inputs)[0])`` by centred differences and by autograd. With
    ``verbose``, prints both errors for every input. Returns a float (below about 1e-7 when
    the backward pass is right).
    """
    torch.manual_seed(seed)
    out, cache = forward(*inputs)
    dout = torch.randn_like(out)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    (forward(*leaves)[0] * dout).sum().backward()
    worst = 0.0
    for i, (x, grad, leaf) in enumerate(zip(inputs, grads, leaves)):
        numeric = compute_numeric_gradient(lambda _: forward(*inputs)[0], x, dLdf=dout, h=1e-6)
        errors = rel_error(grad, numeric), rel_error(grad, leaf.grad)
        worst = max(worst, *errors)
        if verbose:
            # Translators: {name} is a layer, {index} the number of one of its inputs.
            print(_("{name} input {index}: rel_error numeric {numeric:.2e}, autograd "
                    "{autograd:.2e}").format(name=name, index=i, numeric=errors[0],
                                             autograd=errors[1]))
    return worst


def tolerance(dtype, float64=1e-10, float32=1e-5):
    """Largest relative error accepted between two computations of the same values in
    ``dtype``: ``float64`` for torch.float64, ``float32`` for anything coarser. The checks
    choose the two bounds per file (exact formulas, or against an independent oracle)."""
    return float64 if dtype == torch.float64 else float32
