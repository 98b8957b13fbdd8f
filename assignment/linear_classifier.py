"""Task 1: linear classifiers for CIFAR-10: multiclass SVM and softmax (cross-entropy).

A linear classifier scores an image ``x`` (a row of D pixel values, with a
constant 1 appended by the "bias trick") for each of the C classes with
``scores = x W``, where ``W`` is [D, C]; the predicted class is the one with
the highest score. Training chooses ``W`` to minimise a loss averaged over
the training examples plus an L2 penalty ``reg * sum(W * W)``, by minibatch
stochastic gradient descent (SGD).

Conventions (for every function here): ``X`` is [N, D], ``y`` int64 [N] with
values in [0, C), ``W`` [D, C]. Losses are returned as 0-dim tensors, gradients
with the shape of ``W``. Never move inputs to another device or dtype; create
new tensors with ``torch.zeros_like`` or ``dtype=``/``device=`` of the inputs.

You write the code where a function raises NotImplementedError; the comments
above it say what to compute. The functions below the line "Given code" are complete: they
run the hyperparameter search, time the implementations and summarise results for the notebook.

Rules (``helpers/functions.py``; the self-check and grading apply them): no
``torch.autograd`` (``.backward()``, ``requires_grad``, ``torch.func``), no ``torch.nn``
(its modules, and ``torch.nn.functional`` with its losses) and no ``torch.optim`` in this
file. The losses and their gradients are written by hand, from their formulas.
"""
import math
import time
import warnings

import torch

from assignment.metrics import accuracy
from assignment.model_selection import cross_validate
from helpers.checkpoint import load_model, save_model
from helpers.gradcheck import rel_error
from helpers.progress import progress_line
from helpers.utils import time_side_by_side, timing_is_unreliable

# ---------------------------------------------------------------------------
# Multiclass SVM loss
# ---------------------------------------------------------------------------

def average_and_regularize(loss_sum, dW_sum, W, num_train, reg):
    """Given code: from sums over the N examples to the mean plus L2 regularization.

    Returns ``(loss_sum / N + reg * sum(W * W), dW_sum / N + 2 * reg * W)``.
    """
    return loss_sum / num_train + reg * torch.sum(W * W), dW_sum / num_train + 2 * reg * W


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and gradient, with explicit loops.

    For one example i with scores ``s = X[i] W`` the loss is
        L_i = sum over j != y[i] of max(0, s[j] - s[y[i]] + 1)      (margin 1)
    and the total loss is ``mean_i L_i + reg * sum(W * W)``.

    Inputs:
    - W: weights [D, C]
    - X: minibatch [N, D]
    - y: labels int64 [N], values in [0, C)
    - reg: regularization strength (float)

    Returns ``(loss, dW)``: loss a 0-dim tensor, dW the gradient [D, C].
    """
    loss = W.new_zeros(())
    dW = torch.zeros_like(W)
    # TODO: loop over the examples i and the classes j != y[i]. For every
    # positive margin, add it to the loss and add its gradient to dW: the
    # margin s[j] - s[y[i]] + 1 has gradient +X[i] w.r.t. column j of W and
    # -X[i] w.r.t. column y[i]. Accumulate SUMS over the examples: the given
    # line after your code averages them and adds the regularization.
    # BEGIN SOLUTION
    for i in range(X.shape[0]):
        scores = W.t().mv(X[i])
        correct_class_score = scores[y[i]]
        for j in range(W.shape[1]):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    # END SOLUTION
    return average_and_regularize(loss, dW, W, X.shape[0], reg)


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and gradient, vectorized (no Python loop).

    Same inputs, outputs and formula as ``svm_loss_naive``.
    """
    # TODO: compute the scores S = X W [N, C] at once, the margins
    # max(0, S - S[i, y[i]] + 1) with the correct class set to 0, and the loss.
    # For the gradient build a matrix M [N, C] with M[i, j] = 1 where the
    # margin is positive and M[i, y[i]] = -(number of positive margins of
    # row i); then dW = X^T M / N + 2 * reg * W.
    # BEGIN SOLUTION
    num_train = X.shape[0]
    scores = X.mm(W)
    correct_class_scores = scores.gather(1, y.view(-1, 1))
    margins = (scores - correct_class_scores + 1).clamp(min=0)
    margins = margins.scatter(1, y.view(-1, 1), 0.0)
    loss = margins.sum() / num_train + reg * torch.sum(W * W)
    indicator = (margins > 0).to(X.dtype)
    indicator.scatter_(1, y.view(-1, 1), -indicator.sum(dim=1, keepdim=True))
    dW = X.t().mm(indicator) / num_train + 2 * reg * W
    # END SOLUTION
    return loss, dW


