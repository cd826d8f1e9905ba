"""optlib.surfaces: analytic gradients, minimizers, vectorization, trajectory()."""
import dataclasses
import warnings

import numpy as np
import pytest

import optlib
from optlib import surfaces as S
from optlib.surfaces import Surface, trajectory

# Every surface under test, including non-default parameters.
ALL_SURFACES = {
    "quadratic": S.quadratic(),
    "quadratic(0.3, 5)": S.quadratic(a=0.3, b=5.0),
    "elongated_bowl": S.elongated_bowl(),
    "rosenbrock": S.rosenbrock(),
    "rosenbrock(-0.5, 3)": S.rosenbrock(a=-0.5, b=3.0),
    "beale": S.beale(),
    "himmelblau": S.himmelblau(),
    "booth": S.booth(),
    "saddle": S.saddle(),
    "rastrigin": S.rastrigin(),
    "rastrigin(2.5)": S.rastrigin(A=2.5),
    "noisy(sigma=0)": S.noisy(S.rosenbrock(), sigma=0.0, seed=1),
}
WITH_MINIMIZERS = {k: s for k, s in ALL_SURFACES.items() if len(s.minimizers)}


def central_difference(surface, xy, h=1e-6):
    """Independent numerical gradient: (f(p + h e_i) - f(p - h e_i)) / 2h."""
    grads = []
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        grads.append((surface.f(xy + e) - surface.f(xy - e)) / (2 * h))
    return np.stack(grads, axis=-1)


def random_points(surface, n, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(*surface.xlim, n), rng.uniform(*surface.ylim, n)], axis=-1)


# ----------------------------------------------------------------------------
# gradients, minimizers, windows
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(ALL_SURFACES))
def test_gradient_matches_central_differences(name):
    surface = ALL_SURFACES[name]
    xy = random_points(surface, 200, seed=len(name))
    analytic = surface.grad(xy)
    numeric = central_difference(surface, xy)
    scale = 1.0 + np.abs(analytic).max()
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7 * scale)


