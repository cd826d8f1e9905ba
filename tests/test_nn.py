"""optlib.nn: gradients against finite differences and torch, closed forms, hand-built cases."""
import numpy as np
import pytest

import optlib
from optlib.nn import MLP, LinearRegression, softmax

ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear"]


def numerical_grad(f, params, h=1e-6):
    """Central differences (f(x + h e_i) - f(x - h e_i)) / 2h for every element of every array."""
    grads = {}
    for name, p in params.items():
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            up = f()
            p[i] = old - h
            down = f()
            p[i] = old
            g[i] = (up - down) / (2 * h)
        grads[name] = g
    return grads


def toy_classification(n=16, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, k, size=n)


def randomize(model, seed=1, scale=0.5):
    """Non-zero weights and biases, so no term of the gradient vanishes by accident."""
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p[...] = scale * rng.standard_normal(p.shape)


# ----------------------------------------------------------------------------
# gradients
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_mlp_gradient_matches_finite_differences(activation, l2):
    X, y = toy_classification()
    model = MLP([5, 4, 3, 3], activation=activation, dtype=np.float64)
    randomize(model)
    loss, grads = model.loss_and_grad(X, y, l2=l2)
    expected = numerical_grad(lambda: model.loss_and_grad(X, y, l2=l2)[0], model.params)
    assert list(grads) == list(model.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for name in model.params:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-6, atol=1e-8, err_msg=name)
    assert loss == pytest.approx(model.loss(X, y, l2=l2), rel=1e-12)


@pytest.mark.parametrize("l2", [0.0, 0.7])
def test_logistic_regression_gradient_matches_finite_differences(l2):
    X, y = toy_classification(n=9, d=3, k=4)
    model = MLP([3, 4], dtype=np.float64)
    randomize(model)
    _, grads = model.loss_and_grad(X, y, l2=l2)
    expected = numerical_grad(lambda: model.loss_and_grad(X, y, l2=l2)[0], model.params)
    for name in model.params:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("activation,torch_act", [("relu", "relu"), ("tanh", "tanh"),
                                                  ("sigmoid", "sigmoid"), ("linear", None)])
def test_mlp_matches_torch_autograd(torch, activation, torch_act):
    X, y = toy_classification(n=20, d=6, k=4, seed=3)
    model = MLP([6, 7, 5, 4], activation=activation, dtype=np.float64)
    randomize(model, seed=4)
    l2 = 0.05
    loss, grads = model.loss_and_grad(X, y, l2=l2)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    A = torch.tensor(X)
    for l in (1, 2, 3):
        A = A @ tp[f"W{l}"] + tp[f"b{l}"]
        if l < 3 and torch_act:
            A = getattr(torch, torch_act)(A)
    t_loss = torch.nn.functional.cross_entropy(A, torch.tensor(y))
    t_loss = t_loss + l2 / 2 * sum((tp[f"W{l}"] ** 2).sum() for l in (1, 2, 3))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    for name, p in tp.items():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


def test_float32_model_gives_float32_grads_even_for_float64_input():
    X, y = toy_classification()          # float64 data
    model = MLP([5, 6, 3], activation="tanh")
    loss, grads = model.loss_and_grad(X, y, l2=0.1)
    assert isinstance(loss, float)
    for name, p in model.params.items():
        assert p.dtype == np.float32
        assert grads[name].dtype == np.float32, name
        assert grads[name].shape == p.shape
    reg = LinearRegression(5, dtype=np.float32)
    _, grads = reg.loss_and_grad(X, X[:, 0], l2=0.1)
    assert {k: g.dtype for k, g in grads.items()} == {"w": np.float32, "b": np.float32}
    assert grads["b"].shape == ()