# ---------------------------------------------------------------------------
# Softmax (cross-entropy) loss
# ---------------------------------------------------------------------------

def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and gradient, with explicit loops.

    For one example with scores ``s = X[i] W`` (a row of C values), the class
    probabilities are ``p[j] = exp(s[j]) / sum_k exp(s[k])`` and the loss is
    ``L_i = -log p[y[i]]``; the total loss is ``mean_i L_i + reg * sum(W * W)``.
    The gradient of L_i w.r.t. column j of W is ``(p[j] - [j == y[i]]) X[i]``.

    Numerical stability: compute with the shifted scores ``t = s - m``,
    ``m = max_k s[k]`` (this does not change p), and write the loss as

        L_i = log(sum_k exp(t[k])) - t[y[i]]

    Both parts matter: without the shift ``exp`` overflows for scores of a few
    hundred (inf / inf = nan); and ``-log(p[y[i]])`` computed from p itself is
    inf whenever ``p[y[i]]`` underflows to 0 (a correct class scoring about
    750 below the best in float64, 100 in float32), while the form above stays
    finite. Use p (from the shifted scores) only for the gradient.

    Inputs and outputs as in ``svm_loss_naive``.
    """
    loss = W.new_zeros(())
    dW = torch.zeros_like(W)
    # TODO: loop over the examples (and the classes for the gradient) as the
    # docstring says, accumulating SUMS of L_i (in the stable form
    # log(sum_k exp(t[k])) - t[y[i]] with t = s - max(s)) and of its gradient;
    # the given line after your code averages them and adds the regularization.
    # BEGIN SOLUTION
    for i in range(X.shape[0]):
        scores = W.t().mv(X[i])
        scores = scores - scores.max()
        exp_scores = scores.exp()
        normalizer = exp_scores.sum()
        loss += torch.log(normalizer) - scores[y[i]]
        for j in range(W.shape[1]):
            probability = exp_scores[j] / normalizer
            indicator = 1.0 if j == y[i] else 0.0
            dW[:, j] += (probability - indicator) * X[i]
    # END SOLUTION
    return average_and_regularize(loss, dW, W, X.shape[0], reg)


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and gradient, vectorized (no Python loop).

    Same inputs, outputs and formula as ``softmax_loss_naive``; numerically
    stable for large scores.
    """
    # TODO: scores S = X W [N, C]; subtract each row's maximum; log-probabilities
    # log p = S - log(sum_k exp(S[:, k])) (never the log of p itself, which is
    # -inf where p underflows to 0); loss = -mean_i log p[i, y[i]] plus the
    # regularization. Gradient: dS = p with 1 subtracted at (i, y[i]);
    # dW = X^T dS / N + 2 * reg * W.
    # BEGIN SOLUTION
    num_train = X.shape[0]
    scores = X.mm(W)
    scores = scores - scores.max(dim=1, keepdim=True).values
    log_probs = scores - scores.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs.gather(1, y.view(-1, 1)).sum() / num_train + reg * torch.sum(W * W)
    dscores = log_probs.exp()
    dscores[torch.arange(num_train, device=X.device), y] -= 1
    dW = X.t().mm(dscores) / num_train + 2 * reg * W
    # END SOLUTION
    return loss, dW


# ---------------------------------------------------------------------------
# Training by minibatch SGD, and prediction
# ---------------------------------------------------------------------------

