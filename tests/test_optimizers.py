"""Numerical tests for optlib.optimizers, one optimizer at a time.

Every optimizer is checked three independent ways:

1. two updates worked out by hand from the equations, with concrete numbers
   and plain Python floats (x0 = 1.0, g1 = 0.5, g2 = -0.25 unless stated);
2. a closed-form behaviour (contraction factor on a quadratic, geometric
   series under a constant gradient, first-step magnitude, ...);
3. ``torch.optim`` run on the same gradient sequence (float64, several
   leaves, gradients that depend on the parameters so errors compound),
   over a grid of every option and combination of options, with a schedule
   and with a leaf large enough to go through the chunked update. Yogi has
   no torch version: it is compared with a transcription of optax's
   ``scale_by_yogi`` written below in plain numpy.

Agreement with torch is measured normwise per leaf at every step:
``max|x_optlib - x_torch| <= 1e-12 * max|x_torch|``.
"""
from __future__ import annotations

import inspect
import itertools
import math

import numpy as np
import pytest

import optlib
from optlib import optimizers as O

X0, G1, G2 = 1.0, 0.5, -0.25
RTOL_TORCH = 1e-12
STEPS = 60
SMALL_SHAPES = [(3,), (2, 3), ()]
BIG = 100_003


def two_steps(opt, g1=G1, g2=G2, x0=X0, dtype=np.float64):
    """x1 and x2 of ``opt`` on a single 1-element parameter with fixed gradients."""
    x = np.array([x0], dtype=dtype)
    opt.step(x, np.array([g1], dtype=dtype))
    x1 = float(x[0])
    opt.step(x, np.array([g2], dtype=dtype))
    return x1, float(x[0])


def assert_two_steps(opt, expected_x1, expected_x2, rel=1e-14):
    x1, x2 = two_steps(opt)
    assert x1 == pytest.approx(expected_x1, rel=rel, abs=0)
    assert x2 == pytest.approx(expected_x2, rel=rel, abs=0)
    assert opt.t == 2


# ============================================================================
# 1. Hand-derived first two updates
# ============================================================================