def test_float32_gradient_close_to_float64():
    X, y = toy_classification(n=30)
    m64 = MLP([5, 8, 3], dtype=np.float64, seed=7)
    m32 = MLP([5, 8, 3], dtype=np.float32, seed=7)
    l64, g64 = m64.loss_and_grad(X, y)
    l32, g32 = m32.loss_and_grad(X, y)
    assert l32 == pytest.approx(l64, rel=1e-5)
    for name in g64:
        np.testing.assert_allclose(g32[name], g64[name], rtol=1e-3, atol=1e-5)


def test_first_gradient_of_logistic_regression_from_zero_by_hand():
    # With W = 0, b = 0 every class has probability 1/K: loss = log K and
    # dW = X^T (1/K - Y) / n, db = mean over rows of (1/K - Y).
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]])
    y = np.array([0, 2, 2])
    model = MLP([2, 3], init="zeros", dtype=np.float64)
    loss, grads = model.loss_and_grad(X, y)
    Y = np.eye(3)[y]
    assert loss == pytest.approx(np.log(3))
    np.testing.assert_allclose(grads["W1"], X.T @ (1 / 3 - Y) / 3, atol=1e-15)
    np.testing.assert_allclose(grads["b1"], (1 / 3 - Y).mean(axis=0), atol=1e-15)


# ----------------------------------------------------------------------------
# softmax stability and the l2 penalty
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    # logits z = x W = [1000, 0, -1000]: naive exp(1000) overflows, log-sum-exp does not.
    model = MLP([1, 3], dtype=dtype)
    model.params["W1"][...] = [[1000.0, 0.0, -1000.0]]
    X = np.ones((3, 1), dtype=dtype)
    for label, expected in [(0, 0.0), (1, 1000.0), (2, 2000.0)]:
        loss, grads = model.loss_and_grad(X[:1], np.array([label]))
        assert loss == pytest.approx(expected, abs=1e-6)
        # softmax = [1, 0, 0] to machine precision, so dZ = e_0 - e_label
        np.testing.assert_allclose(grads["b1"], np.eye(3)[0] - np.eye(3)[label], atol=1e-6)
    loss, _ = model.loss_and_grad(X, np.array([0, 1, 2]))
    assert loss == pytest.approx(1000.0)


def test_softmax_of_huge_logits_is_finite_and_normalised():
    z = np.array([[1e4, 1e4 - 1.0, -1e4], [0.0, 0.0, 0.0]])
    p = softmax(z)
    e = np.exp(-1.0)
    np.testing.assert_allclose(p[0], [1 / (1 + e), e / (1 + e), 0.0], rtol=1e-12)
    np.testing.assert_allclose(p[1], [1 / 3] * 3)
    assert softmax(z.astype(np.float32)).dtype == np.float32


def test_l2_penalises_weights_only():
    X, y = toy_classification()
    model = MLP([5, 4, 3], dtype=np.float64)
    randomize(model)                      # biases non-zero: they must not be penalised
    l2 = 0.25
    loss0, grads0 = model.loss_and_grad(X, y)
    loss1, grads1 = model.loss_and_grad(X, y, l2=l2)
    W1, b1, W2, b2 = (model.params[k] for k in ("W1", "b1", "W2", "b2"))
    assert loss1 - loss0 == pytest.approx(l2 / 2 * ((W1 ** 2).sum() + (W2 ** 2).sum()), rel=1e-12)
    np.testing.assert_allclose(grads1["W1"] - grads0["W1"], l2 * W1, atol=1e-14)
    np.testing.assert_allclose(grads1["W2"] - grads0["W2"], l2 * W2, atol=1e-14)
    np.testing.assert_array_equal(grads1["b1"], grads0["b1"])
    np.testing.assert_array_equal(grads1["b2"], grads0["b2"])