def sample_batch(X, y, num_train, batch_size):
    """Draw a random minibatch of ``batch_size`` examples, with replacement.

    Inputs: X [N, D], y [N], num_train (= N, the number of examples to draw
    from), batch_size (>= 1).
    Returns ``(X_batch [batch_size, D], y_batch [batch_size])``: row k of
    X_batch is the example whose label is y_batch[k].
    Raises ValueError if batch_size < 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    # TODO: draw batch_size indices in [0, num_train) with torch.randint (on
    # X's device) and index X and y with them.
    # BEGIN SOLUTION
    indices = torch.randint(num_train, (batch_size,), device=X.device)
    X_batch = X[indices]
    y_batch = y[indices.to(y.device)]
    # END SOLUTION
    return X_batch, y_batch


def train_linear_classifier(loss_func, W, X, y, learning_rate=1e-3, reg=1e-5,
                            num_iters=100, batch_size=200, verbose=False):
    """Train a linear classifier by minibatch stochastic gradient descent.

    Inputs:
    - loss_func: ``(W, X_batch, y_batch, reg) -> (loss, dW)``, e.g.
      ``svm_loss_vectorized``
    - W: initial weights [D, C], or None to start from ``1e-6 * randn(D, C)``
      with ``C = max(y) + 1``; a given W is copied, never changed in place
    - X: training data [N, D]; y: labels int64 [N]
    - learning_rate, reg: step size and regularization strength
    - num_iters: number of SGD steps; batch_size: examples per step
    - verbose: print ``Iteration i / num_iters: loss L`` every 100 iterations

    Returns ``(W, loss_history)``: the trained weights and a list of the
    minibatch loss (Python floats) before each step. If a loss is not finite
    (the learning rate is too large) training stops there with a
    RuntimeWarning, and the history holds only the finite losses before it.
    """
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of examples, "
                         f"got {X.shape[0]} and {y.shape[0]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if num_iters < 0:
        raise ValueError(f"num_iters must be >= 0, got {num_iters}")
    num_train, dim = X.shape
    if W is None:
        num_classes = int(y.max().item()) + 1
        W = 1e-6 * torch.randn(dim, num_classes, device=X.device, dtype=X.dtype)
    else:
        W = W.clone()

    losses = []
    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
        loss, grad = loss_func(W, X_batch, y_batch, reg)
        loss = torch.as_tensor(loss)
        if not torch.isfinite(loss):
            warnings.warn(f"train_linear_classifier: the loss is {loss.item()} at iteration {it} "
                          f"with learning rate {learning_rate:g}; training stopped (try a "
                          f"smaller learning rate)", RuntimeWarning, stacklevel=2)
            break
        losses.append(loss)
        # TODO: one SGD step: move W against the gradient, scaled by the
        # learning rate. W is the copy made above, so an in-place update
        # leaves the caller's W unchanged (which the checks test).
        # BEGIN SOLUTION
        W -= learning_rate * grad
        # END SOLUTION
        if verbose and it % 100 == 0:
            print(f"Iteration {it} / {num_iters}: loss {loss.item():f}")
    loss_history = torch.stack(losses).tolist() if losses else []
    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict the class of each row of X: the index of its highest score.

    Inputs: W [D, C], X [N, D]. Returns int64 [N] on X's device.
    """
    # TODO: scores X W, then the arg max over the classes.
    # BEGIN SOLUTION
    y_pred = X.mm(W).argmax(dim=1)
    # END SOLUTION
    return y_pred


# ---------------------------------------------------------------------------
# Classifier classes (given code)
# ---------------------------------------------------------------------------