def test_finite_difference_check_catches_a_wrong_gradient():
    good = S.rosenbrock()
    bad = dataclasses.replace(good, grad_fn=lambda x, y: (2 * (x - 1), 200 * (y - x**2)))
    xy = random_points(bad, 50)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(bad.grad(xy), central_difference(bad, xy), rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("name", list(WITH_MINIMIZERS))
def test_minimizers_are_stationary_with_the_stated_minimum(name):
    surface = WITH_MINIMIZERS[name]
    mins = surface.minimizers
    assert mins.ndim == 2 and mins.shape[1] == 2
    np.testing.assert_allclose(surface.grad(mins), 0.0, atol=1e-10)
    np.testing.assert_allclose(surface.f(mins), surface.minimum, atol=1e-12)
    # and no point of the window is lower (a global, not just a critical, point)
    X, Y, Z = surface.grid(301)
    assert Z.min() >= surface.minimum - 1e-12


@pytest.mark.parametrize("name", list(WITH_MINIMIZERS))
def test_minimizers_are_minima_by_second_differences(name):
    surface = WITH_MINIMIZERS[name]
    h = 1e-5
    for p in surface.minimizers:
        hess = np.stack([(surface.grad(p + h * e) - surface.grad(p - h * e)) / (2 * h)
                         for e in np.eye(2)])
        assert np.all(np.linalg.eigvalsh((hess + hess.T) / 2) > 0)


def test_known_minimizers_of_each_surface():
    np.testing.assert_array_equal(S.rosenbrock().minimizers, [[1.0, 1.0]])
    np.testing.assert_array_equal(S.rosenbrock(a=2.0).minimizers, [[2.0, 4.0]])
    np.testing.assert_array_equal(S.beale().minimizers, [[3.0, 0.5]])
    np.testing.assert_array_equal(S.booth().minimizers, [[1.0, 3.0]])
    np.testing.assert_array_equal(S.quadratic().minimizers, [[0.0, 0.0]])
    np.testing.assert_array_equal(S.rastrigin().minimizers, [[0.0, 0.0]])
    h = S.himmelblau().minimizers
    assert h.shape == (4, 2)
    # four distinct points, one per quadrant
    assert sorted(map(tuple, np.sign(h).astype(int))) == [(-1, -1), (-1, 1), (1, -1), (1, 1)]


def test_formula_strings_describe_the_parameters():
    assert "0.1" in S.quadratic().formula and "2" in S.quadratic().formula
    assert "0.3" in S.quadratic(a=0.3, b=7.0).formula and "7" in S.quadratic(a=0.3, b=7.0).formula
    assert "100" in S.rosenbrock().formula
    assert "$" not in "".join(s.formula for s in ALL_SURFACES.values())


def test_saddle_has_no_minimizer_and_is_unbounded_below():
    s = S.saddle()
    assert s.minimizers.shape == (0, 2)
    assert s.minimum == -np.inf
    np.testing.assert_array_equal(s.grad(np.zeros(2)), [0.0, 0.0])  # a critical point...
    assert s.f(np.array([0.0, 1e3])) < s.f(np.array([0.0, 1.0])) < s.f(np.zeros(2))  # ...not a min


@pytest.mark.parametrize("name", list(ALL_SURFACES))
def test_window_holds_start_and_minimizers(name):
    s = ALL_SURFACES[name]
    for px, py in np.vstack([s.minimizers, [s.start]]):
        assert s.xlim[0] <= px <= s.xlim[1] and s.ylim[0] <= py <= s.ylim[1]
    assert s.name and s.formula


def test_registry_builds_every_default_surface():
    assert set(S.SURFACES) >= {"quadratic", "elongated_bowl", "rosenbrock", "beale",
                               "himmelblau", "booth", "saddle", "rastrigin"}
    for factory in S.SURFACES.values():
        assert isinstance(factory(), Surface)
    with pytest.raises(TypeError):
        S.SURFACES["mine"] = S.booth  # read-only


def test_closed_form_values_at_a_point():
    p = np.array([2.0, -1.0])
    assert S.quadratic(a=0.1, b=2.0).f(p) == pytest.approx(0.1 * 4 + 2.0 * 1)
    assert S.elongated_bowl().f(p) == pytest.approx(4 / 20 + 1)
    assert S.rosenbrock().f(p) == pytest.approx((1 - 2) ** 2 + 100 * (-1 - 4) ** 2)
    assert S.booth().f(p) == pytest.approx((2 - 2 - 7) ** 2 + (4 - 1 - 5) ** 2)
    assert S.himmelblau().f(p) == pytest.approx((4 - 1 - 11) ** 2 + (2 + 1 - 7) ** 2)
    assert S.saddle().f(p) == pytest.approx(3.0)
    assert S.rastrigin().f(np.array([0.5, 1.0])) == pytest.approx(20 + 0.25 + 10 + 1 - 10)
    assert S.beale().f(p) == pytest.approx((1.5 - 2 - 2) ** 2 + (2.25 - 2 + 2) ** 2
                                           + (2.625 - 2 - 2) ** 2)


# ----------------------------------------------------------------------------
# vectorization and input checks
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(ALL_SURFACES))
def test_vectorized_over_leading_shapes(name):
    s = ALL_SURFACES[name]
    xy = random_points(s, 12, seed=3).reshape(3, 4, 2)
    f, g = s.f(xy), s.grad(xy)
    assert f.shape == (3, 4) and g.shape == (3, 4, 2)
    single_f = np.array([[s.f(xy[i, j]) for j in range(4)] for i in range(3)])
    np.testing.assert_allclose(f, single_f, rtol=1e-15)
    if not s.noise_sigma:
        single_g = np.array([[s.grad(xy[i, j]) for j in range(4)] for i in range(3)])
        np.testing.assert_allclose(g, single_g, rtol=1e-15)
    assert s.f(xy[0, 0]).shape == () and s.grad(xy[0, 0]).shape == (2,)


def test_dtypes_float32_kept_and_integers_converted():
    s = S.rastrigin()
    p32 = np.array([[0.3, -1.2]], dtype=np.float32)
    assert s.f(p32).dtype == np.float32 and s.grad(p32).dtype == np.float32
    np.testing.assert_allclose(s.grad(p32), s.grad(p32.astype(np.float64)), rtol=1e-4)
    assert s.grad([1, 2]).dtype == np.float64
    np.testing.assert_array_equal(S.booth().grad([1, 3]), [0.0, 0.0])


def test_bad_points_are_rejected_with_the_argument_named():
    s = S.booth()
    with pytest.raises(ValueError, match=r"xy must have shape \(\.\.\., 2\).*\(3,\)"):
        s.grad(np.zeros(3))
    with pytest.raises(ValueError, match="xy must have shape"):
        s.f(1.0)
    with pytest.raises(TypeError, match="xy must hold real numbers.*complex"):
        s.f(np.zeros(2, dtype=complex))


