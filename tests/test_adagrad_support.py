"""Library support for the AdaGrad chapter: the rotated quadratic, the sparse
logistic-regression generator and the batched logistic loss.

Every number is checked against something independent: central differences,
a rotation done by hand, binomial confidence bounds, the MLP's softmax loss,
and torch when it is installed.
"""
import numpy as np
import pytest

import optlib
from optlib import data, nn, surfaces
from optlib.surfaces import rotated_quadratic, trajectory


def rotation(degrees):
    t = np.deg2rad(degrees)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def central_hessian(surface, point, h=1e-5):
    cols = [(surface.grad(point + h * e) - surface.grad(point - h * e)) / (2 * h)
            for e in np.eye(2)]
    return np.stack(cols, axis=1)


# ----------------------------------------------------------------------------
# rotated_quadratic
# ----------------------------------------------------------------------------

ANGLES = [0.0, 15.0, 30.0, 45.0, -70.0, 90.0, 200.0]


@pytest.mark.parametrize("angle", ANGLES)
def test_rotated_gradient_matches_central_differences(angle):
    s = rotated_quadratic(0.3, 5.0, angle)
    rng = np.random.default_rng(1)
    pts = rng.uniform(-4, 4, size=(100, 2))
    h = 1e-6
    numeric = np.stack([(s.f(pts + h * e) - s.f(pts - h * e)) / (2 * h) for e in np.eye(2)],
                       axis=-1)
    np.testing.assert_allclose(s.grad(pts), numeric, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("angle", ANGLES)
def test_rotated_hessian_is_turned_diagonal(angle):
    a, b = 0.1, 2.0
    s = rotated_quadratic(a, b, angle)
    R = rotation(angle)
    H = central_hessian(s, np.array([0.7, -1.3]))
    np.testing.assert_allclose(H, R @ np.diag([2 * a, 2 * b]) @ R.T, atol=1e-8)
    np.testing.assert_allclose(np.linalg.eigvalsh(H), [2 * a, 2 * b], atol=1e-8)


def test_rotated_by_45_degrees_has_equal_diagonal():
    H = central_hessian(rotated_quadratic(0.1, 2.0, 45.0), np.zeros(2))
    assert H[0, 0] == pytest.approx(2.1, abs=1e-8) and H[1, 1] == pytest.approx(2.1, abs=1e-8)
    assert H[0, 1] == pytest.approx(0.1 - 2.0, abs=1e-8)


def test_angle_zero_is_quadratic_bit_for_bit():
    q, r = surfaces.quadratic(0.1, 2.0), rotated_quadratic(0.1, 2.0, 0.0)
    pts = np.random.default_rng(2).uniform(-6, 6, size=(500, 2))
    pts[0] = [-0.0, 0.0]
    assert np.array_equal(q.f(pts), r.f(pts))
    assert np.array_equal(q.grad(pts), r.grad(pts))
    assert (q.xlim, q.ylim, q.start, q.formula, q.name) == (r.xlim, r.ylim, r.start,
                                                           r.formula, r.name)


@pytest.mark.parametrize("angle", [30.0, 45.0, -120.0])
def test_rotated_surface_is_the_turned_quadratic(angle):
    q, r = surfaces.quadratic(0.1, 2.0), rotated_quadratic(0.1, 2.0, angle)
    R = rotation(angle)
    pts = np.random.default_rng(3).uniform(-5, 5, size=(200, 2))
    turned = pts @ R.T                                   # R p for every row p
    np.testing.assert_allclose(r.f(turned), q.f(pts), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.grad(turned), q.grad(pts) @ R.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.start, R @ np.array(q.start), atol=1e-12)
    # the turned window [-5, 5] x [-3, 3] fits in the new window
    corners = np.array([[x, y] for x in (-5, 5) for y in (-3, 3)]) @ R.T
    assert np.all(corners[:, 0] >= r.xlim[0] - 1e-12) and np.all(corners[:, 0] <= r.xlim[1] + 1e-12)
    assert np.all(corners[:, 1] >= r.ylim[0] - 1e-12) and np.all(corners[:, 1] <= r.ylim[1] + 1e-12)
    assert np.isclose(np.abs(corners[:, 0]).max(), r.xlim[1])


def test_gradient_descent_is_rotation_invariant_adagrad_is_not():
    q, r = surfaces.quadratic(0.1, 2.0), rotated_quadratic(0.1, 2.0, 45.0)
    R = rotation(45.0)
    gd_q = trajectory(q, optlib.SGD(lr=0.4), q.start, 30)
    gd_r = trajectory(r, optlib.SGD(lr=0.4), r.start, 30)
    np.testing.assert_allclose(gd_r, gd_q @ R.T, atol=1e-12)
    ada_q = trajectory(q, optlib.Adagrad(lr=0.4), q.start, 30)
    ada_r = trajectory(r, optlib.Adagrad(lr=0.4), r.start, 30)
    assert np.abs(ada_r - ada_q @ R.T).max() > 0.1


def test_rotated_quadratic_minimum_and_defaults():
    s = rotated_quadratic()
    assert s.f(np.zeros(2)) == 0.0 and np.array_equal(s.grad(np.zeros(2)), np.zeros(2))
    assert s.minimum == 0.0 and s.minimizers.tolist() == [[0.0, 0.0]]
    assert "45" in s.name
    assert s.xlim[0] < s.start[0] < s.xlim[1] and s.ylim[0] < s.start[1] < s.ylim[1]
    assert np.all(s.f(np.random.default_rng(4).normal(size=(50, 2))) > 0)


@pytest.mark.parametrize("kwargs", [dict(angle=np.nan), dict(angle="45"), dict(angle=True),
                                    dict(a=0.0), dict(b=-1.0)])
def test_rotated_quadratic_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        rotated_quadratic(**kwargs)


# ----------------------------------------------------------------------------
# sparse_feature_frequencies and sparse_classification
# ----------------------------------------------------------------------------

def test_frequencies_layout():
    p = data.sparse_feature_frequencies(10, rare_fraction=0.3, rare_prob=(0.01, 0.04),
                                        common_prob=0.5)
    assert p.tolist()[:7] == [0.5] * 7
    np.testing.assert_allclose(p[7:], [0.01, 0.02, 0.04])
    assert data.sparse_feature_frequencies(4, 0.5, 0.05, 0.3).tolist() == [0.3, 0.3, 0.05, 0.05]
    assert data.sparse_feature_frequencies(4, 0.0).tolist() == [0.5] * 4


@pytest.mark.parametrize("kwargs", [dict(d=0), dict(rare_fraction=1.5), dict(rare_prob=0.0),
                                    dict(rare_prob=(0.1, 0.01)), dict(rare_prob=(0.1,)),
                                    dict(common_prob=1.2)])
def test_frequencies_reject_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        data.sparse_feature_frequencies(**kwargs)


def test_sparse_classification_shapes_and_values():
    X, y, w = data.sparse_classification(300, d=20, seed=0)
    assert X.shape == (300, 20) and X.dtype == np.float64
    assert y.shape == (300,) and y.dtype == np.int64 and set(np.unique(y)) <= {0, 1}
    assert w.shape == (20,) and w.dtype == np.float64
    assert set(np.unique(X)) <= {0.0, 1.0}
    X32, _, _ = data.sparse_classification(10, d=20, seed=0, dtype=np.float32)
    assert X32.dtype == np.float32


def test_sparse_classification_is_seeded():
    a = data.sparse_classification(200, seed=[3, 1])
    b = data.sparse_classification(200, seed=[3, 1])
    c = data.sparse_classification(200, seed=[3, 2])
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_feature_frequencies_match_within_binomial_bounds():
    n, d = 40_000, 40
    X, _, _ = data.sparse_classification(n, d=d, rare_fraction=0.5, rare_prob=(0.002, 0.05),
                                         seed=5)
    p = data.sparse_feature_frequencies(d, 0.5, (0.002, 0.05), 0.5)
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(X.mean(axis=0) - p) < 5 * se)
    # features are independent: the empirical correlation of two common columns is ~0
    corr = np.corrcoef(X[:, 0], X[:, 1])[0, 1]
    assert abs(corr) < 5 / np.sqrt(n)


