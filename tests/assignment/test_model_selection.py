"""Checks of assignment/model_selection.py: k-fold splits and cross-validation.

Each check runs one function of yours alone: while ``cross_validate`` is checked,
``k_fold_indices`` is a given stand-in (``helpers/stand_ins.py``) with other, round-robin folds.
"""
import pytest
import torch

from assignment import model_selection
from assignment.model_selection import cross_validate, k_fold_indices
from helpers.i18n import _
from helpers.stand_ins import isolate


@pytest.fixture(autouse=True)
def alone(request, monkeypatch):
    """Every function of yours but the one a check is marked with is a given stand-in."""
    isolate(request.node, monkeypatch)


@pytest.mark.student("k_fold_indices")
@pytest.mark.parametrize("num_examples,k", [(10, 2), (23, 5), (7, 7), (100, 3)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_folds_partition_the_indices(num_examples, k, shuffle):
    folds = k_fold_indices(num_examples, k, shuffle=shuffle, seed=1)
    assert len(folds) == k, \
        _("expected {k} folds, got {num_folds}").format(k=k, num_folds=len(folds))
    everything = set(range(num_examples))
    seen = []
    for fold, (train_idx, val_idx) in enumerate(folds):
        for name, idx in (("train_idx", train_idx), ("val_idx", val_idx)):
            assert idx.dtype == torch.int64, \
                _("fold {fold}: {name} must be int64, got {idx_dtype}").format(
                    fold=fold, name=name, idx_dtype=idx.dtype)
        train, val = set(train_idx.tolist()), set(val_idx.tolist())
        assert len(val) == len(val_idx), \
            _("fold {fold}: val_idx repeats an index").format(fold=fold)
        assert len(train) == len(train_idx), \
            _("fold {fold}: train_idx repeats an index").format(fold=fold)
        assert not train & val, \
            _("fold {fold}: train and val share indices {shared}").format(
                fold=fold, shared=sorted(train & val))
        assert train | val == everything, (
            _("fold {fold}: train + val must cover range({num_examples})").format(
                fold=fold, num_examples=num_examples)
        )
        seen.extend(val_idx.tolist())
    assert sorted(seen) == list(range(num_examples)), _("the val folds must partition range(N)")
    sizes = [len(val_idx) for _, val_idx in folds]
    assert max(sizes) - min(sizes) <= 1, \
        _("fold sizes {sizes} differ by more than 1").format(sizes=sizes)


@pytest.mark.student("k_fold_indices")
def test_shuffle_is_seeded_and_unshuffled_folds_are_contiguous():
    first = k_fold_indices(50, 5, seed=3)
    again = k_fold_indices(50, 5, seed=3)
    other = k_fold_indices(50, 5, seed=4)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(first, again)), (
        _("same seed must give same folds")
    )
    assert not all(torch.equal(a[1], b[1]) for a, b in zip(first, other)), \
        _("different seeds should give different folds")
    assert first[0][1].tolist() != list(range(10)), _("shuffle=True must shuffle the examples")
    plain = k_fold_indices(11, 3, shuffle=False)
    assert [v.tolist() for _, v in plain] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]], (
        _("shuffle=False folds must be consecutive, larger ones first: "
          "{folds}").format(folds=[v.tolist() for _, v in plain])
    )


@pytest.mark.student("k_fold_indices")
@pytest.mark.parametrize("num_examples,k", [(10, 1), (10, 0), (3, 4)])
def test_impossible_fold_counts_raise_value_error(num_examples, k):
    k_fold_indices(10, 2)  # a possible split works
    with pytest.raises(ValueError):
        k_fold_indices(num_examples, k)


@pytest.mark.student("cross_validate")
def test_cross_validate_calls_once_per_fold_with_the_right_data():
    X = torch.arange(40, dtype=torch.float64).reshape(20, 2)
    y = torch.arange(20)
    calls = []

    def fit_and_score(X_train, y_train, X_val, y_val):
        calls.append((X_train, y_train, X_val, y_val))
        return float(len(calls))  # score i for the i-th fold

    scores = cross_validate(fit_and_score, X, y, k=4, seed=2)
    assert len(calls) == 4, \
        _("fit_and_score must be called once per fold, called {num_calls} times").format(
            num_calls=len(calls))
    assert scores.dtype == torch.float64 and scores.shape == (4,), \
        _("scores must be float64 [k], got {scores_dtype} {scores_shape}").format(
            scores_dtype=scores.dtype, scores_shape=tuple(scores.shape))
    assert scores.tolist() == [1.0, 2.0, 3.0, 4.0], (
        _("scores must be in fold order, got {scores}").format(scores=scores.tolist())
    )
    folds = model_selection.k_fold_indices(20, 4, seed=2)  # the stand-in's folds, here
    for (X_train, y_train, X_val, y_val), (train_idx, val_idx) in zip(calls, folds):
        assert torch.equal(y_val, val_idx) and torch.equal(y_train, train_idx), \
            _("the folds must be those of k_fold_indices(N, k, seed=seed): call it, do not split "
              "here")
        assert torch.equal(X_val, X[val_idx]) and torch.equal(X_train, X[train_idx]), \
            _("X rows must stay paired with their labels")


@pytest.mark.student("cross_validate")
def test_cross_validate_keeps_nan_scores_and_checks_lengths():
    X, y = torch.randn(10, 3), torch.arange(10)
    scores = cross_validate(lambda *data: float("nan") if len(data[3]) == 5 else 1.0, X, y, k=2)
    assert scores.isnan().all(), \
        _("NaN scores (diverged runs) must be kept, got {scores}").format(scores=scores.tolist())
    with pytest.raises(ValueError):
        cross_validate(lambda *data: 1.0, X, y[:9], k=2)