@pytest.mark.parametrize("call, name", [
    (lambda: S.quadratic(a=0.0), "a"),
    (lambda: S.quadratic(b=-1.0), "b"),
    (lambda: S.quadratic(a=np.inf), "a"),
    (lambda: S.rosenbrock(b=0.0), "b"),
    (lambda: S.rosenbrock(a=np.nan), "a"),
    (lambda: S.rosenbrock(a="1"), "a"),
    (lambda: S.rastrigin(A=-1.0), "A"),
    (lambda: S.noisy(S.booth(), sigma=-0.1), "sigma"),
    (lambda: S.noisy(S.booth(), sigma=True), "sigma"),
    (lambda: S.booth().grid(1), "n"),
    (lambda: dataclasses.replace(S.booth(), xlim=(1.0, -1.0)), "xlim"),
])
def test_invalid_parameters_name_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        call()


def test_surface_is_immutable():
    s = S.himmelblau()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.minimum = 1.0
    with pytest.raises(ValueError):
        s.minimizers[0, 0] = 7.0
    assert "Himmelblau" in repr(s)


def test_grid_covers_the_window():
    s = S.rosenbrock()
    X, Y, Z = s.grid(11)
    assert X.shape == Y.shape == Z.shape == (11, 11)
    assert (X.min(), X.max(), Y.min(), Y.max()) == (*s.xlim, *s.ylim)
    np.testing.assert_allclose(Z, s.f(np.stack([X, Y], axis=-1)))


# ----------------------------------------------------------------------------
# noisy gradients
# ----------------------------------------------------------------------------

def test_noisy_gradient_has_the_right_mean_and_standard_deviation():
    base = S.rosenbrock()
    sigma, n = 0.7, 40_000
    noisy = S.noisy(base, sigma=sigma, seed=123)
    p = np.array([-0.5, 1.5])
    xy = np.broadcast_to(p, (n, 2)).copy()
    g = noisy.grad(xy)
    noise = g - base.grad(p)
    # the mean of n draws is within 5 standard errors, the std within 3 %
    assert np.all(np.abs(noise.mean(axis=0)) < 5 * sigma / np.sqrt(n))
    np.testing.assert_allclose(noise.std(axis=0), sigma, rtol=0.03)
    assert abs(np.corrcoef(noise.T)[0, 1]) < 0.03  # independent components
    np.testing.assert_array_equal(noisy.f(xy[:3]), base.f(xy[:3]))  # f unchanged
    assert noisy.noise_sigma == sigma and "noisy" in noisy.name


