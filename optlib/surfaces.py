r"""Two-dimensional test surfaces with analytic gradients, and :func:`trajectory`.

A :class:`Surface` is a function :math:`f:\mathbb{R}^2 \to \mathbb{R}` together
with its gradient :math:`\nabla f(x, y) = (\partial f/\partial x,\;
\partial f/\partial y)`, its known minimizers :math:`(x^\star, y^\star)` and
minimum :math:`f^\star`, a plotting window and a LaTeX formula for captions.
Both :meth:`Surface.f` and :meth:`Surface.grad` take points ``xy`` of shape
``(..., 2)``, whose last axis holds :math:`(x, y)`, so one call evaluates a
whole grid or a whole batch of trajectories::

    s = rosenbrock()
    s.f(np.zeros((3, 4, 2))).shape      # (3, 4)
    s.grad(np.zeros((3, 4, 2))).shape   # (3, 4, 2)

:func:`trajectory` runs one optimizer from many starting points at once:
the iterates :math:`x_0, x_1, \dots, x_T` of :math:`x_{k+1} =
\mathrm{update}(x_k, \nabla f(x_k))` for every row of ``x0``.

The surfaces
------------
``quadratic(a, b)``   :math:`a x^2 + b y^2`, condition number :math:`\max(a,b)/\min(a,b)`
``elongated_bowl()``  :math:`x^2/20 + y^2`
``rosenbrock(a, b)``  :math:`(a - x)^2 + b (y - x^2)^2`
``beale()``           :math:`\sum_{i=1}^3 (c_i - x + x y^i)^2`, :math:`c = (1.5, 2.25, 2.625)`
``himmelblau()``      :math:`(x^2 + y - 11)^2 + (x + y^2 - 7)^2`, four minimizers
``booth()``           :math:`(x + 2y - 7)^2 + (2x + y - 5)^2`
``saddle()``          :math:`x^2 - y^2`, no minimizer (unbounded below)
``rastrigin(A)``      :math:`2A + \sum_{u \in \{x, y\}} (u^2 - A\cos 2\pi u)`, many local minima
``rotated_quadratic(a, b, angle)``  :math:`a u^2 + b v^2`, :math:`(u, v)` the axes turned by ``angle`` degrees
``noisy(s, sigma)``   ``s`` with :math:`\nabla f + \xi`, :math:`\xi \sim \mathcal{N}(0, \sigma^2 I)`
"""
from __future__ import annotations

import dataclasses
import numbers
import types
from collections.abc import Callable, Mapping
from typing import Any, Union

import numpy as np

from optlib._checks import check_int
from optlib.optimizers import DivergenceError

__all__ = [
    "Surface", "quadratic", "elongated_bowl", "rosenbrock", "beale", "himmelblau",
    "booth", "saddle", "rastrigin", "noisy", "trajectory", "SURFACES",
    "rotated_quadratic",
]

Array = np.ndarray
ValueFn = Callable[[Array, Array], Array]
GradFn = Callable[[Array, Array], "tuple[Array, Array]"]
Seed = Union[int, np.random.Generator, None]


# ----------------------------------------------------------------------------
# the Surface type
# ----------------------------------------------------------------------------