def test_l2_equals_sgd_weight_decay_on_the_weights():
    # loss with l2=λ and plain SGD takes the same step as loss without it and
    # SGD(weight_decay=λ) on the weights (the library's two spellings of L2).
    X, y = toy_classification()
    a = MLP([5, 4, 3], dtype=np.float64, seed=2)
    b = MLP([5, 4, 3], dtype=np.float64, seed=2)
    optlib.SGD(lr=0.1).step(a.params, a.loss_and_grad(X, y, l2=0.2)[1])
    _, grads = b.loss_and_grad(X, y)
    weights = {k: v for k, v in b.params.items() if k.startswith("W")}
    optlib.SGD(lr=0.1, weight_decay=0.2).step(weights, {k: grads[k] for k in weights})
    optlib.SGD(lr=0.1).step({k: b.params[k] for k in ("b1", "b2")}, {k: grads[k] for k in ("b1", "b2")})
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=1e-13)


# ----------------------------------------------------------------------------
# predict, accuracy, evaluate on hand-built models
# ----------------------------------------------------------------------------

def test_predict_and_accuracy_on_a_hand_built_classifier():
    model = MLP([2, 2], dtype=np.float64)
    model.params["W1"][...] = np.eye(2)     # logits = x: the class is the larger coordinate
    model.params["b1"][...] = 0.0
    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    y = np.array([0, 1, 1, 1])
    np.testing.assert_array_equal(model.predict(X), [0, 1, 0, 1])
    assert model.accuracy(X, y) == 0.75
    e = np.exp(1.0)
    np.testing.assert_allclose(model.predict_proba(X)[0], [e / (e + 1), 1 / (e + 1)])
    result = model.evaluate(X, y, batch_size=3)          # two chunks: 3 rows + 1 row
    expected_loss = np.mean([np.log1p(np.exp(-1)), np.log1p(np.exp(-1)),
                             np.log1p(np.exp(1)), np.log1p(np.exp(-3))])
    assert result["accuracy"] == 0.75
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-12)


def test_predict_through_a_hidden_relu_layer():
    # h = relu([x, -x]); logits = [h1, h2]: class 0 for x > 0, class 1 for x < 0.
    model = MLP([1, 2, 2], activation="relu", dtype=np.float64)
    model.params["W1"][...] = [[1.0, -1.0]]
    model.params["b1"][...] = 0.0
    model.params["W2"][...] = np.eye(2)
    model.params["b2"][...] = [0.0, 0.5]
    X = np.array([[2.0], [0.3], [-1.0], [0.0]])
    np.testing.assert_array_equal(model.logits(X), [[2.0, 0.5], [0.3, 0.5], [0.0, 1.5], [0.0, 0.5]])
    np.testing.assert_array_equal(model.predict(X), [0, 1, 1, 1])


def test_sigmoid_activation_values_and_no_overflow():
    model = MLP([1, 1, 2], activation="sigmoid", dtype=np.float32)
    model.params["W1"][...] = 1.0
    model.params["W2"][...] = [[1.0, 0.0]]
    X = np.array([[-1000.0], [0.0], [2.0], [1000.0]], dtype=np.float32)
    hidden = model.logits(X)[:, 0]
    np.testing.assert_allclose(hidden, [0.0, 0.5, 1 / (1 + np.exp(-2.0)), 1.0], rtol=1e-6, atol=1e-30)


# ----------------------------------------------------------------------------
# construction
# ----------------------------------------------------------------------------

def test_parameter_names_shapes_and_zero_biases():
    model = MLP([784, 100, 10])
    assert {k: v.shape for k, v in model.params.items()} == {
        "W1": (784, 100), "b1": (100,), "W2": (100, 10), "b2": (10,)}
    assert model.n_params == 784 * 100 + 100 + 100 * 10 + 10
    assert not model.params["b1"].any() and not model.params["b2"].any()
    assert "MLP([784, 100, 10]" in repr(model)