def test_noise_is_reproducible_per_seed_and_fresh_per_call():
    p = np.zeros((5, 2))
    a, b = S.noisy(S.booth(), 1.0, seed=7), S.noisy(S.booth(), 1.0, seed=7)
    first = a.grad(p)
    np.testing.assert_array_equal(first, b.grad(p))
    assert not np.array_equal(first, a.grad(p))
    assert not np.array_equal(first, S.noisy(S.booth(), 1.0, seed=8).grad(p))
    np.testing.assert_array_equal(S.noisy(S.booth(), 0.0, seed=1).grad(p), S.booth().grad(p))
    assert S.noisy(S.booth(), 1.0, seed=0).grad(p.astype(np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match="surface must be a Surface"):
        S.noisy(S.booth, 1.0)


# ----------------------------------------------------------------------------
# trajectory
# ----------------------------------------------------------------------------

def test_trajectory_shapes_dtype_first_row_and_no_mutation():
    s = S.rosenbrock()
    x0 = np.array([[-1.2, 1.0], [0.0, 2.0], [1.5, 1.5]])
    saved = x0.copy()
    path = trajectory(s, optlib.Adam(lr=0.01), x0, steps=25)
    assert path.shape == (26, 3, 2) and path.dtype == np.float64
    np.testing.assert_array_equal(path[0], saved)
    np.testing.assert_array_equal(x0, saved)
    assert not np.shares_memory(path, x0)
    single = trajectory(s, optlib.Adam(lr=0.01), [-1.2, 1], steps=25)
    assert single.shape == (26, 2)
    np.testing.assert_array_equal(single, path[:, 0])  # rows are independent
    assert trajectory(s, optlib.SGD(lr=0.1), x0, steps=0).shape == (1, 3, 2)
    x32 = x0.astype(np.float32)
    assert trajectory(s, optlib.SGD(lr=1e-3), x32, steps=2).dtype == np.float64
    assert x32.dtype == np.float32


def test_trajectory_calls_step_with_the_surface_gradient():
    class Recorder:
        def __init__(self):
            self.calls = []

        def step(self, params, grads):
            self.calls.append((params.copy(), grads.copy()))
            params -= 0.01 * grads

    s = S.himmelblau()
    rec = Recorder()
    path = trajectory(s, rec, [[1.0, 1.0], [-1.0, 0.5]], steps=4)
    assert len(rec.calls) == 4
    for k, (params, grads) in enumerate(rec.calls):
        np.testing.assert_array_equal(params, path[k])
        np.testing.assert_array_equal(grads, s.grad(path[k]))


def test_sgd_on_the_quadratic_matches_the_closed_form():
    a, b, lr, steps = 0.1, 2.0, 0.2, 60
    x0 = np.array([[-4.0, 2.0], [3.0, -1.5], [0.5, 0.25]])
    path = trajectory(S.quadratic(a=a, b=b), optlib.SGD(lr=lr), x0, steps)
    k = np.arange(steps + 1)[:, None]
    np.testing.assert_allclose(path[..., 0], (1 - 2 * lr * a) ** k * x0[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(path[..., 1], (1 - 2 * lr * b) ** k * x0[:, 1], rtol=0, atol=1e-12)


def test_momentum_first_two_steps_by_hand():
    s, lr, mu = S.rosenbrock(), 1e-3, 0.9
    x0 = np.array([-1.2, 1.0])
    path = trajectory(s, optlib.Momentum(lr=lr, momentum=mu), x0, steps=2)
    g0 = s.grad(x0)
    x1 = x0 - lr * g0                        # v1 = g0
    x2 = x1 - lr * (mu * g0 + s.grad(x1))    # v2 = mu v1 + g1
    np.testing.assert_allclose(path[1], x1, rtol=1e-14)
    np.testing.assert_allclose(path[2], x2, rtol=1e-14)


def test_array_learning_rates_advance_independent_trajectories():
    s = S.beale()
    lrs = np.array([1e-3, 3e-3, 1e-2, 3e-2])
    x0 = np.array([[1.0, 1.5], [-1.0, 1.0], [2.0, -1.0], [0.5, 0.5]])
    batched = trajectory(s, optlib.Adam(lr=lrs[:, None]), x0, steps=40)
    for i, lr in enumerate(lrs):
        alone = trajectory(s, optlib.Adam(lr=float(lr)), x0[i], steps=40)
        np.testing.assert_allclose(batched[:, i], alone, rtol=1e-13, atol=1e-15)


def test_divergence_raises_with_a_hint_unless_check_finite_is_off():
    s = S.quadratic(a=0.1, b=2.0)
    x0 = np.array([[1.0, 1.0], [1.0, 1.0]])
    with pytest.raises(optlib.DivergenceError, match="check_finite=False") as info:
        trajectory(s, optlib.SGD(lr=2.0), x0, steps=2000)
    assert "diverged at step" in str(info.value)
    # with check_finite=False a diverging row is data, and no warning escapes
    lr = np.array([[0.1], [2.0]])  # row 1 has |1 - 2 lr b| = 7 > 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = trajectory(s, optlib.SGD(lr=lr, check_finite=False), x0, steps=2000)
    assert np.all(np.isfinite(path[:, 0])) and np.linalg.norm(path[-1, 0]) < 1e-8
    assert not np.all(np.isfinite(path[-1, 1]))


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(steps=-1), ValueError, "steps must be an integer >= 0"),
    (dict(steps=2.5), ValueError, "steps must be an integer >= 0"),
    (dict(steps=True), ValueError, "steps must be an integer >= 0"),
    (dict(x0=np.zeros(3)), ValueError, r"x0 must have shape \(\.\.\., 2\)"),
    (dict(x0=np.zeros((2, 3, 2))), ValueError, r"x0 must have shape \(2,\) or \(n, 2\)"),
    (dict(optimizer=object()), TypeError, "optimizer must have a step"),
    (dict(surface=S.booth), TypeError, "surface must be a Surface"),
])
def test_trajectory_rejects_bad_arguments(kwargs, exc, pattern):
    args = dict(surface=S.booth(), optimizer=optlib.SGD(lr=0.1), x0=np.zeros(2), steps=3)
    args.update(kwargs)
    with pytest.raises(exc, match=pattern):
        trajectory(**args)