def _as_points(xy: Any, what: str = "xy") -> Array:
    """``xy`` as a floating array of shape ``(..., 2)``; integers become float64."""
    arr = np.asarray(xy)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise TypeError(
            f"{what} must hold real numbers, got an array of dtype {arr.dtype}"
        )
    if arr.ndim == 0 or arr.shape[-1] != 2:
        raise ValueError(
            f"{what} must have shape (..., 2), the last axis holding (x, y); "
            f"got shape {arr.shape}"
        )
    return arr


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Surface:
    r"""A 2-D test function :math:`f(x, y)` with its analytic gradient.

    Build surfaces with the factory functions of this module (``rosenbrock()``,
    ``himmelblau()``, ...); the constructor is for new surfaces.

    Parameters
    ----------
    name : str
        Short name, used in titles and legends.
    formula : str
        LaTeX for :math:`f` without dollar signs, e.g. ``"f(x, y) = x^2 - y^2"``;
        it only uses commands matplotlib's mathtext understands.
    value_fn : callable
        ``value_fn(x, y) -> f`` on arrays ``x`` and ``y`` of equal shape.
    grad_fn : callable
        ``grad_fn(x, y) -> (df/dx, df/dy)``, the analytic partial derivatives.
    minimizers : array_like, shape (m, 2)
        Every global minimizer :math:`(x^\star, y^\star)`; ``m = 0`` when there
        is none (the saddle).
    minimum : float
        The global minimum :math:`f^\star` (the infimum: ``-inf`` when
        :math:`f` is unbounded below).
    xlim, ylim : (float, float)
        The default plotting window.
    start : (float, float)
        A conventional starting point inside the window for demonstrations.
    noise_sigma : float
        Standard deviation :math:`\sigma` of the noise :meth:`grad` adds (0 for
        exact gradients; see :func:`noisy`).
    """

    name: str
    formula: str
    value_fn: ValueFn
    grad_fn: GradFn
    minimizers: Array
    minimum: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    start: tuple[float, float]
    noise_sigma: float = 0.0

    def __post_init__(self) -> None:
        minimizers = np.array(self.minimizers, dtype=np.float64).reshape(-1, 2)
        minimizers.setflags(write=False)  # a frozen surface keeps its answers
        object.__setattr__(self, "minimizers", minimizers)
        object.__setattr__(self, "minimum", float(self.minimum))
        for field in ("xlim", "ylim"):
            lo, hi = (float(v) for v in getattr(self, field))
            if not lo < hi:
                raise ValueError(f"{field} must be (low, high) with low < high, got ({lo}, {hi})")
            object.__setattr__(self, field, (lo, hi))
        object.__setattr__(self, "start", tuple(float(v) for v in self.start))

    def f(self, xy: Any) -> Array:
        """The value :math:`f(x, y)`: shape ``xy.shape[:-1]``.

        Parameters
        ----------
        xy : array_like, shape (..., 2)
            Points; the last axis holds :math:`(x, y)`. float32 stays float32,
            integers are converted to float64.
        """
        pts = _as_points(xy)
        return np.asarray(self.value_fn(pts[..., 0], pts[..., 1]))

    def grad(self, xy: Any) -> Array:
        r"""The gradient :math:`\nabla f(x, y)`: shape ``xy.shape``, same dtype.

        Parameters
        ----------
        xy : array_like, shape (..., 2)
            Points; the last axis holds :math:`(x, y)`.
        """
        pts = _as_points(xy)
        gx, gy = self.grad_fn(pts[..., 0], pts[..., 1])
        out = np.empty_like(pts)
        out[..., 0] = gx
        out[..., 1] = gy
        return out

    def grid(self, n: int = 201) -> tuple[Array, Array, Array]:
        """``(X, Y, Z)`` on an ``n`` by ``n`` grid over the plotting window."""
        n = check_int("n", n, 2)
        X, Y = np.meshgrid(np.linspace(*self.xlim, n), np.linspace(*self.ylim, n))
        return X, Y, self.value_fn(X, Y)

    def __repr__(self) -> str:
        noise = f", noise_sigma={self.noise_sigma:g}" if self.noise_sigma else ""
        return (f"Surface({self.name!r}, minimum={self.minimum:g}, "
                f"minimizers={self.minimizers.tolist()}{noise})")


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """A finite real number > 0 (or >= 0), else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return value


# ----------------------------------------------------------------------------
# the surfaces
# ----------------------------------------------------------------------------

def quadratic(a: float = 0.1, b: float = 2.0) -> Surface:
    r"""The axis-aligned quadratic :math:`f(x, y) = a x^2 + b y^2`.

    :math:`\nabla f = (2 a x,\; 2 b y)`; minimizer :math:`(0, 0)`, :math:`f^\star = 0`.
    The Hessian is :math:`\mathrm{diag}(2a, 2b)`, so the condition number is
    :math:`\kappa = \max(a, b) / \min(a, b)` (20 for the defaults), and gradient
    descent with step :math:`\eta` gives exactly
    :math:`x_k = (1 - 2\eta a)^k x_0`, :math:`y_k = (1 - 2\eta b)^k y_0`.
    """
    a = _positive("a", a)
    b = _positive("b", b)
    return Surface(
        name="quadratic",
        formula=rf"f(x, y) = {a:g}\,x^2 + {b:g}\,y^2",
        value_fn=lambda x, y: a * x**2 + b * y**2,
        grad_fn=lambda x, y: (2 * a * x, 2 * b * y),
        minimizers=[[0.0, 0.0]], minimum=0.0,
        xlim=(-5.0, 5.0), ylim=(-3.0, 3.0), start=(-4.0, 2.0),
    )


def elongated_bowl() -> Surface:
    r"""The elongated bowl :math:`f(x, y) = x^2/20 + y^2`.

    :math:`\nabla f = (x/10,\; 2y)`; minimizer :math:`(0, 0)`, :math:`f^\star = 0`;
    the curvatures differ by a factor of 20.
    """
    return Surface(
        name="elongated bowl",
        formula=r"f(x, y) = \frac{x^2}{20} + y^2",
        value_fn=lambda x, y: x**2 / 20 + y**2,
        grad_fn=lambda x, y: (x / 10, 2 * y),
        minimizers=[[0.0, 0.0]], minimum=0.0,
        xlim=(-10.0, 10.0), ylim=(-4.0, 4.0), start=(-8.0, 3.0),
    )


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    r"""Rosenbrock's banana :math:`f(x, y) = (a - x)^2 + b (y - x^2)^2`.

    .. math::

        \nabla f = \bigl(-2(a - x) - 4 b x (y - x^2),\; 2 b (y - x^2)\bigr)

    Minimizer :math:`(a, a^2)`, :math:`f^\star = 0`, at the end of a long,
    curved, flat-bottomed valley. ``a`` is any real number, ``b > 0``.
    """
    if isinstance(a, bool) or not isinstance(a, numbers.Real) or not np.isfinite(a):
        raise ValueError(f"a must be a finite real number, got {a!r}")
    a = float(a)
    b = _positive("b", b)

    def grad_fn(x, y):
        valley = y - x**2
        return -2 * (a - x) - 4 * b * x * valley, 2 * b * valley

    return Surface(
        name="Rosenbrock",
        formula=rf"f(x, y) = ({a:g} - x)^2 + {b:g}\,(y - x^2)^2",
        value_fn=lambda x, y: (a - x) ** 2 + b * (y - x**2) ** 2,
        grad_fn=grad_fn,
        minimizers=[[a, a * a]], minimum=0.0,
        xlim=(min(-2.0, a - 1.0), max(2.0, a + 1.0)),
        ylim=(min(-1.0, a * a - 1.0), max(3.0, a * a + 1.0)),
        start=(-1.2, 1.0),
    )


_BEALE_C = (1.5, 2.25, 2.625)


def beale() -> Surface:
    r"""Beale's function :math:`f(x, y) = \sum_{i=1}^{3} (c_i - x + x y^i)^2`.

    With :math:`c = (1.5, 2.25, 2.625)` and :math:`r_i = c_i - x + x y^i`:

    .. math::

        \nabla f = \Bigl(\sum_i 2 r_i (y^i - 1),\; \sum_i 2 r_i\, i\, x y^{i-1}\Bigr)

    Minimizer :math:`(3, 0.5)`, :math:`f^\star = 0`; flat plateaus and steep walls.
    """
    c1, c2, c3 = _BEALE_C

    def value_fn(x, y):
        return (c1 - x + x * y) ** 2 + (c2 - x + x * y**2) ** 2 + (c3 - x + x * y**3) ** 2

    def grad_fn(x, y):
        r1, r2, r3 = c1 - x + x * y, c2 - x + x * y**2, c3 - x + x * y**3
        gx = 2 * r1 * (y - 1) + 2 * r2 * (y**2 - 1) + 2 * r3 * (y**3 - 1)
        gy = 2 * r1 * x + 4 * r2 * x * y + 6 * r3 * x * y**2
        return gx, gy

    return Surface(
        name="Beale",
        formula=r"f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        value_fn=value_fn, grad_fn=grad_fn,
        minimizers=[[3.0, 0.5]], minimum=0.0,
        xlim=(-4.5, 4.5), ylim=(-4.5, 4.5), start=(1.0, 1.5),
    )


def himmelblau() -> Surface:
    r"""Himmelblau's function :math:`f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2`.

    With :math:`u = x^2 + y - 11` and :math:`v = x + y^2 - 7`:
    :math:`\nabla f = (4 x u + 2 v,\; 2 u + 4 y v)`. Four global minimizers,
    all with :math:`f^\star = 0`: :math:`(3, 2)` exactly and three irrational
    ones, given here to double precision (refined by Newton's method).
    """
    def grad_fn(x, y):
        u, v = x**2 + y - 11, x + y**2 - 7
        return 4 * x * u + 2 * v, 2 * u + 4 * y * v

    return Surface(
        name="Himmelblau",
        formula=r"f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        value_fn=lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
        grad_fn=grad_fn,
        minimizers=[
            [3.0, 2.0],
            [-2.805118086952745, 3.131312518250573],
            [-3.779310253377747, -3.283185991286169],
            [3.5844283403304917, -1.8481265269644034],
        ],
        minimum=0.0,
        xlim=(-5.0, 5.0), ylim=(-5.0, 5.0), start=(0.0, 0.0),
    )


def booth() -> Surface:
    r"""Booth's function :math:`f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2`.

    With :math:`u = x + 2y - 7`, :math:`v = 2x + y - 5`:
    :math:`\nabla f = (2u + 4v,\; 4u + 2v)`; minimizer :math:`(1, 3)`, :math:`f^\star = 0`.
    A quadratic with a rotated, mildly ill-conditioned Hessian (eigenvalues 2 and 18).
    """
    def grad_fn(x, y):
        u, v = x + 2 * y - 7, 2 * x + y - 5
        return 2 * u + 4 * v, 4 * u + 2 * v

    return Surface(
        name="Booth",
        formula=r"f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2",
        value_fn=lambda x, y: (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2,
        grad_fn=grad_fn,
        minimizers=[[1.0, 3.0]], minimum=0.0,
        xlim=(-10.0, 10.0), ylim=(-10.0, 10.0), start=(-8.0, -6.0),
    )


def saddle() -> Surface:
    r"""The saddle :math:`f(x, y) = x^2 - y^2`.

    :math:`\nabla f = (2x,\; -2y)`. The origin is a critical point but **not**
    a minimizer: :math:`f` is unbounded below along the :math:`y` axis. So
    ``minimizers`` is empty (shape ``(0, 2)``) and ``minimum`` is the infimum,
    ``-inf``. Gradient descent started exactly on the :math:`x` axis converges
    to the saddle point; any :math:`y_0 \neq 0` eventually escapes, with
    :math:`|y_k| = (1 + 2\eta)^k |y_0|`.
    """
    return Surface(
        name="saddle",
        formula=r"f(x, y) = x^2 - y^2",
        value_fn=lambda x, y: x**2 - y**2,
        grad_fn=lambda x, y: (2 * x, -2 * y),
        minimizers=np.empty((0, 2)), minimum=-np.inf,
        xlim=(-2.0, 2.0), ylim=(-2.0, 2.0), start=(1.5, 0.05),
    )


def rastrigin(A: float = 10.0) -> Surface:
    r"""Rastrigin's function :math:`f(x, y) = 2A + x^2 - A\cos 2\pi x + y^2 - A\cos 2\pi y`.

    :math:`\nabla f = (2x + 2\pi A \sin 2\pi x,\; 2y + 2\pi A \sin 2\pi y)`.
    Global minimizer :math:`(0, 0)`, :math:`f^\star = 0`, surrounded by a
    regular lattice of local minima near the integer points. ``A >= 0``.
    """
    A = _positive("A", A, allow_zero=True)
    two_pi = 2 * np.pi

    def value_fn(x, y):
        return 2 * A + x**2 - A * np.cos(two_pi * x) + y**2 - A * np.cos(two_pi * y)

    def grad_fn(x, y):
        return (2 * x + two_pi * A * np.sin(two_pi * x),
                2 * y + two_pi * A * np.sin(two_pi * y))

    return Surface(
        name="Rastrigin",
        formula=rf"f(x, y) = {2 * A:g} + x^2 - {A:g}\cos(2\pi x) + y^2 - {A:g}\cos(2\pi y)",
        value_fn=value_fn, grad_fn=grad_fn,
        minimizers=[[0.0, 0.0]], minimum=0.0,
        xlim=(-5.12, 5.12), ylim=(-5.12, 5.12), start=(-3.3, 2.8),
    )


def noisy(surface: Surface, sigma: float, seed: Seed = None) -> Surface:
    r"""``surface`` with Gaussian gradient noise, for the stochastic-gradient chapters.

    The returned surface has the same :math:`f` but its gradient is

    .. math::

        \tilde g(x, y) = \nabla f(x, y) + \xi, \qquad \xi \sim \mathcal{N}(0, \sigma^2 I),

    drawn independently for every point and every call from the surface's own
    ``numpy.random.Generator``, so two surfaces built with the same ``seed``
    produce the same noise sequence and nothing touches numpy's global state.

    Parameters
    ----------
    surface : Surface
        The exact surface.
    sigma : float
        Noise standard deviation :math:`\sigma \ge 0`.
    seed : int, numpy.random.Generator or None
        Seed (or generator) of the noise.
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface, got {type(surface).__name__}")
    sigma = _positive("sigma", sigma, allow_zero=True)
    rng = np.random.default_rng(seed)
    exact_grad = surface.grad_fn

    def grad_fn(x, y):
        gx, gy = exact_grad(x, y)
        gx, gy = np.asarray(gx), np.asarray(gy)
        # draw in float64 and cast, so float32 points keep float32 gradients
        xi = rng.standard_normal((2,) + gx.shape)
        return gx + (sigma * xi[0]).astype(gx.dtype), gy + (sigma * xi[1]).astype(gy.dtype)

    return dataclasses.replace(
        surface,
        name=f"{surface.name} (noisy, σ={sigma:g})",
        grad_fn=grad_fn,
        noise_sigma=float(np.hypot(surface.noise_sigma, sigma)),
    )


#: The surfaces by name, each a factory returning the default surface.
SURFACES: Mapping[str, Callable[[], Surface]] = types.MappingProxyType({
    "quadratic": quadratic,
    "elongated_bowl": elongated_bowl,
    "rosenbrock": rosenbrock,
    "beale": beale,
    "himmelblau": himmelblau,
    "booth": booth,
    "saddle": saddle,
    "rastrigin": rastrigin,
})


# ----------------------------------------------------------------------------
# trajectories
# ----------------------------------------------------------------------------

def trajectory(surface: Surface, optimizer: Any, x0: Any, steps: int) -> Array:
    r"""Run ``optimizer`` on ``surface`` from one or many starting points.

    Returns the iterates :math:`x_0, x_1, \dots, x_T` (``T = steps``) where
    each step calls ``optimizer.step(xy, surface.grad(xy))``, i.e. for plain
    gradient descent :math:`x_{k+1} = x_k - \eta \nabla f(x_k)`.

    Parameters
    ----------
    surface : Surface
        The function to minimise.
    optimizer : optlib.Optimizer
        A fresh optimizer (its state, e.g. momentum, carries over between
        calls, so reuse one only to continue a run). Hyperparameters may be
        arrays of shape ``(n, 1)`` to give each of ``n`` rows its own value.
        Build it with ``check_finite=False`` for batched runs where some rows
        may diverge: those rows then fill with ``inf``/``nan`` while the
        others carry on (overflow warnings are silenced here, because
        divergence is data). With the default ``check_finite=True`` the first
        non-finite gradient raises :class:`optlib.DivergenceError`.
    x0 : array_like, shape (2,) or (n, 2)
        Starting point(s). Copied, never modified.
    steps : int
        Number of updates ``T >= 0``.

    Returns
    -------
    ndarray, float64, shape (steps + 1, 2) or (steps + 1, n, 2)
        Row ``k`` holds :math:`x_k`; row 0 is ``x0``.
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface, got {type(surface).__name__}")
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(
            f"optimizer must have a step(params, grads) method (an optlib optimizer), "
            f"got {type(optimizer).__name__}"
        )
    steps = check_int("steps", steps, 0)
    xy = _as_points(x0, "x0").astype(np.float64, copy=True)
    if xy.ndim > 2:
        raise ValueError(f"x0 must have shape (2,) or (n, 2), got shape {xy.shape}")
    path = np.empty((steps + 1,) + xy.shape, dtype=np.float64)
    path[0] = xy
    # A loop over time steps (each one a whole-array update of every row).
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(1, steps + 1):
            try:
                optimizer.step(xy, surface.grad(xy))
            except DivergenceError as err:
                raise DivergenceError(
                    f"trajectory on {surface.name} diverged at step {k} of {steps}: {err}. "
                    "If diverging rows are data (a batch of learning rates or "
                    "starting points), build the optimizer with check_finite=False"
                ) from err
            path[k] = xy
    return path


# ----------------------------------------------------------------------------
# the rotated quadratic (appended for the AdaGrad chapter)
# ----------------------------------------------------------------------------

def rotated_quadratic(a: float = 0.1, b: float = 2.0, angle: float = 45.0) -> Surface:
    r"""The quadratic :math:`a x^2 + b y^2` with its axes turned by ``angle`` degrees.

    With :math:`\theta` = ``angle`` (in **degrees**, counter-clockwise) and the
    unit vectors :math:`e_u = (\cos\theta, \sin\theta)`,
    :math:`e_v = (-\sin\theta, \cos\theta)` along the turned axes,

    .. math::

        f(x, y) = a\,u^2 + b\,v^2, \qquad
        u = x\cos\theta + y\sin\theta, \quad v = -x\sin\theta + y\cos\theta,

    :math:`\nabla f = 2 a u\, e_u + 2 b v\, e_v`, minimizer :math:`(0, 0)`,
    :math:`f^\star = 0`. The Hessian is
    :math:`H = 2a\, e_u e_u^\top + 2b\, e_v e_v^\top = R\,\mathrm{diag}(2a, 2b)\,R^\top`
    (:math:`R` the rotation by :math:`\theta`): the eigenvalues, and so the
    condition number :math:`\max(a,b)/\min(a,b)`, do not depend on the angle,
    but the Hessian is diagonal only for multiples of 90 degrees. At 45
    degrees its diagonal entries are equal, :math:`H_{xx} = H_{yy} = a + b`,
    which is why no diagonal rescaling of the coordinates can improve the
    conditioning there.

    ``angle=0`` is :func:`quadratic` (same values, gradients, window and
    start). For other angles the window and the start are those of
    :func:`quadratic` turned with the surface: the start is :math:`R\,(-4, 2)`
    and the window is the bounding box of the turned rectangle
    :math:`[-5, 5] \times [-3, 3]`, so the path of a rotation-invariant method
    (gradient descent) is the turned path it takes on :func:`quadratic`.

    Parameters
    ----------
    a, b : float
        Positive curvatures along :math:`e_u` and :math:`e_v` (Hessian
        eigenvalues :math:`2a` and :math:`2b`).
    angle : float
        :math:`\theta` in degrees; any finite real number.
    """
    a = _positive("a", a)
    b = _positive("b", b)
    if isinstance(angle, bool) or not isinstance(angle, numbers.Real) or not np.isfinite(angle):
        raise ValueError(f"angle must be a finite real number of degrees, got {angle!r}")
    angle = float(angle)
    theta = np.deg2rad(angle)
    c, s = float(np.cos(theta)), float(np.sin(theta))

    def value_fn(x, y):
        u, v = x * c + y * s, y * c - x * s
        return a * u**2 + b * v**2

    def grad_fn(x, y):
        du, dv = 2 * a * (x * c + y * s), 2 * b * (y * c - x * s)  # 2au, 2bv
        return du * c - dv * s, du * s + dv * c                   # 2au e_u + 2bv e_v

    half_x, half_y = 5 * abs(c) + 3 * abs(s), 5 * abs(s) + 3 * abs(c)
    return Surface(
        name="quadratic" if angle == 0 else f"quadratic rotated by {angle:g}°",
        formula=(rf"f(x, y) = {a:g}\,x^2 + {b:g}\,y^2" if angle == 0 else
                 rf"f = {a:g}\,u^2 + {b:g}\,v^2,\ (u, v) = "
                 rf"(x, y)\ \mathrm{{turned\ by}}\ {angle:g}^\circ"),
        value_fn=value_fn, grad_fn=grad_fn,
        minimizers=[[0.0, 0.0]], minimum=0.0,
        xlim=(-half_x, half_x), ylim=(-half_y, half_y),
        start=(-4.0 * c - 2.0 * s, -4.0 * s + 2.0 * c),
    )