def test_he_and_xavier_initial_scales():
    he = MLP([1000, 400, 10], init="he", dtype=np.float64)
    assert he.params["W1"].std() == pytest.approx(np.sqrt(2 / 1000), rel=0.02)
    assert abs(he.params["W1"].mean()) < 1e-3
    xavier = MLP([1000, 400, 10], init="glorot", activation="tanh", dtype=np.float64)
    bound = np.sqrt(6 / 1400)
    W = xavier.params["W1"]
    assert W.min() >= -bound and W.max() <= bound
    assert W.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)     # std of U(-a, a)
    zeros = MLP([5, 3], init="zeros")
    assert not zeros.params["W1"].any()


def test_same_seed_same_weights_and_dtypes_agree():
    a, b, c = MLP([6, 5, 2], seed=3), MLP([6, 5, 2], seed=3), MLP([6, 5, 2], seed=4)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    d = MLP([6, 5, 2], seed=3, dtype=np.float64)
    np.testing.assert_array_equal(a.params["W1"], d.params["W1"].astype(np.float32))


@pytest.mark.parametrize("kwargs,match", [
    (dict(sizes=[784]), "sizes"),
    (dict(sizes=[784, 0, 10]), "sizes must hold positive integers"),
    (dict(sizes=[4, 2.5, 3]), "sizes must hold positive integers"),
    (dict(sizes=[4, 1]), "number of classes"),
    (dict(sizes=[4, 3], activation="softplus"), "activation"),
    (dict(sizes=[4, 3], init="orthogonal"), "init"),
    (dict(sizes=[4, 5, 3], init="zeros"), "init='zeros'"),
    (dict(sizes=[4, 3], dtype=np.float16), "dtype"),
])
def test_mlp_rejects_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)


def test_mlp_rejects_bad_inputs():
    model = MLP([3, 4, 2])
    X = np.zeros((5, 3))
    y = np.zeros(5, dtype=int)
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        model.loss_and_grad(np.zeros(3), y[:1])
    with pytest.raises(ValueError, match="X has 4 features"):
        model.loss_and_grad(np.zeros((5, 4)), y)
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        model.loss_and_grad(X, y[:4])
    with pytest.raises(ValueError, match="integer class labels"):
        model.loss_and_grad(X, y.astype(float))
    with pytest.raises(ValueError, match="y holds label 2, outside 0..1"):
        model.loss_and_grad(X, np.array([0, 1, 2, 0, 0]))
    with pytest.raises(ValueError, match="y holds label -1"):
        model.accuracy(X, np.array([0, 1, -1, 0, 0]))
    with pytest.raises(ValueError, match="l2 must be"):
        model.loss_and_grad(X, y, l2=-0.1)
    with pytest.raises(ValueError, match="X has no rows"):
        model.predict(np.zeros((0, 3)))


# ----------------------------------------------------------------------------
# linear regression
# ----------------------------------------------------------------------------

def regression_data(n=40, d=3, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + 1.0          # off-centre, so the intercept matters
    y = X @ np.array([2.0, -1.0, 0.5][:d]) + 3.0 + noise * rng.standard_normal(n)
    return X, y


def test_linear_regression_loss_convention_by_hand():
    # f = 1/(2n) ||Xw + b - y||^2; at w = (1, 2), b = 1 the residuals are 1, -2, 0.
    model = LinearRegression(2)
    model.params["w"][...] = [1.0, 2.0]
    model.params["b"][...] = 1.0
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, 5.0, 4.0])
    loss, grads = model.loss_and_grad(X, y)
    assert loss == pytest.approx((1 + 4 + 0) / (2 * 3))
    np.testing.assert_allclose(grads["w"], X.T @ np.array([1.0, -2.0, 0.0]) / 3)
    assert grads["b"] == pytest.approx(-1 / 3)
    np.testing.assert_allclose(model.predict(X), [2.0, 3.0, 4.0])
    assert model.evaluate(X, y) == {"loss": pytest.approx(5 / 6)}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.4])