class LinearClassifier:
    """A linear classifier with weights ``W`` [D, C]; subclasses choose the loss."""

    def __init__(self):
        self.W = None

    def train(self, X_train, y_train, learning_rate=1e-3, reg=1e-5, num_iters=100,
              batch_size=200, verbose=False):
        """Train by SGD from the current weights (random when None); returns the loss history."""
        self.W, loss_history = train_linear_classifier(
            self.loss, self.W, X_train, y_train, learning_rate=learning_rate, reg=reg,
            num_iters=num_iters, batch_size=batch_size, verbose=verbose)
        return loss_history

    def predict(self, X):
        """Predicted labels int64 [N] of the rows of X [N, D]."""
        if self.W is None:
            raise ValueError("the classifier has no weights yet: train or load it first")
        return predict_linear_classifier(self.W, X)

    def loss(self, W, X_batch, y_batch, reg):
        """``(loss, dW)`` of this classifier's loss; defined by the subclasses."""
        raise NotImplementedError("use LinearSVM or Softmax, which define the loss")

    def save(self, path):
        """Write the weights ``W`` [D, C] to ``path`` (the kit's checkpoint format,
        ``helpers.checkpoint``)."""
        save_model(path, "linear", {}, {"W": self.W})

    def load(self, path, map_location=None):
        """Read weights written by ``save``; ``map_location`` as in ``Tensor.to``
        (default: the CPU). Returns self."""
        _, params = load_model(path, kind="linear")
        self.W = params["W"].to(map_location or "cpu")
        return self


class LinearSVM(LinearClassifier):
    """Linear classifier with the multiclass SVM (hinge) loss."""

    def loss(self, W, X_batch, y_batch, reg):
        return svm_loss_vectorized(W, X_batch, y_batch, reg)


class Softmax(LinearClassifier):
    """Linear classifier with the softmax (cross-entropy) loss."""

    def loss(self, W, X_batch, y_batch, reg):
        return softmax_loss_vectorized(W, X_batch, y_batch, reg)


# ---------------------------------------------------------------------------
# Hyperparameters
# ---------------------------------------------------------------------------

def svm_get_search_params():
    """Candidate hyperparameters of the SVM for the cross-validated grid search.

    Returns ``(learning_rates, regularization_strengths)``: two lists of
    positive floats. Keep the grid small (a few values each, spaced by
    factors of about 3 to 10): every pair is trained k times.

    Where to start, for the notebook's data (pixels in [0, 1] minus the mean
    image, the bias trick, batches of 200): learning rates ``1e-3, 1e-2, 1e-1``
    and regularization strengths ``1e-4, 1e-3, 1e-2``. A rate that is too large
    shows up as "diverged" in the search; then narrow the grid, by factors of
    about 3, around the best cell. Both classifiers work in the same range.
    """
    # TODO: choose the candidate values (start wide, then narrow around the best).
    # BEGIN SOLUTION
    # The last learning rate is deliberately far too large: it shows a diverged run.
    learning_rates = [3e-3, 1e-2, 3e-2, 1e4]
    regularization_strengths = [1e-3, 1e-2]
    # END SOLUTION
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Candidate hyperparameters of the softmax classifier; as ``svm_get_search_params``
    (the same starting range: learning rates ``1e-3, 1e-2, 1e-1``, regularization
    strengths ``1e-4, 1e-3, 1e-2``)."""
    # TODO: choose the candidate values.
    # BEGIN SOLUTION
    # The last learning rate is deliberately far too large: it shows a diverged run.
    learning_rates = [3e-2, 1e-1, 3e-1, 1e4]
    regularization_strengths = [1e-4, 1e-3]
    # END SOLUTION
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train a fresh ``cls()`` (LinearSVM or Softmax) with one setting and evaluate it.

    Inputs:
    - cls: the classifier class
    - data_dict: dict with ``X_train``, ``y_train``, ``X_val``, ``y_val``
    - lr, reg: learning rate and regularization strength
    - num_iters: number of SGD iterations (batch size 200)

    Returns ``(classifier, train_acc, val_acc)``: the trained classifier and
    its accuracy (a float in [0, 1]) on the training and validation data.
    """
    classifier = cls()
    # TODO: train the classifier on the training data, then compute its
    # accuracy on the training and validation data with metrics.accuracy.
    # BEGIN SOLUTION
    classifier.train(data_dict["X_train"], data_dict["y_train"], learning_rate=lr, reg=reg,
                     num_iters=num_iters)
    train_acc = accuracy(data_dict["y_train"], classifier.predict(data_dict["X_train"]))
    val_acc = accuracy(data_dict["y_val"], classifier.predict(data_dict["X_val"]))
    # END SOLUTION
    return classifier, train_acc, val_acc


# ===========================================================================
# Given code: search, timing and evaluation used by the notebook.
# ===========================================================================

