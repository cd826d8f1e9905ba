"""optlib.rates: closed forms of the quadratic analysis, checked against independent things.

The oracles: numpy's general eigenvalue solver on the iteration matrices, the
optimizers of optlib.optimizers run on a quadratic (iterates and measured
contraction), the discrete Lyapunov equation solved by a linear system, and the
textbook closed forms (the optimal pair, critical damping, the stability bound).
"""
import numpy as np
import pytest

import optlib
from optlib import rates

RNG = np.random.default_rng(1234)


def quadratic_run(optimizer, lam, e0, steps):
    """Run ``optimizer`` on f(x) = sum_i lam_i x_i^2 / 2 (x* = 0); errors and buffers per step.

    ``e0`` has shape (..., d) and broadcasts against ``lam`` (d,): each row is a run.
    Returns arrays of shape (steps + 1, ..., d): e_t and the momentum buffer b_t.
    """
    x = np.array(e0, dtype=np.float64)
    errors, buffers = [x.copy()], [np.zeros_like(x)]
    for _ in range(steps):
        optimizer.step(x, lam * x)
        errors.append(x.copy())
        buffers.append(optimizer.state[""]["momentum_buffer"].copy()
                       if optimizer.state.get("") else np.zeros_like(x))
    return np.array(errors), np.array(buffers)


def measured_rate(errors, start, stop):
    """Geometric mean of ||e_t|| / ||e_{t-1}|| over steps start+1 .. stop."""
    norms = np.linalg.norm(errors, axis=-1)
    return (norms[stop] / norms[start]) ** (1.0 / (stop - start))