def test_linear_regression_gradient_matches_finite_differences(bias, l2):
    X, y = regression_data(n=12)
    model = LinearRegression(3, bias=bias, init="normal", seed=5)
    if bias:
        model.params["b"][...] = 0.7
    _, grads = model.loss_and_grad(X, y, l2=l2)
    expected = numerical_grad(lambda: model.loss_and_grad(X, y, l2=l2)[0], model.params)
    assert list(grads) == list(model.params)
    for name in model.params:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-6, atol=1e-8, err_msg=name)


def test_closed_form_solves_the_normal_equations():
    X, y = regression_data()
    A = np.hstack([X, np.ones((len(X), 1))])
    coef = np.linalg.solve(A.T @ A, A.T @ y)       # normal equations, independently of lstsq
    best = LinearRegression.closed_form(X, y)
    np.testing.assert_allclose(best.params["w"], coef[:3], rtol=1e-10)
    assert best.params["b"] == pytest.approx(coef[3], rel=1e-10)
    no_bias = LinearRegression.closed_form(X, y, bias=False)
    assert "b" not in no_bias.params
    np.testing.assert_allclose(no_bias.params["w"], np.linalg.solve(X.T @ X, X.T @ y), rtol=1e-10)


def test_ridge_closed_form_solves_the_penalised_normal_equations():
    # gradient zero: (A^T A / n + λ diag(1, 1, 1, 0)) [w; b] = A^T y / n (bias not penalised)
    X, y = regression_data()
    n, l2 = len(X), 0.5
    A = np.hstack([X, np.ones((n, 1))])
    coef = np.linalg.solve(A.T @ A / n + l2 * np.diag([1.0, 1.0, 1.0, 0.0]), A.T @ y / n)
    best = LinearRegression.closed_form(X, y, l2=l2)
    np.testing.assert_allclose(best.params["w"], coef[:3], rtol=1e-10)
    assert best.params["b"] == pytest.approx(coef[3], rel=1e-10)


def test_gradient_descent_converges_to_the_closed_form():
    X, y = regression_data()
    # step 1/L, L = largest eigenvalue of the Hessian [X 1]^T [X 1] / n
    A = np.hstack([X, np.ones((len(X), 1))])
    L = np.linalg.eigvalsh(A.T @ A / len(X)).max()
    model = LinearRegression(3)
    opt = optlib.SGD(lr=1 / L)
    for _ in range(3000):
        _, grads = model.loss_and_grad(X, y)
        opt.step(model.params, grads)
    best = LinearRegression.closed_form(X, y)
    np.testing.assert_allclose(model.params["w"], best.params["w"], rtol=1e-8)
    assert model.params["b"] == pytest.approx(best.params["b"], rel=1e-8)
    assert model.loss(X, y) == pytest.approx(best.loss(X, y), rel=1e-12)


def test_linear_regression_rejects_bad_inputs():
    with pytest.raises(ValueError, match="n_features"):
        LinearRegression(0)
    with pytest.raises(ValueError, match="init"):
        LinearRegression(3, init="he")
    model = LinearRegression(3)
    with pytest.raises(ValueError, match=r"X\[:, None\]"):
        model.predict(np.zeros(3))
    with pytest.raises(ValueError, match="X has 2 features"):
        model.loss_and_grad(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        model.loss_and_grad(np.zeros((4, 3)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        LinearRegression.closed_form(np.zeros(4), np.zeros(4))


def test_params_and_grads_are_views_of_one_buffer_also_after_a_copy():
    import copy
    import pickle
    model = MLP([5, 4, 3], seed=2)
    X, y = np.random.default_rng(0).random((6, 5), dtype=np.float32), np.arange(6) % 3
    for m in (model, copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        arrays = list(m.params.values())
        base = arrays[0].base
        assert base is not None and base.size == m.n_params
        assert all(a.base is base for a in arrays)
        for key in model.params:
            np.testing.assert_array_equal(m.params[key], model.params[key])
        grads = list(m.loss_and_grad(X, y)[1].values())
        assert all(g.base is grads[0].base for g in grads) and grads[0].base.size == m.n_params