def cross_validated_grid_search(cls, X, y, learning_rates, regularization_strengths, *,
                                k=5, num_iters=1000, batch_size=200, seed=0):
    """k-fold cross-validation of ``cls()`` for every (learning rate, reg) pair.

    For each pair, ``cross_validate`` trains a fresh classifier on k-1 folds
    and scores its accuracy on the held-out fold. A run whose loss stopped
    being finite counts as diverged: its fold score is NaN, and so is the
    pair's mean and std (such runs are quiet here; see ``diverged``).

    Returns a dict:
    - ``learning_rates``, ``regularization_strengths``: the grid (rows, columns)
    - ``fold_acc``: float64 [R, S, k] validation accuracy of every fold
    - ``mean_acc``, ``std_acc``: float64 [R, S] (std over the folds, ddof 0)
    - ``diverged``: bool [R, S], True where any fold diverged
    - ``best_lr``, ``best_reg``, ``best_mean_acc``: the pair with the highest
      mean accuracy among those that did not diverge (None/NaN if all did)
    """
    learning_rates, regularization_strengths = list(learning_rates), list(regularization_strengths)
    fold_acc = torch.full((len(learning_rates), len(regularization_strengths), k), math.nan,
                          dtype=torch.float64)
    line = progress_line(total=len(learning_rates) * len(regularization_strengths),
                         what=f"{k}-fold cross-validation", unit="setting")
    for row, lr in enumerate(learning_rates):
        for col, reg in enumerate(regularization_strengths):
            def fit_and_score(X_train, y_train, X_val, y_val, lr=lr, reg=reg):
                classifier = cls()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    history = classifier.train(X_train, y_train, learning_rate=lr, reg=reg,
                                               num_iters=num_iters, batch_size=batch_size)
                if len(history) < num_iters:
                    return math.nan
                return accuracy(y_val, classifier.predict(X_val))

            fold_acc[row, col] = cross_validate(fit_and_score, X, y, k, seed=seed)
            best = fold_acc.mean(dim=2).nan_to_num(-1.0).max().item()   # NaN: diverged
            if best >= 0:
                line.set_postfix_str(f"best mean acc so far {best:.4f}", refresh=False)
            line.update()
    line.close()
    diverged = fold_acc.isnan().any(dim=2)
    mean_acc = fold_acc.mean(dim=2)
    std_acc = fold_acc.std(dim=2, correction=0)
    results = {
        "learning_rates": learning_rates,
        "regularization_strengths": regularization_strengths,
        "fold_acc": fold_acc, "mean_acc": mean_acc, "std_acc": std_acc, "diverged": diverged,
        "best_lr": None, "best_reg": None, "best_mean_acc": math.nan,
    }
    if not diverged.all():
        best = torch.where(diverged, -math.inf, mean_acc).argmax().item()
        row, col = divmod(best, len(regularization_strengths))
        results.update(best_lr=learning_rates[row], best_reg=regularization_strengths[col],
                       best_mean_acc=mean_acc[row, col].item())
    return results


def search_and_retrain(cls, data_dict, learning_rates, regularization_strengths, *,
                       num_cv=None, k=5, cv_iters=1000, final_iters=2000, seed=0):
    """Choose (learning rate, reg) by k-fold CV, then retrain the best on all the training data.

    The cross-validation uses the first ``num_cv`` training examples (all of
    them when None) with ``cv_iters`` SGD iterations per run; the retraining
    uses ``test_one_param_set`` on the whole training split with
    ``final_iters`` iterations.

    Returns a dict: ``cv`` (the ``cross_validated_grid_search`` results),
    ``classifier`` (the retrained best), ``train_acc``, ``val_acc``, and the
    wall times ``cv_time`` and ``train_time`` in seconds.
    """
    X_cv, y_cv = data_dict["X_train"][:num_cv], data_dict["y_train"][:num_cv]
    start = time.perf_counter()
    cv = cross_validated_grid_search(cls, X_cv, y_cv, learning_rates, regularization_strengths,
                                     k=k, num_iters=cv_iters, seed=seed)
    cv_time = time.perf_counter() - start
    if cv["best_lr"] is None:
        raise RuntimeError("every hyperparameter setting diverged: try smaller learning rates")
    print(f"retraining learning rate {cv['best_lr']:g}, reg {cv['best_reg']:g} on all "
          f"{data_dict['X_train'].shape[0]} training images ({final_iters} iterations) ...",
          flush=True)
    start = time.perf_counter()
    classifier, train_acc, val_acc = test_one_param_set(cls, data_dict, cv["best_lr"],
                                                        cv["best_reg"], num_iters=final_iters)
    train_time = time.perf_counter() - start
    return {"cv": cv, "classifier": classifier, "train_acc": train_acc, "val_acc": val_acc,
            "cv_time": cv_time, "train_time": train_time}