class TestHandDerived:
    """x0 = 1.0, g1 = 0.5, g2 = -0.25; each line is one equation of the update."""

    def test_sgd_plain(self):
        # x1 = 1 - 0.1*0.5 = 0.95 ; x2 = 0.95 - 0.1*(-0.25) = 0.975
        assert_two_steps(optlib.SGD(lr=0.1), 0.95, 0.975)

    def test_sgd_weight_decay(self):
        # g1 = 0.5 + 0.1*1.0 = 0.6 ; x1 = 1 - 0.1*0.6 = 0.94
        # g2 = -0.25 + 0.1*0.94 = -0.156 ; x2 = 0.94 + 0.0156 = 0.9556
        assert_two_steps(optlib.SGD(lr=0.1, weight_decay=0.1), 0.94, 0.9556)

    def test_sgd_momentum(self):
        # b1 = g1 = 0.5 ; x1 = 1 - 0.1*0.5 = 0.95
        # b2 = 0.9*0.5 - 0.25 = 0.2 ; x2 = 0.95 - 0.02 = 0.93
        assert_two_steps(optlib.SGD(lr=0.1, momentum=0.9), 0.95, 0.93)
        assert_two_steps(optlib.Momentum(lr=0.1), 0.95, 0.93)

    def test_sgd_momentum_dampening(self):
        # b1 = g1 = 0.5 (no dampening on the first step, as in torch) ; x1 = 0.95
        # b2 = 0.9*0.5 + (1-0.5)*(-0.25) = 0.325 ; x2 = 0.95 - 0.0325 = 0.9175
        assert_two_steps(optlib.SGD(lr=0.1, momentum=0.9, dampening=0.5), 0.95, 0.9175)
        assert_two_steps(optlib.Momentum(lr=0.1, dampening=0.5), 0.95, 0.9175)

    def test_sgd_momentum_dampening_weight_decay(self):
        # g1 = 0.5 + 0.2*1 = 0.7 ; b1 = 0.7 ; x1 = 1 - 0.1*0.7 = 0.93
        # g2 = -0.25 + 0.2*0.93 = -0.064 ; b2 = 0.9*0.7 + 0.5*(-0.064) = 0.598
        # x2 = 0.93 - 0.0598 = 0.8702
        assert_two_steps(optlib.SGD(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.2),
                         0.93, 0.8702)

    def test_sgd_nesterov(self):
        # b1 = 0.5 ; d1 = g1 + 0.9*b1 = 0.95 ; x1 = 1 - 0.095 = 0.905
        # b2 = 0.9*0.5 - 0.25 = 0.2 ; d2 = -0.25 + 0.18 = -0.07 ; x2 = 0.905 + 0.007 = 0.912
        assert_two_steps(optlib.SGD(lr=0.1, momentum=0.9, nesterov=True), 0.905, 0.912)
        assert_two_steps(optlib.Nesterov(lr=0.1), 0.905, 0.912)

    def test_sgd_nesterov_weight_decay(self):
        # g1 = 0.5 + 0.1 = 0.6 ; b1 = 0.6 ; d1 = 0.6 + 0.54 = 1.14 ; x1 = 1 - 0.114 = 0.886
        # g2 = -0.25 + 0.0886 = -0.1614 ; b2 = 0.54 - 0.1614 = 0.3786
        # d2 = -0.1614 + 0.9*0.3786 = 0.17934 ; x2 = 0.886 - 0.017934 = 0.868066
        assert_two_steps(optlib.Nesterov(lr=0.1, weight_decay=0.1), 0.886, 0.868066)

    def test_adagrad(self):
        eps = 1e-10
        s1 = 0.0 + 0.5**2                                   # 0.25
        x1 = 1.0 - 0.1 * 0.5 / (math.sqrt(s1) + eps)        # ~0.9
        s2 = s1 + 0.25**2                                   # 0.3125
        x2 = x1 - 0.1 * (-0.25) / (math.sqrt(s2) + eps)
        assert x1 == pytest.approx(0.9, rel=1e-7)
        assert_two_steps(optlib.Adagrad(lr=0.1), x1, x2)

    def test_adagrad_all_options(self):
        # lr_decay 0.5, weight_decay 0.1, s0 = 0.2, eps 1e-3
        g1 = 0.5 + 0.1 * 1.0                                # 0.6
        s1 = 0.2 + g1**2                                    # 0.56
        lr1 = 0.1 / (1 + 0 * 0.5)                           # 0.1
        x1 = 1.0 - lr1 * g1 / (math.sqrt(s1) + 1e-3)
        g2 = -0.25 + 0.1 * x1
        s2 = s1 + g2**2
        lr2 = 0.1 / (1 + 1 * 0.5)                           # 0.1/1.5
        x2 = x1 - lr2 * g2 / (math.sqrt(s2) + 1e-3)
        opt = optlib.Adagrad(lr=0.1, lr_decay=0.5, weight_decay=0.1,
                             initial_accumulator_value=0.2, eps=1e-3)
        assert_two_steps(opt, x1, x2)

    def test_rmsprop(self):
        alpha, eps, lr = 0.9, 1e-8, 0.01
        v1 = 0.1 * 0.25                                     # 0.025
        x1 = 1.0 - lr * 0.5 / (math.sqrt(v1) + eps)
        v2 = 0.9 * v1 + 0.1 * 0.0625                        # 0.02875
        x2 = x1 - lr * (-0.25) / (math.sqrt(v2) + eps)
        assert_two_steps(optlib.RMSprop(lr=lr, alpha=alpha, eps=eps), x1, x2)

    def test_rmsprop_centered(self):
        lr, eps = 0.01, 1e-8
        v1, gbar1 = 0.025, 0.05                             # 0.1*g1^2, 0.1*g1
        x1 = 1.0 - lr * 0.5 / (math.sqrt(v1 - gbar1**2) + eps)   # sqrt(0.0225) = 0.15
        v2 = 0.9 * v1 + 0.1 * 0.0625                        # 0.02875
        gbar2 = 0.9 * gbar1 + 0.1 * (-0.25)                 # 0.02
        x2 = x1 - lr * (-0.25) / (math.sqrt(v2 - gbar2**2) + eps)  # sqrt(0.02835)
        assert x1 == pytest.approx(1.0 - 0.01 * 0.5 / 0.15, rel=1e-7)
        assert_two_steps(optlib.RMSprop(lr=lr, alpha=0.9, eps=eps, centered=True), x1, x2)

    def test_rmsprop_momentum_weight_decay(self):
        lr, eps, mu, wd = 0.01, 1e-8, 0.5, 0.1
        g1 = 0.5 + wd * 1.0                                 # 0.6
        v1 = 0.1 * g1**2
        b1 = g1 / (math.sqrt(v1) + eps)
        x1 = 1.0 - lr * b1
        g2 = -0.25 + wd * x1
        v2 = 0.9 * v1 + 0.1 * g2**2
        b2 = mu * b1 + g2 / (math.sqrt(v2) + eps)
        x2 = x1 - lr * b2
        opt = optlib.RMSprop(lr=lr, alpha=0.9, eps=eps, momentum=mu, weight_decay=wd)
        assert_two_steps(opt, x1, x2)

    def test_rmsprop_centered_momentum(self):
        lr, eps, mu = 0.01, 1e-8, 0.5
        v1, gbar1 = 0.025, 0.05
        b1 = 0.5 / (math.sqrt(v1 - gbar1**2) + eps)
        x1 = 1.0 - lr * b1
        v2, gbar2 = 0.02875, 0.02
        b2 = mu * b1 + (-0.25) / (math.sqrt(v2 - gbar2**2) + eps)
        x2 = x1 - lr * b2
        opt = optlib.RMSprop(lr=lr, alpha=0.9, eps=eps, momentum=mu, centered=True)
        assert_two_steps(opt, x1, x2)

    def test_adadelta(self):
        rho, eps = 0.9, 1e-6
        v1 = 0.1 * 0.25                                      # 0.025
        d1 = math.sqrt(0.0 + eps) / math.sqrt(v1 + eps) * 0.5
        u1 = 0.1 * d1**2
        x1 = 1.0 - 1.0 * d1
        v2 = 0.9 * v1 + 0.1 * 0.0625                         # 0.02875
        d2 = math.sqrt(u1 + eps) / math.sqrt(v2 + eps) * (-0.25)
        x2 = x1 - 1.0 * d2
        assert_two_steps(optlib.Adadelta(), x1, x2)

    def test_adadelta_lr_weight_decay(self):
        rho, eps, lr, wd = 0.5, 1e-2, 0.5, 0.1
        g1 = 0.5 + wd * 1.0
        v1 = 0.5 * g1**2
        d1 = math.sqrt(eps) / math.sqrt(v1 + eps) * g1
        u1 = 0.5 * d1**2
        x1 = 1.0 - lr * d1
        g2 = -0.25 + wd * x1
        v2 = 0.5 * v1 + 0.5 * g2**2
        d2 = math.sqrt(u1 + eps) / math.sqrt(v2 + eps) * g2
        x2 = x1 - lr * d2
        assert_two_steps(optlib.Adadelta(lr=lr, rho=rho, eps=eps, weight_decay=wd), x1, x2)

    def test_adam(self):
        lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
        m1 = 0.1 * 0.5                                       # 0.05
        v1 = 0.001 * 0.25                                    # 0.00025
        m1_hat, v1_hat = m1 / (1 - b1), v1 / (1 - b2)        # 0.5, 0.25
        x1 = 1.0 - lr * m1_hat / (math.sqrt(v1_hat) + eps)   # ~0.9
        m2 = 0.9 * m1 + 0.1 * (-0.25)                        # 0.02
        v2 = 0.999 * v1 + 0.001 * 0.0625                     # 0.00031225
        m2_hat = m2 / (1 - b1**2)                            # 0.02/0.19
        v2_hat = v2 / (1 - b2**2)                            # 0.00031225/0.001999
        x2 = x1 - lr * m2_hat / (math.sqrt(v2_hat) + eps)
        assert x1 == pytest.approx(0.9, rel=1e-7)
        assert m2 == pytest.approx(0.02, rel=1e-12) and v2 == pytest.approx(0.00031225, rel=1e-12)
        assert_two_steps(optlib.Adam(lr=lr), x1, x2, rel=1e-13)

    def test_adam_weight_decay(self):
        lr, b1, b2, eps, wd = 0.1, 0.9, 0.999, 1e-8, 0.1
        g1 = 0.5 + wd * 1.0
        m1, v1 = 0.1 * g1, 0.001 * g1**2
        x1 = 1.0 - lr * (m1 / 0.1) / (math.sqrt(v1 / 0.001) + eps)
        g2 = -0.25 + wd * x1
        m2, v2 = 0.9 * m1 + 0.1 * g2, 0.999 * v1 + 0.001 * g2**2
        x2 = x1 - lr * (m2 / (1 - b1**2)) / (math.sqrt(v2 / (1 - b2**2)) + eps)
        assert_two_steps(optlib.Adam(lr=lr, weight_decay=wd), x1, x2, rel=1e-13)

    def test_amsgrad(self):
        # beta2 = 0.5 makes v2 < v1, so the running maximum matters at step 2
        lr, b1, b2, eps = 0.1, 0.9, 0.5, 1e-8
        m1, v1 = 0.05, 0.5 * 0.25                            # v1 = 0.125
        vmax1 = max(0.0, v1)
        x1 = 1.0 - lr * (m1 / 0.1) / (math.sqrt(vmax1) / math.sqrt(1 - b2) + eps)
        m2 = 0.9 * m1 + 0.1 * (-0.25)                        # 0.02
        v2 = 0.5 * v1 + 0.5 * 0.0625                         # 0.09375 < v1
        vmax2 = max(vmax1, v2)                               # 0.125
        x2 = x1 - lr * (m2 / (1 - b1**2)) / (math.sqrt(vmax2) / math.sqrt(1 - b2**2) + eps)
        assert v2 < v1
        assert_two_steps(optlib.AMSGrad(lr=lr, betas=(b1, b2)), x1, x2, rel=1e-13)
        assert_two_steps(optlib.Adam(lr=lr, betas=(b1, b2), amsgrad=True), x1, x2, rel=1e-13)
        # and plain Adam differs at step 2 (uses v2 itself)
        x2_adam = x1 - lr * (m2 / (1 - b1**2)) / (math.sqrt(v2) / math.sqrt(1 - b2**2) + eps)
        assert_two_steps(optlib.Adam(lr=lr, betas=(b1, b2)), x1, x2_adam, rel=1e-13)
        assert abs(x2 - x2_adam) > 1e-3

    def test_adamw(self):
        lr, wd, eps = 0.1, 0.1, 1e-8
        x = 1.0 * (1 - lr * wd)                              # decay first: 0.99
        x1 = x - lr * (0.05 / 0.1) / (math.sqrt(0.00025 / 0.001) + eps)
        x = x1 * (1 - lr * wd)
        m2, v2 = 0.02, 0.00031225
        x2 = x - lr * (m2 / 0.19) / (math.sqrt(v2 / 0.001999) + eps)
        assert x1 == pytest.approx(0.89, rel=1e-7)
        assert_two_steps(optlib.AdamW(lr=lr, weight_decay=wd), x1, x2, rel=1e-13)

    def test_adamw_amsgrad(self):
        lr, wd, b1, b2, eps = 0.1, 0.1, 0.9, 0.5, 1e-8
        x = 1.0 * (1 - lr * wd)
        x1 = x - lr * (0.05 / 0.1) / (math.sqrt(0.125) / math.sqrt(0.5) + eps)
        x = x1 * (1 - lr * wd)
        x2 = x - lr * (0.02 / 0.19) / (math.sqrt(0.125) / math.sqrt(0.75) + eps)
        assert_two_steps(optlib.AdamW(lr=lr, betas=(b1, b2), weight_decay=wd, amsgrad=True),
                         x1, x2, rel=1e-13)

    def test_yogi(self):
        lr, b1, b2, eps, v0 = 0.1, 0.9, 0.999, 1e-3, 1e-6
        m1 = 0.9 * v0 + 0.1 * 0.5                            # 0.0500009
        v1 = v0 - 0.001 * math.copysign(1, v0 - 0.25) * 0.25  # v0 + 0.00025
        x1 = 1.0 - lr * (m1 / 0.1) / (math.sqrt(v1 / 0.001) + eps)
        m2 = 0.9 * m1 + 0.1 * (-0.25)
        v2 = v1 - 0.001 * math.copysign(1, v1 - 0.0625) * 0.0625  # v1 + 0.0000625
        x2 = x1 - lr * (m2 / (1 - b1**2)) / (math.sqrt(v2 / (1 - b2**2)) + eps)
        assert v1 == pytest.approx(0.000251, rel=1e-12)
        assert v2 == pytest.approx(0.0003135, rel=1e-12)
        assert_two_steps(optlib.Yogi(lr=lr), x1, x2, rel=1e-13)

    def test_yogi_second_moment_shrinks_when_above_g2(self):
        # start far above g^2: sign(v - g^2) = +1, so v decreases by (1-b2) g^2
        lr, b1, b2, eps, v0 = 0.1, 0.5, 0.9, 1e-3, 4.0
        m1 = 0.5 * v0 + 0.5 * 0.5                            # 2.25
        v1 = v0 - 0.1 * 0.25                                 # 3.975
        x1 = 1.0 - lr * (m1 / 0.5) / (math.sqrt(v1 / 0.1) + eps)
        m2 = 0.5 * m1 + 0.5 * (-0.25)                        # 1.0
        v2 = v1 - 0.1 * 0.0625                               # 3.96875
        x2 = x1 - lr * (m2 / 0.75) / (math.sqrt(v2 / 0.19) + eps)
        assert_two_steps(optlib.Yogi(lr=lr, betas=(b1, b2), initial_accumulator_value=v0),
                         x1, x2, rel=1e-13)