# ----------------------------------------------------------------------------
# the iteration matrices reproduce the optimizers
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["heavy_ball", "nesterov"])
def test_matrix_powers_are_the_optimizer_iterates(method):
    lam = np.array([0.3, 1.7, 5.0])
    etas = np.array([0.05, 0.2, 0.35])[:, None]         # one run per row
    betas = np.array([0.0, 0.6, 0.9])[:, None]
    e0 = np.array([1.0, -2.0, 0.5])
    cls = optlib.Momentum if method == "heavy_ball" else optlib.Nesterov
    betas_used = betas if method == "heavy_ball" else np.maximum(betas, 0.1)
    opt = cls(lr=etas, momentum=betas_used)
    errors, buffers = quadratic_run(opt, lam, np.tile(e0, (3, 1)), steps=25)
    matrix = getattr(rates, f"{method}_matrix")(etas, betas_used, lam)   # (3, 3, 2, 2)
    assert matrix.shape == (3, 3, 2, 2)
    state = np.stack([np.zeros((3, 3)), np.tile(e0, (3, 1))], axis=-1)   # (b_0, e_0)
    for t in range(26):
        expected = np.einsum("rdij,rdj->rdi", np.linalg.matrix_power(matrix, t), state)
        np.testing.assert_allclose(buffers[t], expected[..., 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(errors[t], expected[..., 1], rtol=1e-10, atol=1e-12)


def test_heavy_ball_matrix_by_hand():
    # eta = 0.1, beta = 0.5, lambda = 4: R = [[0.5, 4], [-0.05, 0.6]]
    np.testing.assert_array_equal(rates.heavy_ball_matrix(0.1, 0.5, 4.0),
                                  [[0.5, 4.0], [-0.05, 1 - 0.4]])
    np.testing.assert_allclose(rates.nesterov_matrix(0.1, 0.5, 4.0),
                               [[0.5, 4.0], [-0.025, 1 - 0.6]], rtol=1e-15)


# ----------------------------------------------------------------------------
# eigenvalues and radii against numpy's eigenvalue solver
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["heavy_ball", "nesterov"])
def test_eigenvalues_and_radius_match_numpy(method):
    eta = RNG.uniform(0.0, 1.0, 400)
    beta = RNG.uniform(0.0, 0.999, 400)
    lam = RNG.uniform(0.01, 8.0, 400)
    matrix = getattr(rates, f"{method}_matrix")(eta, beta, lam)
    numeric = np.linalg.eigvals(matrix)                            # (400, 2)
    closed = getattr(rates, f"{method}_eigenvalues")(eta, beta, lam)
    key = lambda z: np.sort_complex(np.round(z, 9))               # noqa: E731
    np.testing.assert_allclose(key(closed), key(numeric), atol=1e-7)
    radius = getattr(rates, f"{method}_radius")(eta, beta, lam)
    np.testing.assert_allclose(radius, np.abs(numeric).max(axis=-1), rtol=1e-6, atol=1e-9)
    # trace and determinant of the matrix are the polynomial's coefficients
    np.testing.assert_allclose(closed.sum(axis=-1).real, np.trace(matrix, axis1=-2, axis2=-1),
                               atol=1e-12)
    np.testing.assert_allclose(closed.prod(axis=-1).real, np.linalg.det(matrix), atol=1e-12)


def test_heavy_ball_determinant_is_beta_for_every_step():
    eta, beta, lam = RNG.uniform(0, 2, 100), RNG.uniform(0, 1, 100), RNG.uniform(0, 50, 100)
    np.testing.assert_allclose(np.linalg.det(rates.heavy_ball_matrix(eta, beta, lam)), beta,
                               atol=1e-12)


def test_complex_eigenvalues_have_modulus_sqrt_beta():
    # under-damped: (1 - sqrt(beta))^2 < eta * lambda < (1 + sqrt(beta))^2
    beta = RNG.uniform(0.01, 0.99, 500)
    s = np.sqrt(beta)
    step = RNG.uniform((1 - s) ** 2, (1 + s) ** 2) * (1 - 1e-9) + 1e-12
    eta, lam = np.ones_like(step), step
    numeric = np.linalg.eigvals(rates.heavy_ball_matrix(eta, beta, lam))
    assert np.all(np.abs(numeric.imag) > 0)                        # complex pairs
    np.testing.assert_allclose(np.abs(numeric), np.stack([s, s], -1), rtol=1e-9)
    np.testing.assert_allclose(rates.heavy_ball_radius(eta, beta, lam), s, rtol=1e-12)
    # not 2 sqrt(beta), and independent of eta and lambda
    assert np.all(rates.heavy_ball_radius(eta, beta, lam) < 2 * s)


def test_real_regime_is_outside_the_complex_interval():
    beta = 0.49                                                     # sqrt = 0.7
    inside = rates.heavy_ball_eigenvalues(1.0, beta, [0.1, 1.0, 2.8])
    outside = rates.heavy_ball_eigenvalues(1.0, beta, [0.05, 2.95])
    assert np.all(inside.imag != 0) and np.all(outside.imag == 0)


# ----------------------------------------------------------------------------
# the stability boundary 0 < eta * lambda < 2 + 2 beta
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("beta", [0.0, 0.3, 0.5, 0.9, 0.99])
def test_stability_boundary(beta):
    edge = 2 + 2 * beta
    assert rates.heavy_ball_radius(1.0, beta, edge * (1 - 1e-6)) < 1
    assert rates.heavy_ball_radius(1.0, beta, edge * (1 + 1e-6)) > 1
    assert rates.heavy_ball_radius(1.0, beta, 1e-6) < 1
    assert rates.heavy_ball_radius(1.0, beta, -1e-6) > 1
    np.testing.assert_allclose(rates.heavy_ball_radius(1.0, beta, edge), 1.0, rtol=1e-12)
    # a run of optlib.Momentum just inside shrinks, just outside grows
    lam = np.array([edge * (1 - 1e-3), edge * (1 + 1e-3)])
    opt = optlib.Momentum(lr=1.0, momentum=beta, check_finite=False)
    errors, _ = quadratic_run(opt, lam, np.ones((2, 1)) * np.eye(2), steps=4000)
    assert abs(errors[-1, 0, 0]) < 1 and abs(errors[-1, 1, 1]) > 1


def test_stability_boundary_on_a_grid():
    beta = np.linspace(0, 0.98, 50)[:, None]
    step = np.linspace(-0.5, 4.5, 501)[None, :]
    stable = rates.heavy_ball_radius(1.0, beta, step) < 1
    predicted = (step > 0) & (step < 2 + 2 * beta)
    margin = np.abs(step - 2 - 2 * beta) > 1e-9
    assert np.array_equal(stable[margin & (step != 0)], predicted[margin & (step != 0)])


# ----------------------------------------------------------------------------
# critical damping
# ----------------------------------------------------------------------------

def test_critical_damping():
    step = np.array([1e-4, 0.01, 0.1, 0.5, 0.9])
    beta_c = rates.critical_beta(1.0, step)
    np.testing.assert_allclose(beta_c, (1 - np.sqrt(step)) ** 2, rtol=1e-14)
    # the discriminant vanishes: a double eigenvalue 1 - sqrt(eta * lambda)
    disc = (1 + beta_c - step) ** 2 - 4 * beta_c
    np.testing.assert_allclose(disc, 0.0, atol=1e-14)
    np.testing.assert_allclose(rates.heavy_ball_radius(1.0, beta_c, step), 1 - np.sqrt(step),
                               rtol=1e-6)
    # ... and no beta in a fine grid does better
    grid = np.linspace(0, 0.9999, 200_001)[:, None]
    best = rates.heavy_ball_radius(1.0, grid, step).min(axis=0)
    # (the radius has a square-root cusp at beta_c, so a grid of spacing 5e-6 lands
    # within about sqrt(5e-6)/10 of the minimum)
    np.testing.assert_allclose(best, 1 - np.sqrt(step), atol=1e-4)
    assert np.all(best >= 1 - np.sqrt(step) - 1e-12)
    # over-damped below beta_c (radius falls), under-damped above (radius = sqrt(beta))
    below = rates.heavy_ball_radius(1.0, 0.5 * beta_c, step)
    above = rates.heavy_ball_radius(1.0, beta_c + 0.5 * (1 - beta_c), step)
    assert np.all(below > 1 - np.sqrt(step))
    np.testing.assert_allclose(above, np.sqrt(beta_c + 0.5 * (1 - beta_c)), rtol=1e-12)


def test_critical_beta_rejects_steps_above_one():
    with pytest.raises(ValueError, match="eta \\* lam"):
        rates.critical_beta(1.0, 1.5)


# ----------------------------------------------------------------------------
# the optimal pair and the rate (sqrt(kappa) - 1)/(sqrt(kappa) + 1)
# ----------------------------------------------------------------------------

def test_optimal_heavy_ball_closed_form():
    eta, beta, rate = rates.optimal_heavy_ball(1.0, 100.0)
    assert eta == pytest.approx(4 / 121, rel=1e-15)
    assert beta == pytest.approx(81 / 121, rel=1e-15)
    assert rate == pytest.approx(9 / 11, rel=1e-15)
    for mu, L in [(0.2, 4.0), (1e-3, 1.0), (3.0, 3.0), (0.5, 7e4)]:
        eta, beta, rate = rates.optimal_heavy_ball(mu, L)
        kappa = L / mu
        assert rate == pytest.approx((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1), rel=1e-12)
        assert beta == pytest.approx(rate**2, rel=1e-12)
        # both ends are critically damped: eta mu = (1 - sqrt beta)^2, eta L = (1 + sqrt beta)^2
        assert eta * mu == pytest.approx((1 - np.sqrt(beta)) ** 2, rel=1e-9, abs=1e-15)
        assert eta * L == pytest.approx((1 + np.sqrt(beta)) ** 2, rel=1e-12)


def test_optimal_pair_has_radius_sqrt_beta_on_the_whole_interval():
    mu, L = 1.0, 100.0
    eta, beta, rate = rates.optimal_heavy_ball(mu, L)
    lam = np.linspace(mu, L, 2001)
    np.testing.assert_allclose(rates.heavy_ball_radius(eta, beta, lam), rate, rtol=1e-7)
    assert rates.heavy_ball_rate(eta, beta, lam) == pytest.approx(rate, rel=1e-7)


def test_no_pair_beats_the_optimal_pair():
    mu, L = 1.0, 100.0
    _, _, best = rates.optimal_heavy_ball(mu, L)
    eta = np.linspace(1e-4, 0.08, 801)[:, None]
    beta = np.linspace(0, 0.999, 1000)[None, :]
    grid = rates.heavy_ball_rate(eta, beta, (mu, L))
    assert grid.shape == (801, 1000)
    assert grid.min() >= best - 1e-12
    assert grid.min() < best + 5e-3              # the grid gets close to it


def test_rate_over_interval_is_rate_over_its_ends():
    # the radius is quasi-convex in lambda, so the interval's worst case is an end
    mu, L = 0.5, 40.0
    eta = RNG.uniform(0.001, 0.12, 300)
    beta = RNG.uniform(0, 0.99, 300)
    lam = np.linspace(mu, L, 4001)
    for fn in (rates.heavy_ball_rate, rates.nesterov_rate):
        np.testing.assert_allclose(fn(eta, beta, lam), fn(eta, beta, (mu, L)), rtol=1e-12)
    np.testing.assert_allclose(rates.gd_rate(eta, lam), rates.gd_rate(eta, (mu, L)),
                               rtol=1e-12)


def test_optimal_gd_closed_form_and_beta_zero():
    eta, rate = rates.optimal_gd(1.0, 100.0)
    assert eta == pytest.approx(2 / 101) and rate == pytest.approx(99 / 101)
    assert rates.gd_rate(eta, (1.0, 100.0)) == pytest.approx(rate, rel=1e-14)
    etas = np.linspace(0.001, 0.03, 50)
    # heavy ball and Nesterov with beta = 0 are gradient descent
    np.testing.assert_allclose(rates.heavy_ball_rate(etas, 0.0, (1.0, 100.0)),
                               np.abs(1 - np.outer(etas, [1.0, 100.0])).max(axis=1), rtol=1e-12)
    np.testing.assert_allclose(rates.nesterov_rate(etas, 0.0, (1.0, 100.0)),
                               rates.gd_rate(etas, (1.0, 100.0)), rtol=1e-12)


def test_square_root_speedup():
    for kappa in [100.0, 1e4]:
        _, gd = rates.optimal_gd(1.0, kappa)
        _, _, hb = rates.optimal_heavy_ball(1.0, kappa)
        # steps per decimal digit: ln 10 / -ln rho ~ 1.15 kappa and 1.15 sqrt(kappa)
        assert np.log(10) / -np.log(gd) == pytest.approx(np.log(10) * (kappa / 2), rel=0.02)
        assert np.log(10) / -np.log(hb) == pytest.approx(np.log(10) * np.sqrt(kappa) / 2,
                                                         rel=0.02)


# ----------------------------------------------------------------------------
# measured contraction of optlib's iterates
# ----------------------------------------------------------------------------

def test_measured_contraction_of_momentum_at_the_optimal_pair():
    mu, L = 1.0, 100.0
    eta, beta, rate = rates.optimal_heavy_ball(mu, L)
    lam = np.geomspace(mu, L, 20)
    errors, _ = quadratic_run(optlib.Momentum(lr=eta, momentum=beta), lam,
                              np.ones(20), steps=600)
    measured = measured_rate(errors, 300, 600)
    # both ends are critically damped (double root: e_t ~ (c + d t) rate^t), so the
    # measured ratio approaches the rate from above like (600/300)^(1/300)
    assert rate <= measured <= rate * 2 ** (1 / 300) * 1.001
    _, gd = rates.optimal_gd(mu, L)
    gd_errors, _ = quadratic_run(optlib.SGD(lr=2 / (mu + L)), lam, np.ones(20), steps=600)
    assert measured_rate(gd_errors, 300, 600) == pytest.approx(gd, abs=1e-4)


@pytest.mark.parametrize("method", ["heavy_ball", "nesterov"])
def test_measured_contraction_matches_rate(method):
    lam = np.array([0.5, 3.0, 20.0])
    etas = np.array([0.01, 0.05, 0.06])[:, None]
    betas = np.array([0.5, 0.8, 0.95])[:, None]
    cls = optlib.Momentum if method == "heavy_ball" else optlib.Nesterov
    errors, _ = quadratic_run(cls(lr=etas, momentum=betas), lam,
                              np.ones((3, 3)), steps=1500)
    predicted = getattr(rates, f"{method}_rate")(etas[:, 0], betas[:, 0], lam)
    measured = measured_rate(errors, 750, 1500)
    np.testing.assert_allclose(measured, predicted, rtol=3e-3)


# ----------------------------------------------------------------------------
# noise: the stationary variance
# ----------------------------------------------------------------------------

def lyapunov_variance(eta, beta, lam, sigma):
    """Var(e) from Sigma = R Sigma R^T + Q, solved as a linear system (independent of the formula)."""
    R = rates.heavy_ball_matrix(eta, beta, lam)
    w = np.array([1.0, -eta])               # xi enters b with +1 and e with -eta
    Q = sigma**2 * np.outer(w, w)
    vec = np.linalg.solve(np.eye(4) - np.kron(R, R), Q.reshape(-1))
    return vec.reshape(2, 2)[1, 1]


def test_variance_matches_lyapunov_equation():
    for eta, beta, lam, sigma in [(0.1, 0.0, 1.0, 1.0), (0.01, 0.9, 1.0, 2.0),
                                  (0.3, 0.5, 4.0, 0.5), (0.05, 0.99, 0.2, 1.0),
                                  (1.0, 0.7, 3.3, 1.0)]:
        assert rates.heavy_ball_variance(eta, beta, lam, sigma) == pytest.approx(
            lyapunov_variance(eta, beta, lam, sigma), rel=1e-9)


def test_variance_reduces_to_sgd_and_amplifies_by_one_over_one_minus_beta():
    eta, lam = np.array([0.01, 0.5, 1.5]), 1.0
    np.testing.assert_allclose(rates.heavy_ball_variance(eta, 0.0, lam),
                               eta / (lam * (2 - eta * lam)), rtol=1e-14)
    betas = np.array([0.5, 0.9, 0.99])
    ratio = rates.heavy_ball_variance(1e-5, betas, 1.0) / rates.heavy_ball_variance(1e-5, 0, 1)
    np.testing.assert_allclose(ratio, 1 / (1 - betas), rtol=1e-4)
    assert np.isinf(rates.heavy_ball_variance(1.0, 0.5, 3.5))      # beyond 2 + 2 beta


def test_variance_matches_simulation():
    rng = np.random.default_rng(7)
    eta, beta, lam, sigma = 0.05, 0.8, 1.0, 1.0
    x = np.zeros(20_000)
    opt = optlib.Momentum(lr=eta, momentum=beta)
    for _ in range(600):                      # 1/(1 - rho) ~ 11 steps: long burned in
        opt.step(x, lam * x + sigma * rng.standard_normal(x.shape))
    predicted = rates.heavy_ball_variance(eta, beta, lam, sigma)
    assert x.var() == pytest.approx(predicted, rel=0.05)


# ----------------------------------------------------------------------------
# shapes and validation
# ----------------------------------------------------------------------------

def test_broadcasting_shapes():
    eta = np.linspace(0.01, 0.1, 3)[:, None]
    beta = np.linspace(0, 0.9, 4)[None, :]
    assert rates.heavy_ball_matrix(eta, beta, 2.0).shape == (3, 4, 2, 2)
    assert rates.heavy_ball_eigenvalues(eta, beta, 2.0).shape == (3, 4, 2)
    assert rates.heavy_ball_radius(eta, beta, 2.0).shape == (3, 4)
    assert rates.heavy_ball_rate(eta, beta, [1.0, 2.0, 5.0]).shape == (3, 4)
    assert rates.nesterov_rate(eta, beta, [1.0, 2.0]).shape == (3, 4)
    assert rates.gd_rate(eta, [1.0, 2.0]).shape == (3, 1)
    assert isinstance(rates.heavy_ball_rate(0.1, 0.5, 2.0), float)
    assert isinstance(rates.gd_rate(0.1, 2.0), float)


def test_validation():
    with pytest.raises(ValueError, match="mu"):
        rates.optimal_heavy_ball(0.0, 1.0)
    with pytest.raises(ValueError, match="mu must be <= L"):
        rates.optimal_heavy_ball(2.0, 1.0)
    with pytest.raises(ValueError, match="L"):
        rates.optimal_gd(1.0, np.inf)
    with pytest.raises(ValueError, match="eta"):
        rates.heavy_ball_rate(np.nan, 0.5, 1.0)
    with pytest.raises(ValueError, match="lam"):
        rates.heavy_ball_rate(0.1, 0.5, np.ones((2, 2)))
    with pytest.raises(ValueError, match="beta"):
        rates.heavy_ball_matrix(0.1, "x", 1.0)


def test_exported_from_optlib():
    assert optlib.rates is rates
    assert "rates" in optlib.__all__


# ----------------------------------------------------------------------------
# measured_rate
# ----------------------------------------------------------------------------

def test_measured_rate_of_exact_sequences():
    t = np.arange(3001)[:, None]
    rho = np.array([0.7, 0.99, 1.1 ** 0.1])
    seq = 3.0 * rho ** t                                   # 0.7^3000 underflows: floor
    np.testing.assert_allclose(rates.measured_rate(seq), rho, rtol=1e-12)
    assert rates.measured_rate(np.zeros(11)) == 0.0
    assert rates.measured_rate(np.array([1.0, 2.0, np.inf, np.nan, 1.0])) == np.inf
    assert rates.measured_rate(np.ones((21, 2, 3))).shape == (2, 3)


def test_measured_rate_of_an_oscillation_needs_a_window():
    beta, theta = 0.81, 0.3                                 # period 2 pi / 0.3 ~ 21 steps
    t = np.arange(2001)
    seq = beta ** (t / 2) * np.cos(theta * t + 0.4)
    assert rates.measured_rate(seq, window=25) == pytest.approx(np.sqrt(beta), rel=2e-3)
    # the heavy ball itself, under-damped: the envelope recovers sqrt(beta)
    errors, _ = quadratic_run(optlib.Momentum(lr=0.5, momentum=beta), np.array([1.0]),
                              np.ones(1), steps=2000)
    assert rates.heavy_ball_eigenvalues(0.5, beta, 1.0).imag.any()
    assert rates.measured_rate(errors[:, 0], window=30) == pytest.approx(0.9, rel=2e-3)


def test_measured_rate_validation():
    with pytest.raises(ValueError, match="window"):
        rates.measured_rate(np.ones(10), window=0)
    with pytest.raises(ValueError, match="rows"):
        rates.measured_rate(np.ones(4), window=2)


# ----------------------------------------------------------------------------
# optimal_nesterov (Nesterov chapter)
# ----------------------------------------------------------------------------

def test_optimal_nesterov_closed_form():
    eta, beta, rate = rates.optimal_nesterov(1.0, 100.0)       # kappa = 100, sqrt(301)
    assert eta == pytest.approx(4 / 301, rel=1e-15)
    assert beta == pytest.approx((301 ** 0.5 - 2) / (301 ** 0.5 + 2), rel=1e-15)
    assert rate == pytest.approx(1 - 2 / 301 ** 0.5, rel=1e-15)
    assert rates.optimal_nesterov(3.0, 3.0) == pytest.approx((1 / 3, 0.0, 0.0), abs=1e-15)


@pytest.mark.parametrize("mu, L", [(1.0, 4.0), (0.1, 10.0), (1.0, 1e4)])
def test_optimal_nesterov_damps_mu_critically_and_matches_at_L(mu, L):
    eta, beta, rate = rates.optimal_nesterov(mu, L)
    # a double eigenvalue at mu (numpy's solver on the matrix, not the closed form)
    z_mu = np.linalg.eigvals(rates.nesterov_matrix(eta, beta, mu))
    assert np.abs(z_mu).max() == pytest.approx(rate, rel=1e-6)
    assert abs(z_mu[0] - z_mu[1]) < 1e-6
    # at L the larger eigenvalue is the negative real -rate
    z_L = np.linalg.eigvals(rates.nesterov_matrix(eta, beta, L))
    assert min(z_L.real) == pytest.approx(-rate, rel=1e-12) and not z_L.imag.any()
    assert rates.nesterov_rate(eta, beta, (mu, L)) == pytest.approx(rate, rel=1e-6)


# ----------------------------------------------------------------------------
# Nesterov's optimal pair
# ----------------------------------------------------------------------------

def test_optimal_nesterov_closed_form_and_structure():
    eta, beta, rate = rates.optimal_nesterov(1.0, 100.0)
    q = np.sqrt(301.0)
    assert eta == pytest.approx(4 / 301) and beta == pytest.approx((q - 2) / (q + 2))
    assert rate == pytest.approx(1 - 2 / q)
    for mu, L in [(1.0, 100.0), (1.0, 10.0), (0.3, 50.0)]:
        eta, beta, rate = rates.optimal_nesterov(mu, L)
        assert rates.nesterov_rate(eta, beta, (mu, L)) == pytest.approx(rate, rel=1e-7)
        z_mu, z_L = rates.nesterov_eigenvalues(eta, beta, [mu, L])
        np.testing.assert_allclose(z_mu, [rate, rate], rtol=1e-6)     # critical at mu
        assert np.min(np.abs(z_L - (-rate))) < 1e-9                   # root -rho at L
        # slower than the heavy ball's optimum on the same quadratic
        assert rate > rates.optimal_heavy_ball(mu, L)[2]


def test_no_nesterov_pair_beats_the_optimal_pair():
    mu, L = 1.0, 100.0
    _, _, best = rates.optimal_nesterov(mu, L)
    eta = np.linspace(1e-4, 0.024, 1200)[:, None]
    beta = np.linspace(0, 0.999, 1200)[None, :]
    grid = rates.nesterov_rate(eta, beta, (mu, L))
    assert grid.min() >= best - 1e-9 and grid.min() < best + 1e-3


def test_measured_contraction_of_nesterov_at_the_optimal_pair():
    mu, L = 1.0, 100.0
    eta, beta, rate = rates.optimal_nesterov(mu, L)
    errors, _ = quadratic_run(optlib.Nesterov(lr=eta, momentum=beta),
                              np.geomspace(mu, L, 20), np.ones(20), steps=800)
    measured = rates.measured_rate(np.linalg.norm(errors, axis=-1))
    # the double root at mu: measured a little above the rate (see measured_rate)
    assert rate <= measured <= rate * 2 ** (1 / 400) * 1.001