def grid_cell_text(results):
    """Cell labels ``"mean\n+- std"`` (or ``"diverged"``) for a heatmap of CV results."""
    return [["diverged" if results["diverged"][row, col] else
             f"{results['mean_acc'][row, col]:.3f}\n\u00b1{results['std_acc'][row, col]:.3f}"
             for col in range(len(results["regularization_strengths"]))]
            for row in range(len(results["learning_rates"]))]


def format_grid_results(results):
    """The cross-validation results as a text table, one line per setting."""
    lines = [f"{'learning rate':>14} {'reg':>10}   CV accuracy (mean +- std)"]
    for row, lr in enumerate(results["learning_rates"]):
        for col, reg in enumerate(results["regularization_strengths"]):
            if results["diverged"][row, col]:
                score = "diverged"
            else:
                score = f"{results['mean_acc'][row, col]:.4f} +- {results['std_acc'][row, col]:.4f}"
            best = lr == results["best_lr"] and reg == results["best_reg"]
            lines.append(f"{lr:>14g} {reg:>10g}   {score}{'   <- best' if best else ''}")
    return "\n".join(lines)


def _round_times(function, repeats, device):
    """Wall time of each of ``repeats`` calls of ``function()`` (seconds)."""
    return time_side_by_side({"call": function}, repeats, device)["call"]


def compare_loss_implementations(naive, vectorized, W, X, y, reg, repeats=3):
    """Check that two loss implementations agree and time them.

    Returns a dict: ``loss_error`` and ``grad_error`` (rel_error between the
    two losses and gradients), ``naive_time`` and ``vectorized_time``
    (seconds, best of ``repeats`` calls; the vectorized one gets 10x the
    repeats since it is fast), ``speedup`` (naive / vectorized time), and
    ``unreliable`` (True when the rounds disagree so much that other programs
    must have been using the CPU: see ``helpers.utils.timing_is_unreliable``).
    """
    loss_naive, grad_naive = naive(W, X, y, reg)
    loss_vec, grad_vec = vectorized(W, X, y, reg)
    times = {"naive": _round_times(lambda: naive(W, X, y, reg), repeats, X.device),
             "vectorized": _round_times(lambda: vectorized(W, X, y, reg), 10 * repeats, X.device)}
    naive_time, vectorized_time = min(times["naive"]), min(times["vectorized"])
    return {
        "loss_error": rel_error(loss_naive, loss_vec),
        "grad_error": rel_error(grad_naive, grad_vec),
        "naive_time": naive_time,
        "vectorized_time": vectorized_time,
        "speedup": naive_time / max(vectorized_time, 1e-12),
        "unreliable": timing_is_unreliable(times),
    }


def per_example_losses(loss_func, scores, y):
    """Loss of each example, given its class scores directly (no regularization).

    Writing scores ``S`` [N, C] as ``X W`` with ``X`` the identity [N, N] and
    ``W = S`` lets the linear-classifier loss functions score hand-made
    examples, such as the cat/car/frog example of the notebook.
    Returns float64 [N] (CPU).
    """
    X = torch.eye(scores.shape[0], dtype=scores.dtype, device=scores.device)
    losses = [loss_func(scores, X[i:i + 1], y[i:i + 1], 0.0)[0] for i in range(scores.shape[0])]
    return torch.stack(losses).to(device="cpu", dtype=torch.float64)
