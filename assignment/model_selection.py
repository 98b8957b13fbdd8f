"""Model selection: k-fold splits and cross-validation.

A single validation split gives one noisy number per hyperparameter setting.
k-fold cross-validation splits the training data into ``k`` folds of (almost)
equal size; each fold serves once as the validation set while the model is
trained on the other ``k - 1``. The ``k`` validation scores give a mean (the
estimate) and a standard deviation (how much it varies with the split).

Rules (``helpers/functions.py``; the self-check and grading apply them): no
``torch.autograd`` (``.backward()``, ``requires_grad``, ``torch.func``), no ``torch.nn``
(its modules, and ``torch.nn.functional`` with its losses) and no ``torch.optim`` in this
file. Plain tensor operations do it all.
"""
import torch


def k_fold_indices(num_examples, k, *, shuffle=True, seed=0):
    """Split ``range(num_examples)`` into ``k`` folds for cross-validation.

    Inputs:
    - num_examples: N, the number of examples
    - k: number of folds, 2 <= k <= N
    - shuffle: if True, the examples are assigned to folds in a random order
      given by ``torch.randperm`` with a generator seeded by ``seed`` (the
      same seed always gives the same folds); if False, fold 0 holds the
      first examples, fold 1 the next ones, and so on
    - seed: seed of the shuffle

    Returns a list of ``k`` pairs ``(train_idx, val_idx)`` of int64 CPU tensors:
    the ``val_idx`` of the k folds partition ``range(N)`` (every index in
    exactly one of them), their sizes differ by at most 1 (the first
    ``N % k`` folds get one extra example), and ``train_idx`` holds every
    index that is not in ``val_idx``.

    Raises ValueError if ``k < 2`` or ``k > N``.
    """
    if k < 2:
        raise ValueError(f"k-fold cross-validation needs k >= 2 folds, got k = {k}")
    if k > num_examples:
        raise ValueError(f"cannot split {num_examples} examples into k = {k} folds")
    # TODO: build the order of the examples (a seeded permutation, or arange
    # when shuffle is False), cut it into k consecutive pieces whose sizes
    # differ by at most 1, and pair each piece with the concatenation of the
    # other pieces.
    # BEGIN SOLUTION
    if shuffle:
        order = torch.randperm(num_examples, generator=torch.Generator().manual_seed(seed))
    else:
        order = torch.arange(num_examples)
    base, extra = divmod(num_examples, k)
    sizes = [base + 1 if fold < extra else base for fold in range(k)]
    pieces = torch.split(order, sizes)
    folds = []
    for fold, val_idx in enumerate(pieces):
        train_idx = torch.cat([piece for other, piece in enumerate(pieces) if other != fold])
        folds.append((train_idx, val_idx))
    # END SOLUTION
    return folds


def cross_validate(fit_and_score, X, y, k=5, *, seed=0):
    """k-fold cross-validation of one model setting.

    Inputs:
    - fit_and_score: function ``(X_train, y_train, X_val, y_val) -> float``
      that trains a fresh model on the training part and returns its score
      (e.g. accuracy) on the validation part
    - X: data [N, D] (any device and dtype); y: labels int64 [N]
    - k: number of folds; seed: seed of the fold assignment (``k_fold_indices``
      with ``shuffle=True``)

    Returns a float64 CPU tensor [k]: the score of each fold, in fold order.
    ``fit_and_score`` is called exactly once per fold. A score may be NaN
    (e.g. a training run that diverged); it is kept as it is.

    Raises ValueError if X and y have different lengths.
    """
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of examples, "
                         f"got {X.shape[0]} and {y.shape[0]}")
    # TODO: get the folds from k_fold_indices; for each, index X and y with
    # its train and val indices (moved to the device of X, resp. y) and
    # call fit_and_score; collect the scores in a float64 tensor.
    # BEGIN SOLUTION
    scores = torch.empty(k, dtype=torch.float64)
    for fold, (train_idx, val_idx) in enumerate(k_fold_indices(X.shape[0], k, seed=seed)):
        X_train, X_val = X[train_idx.to(X.device)], X[val_idx.to(X.device)]
        y_train, y_val = y[train_idx.to(y.device)], y[val_idx.to(y.device)]
        scores[fold] = float(fit_and_score(X_train, y_train, X_val, y_val))
    # END SOLUTION
    return scores
