"""Hidden checks of model selection (instructor only): odd sizes and leave-one-out."""
import pytest
import torch

from assignment.model_selection import cross_validate, k_fold_indices


@pytest.mark.student("k_fold_indices")
@pytest.mark.parametrize("num_examples,k", [(23, 4), (7, 7), (101, 10)])
def test_folds_partition_odd_sizes(num_examples, k):
    folds = k_fold_indices(num_examples, k, seed=3)
    assert len(folds) == k
    val = torch.cat([v for _, v in folds]).sort().values
    assert torch.equal(val, torch.arange(num_examples)), "validation folds partition the indices"
    sizes = [len(v) for _, v in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, v in folds:
        assert len(train) + len(v) == num_examples
        assert not set(train.tolist()) & set(v.tolist())


@pytest.mark.student("cross_validate")
def test_cross_validate_passes_the_right_rows():
    X = torch.arange(30, dtype=torch.float64).reshape(15, 2)
    y = torch.arange(15)

    def fit_and_score(X_train, y_train, X_val, y_val):
        assert torch.equal(X_train[:, 0], 2 * y_train.to(torch.float64)), (
            "rows and labels stay paired"
        )
        return float(len(y_val))

    scores = cross_validate(fit_and_score, X, y, k=4, seed=1)
    assert scores.dtype == torch.float64 and scores.shape == (4,)
    assert scores.sum().item() == 15
