"""Library support for the chapter "Choosing an optimizer": the separable
problem of Wilson et al. (2017), ``optlib.data.wilson_separable``.

Checked against the construction written out by hand (one block of five
features per example), the closed-form minimum-norm solution, and the
argument of the paper's Lemma 3.1 (adaptive methods stay on the ray of
sign(X^T y)).
"""
import numpy as np
import pytest

import optlib
from optlib.data import wilson_separable


def by_hand(y):
    """The feature matrix written out from the paper's formula, 1-based j."""
    n = len(y)
    X = np.zeros((n, 3 + 5 * n))
    for i in range(1, n + 1):
        X[i - 1, 0] = y[i - 1]
        X[i - 1, 1] = X[i - 1, 2] = 1.0
        first = 4 + 5 * (i - 1)
        for j in range(first, first + int(2 * (1 - y[i - 1])) + 1):
            X[i - 1, j - 1] = 1.0
    return X


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_matches_the_formula_written_out(seed):
    (X, y), (X_test, y_test) = wilson_separable(12, 5, p=0.6, seed=seed)
    assert X.shape == (12, 3 + 5 * 17) and X_test.shape == (5, 3 + 5 * 17)
    y_all = np.concatenate([y, y_test])
    assert set(np.unique(y_all)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(np.vstack([X, X_test]), by_hand(y_all))
    # one feature set in the own block for y = +1, five for y = -1
    assert np.all(X[:, 3:].sum(axis=1) == np.where(y > 0, 1, 5))


def test_labels_follow_p():
    (_, y), _ = wilson_separable(3000, 0, p=0.7, seed=3)
    share = np.mean(y > 0)
    se = np.sqrt(0.7 * 0.3 / 3000)
    assert abs(share - 0.7) < 5 * se


def test_same_seed_same_data_and_seed_changes_labels():
    a = wilson_separable(30, 10, seed=5)
    b = wilson_separable(30, 10, seed=5)
    c = wilson_separable(30, 10, seed=6)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    assert not np.array_equal(a[0][1], c[0][1])


def test_sign_condition_of_the_lemma():
    # X sign(X^T y) = 4 y whenever there are more positive than negative labels
    (X, y), _ = wilson_separable(40, 0, p=0.7, seed=0)
    assert np.sum(y > 0) > np.sum(y < 0)
    np.testing.assert_array_equal(X @ np.sign(X.T @ y), 4 * y)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_minimum_norm_solution_classifies_every_test_point(seed):
    (X, y), (X_test, y_test) = wilson_separable(30, 200, p=0.7, seed=seed)
    assert 0 < np.sum(y > 0) < len(y)                 # both classes in training
    w = np.linalg.lstsq(X, y, rcond=None)[0]          # minimum norm
    np.testing.assert_allclose(X @ w, y, atol=1e-10)  # interpolates
    assert np.all(np.sign(X_test @ w) == y_test)
    # the sign solution interpolates too and calls every test point positive
    w_sign = np.sign(X.T @ y) / 4
    np.testing.assert_allclose(X @ w_sign, y, atol=1e-12)
    assert np.all(X_test @ w_sign > 0)


@pytest.mark.parametrize("make", [lambda: optlib.Adagrad(lr=0.05),
                                  lambda: optlib.RMSprop(lr=0.01),
                                  lambda: optlib.Adam(lr=0.01)])
def test_adaptive_iterates_stay_on_the_sign_ray(make):
    (X, y), (X_test, y_test) = wilson_separable(30, 50, p=0.7, seed=0)
    direction = np.sign(X.T @ y)
    w, opt = np.zeros(X.shape[1]), make()
    for _ in range(300):
        opt.step(w, X.T @ (X @ w - y) / len(y))
        scale = w[0]
        # eps (1e-8 against gradients of at least 1/30) bends the ray by < 1e-4
        np.testing.assert_allclose(w, scale * direction, rtol=1e-4, atol=1e-12)
    assert w[0] > 0 and np.all(X_test @ w > 0)


def test_gradient_descent_stays_in_the_row_space():
    (X, y), _ = wilson_separable(20, 0, p=0.7, seed=1)
    w, opt = np.zeros(X.shape[1]), optlib.Momentum(lr=0.1)
    for _ in range(50):
        opt.step(w, X.T @ (X @ w - y) / len(y))
    coef = np.linalg.lstsq(X.T, w, rcond=None)[0]
    np.testing.assert_allclose(X.T @ coef, w, atol=1e-10)


@pytest.mark.parametrize("kwargs", [dict(n_train=0, n_test=1), dict(n_train=2, n_test=-1),
                                    dict(n_train=2.5, n_test=1),
                                    dict(n_train=3, n_test=1, p=1.0),
                                    dict(n_train=3, n_test=1, p=0.0)])
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        wilson_separable(**kwargs)