def test_true_weights_follow_the_documented_distribution():
    d = 20_000
    _, _, w = data.sparse_classification(1, d=d, rare_fraction=0.5, common_scale=0.3,
                                         rare_scale=2.5, seed=6)
    common, rare = w[: d // 2], w[d // 2:]
    assert set(np.unique(rare)) == {-2.5, 2.5}
    assert abs(np.mean(rare > 0) - 0.5) < 5 * 0.5 / np.sqrt(rare.size)
    assert abs(common.mean()) < 5 * 0.3 / np.sqrt(common.size)
    assert abs(common.std() / 0.3 - 1) < 0.05


def test_labels_follow_the_logistic_model():
    # P(y = 1 | x) = sigma(x^T w): compare the label frequency with the mean
    # predicted probability in bins of the true logit (independent formula 1/(1+e^-z)).
    n = 60_000
    X, y, w = data.sparse_classification(n, d=30, seed=7)
    z = X @ w
    prob = 1 / (1 + np.exp(-z))
    bins = np.quantile(z, np.linspace(0, 1, 11))
    which = np.clip(np.searchsorted(bins, z, side="right") - 1, 0, 9)
    for k in range(10):
        sel = which == k
        se = np.sqrt(np.mean(prob[sel] * (1 - prob[sel])) / sel.sum())
        assert abs(y[sel].mean() - prob[sel].mean()) < 5 * se + 1e-3, k


def test_given_weights_are_used_and_not_drawn():
    w = np.linspace(-1, 1, 8)
    X, y, w_out = data.sparse_classification(50, d=8, weights=w, seed=9)
    assert np.array_equal(w_out, w) and w_out is not w
    # without drawing weights the generator is at the same state as a fresh one
    rng = np.random.default_rng(9)
    probs = data.sparse_feature_frequencies(8)
    assert np.array_equal(X, (rng.random((50, 8)) < probs).astype(float))


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(common_scale=-1.0),
                                    dict(rare_scale=np.inf), dict(weights=np.zeros(3)),
                                    dict(dtype=np.int64)])