# ============================================================================
# 2. Closed-form behaviour
# ============================================================================

def diag_quadratic(n=5, seed=0):
    """f(x) = 1/2 sum lam_i x_i^2 with gradient lam * x."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 3.0, n), rng.standard_normal(n)


class TestClosedForm:
    @pytest.mark.parametrize("wd", [0.0, 0.3])
    def test_sgd_contracts_by_one_minus_lr_lambda(self, wd):
        lam = np.array([0.2, 0.9, 2.2, 2.8])
        x0 = np.array([1.0, -2.0, 0.5, 3.0])
        lr = 0.6
        x = x0.copy()
        opt = optlib.SGD(lr=lr, weight_decay=wd)
        for t in range(1, 31):
            opt.step(x, lam * x)
            np.testing.assert_allclose(x, (1 - lr * (lam + wd)) ** t * x0, rtol=1e-12)
        # some coordinates oscillate (1 - lr lam < 0), some do not
        assert np.any(lr * (lam + wd) > 1) and np.any(lr * (lam + wd) < 1)

    @pytest.mark.parametrize("cls", [optlib.Momentum, optlib.SGD])
    def test_heavy_ball_on_quadratic_matches_linear_recurrence(self, cls):
        lam, x0 = diag_quadratic()
        lr, mu = 0.1, 0.8
        x = x0.copy()
        opt = cls(lr=lr, momentum=mu)
        for t in range(1, 41):
            opt.step(x, lam * x)
            for i in range(lam.size):
                # [x_t, b_t] = M^t [x_0, b_0]; b_t = mu b_{t-1} + lam x_{t-1},
                # x_t = x_{t-1} - lr b_t ; b_0 = 0 reproduces b_1 = g_1
                M = np.array([[1 - lr * lam[i], -lr * mu], [lam[i], mu]])
                expected = np.linalg.matrix_power(M, t) @ np.array([x0[i], 0.0])
                assert x[i] == pytest.approx(expected[0], rel=1e-10, abs=1e-14)

    def test_nesterov_on_quadratic_matches_linear_recurrence(self):
        lam, x0 = diag_quadratic(seed=1)
        lr, mu = 0.1, 0.8
        x = x0.copy()
        opt = optlib.Nesterov(lr=lr, momentum=mu)
        for t in range(1, 41):
            opt.step(x, lam * x)
            for i in range(lam.size):
                # b_t = mu b + lam x ; x_t = x - lr (lam x + mu b_t)
                #     = (1 - lr lam (1 + mu)) x - lr mu^2 b
                M = np.array([[1 - lr * lam[i] * (1 + mu), -lr * mu * mu], [lam[i], mu]])
                expected = np.linalg.matrix_power(M, t) @ np.array([x0[i], 0.0])
                assert x[i] == pytest.approx(expected[0], rel=1e-10, abs=1e-14)

    @pytest.mark.parametrize("nesterov", [False, True])
    def test_constant_gradient_geometric_series(self, nesterov):
        g = np.array([1.0, -2.0, 0.0, 0.5])
        lr, mu = 0.1, 0.9
        cls = optlib.Nesterov if nesterov else optlib.Momentum
        opt = cls(lr=lr, momentum=mu)
        x = np.zeros(4)
        for t in range(1, 51):
            before = x.copy()
            opt.step(x, g)
            # momentum: lr g (1-mu^t)/(1-mu); nesterov looks one term ahead
            power = t + 1 if nesterov else t
            np.testing.assert_allclose(before - x, lr * g * (1 - mu**power) / (1 - mu),
                                       rtol=1e-12, atol=0)

    def test_dampened_momentum_constant_gradient(self):
        g, lr, mu, tau = 2.0, 0.1, 0.9, 0.4
        opt = optlib.SGD(lr=lr, momentum=mu, dampening=tau)
        x = np.zeros(1)
        for t in range(1, 31):
            before = x[0]
            opt.step(x, np.array([g]))
            # b_1 = g ; b_t = mu^{t-1} g + (1-tau) g (1 - mu^{t-1})/(1-mu)
            b = mu ** (t - 1) * g + (1 - tau) * g * (1 - mu ** (t - 1)) / (1 - mu)
            assert before - x[0] == pytest.approx(lr * b, rel=1e-12)

    def test_adagrad_first_step_is_lr_sign(self):
        g = np.array([3.0, -1e-3, 0.0, 1e4])
        x = np.zeros(4)
        optlib.Adagrad(lr=0.2).step(x, g)
        np.testing.assert_allclose(-x, 0.2 * g / (np.abs(g) + 1e-10), rtol=1e-15, atol=0)
        np.testing.assert_allclose(-x, 0.2 * np.sign(g), rtol=1e-6, atol=0)

    @pytest.mark.parametrize("lr_decay", [0.0, 0.1])
    def test_adagrad_constant_gradient_steps_shrink_like_inverse_sqrt(self, lr_decay):
        g = np.array([2.0, -0.5])
        opt = optlib.Adagrad(lr=0.3, lr_decay=lr_decay, eps=0.0)
        x = np.zeros(2)
        for t in range(1, 41):
            before = x.copy()
            opt.step(x, g)
            # s_t = t g^2 -> step = lr/(1+(t-1)delta) * sign(g)/sqrt(t)
            expected = 0.3 / (1 + (t - 1) * lr_decay) * np.sign(g) / math.sqrt(t)
            np.testing.assert_allclose(before - x, expected, rtol=1e-13)

    @pytest.mark.parametrize("centered", [False, True])
    def test_rmsprop_constant_gradient(self, centered):
        alpha, lr, eps = 0.8, 0.01, 1e-8
        g = np.array([1.5, -0.2])
        opt = optlib.RMSprop(lr=lr, alpha=alpha, eps=eps, centered=centered)
        x = np.zeros(2)
        for t in range(1, 21):
            before = x.copy()
            opt.step(x, g)
            # v_t = (1-a^t) g^2 ; gbar_t = (1-a^t) g ; v - gbar^2 = a^t (1-a^t) g^2
            var = (1 - alpha**t) * (alpha**t if centered else 1.0)
            expected = lr * g / (np.abs(g) * math.sqrt(var) + eps)
            np.testing.assert_allclose(before - x, expected, rtol=1e-9)

    def test_adadelta_first_step_does_not_depend_on_gradient_scale(self):
        rho, eps = 0.9, 1e-6
        for scale in [1e2, 1e3, 1e4]:
            x = np.zeros(2)
            optlib.Adadelta(rho=rho, eps=eps).step(x, np.array([scale, -scale]))
            # sqrt(eps) g / sqrt((1-rho) g^2 + eps) -> sqrt(eps/(1-rho)) sign(g)
            np.testing.assert_allclose(-x, math.sqrt(eps / (1 - rho)) * np.array([1, -1]),
                                       rtol=1e-6)

    def test_adadelta_zero_gradient_never_moves(self):
        x = np.array([0.3, -2.0])
        opt = optlib.Adadelta(rho=0.5)
        opt.step(x, np.array([1.0, 1.0]))
        after_first = x.copy()
        for _ in range(5):
            opt.step(x, np.zeros(2))
        np.testing.assert_array_equal(x, after_first)

    @pytest.mark.parametrize("cls", [optlib.Adam, optlib.AMSGrad, optlib.AdamW])
    def test_adam_first_step_has_magnitude_lr(self, cls):
        g = np.array([[3.0, -1e-2], [0.0, 7e3]])
        x = np.ones((2, 2))
        kw = {"weight_decay": 0.0} if cls is optlib.AdamW else {}
        cls(lr=0.05, **kw).step(x, g)
        step = 1.0 - x
        # m1_hat = g, v1_hat = g^2: step = lr g/(|g| + eps)
        np.testing.assert_allclose(step, 0.05 * g / (np.abs(g) + 1e-8), rtol=1e-13, atol=0)
        nonzero = g != 0
        np.testing.assert_allclose(np.abs(step[nonzero]), 0.05, rtol=1e-5)
        assert step[~nonzero].tolist() == [0.0]

    def test_adam_invariant_to_gradient_scale_without_eps(self):
        rng = np.random.default_rng(3)
        grads = [rng.standard_normal(4) for _ in range(15)]
        runs = []
        for c in [1.0, 1e3]:
            x = np.zeros(4)
            opt = optlib.Adam(lr=0.01, eps=0.0)
            for g in grads:
                opt.step(x, c * g)
            runs.append(x)
        np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12)

    def test_amsgrad_keeps_the_largest_second_moment(self):
        # one big gradient then zeros: Adam's v decays, AMSGrad's max stays v_1
        b1, b2, lr, eps, g = 0.9, 0.9, 0.1, 1e-8, 2.0
        xs = {}
        for amsgrad in [False, True]:
            opt = optlib.Adam(lr=lr, betas=(b1, b2), eps=eps, amsgrad=amsgrad)
            x = np.zeros(1)
            steps = []
            opt.step(x, np.array([g]))
            for t in range(2, 12):
                before = x[0]
                opt.step(x, np.zeros(1))
                steps.append(before - x[0])
                m_hat = b1 ** (t - 1) * (1 - b1) * g / (1 - b1**t)
                v = (1 - b2) * g * g * (1.0 if amsgrad else b2 ** (t - 1))
                expected = lr * m_hat / (math.sqrt(v) / math.sqrt(1 - b2**t) + eps)
                assert steps[-1] == pytest.approx(expected, rel=1e-12)
            xs[amsgrad] = steps
        assert all(a < b for a, b in zip(xs[True], xs[False]))

    @pytest.mark.parametrize("amsgrad", [False, True])
    def test_adamw_zero_gradient_shrinks_by_exactly_one_minus_lr_wd(self, amsgrad):
        x0 = np.array([1.0, -3.0, 0.7, 1e-3])
        x = x0.copy()
        lr, wd = 0.01, 0.5
        opt = optlib.AdamW(lr=lr, weight_decay=wd, amsgrad=amsgrad)
        expected = x0.copy()
        for _ in range(25):
            opt.step(x, np.zeros(4))
            expected = expected * (1 - lr * wd)
            np.testing.assert_array_equal(x, expected)
        np.testing.assert_allclose(x, x0 * (1 - lr * wd) ** 25, rtol=1e-13)

    def test_adam_weight_decay_is_not_decoupled(self):
        # Adam's L2 decay goes through the normalisation: with zero gradient the
        # first step has magnitude lr (not lr*wd*x like AdamW)
        x = np.array([2.0, -4.0])
        optlib.Adam(lr=0.01, weight_decay=0.1).step(x, np.zeros(2))
        np.testing.assert_allclose(x, [2.0 - 0.01, -4.0 + 0.01], rtol=1e-9)

    def test_yogi_second_moment_grows_additively(self):
        # while v < g^2, sign(v - g^2) = -1: v_t = v_0 + t (1-b2) g^2 (Adam: (1-b2^t) g^2)
        g, b2 = 3.0, 0.99
        opt = optlib.Yogi(lr=0.01, betas=(0.9, b2))
        x = np.zeros(1)
        for t in range(1, 21):
            opt.step(x, np.array([g]))
            v = opt.state_dict()["state"][""]["exp_avg_sq"][0]
            assert v == pytest.approx(1e-6 + t * (1 - b2) * g * g, rel=1e-12)

    def test_yogi_zero_gradient_keeps_second_moment(self):
        b1, b2, lr, eps, g = 0.9, 0.999, 0.1, 1e-3, 2.0
        opt = optlib.Yogi(lr=lr, betas=(b1, b2), eps=eps)
        x = np.zeros(1)
        opt.step(x, np.array([g]))
        m1 = b1 * 1e-6 + (1 - b1) * g
        v1 = 1e-6 + (1 - b2) * g * g
        for t in range(2, 12):
            before = x[0]
            opt.step(x, np.zeros(1))
            # m_t = b1^{t-1} m_1 ; v_t = v_1
            expected = lr * (b1 ** (t - 1) * m1 / (1 - b1**t)) / (
                math.sqrt(v1 / (1 - b2**t)) + eps)
            assert before - x[0] == pytest.approx(expected, rel=1e-12)


# ============================================================================
# 3. Cross-check against torch.optim (and optax's Yogi, transcribed)
# ============================================================================

class QuadraticWithNoise:
    """Gradients c * (x - 0.5) + noise_k: depend on x, so errors compound."""

    def __init__(self, shapes, seed=0):
        rng = np.random.default_rng(seed)
        self.shapes = shapes
        self.x0 = [rng.standard_normal(s) for s in shapes]
        self.curvature = [rng.uniform(0.5, 2.0, s) for s in shapes]
        self.seed = seed

    def noise(self, k):
        return [0.1 * np.random.default_rng([self.seed, k, i]).standard_normal(s)
                for i, s in enumerate(self.shapes)]

    def grad(self, i, x, noise):
        # asarray: on a 0-d leaf numpy arithmetic returns a scalar, not an array
        return np.asarray(self.curvature[i] * (x - 0.5) + noise[i])


def assert_normwise_close(ours, ref, what, rtol=RTOL_TORCH):
    if ref.size == 0:
        return
    err = float(np.max(np.abs(ours - ref)))
    scale = float(np.max(np.abs(ref)))
    assert err <= rtol * scale, f"{what}: max error {err:.3e} > {rtol:g} * {scale:.3e}"


def factor(k):
    """A warm-up then decay multiplier, for schedule tests: lr(k) = base * factor(k)."""
    return min(1.0, (k + 1) / 5) / (1.0 + 0.05 * k)


def compare_with_torch(torch, ours, torch_cls, torch_kwargs, shapes=SMALL_SHAPES,
                       steps=STEPS, schedule=False, seed=0):
    """Run both optimizers on their own trajectories and compare at every step."""
    problem = QuadraticWithNoise(shapes, seed)
    names = [f"w{i}" for i in range(len(shapes))]
    params = {n: x.copy() for n, x in zip(names, problem.x0)}
    tparams = [torch.tensor(x.copy(), dtype=torch.float64, requires_grad=True)
               for x in problem.x0]
    topt = torch_cls(tparams, foreach=False, **torch_kwargs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(topt, factor) if schedule else None
    for k in range(steps):
        noise = problem.noise(k)
        grads = {n: problem.grad(i, params[n], noise) for i, n in enumerate(names)}
        ours.step(params, grads)
        for i, p in enumerate(tparams):
            p.grad = torch.from_numpy(problem.grad(i, p.detach().numpy().copy(), noise))
        topt.step()
        if scheduler is not None:
            scheduler.step()
        for i, n in enumerate(names):
            assert_normwise_close(params[n], tparams[i].detach().numpy(),
                                  f"leaf {n} {shapes[i]} at step {k + 1}")
    assert ours.t == steps
    # the state has torch's names and agrees too
    ours_state = ours.state_dict()["state"]
    for i, n in enumerate(names):
        tstate = topt.state[tparams[i]]
        shared = set(ours_state[n]) & {k for k in tstate if k != "step"}
        for key in shared:
            assert_normwise_close(ours_state[n][key], tstate[key].numpy(),
                                  f"state {key} of leaf {n}")
    # the trajectory moved: a comparison of two frozen runs would prove nothing
    assert any(np.max(np.abs(params[n] - x0)) > 1e-3
               for n, x0 in zip(names, problem.x0) if x0.size)


def lr_arg(base, schedule):
    return (lambda k: base * factor(k)) if schedule else base


SGD_GRID = list(itertools.product([0.0, 0.9], [0.0, 0.5], [False, True], [0.0, 0.1]))


@pytest.mark.parametrize("momentum,dampening,nesterov,weight_decay", SGD_GRID)
def test_sgd_matches_torch(torch, momentum, dampening, nesterov, weight_decay):
    kw = dict(lr=0.05, momentum=momentum, dampening=dampening,
              weight_decay=weight_decay, nesterov=nesterov)
    if nesterov and (momentum == 0 or dampening != 0):
        with pytest.raises(ValueError):
            torch.optim.SGD([torch.zeros(1, requires_grad=True)], **kw)
        with pytest.raises(ValueError, match="nesterov"):
            optlib.SGD(**kw)
        return
    compare_with_torch(torch, optlib.SGD(**kw), torch.optim.SGD, kw)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_momentum_and_nesterov_classes_match_torch(torch, weight_decay):
    compare_with_torch(torch, optlib.Momentum(lr=0.05, weight_decay=weight_decay),
                       torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=weight_decay))
    compare_with_torch(torch, optlib.Nesterov(lr=0.05, momentum=0.8, weight_decay=weight_decay),
                       torch.optim.SGD,
                       dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=weight_decay))


ADAGRAD_GRID = list(itertools.product([0.0, 0.05], [0.0, 0.1], [0.0, 0.5], [1e-10, 1e-3]))


@pytest.mark.parametrize("lr_decay,weight_decay,initial_accumulator_value,eps", ADAGRAD_GRID)
def test_adagrad_matches_torch(torch, lr_decay, weight_decay, initial_accumulator_value, eps):
    kw = dict(lr=0.1, lr_decay=lr_decay, weight_decay=weight_decay,
              initial_accumulator_value=initial_accumulator_value, eps=eps)
    compare_with_torch(torch, optlib.Adagrad(**kw), torch.optim.Adagrad, kw)


RMSPROP_GRID = list(itertools.product([0.99, 0.5], [0.0, 0.9], [False, True], [0.0, 0.1]))


@pytest.mark.parametrize("alpha,momentum,centered,weight_decay", RMSPROP_GRID)
def test_rmsprop_matches_torch(torch, alpha, momentum, centered, weight_decay):
    kw = dict(lr=0.01, alpha=alpha, momentum=momentum, centered=centered,
              weight_decay=weight_decay)
    compare_with_torch(torch, optlib.RMSprop(**kw), torch.optim.RMSprop, kw)


ADADELTA_GRID = list(itertools.product([0.9, 0.5], [1e-6, 1e-2], [0.0, 0.1], [1.0, 0.5]))


@pytest.mark.parametrize("rho,eps,weight_decay,lr", ADADELTA_GRID)
def test_adadelta_matches_torch(torch, rho, eps, weight_decay, lr):
    kw = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
    compare_with_torch(torch, optlib.Adadelta(**kw), torch.optim.Adadelta, kw)


ADAM_GRID = list(itertools.product(["Adam", "AdamW"], [(0.9, 0.999), (0.5, 0.9)],
                                   [1e-8, 1e-3], [0.0, 0.1], [False, True]))


@pytest.mark.parametrize("name,betas,eps,weight_decay,amsgrad", ADAM_GRID)
def test_adam_and_adamw_match_torch(torch, name, betas, eps, weight_decay, amsgrad):
    kw = dict(lr=0.05, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
    compare_with_torch(torch, getattr(optlib, name)(**kw), getattr(torch.optim, name), kw)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_amsgrad_class_matches_torch(torch, weight_decay):
    kw = dict(lr=0.05, betas=(0.8, 0.9), eps=1e-8, weight_decay=weight_decay)
    compare_with_torch(torch, optlib.AMSGrad(**kw), torch.optim.Adam, dict(kw, amsgrad=True))


# One configuration per optimizer with every option on: (ours, torch name, torch kwargs)
FULL_OPTIONS = {
    "SGD": (lambda lr: optlib.SGD(lr=lr, momentum=0.9, dampening=0.3, weight_decay=0.1),
            "SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    "Nesterov": (lambda lr: optlib.Nesterov(lr=lr, momentum=0.9, weight_decay=0.1),
                 "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    "Adagrad": (lambda lr: optlib.Adagrad(lr=lr, lr_decay=0.05, weight_decay=0.1,
                                          initial_accumulator_value=0.1, eps=1e-10),
                "Adagrad", dict(lr=0.05, lr_decay=0.05, weight_decay=0.1,
                                initial_accumulator_value=0.1, eps=1e-10)),
    "RMSprop": (lambda lr: optlib.RMSprop(lr=lr, alpha=0.9, momentum=0.5, centered=True,
                                          weight_decay=0.1),
                "RMSprop", dict(lr=0.05, alpha=0.9, momentum=0.5, centered=True,
                                weight_decay=0.1)),
    "Adadelta": (lambda lr: optlib.Adadelta(lr=lr, rho=0.8, eps=1e-5, weight_decay=0.1),
                 "Adadelta", dict(lr=0.05, rho=0.8, eps=1e-5, weight_decay=0.1)),
    "Adam": (lambda lr: optlib.Adam(lr=lr, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True),
             "Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    "AdamW": (lambda lr: optlib.AdamW(lr=lr, betas=(0.8, 0.99), weight_decay=0.1,
                                      amsgrad=True),
              "AdamW", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
}


@pytest.mark.parametrize("name", sorted(FULL_OPTIONS))
def test_schedule_matches_torch_lambda_lr(torch, name):
    make, tname, tkw = FULL_OPTIONS[name]
    compare_with_torch(torch, make(lr_arg(tkw["lr"], True)), getattr(torch.optim, tname),
                       tkw, schedule=True)


@pytest.mark.parametrize("name", sorted(FULL_OPTIONS))
def test_large_leaf_chunked_path_matches_torch(torch, name):
    assert BIG > O.CHUNK_ELEMENTS
    make, tname, tkw = FULL_OPTIONS[name]
    schedule = name in ("Adam", "SGD")   # a couple of them with a schedule too
    compare_with_torch(torch, make(lr_arg(tkw["lr"], schedule)), getattr(torch.optim, tname),
                       tkw, shapes=[(BIG,), (2, 3)], steps=50, schedule=schedule, seed=1)


def test_defaults_and_argument_names_match_torch(torch):
    pairs = [(optlib.SGD, torch.optim.SGD), (optlib.Adagrad, torch.optim.Adagrad),
             (optlib.RMSprop, torch.optim.RMSprop), (optlib.Adadelta, torch.optim.Adadelta),
             (optlib.Adam, torch.optim.Adam), (optlib.AdamW, torch.optim.AdamW)]
    for ours, theirs in pairs:
        ours_sig = inspect.signature(ours).parameters
        theirs_sig = inspect.signature(theirs).parameters
        torch_args = [n for n, p in theirs_sig.items()
                      if n != "params" and p.kind is p.POSITIONAL_OR_KEYWORD
                      and n not in ("foreach", "capturable", "maximize", "differentiable")]
        for name in torch_args:
            assert name in ours_sig, f"{ours.__name__} lacks torch's argument {name}"
            assert ours_sig[name].default == theirs_sig[name].default, (
                f"{ours.__name__}.{name} default {ours_sig[name].default!r} "
                f"!= torch's {theirs_sig[name].default!r}")


# ---- Yogi against a transcription of optax.scale_by_yogi --------------------

def optax_yogi_reference(x0_list, grad_fn, steps, lr, b1, b2, eps, init):
    """optax's scale_by_yogi followed by scale(-lr), in plain numpy.

    lr is a function of the step index k (optax counts from 0 too).
    Yields the list of parameters after every step.
    """
    xs = [x.copy() for x in x0_list]
    mu = [np.full_like(x, init) for x in xs]
    nu = [np.full_like(x, init) for x in xs]
    for k in range(steps):
        t = k + 1
        gs = grad_fn(k, xs)
        for i, g in enumerate(gs):
            mu[i] = (1 - b1) * g + b1 * mu[i]
            nu[i] = nu[i] - (1 - b2) * np.sign(nu[i] - g**2) * g**2
            mu_hat = mu[i] / (1 - b1**t)
            nu_hat = nu[i] / (1 - b2**t)
            xs[i] = xs[i] + (-lr(k) * mu_hat / (np.sqrt(nu_hat) + eps))
        yield [x.copy() for x in xs]


def compare_yogi(lr, betas, eps, init, shapes=SMALL_SHAPES, steps=STEPS, schedule=False,
                 seed=0):
    problem = QuadraticWithNoise(shapes, seed)
    lr_fn = lr_arg(lr, schedule)
    ours = optlib.Yogi(lr=lr_fn, betas=betas, eps=eps, initial_accumulator_value=init)
    params = [x.copy() for x in problem.x0]
    noises = {}

    def grad_fn(k, xs):
        noises.setdefault(k, problem.noise(k))
        return [problem.grad(i, x, noises[k]) for i, x in enumerate(xs)]

    reference = optax_yogi_reference(problem.x0, grad_fn, steps,
                                     lr_fn if schedule else (lambda k: lr),
                                     betas[0], betas[1], eps, init)
    for k, expected in enumerate(reference):
        ours.step(params, grad_fn(k, params))
        for i, (a, b) in enumerate(zip(params, expected)):
            assert_normwise_close(a, b, f"leaf {i} at step {k + 1}")
    assert ours.t == steps
    assert any(np.max(np.abs(p - x0)) > 1e-3 for p, x0 in zip(params, problem.x0) if x0.size)


YOGI_GRID = list(itertools.product([(0.9, 0.999), (0.5, 0.9)], [1e-3, 1e-8], [1e-6, 0.1],
                                   [0.05, 0.01]))


@pytest.mark.parametrize("betas,eps,init,lr", YOGI_GRID)
def test_yogi_matches_optax_transcription(betas, eps, init, lr):
    compare_yogi(lr, betas, eps, init)


def test_yogi_schedule_matches_optax_transcription():
    compare_yogi(0.05, (0.9, 0.99), 1e-3, 1e-6, schedule=True)


def test_yogi_large_leaf_matches_optax_transcription():
    assert BIG > O.CHUNK_ELEMENTS
    compare_yogi(0.05, (0.9, 0.99), 1e-3, 1e-6, shapes=[(BIG,), (2, 3)], steps=50,
                 schedule=True, seed=1)


def test_yogi_defaults_are_optax_defaults():
    sig = inspect.signature(optlib.Yogi).parameters
    assert sig["betas"].default == (0.9, 0.999)
    assert sig["eps"].default == 1e-3
    assert sig["initial_accumulator_value"].default == 1e-6
