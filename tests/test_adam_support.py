"""optlib.train.replay: feeding an optimizer a prescribed gradient sequence (Adam chapter)."""
import numpy as np
import pytest

import optlib
from optlib.train import replay


def test_sgd_on_a_constant_gradient_walks_in_a_straight_line():
    # x_t = x_0 - eta * t * g, by hand
    g = np.array([2.0, -1.0])
    run = replay(optlib.SGD(lr=0.1), np.tile(g, (5, 1)), np.array([1.0, 1.0]))
    t = np.arange(6)[:, None]
    np.testing.assert_allclose(run["x"], 1.0 - 0.1 * t * g, rtol=0, atol=1e-15)
    assert set(run) == {"x"}


def test_adam_state_matches_the_closed_form_of_a_constant_gradient():
    # m_t = (1 - b1^t) g and v_t = (1 - b2^t) g^2 (the unrolled averages); the first
    # update is -eta g / (|g| + eps)
    b1, b2, eps, eta = 0.9, 0.999, 1e-8, 1e-3
    g = np.array([0.5, -3.0, 1e-4])
    T = 50
    run = replay(optlib.Adam(lr=eta, betas=(b1, b2), eps=eps), np.tile(g, (T, 1)),
                 np.zeros(3), record=("exp_avg", "exp_avg_sq"))
    t = np.arange(1, T + 1)[:, None]
    np.testing.assert_allclose(run["exp_avg"], (1 - b1**t) * g, rtol=1e-12)
    np.testing.assert_allclose(run["exp_avg_sq"], (1 - b2**t) * g**2, rtol=1e-12)
    np.testing.assert_allclose(run["x"][1], -eta * g / (np.abs(g) + eps), rtol=1e-12)
    assert run["x"].shape == (T + 1, 3) and run["exp_avg"].shape == (T, 3)


def test_a_callable_gets_the_update_number_and_the_current_iterate():
    # closed loop: SGD on f(x) = x^2 gives x_t = (1 - 2 eta)^t x_0
    seen = []

    def grad(t, x):
        seen.append((t, float(x[0])))
        return 2 * x

    run = replay(optlib.SGD(lr=0.1), grad, np.array([1.0]), steps=4)
    np.testing.assert_allclose(run["x"][:, 0], 0.8 ** np.arange(5), rtol=1e-15)
    assert [t for t, _ in seen] == [1, 2, 3, 4]
    np.testing.assert_allclose([x for _, x in seen], 0.8 ** np.arange(4), rtol=1e-15)


def test_array_hyperparameters_replay_many_settings_at_once():
    lrs = np.array([[0.1], [0.2]])
    run = replay(optlib.SGD(lr=lrs), np.ones((3, 2, 1)), np.zeros((2, 1)))
    np.testing.assert_allclose(run["x"][-1, :, 0], [-0.3, -0.6], rtol=1e-15)


def test_dtypes_x0_is_copied_and_gradients_follow_the_iterates():
    x0 = np.array([1.0, 2.0], dtype=np.float16)
    run = replay(optlib.SGD(lr=0.5), np.ones((2, 2)), x0)      # float64 gradients
    assert run["x"].dtype == np.float16
    np.testing.assert_array_equal(x0, np.array([1.0, 2.0], dtype=np.float16))
    assert replay(optlib.SGD(lr=0.5), np.ones((1, 2)), [1, 2])["x"].dtype == np.float64
    assert replay(optlib.SGD(lr=0.5), np.ones((1, 2)),
                  np.ones(2, np.float32))["x"].dtype == np.float32


def test_float16_adam_second_moment_underflows_as_the_chapter_says():
    # (1 - b2) g^2 below half the smallest float16 subnormal (2^-25) rounds to 0
    g = np.array([1e-1, 1e-3], dtype=np.float16)
    run = replay(optlib.Adam(lr=1e-3, eps=1e-3), g[None, :], np.zeros(2, np.float16),
                 record=("exp_avg_sq",))
    assert run["exp_avg_sq"][0, 0] > 0 and run["exp_avg_sq"][0, 1] == 0
    # with v = 0 the step is m_hat / eps = g / eps (in units of lr)
    np.testing.assert_allclose(-run["x"][1, 1] / 1e-3, 1.0, rtol=2e-2)


def test_errors_name_the_problem_and_leave_the_optimizer_untouched():
    opt = optlib.Adam()
    with pytest.raises(ValueError, match="steps is required"):
        replay(opt, lambda t, x: x, np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        replay(opt, np.ones((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="steps=2 but gradients holds 3"):
        replay(opt, np.ones((3, 2)), np.zeros(2), steps=2)
    with pytest.raises(ValueError, match="keeps no state 'momentum_buffer'"):
        replay(opt, np.ones((3, 2)), np.zeros(2), record=("momentum_buffer",))
    assert opt.t == 0 and opt.state == {}
    with pytest.raises(TypeError, match="step"):
        replay(object(), np.ones((3, 2)), np.zeros(2))
    with pytest.raises(optlib.DivergenceError):
        replay(optlib.SGD(lr=0.1), np.full((2, 2), np.nan), np.zeros(2))