def test_sparse_classification_rejects_bad_arguments(kwargs):
    kwargs = {"n": 10, **kwargs}
    with pytest.raises(ValueError):
        data.sparse_classification(**kwargs)


# ----------------------------------------------------------------------------
# logistic_loss_and_grad
# ----------------------------------------------------------------------------

def small_problem(seed=0, n=40, d=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, 2, size=n)
    w = rng.normal(size=d)
    return w, X, y


def reference_loss(w, X, y, l2=0.0):
    z = X @ w
    return np.mean(np.log1p(np.exp(z)) - y * z) + 0.5 * l2 * w @ w


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_logistic_gradient_matches_central_differences(l2):
    w, X, y = small_problem()
    loss, grad = nn.logistic_loss_and_grad(w, X, y, l2=l2)
    assert isinstance(loss, float)
    assert loss == pytest.approx(reference_loss(w, X, y, l2), rel=1e-12)
    h = 1e-6
    numeric = np.array([(reference_loss(w + h * e, X, y, l2) - reference_loss(w - h * e, X, y, l2))
                        / (2 * h) for e in np.eye(len(w))])
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_logistic_loss_equals_two_class_softmax_of_mlp():
    w, X, y = small_problem(1)
    mlp = nn.MLP([6, 2], init="zeros", dtype=np.float64)
    mlp.params["W1"][:, 1] = w            # logit difference z1 - z0 = x^T w
    mlp_loss, mlp_grads = mlp.loss_and_grad(X, y)
    loss, grad = nn.logistic_loss_and_grad(w, X, y)
    assert loss == pytest.approx(mlp_loss, rel=1e-12)
    np.testing.assert_allclose(grad, mlp_grads["W1"][:, 1], rtol=1e-10, atol=1e-14)


def test_logistic_batched_equals_one_by_one():
    rng = np.random.default_rng(2)
    s, r, n, d = 3, 4, 25, 5
    X = rng.integers(0, 2, size=(s, n, d)).astype(float)
    y = rng.integers(0, 2, size=(s, n))
    W = rng.normal(size=(s, r, d))
    loss, grad = nn.logistic_loss_and_grad(W, X[:, None], y[:, None], l2=0.1)
    assert loss.shape == (s, r) and grad.shape == (s, r, d)
    for i in range(s):
        for j in range(r):
            l1, g1 = nn.logistic_loss_and_grad(W[i, j], X[i], y[i], l2=0.1)
            assert loss[i, j] == pytest.approx(l1, rel=1e-12)
            np.testing.assert_allclose(grad[i, j], g1, rtol=1e-12, atol=1e-15)
    # many weight vectors on one data set
    loss2, grad2 = nn.logistic_loss_and_grad(W[0], X[0], y[0])
    assert loss2.shape == (r,) and grad2.shape == (r, d)
    np.testing.assert_allclose(grad2[2], nn.logistic_loss_and_grad(W[0, 2], X[0], y[0])[1])


def test_logistic_extreme_logits_do_not_overflow():
    X = np.array([[1.0], [1.0]])
    y = np.array([0, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow is fine
        loss, grad = nn.logistic_loss_and_grad(np.array([1000.0]), X, y)
    # example 0 costs log(1 + e^1000) = 1000, example 1 costs ~0
    assert loss == pytest.approx(500.0, rel=1e-12)
    assert grad.tolist() == pytest.approx([0.5])


def test_logistic_keeps_float32():
    w, X, y = small_problem(3)
    loss, grad = nn.logistic_loss_and_grad(w.astype(np.float32), X, y)
    assert grad.dtype == np.float32
    assert loss == pytest.approx(reference_loss(w, X, y), rel=1e-5)


def test_logistic_drives_an_optimizer_to_the_maximum_likelihood_point():
    # gradient descent on the convex loss reaches a point where the gradient vanishes
    w, X, y = small_problem(4, n=200, d=3)
    w = np.zeros(3)
    opt = optlib.SGD(lr=1.0)
    for _ in range(2000):
        opt.step(w, nn.logistic_loss_and_grad(w, X, y, l2=0.01)[1])
    assert np.linalg.norm(nn.logistic_loss_and_grad(w, X, y, l2=0.01)[1]) < 1e-10


@pytest.mark.parametrize("case", ["w_int", "X_shape", "y_shape", "y_values", "batch", "l2"])
def test_logistic_rejects_bad_arguments(case):
    w, X, y = small_problem()
    kwargs = dict(w=w, X=X, y=y)
    if case == "w_int":
        kwargs["w"] = np.zeros(6, dtype=int)
    elif case == "X_shape":
        kwargs["X"] = X[:, :5]
    elif case == "y_shape":
        kwargs["y"] = y[:-1]
    elif case == "y_values":
        kwargs["y"] = y + 1
    elif case == "batch":
        kwargs["X"] = np.stack([X, X])            # two data sets but one weight vector
        kwargs["y"] = np.stack([y, y])
    else:
        kwargs["l2"] = -1.0
    with pytest.raises(ValueError):
        nn.logistic_loss_and_grad(**kwargs)


def test_logistic_matches_torch(torch):
    w, X, y = small_problem(5)
    wt = torch.tensor(w, requires_grad=True)
    loss_t = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(X) @ wt, torch.tensor(y, dtype=torch.float64))
    loss_t.backward()
    loss, grad = nn.logistic_loss_and_grad(w, X, y)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(grad, wt.grad.numpy(), rtol=1e-10, atol=1e-15)
