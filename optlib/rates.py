r"""Convergence rates of first-order methods on quadratics, in closed form.

On a quadratic :math:`f(x) = \tfrac12 (x - x^\star)^\top A (x - x^\star)` whose
Hessian :math:`A` has eigenvalues :math:`\lambda_i`, gradient descent, heavy-ball
momentum and Nesterov's method act on each eigendirection of :math:`A`
separately. Along the unit eigenvector :math:`q_i` (:math:`A q_i = \lambda_i q_i`)
the error :math:`e_t = q_i^\top(x_t - x^\star)` (and, for the momentum methods,
the component :math:`b_t` of the momentum buffer along :math:`q_i`) follows
a linear recurrence with a scalar factor (gradient descent) or a
:math:`2 \times 2` *iteration matrix* :math:`R` (momentum methods):

.. math::

    \begin{pmatrix} b_t \\ e_t \end{pmatrix}
    = R(\eta, \beta, \lambda_i) \begin{pmatrix} b_{t-1} \\ e_{t-1} \end{pmatrix},
    \qquad b_0 = 0 .

The *rate* :math:`\rho` is the factor by which the error shrinks per step in
the long run: the spectral radius :math:`\max |z|` over the eigenvalues
:math:`z` of :math:`R`, maximized over the eigenvalues :math:`\lambda_i` of
the problem. :math:`\rho < 1` means convergence, :math:`\rho > 1` divergence.

Symbols are the book's (see the Momentum chapter): :math:`\eta` learning
rate ``eta``, :math:`\beta` momentum coefficient ``beta``, :math:`\lambda`
Hessian eigenvalue ``lam``, :math:`\mu` and :math:`L` the smallest and
largest eigenvalue (strong convexity and smoothness), :math:`\kappa = L/\mu`,
:math:`\sigma` the standard deviation of additive gradient noise.

**State and form.** The state is :math:`(b_t, e_t)`: the momentum buffer and
the error of the parameters that :class:`optlib.Momentum` and
:class:`optlib.Nesterov` (PyTorch's form, :math:`b_t = \beta b_{t-1} + g_t`)
store. Starting from :math:`(0, e_0)`, :math:`R^t (0, e_0)^\top` is exactly
what those optimizers compute on the quadratic, step by step. Sutskever's
velocity :math:`u_t = \beta u_{t-1} - \eta g_t` is :math:`u_t = -\eta b_t` for a
constant :math:`\eta`, so the rates hold for that form too.

**Vectorized.** ``eta``, ``beta`` and ``lam`` broadcast against each other in
the elementwise functions (``*_matrix``, ``*_eigenvalues``, ``*_radius``,
:func:`heavy_ball_variance`). The ``*_rate`` functions take the problem's
eigenvalues as a set: ``lam`` is a number or a 1-D array, ``eta`` and ``beta``
broadcast against each other, and the result has their broadcast shape, the
maximum over ``lam`` taken. For all three methods the radius is a
quasi-convex function of :math:`\lambda` (it falls, may stay flat, then
rises), so the rate over a whole interval :math:`[\mu, L]` is the rate over
its two ends: pass ``lam=(mu, L)``.

**The functions.**

``gd_rate(eta, lam)``, ``optimal_gd(mu, L)``
    Gradient descent: :math:`\max_i |1 - \eta\lambda_i|`; the best :math:`\eta`.
``heavy_ball_matrix``, ``heavy_ball_eigenvalues``, ``heavy_ball_radius``, ``heavy_ball_rate``
    Heavy-ball momentum, :math:`z^2 - (1 + \beta - \eta\lambda) z + \beta = 0`.
``critical_beta(eta, lam)``, ``optimal_heavy_ball(mu, L)``
    Critical damping of one direction; the optimal pair for :math:`[\mu, L]`.
``heavy_ball_variance(eta, beta, lam, sigma)``
    Stationary variance of the error under gradient noise.
``nesterov_matrix``, ``nesterov_eigenvalues``, ``nesterov_radius``, ``nesterov_rate``
    Nesterov's method, :math:`z^2 - (1 + \beta)(1 - \eta\lambda) z + \beta(1 - \eta\lambda) = 0`.
``optimal_nesterov(mu, L)``
    Nesterov's best constant pair on a quadratic with eigenvalues in :math:`[\mu, L]`.
``measured_rate(errors, window, floor)``
    The same quantity measured from a run: the contraction per step of its errors.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from optlib._checks import check_int

__all__ = [
    "gd_rate", "optimal_gd",
    "heavy_ball_matrix", "heavy_ball_eigenvalues", "heavy_ball_radius",
    "heavy_ball_rate", "critical_beta", "optimal_heavy_ball", "heavy_ball_variance",
    "nesterov_matrix", "nesterov_eigenvalues", "nesterov_radius", "nesterov_rate",
    "optimal_nesterov", "measured_rate",
]

Array = np.ndarray


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------

def _real(name: str, value: Any) -> Array:
    """``value`` as a float64 array of finite real numbers, else a ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a real number or an array of them, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a real number or an array of them, "
                         f"got {value!r}") from err
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _eigenset(lam: Any) -> Array:
    """The problem's eigenvalues as a 1-D array (a number is a set of one)."""
    arr = np.atleast_1d(_real("lam", lam))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"lam must be a number or a non-empty 1-D array of eigenvalues, "
                         f"got shape {arr.shape}")
    return arr


def _scalar(out: Array) -> Any:
    """0-d arrays become numpy scalars (a float subclass); others stay arrays."""
    return out[()] if out.ndim == 0 else out


def _roots(trace: Array, det: Array) -> Array:
    r"""Both roots of :math:`z^2 - T z + D`, complex, stacked on a last axis."""
    disc = np.sqrt((trace * trace - 4.0 * det).astype(np.complex128))
    return np.stack([(trace + disc) / 2.0, (trace - disc) / 2.0], axis=-1)


def _radius(trace: Array, det: Array) -> Array:
    r"""Largest root modulus of :math:`z^2 - T z + D` with real :math:`T, D`.

    Complex roots :math:`z, \bar z` have :math:`|z|^2 = z\bar z = D`; real roots
    :math:`(T \pm \sqrt{T^2 - 4D})/2` have largest modulus
    :math:`(|T| + \sqrt{T^2 - 4D})/2`. Written this way (no complex arithmetic,
    no cancellation) the formula is continuous across :math:`T^2 = 4D`.
    """
    disc = trace * trace - 4.0 * det
    real = 0.5 * (np.abs(trace) + np.sqrt(np.maximum(disc, 0.0)))
    complex_ = np.sqrt(np.maximum(det, 0.0))
    return np.where(disc < 0.0, complex_, real)


def _matrix(a: Array, b: Array, c: Array, d: Array) -> Array:
    a, b, c, d = np.broadcast_arrays(a, b, c, d)
    return np.stack([np.stack([a, b], axis=-1), np.stack([c, d], axis=-1)], axis=-2)


def _check_mu_L(mu: Any, L: Any) -> tuple[float, float]:
    for name, value in (("mu", mu), ("L", L)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not np.isfinite(value) or not value > 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if not mu <= L:
        raise ValueError(f"mu must be <= L (mu is the smallest eigenvalue, L the "
                         f"largest), got mu={mu!r}, L={L!r}")
    return float(mu), float(L)


# ----------------------------------------------------------------------------
# gradient descent
# ----------------------------------------------------------------------------

def gd_rate(eta: Any, lam: Any) -> Any:
    r"""Rate of gradient descent, :math:`\rho(\eta) = \max_i |1 - \eta\lambda_i|`.

    Each eigendirection is multiplied by :math:`1 - \eta\lambda_i` per step
    (the gradient-descent chapter's eq. ``gd-rate``).

    Parameters
    ----------
    eta : float or ndarray
        Learning rate(s) :math:`\eta`, any shape.
    lam : float or 1-D array_like
        The eigenvalues :math:`\lambda_i` of the Hessian; the maximum is over them.

    Returns
    -------
    float or ndarray
        :math:`\rho`, with the shape of ``eta``.
    """
    eta = _real("eta", eta)
    lam = _eigenset(lam)
    return _scalar(np.abs(1.0 - eta[..., None] * lam).max(axis=-1))


def optimal_gd(mu: float, L: float) -> tuple[float, float]:
    r"""The best constant step of gradient descent for eigenvalues in :math:`[\mu, L]`.

    .. math::

        \eta^\star = \frac{2}{\mu + L}, \qquad
        \rho^\star = \frac{\kappa - 1}{\kappa + 1}, \quad \kappa = L/\mu .

    Returns
    -------
    (eta, rate) : (float, float)
    """
    mu, L = _check_mu_L(mu, L)
    kappa = L / mu
    return 2.0 / (mu + L), (kappa - 1.0) / (kappa + 1.0)


# ----------------------------------------------------------------------------
# heavy-ball momentum
# ----------------------------------------------------------------------------

def heavy_ball_matrix(eta: Any, beta: Any, lam: Any) -> Array:
    r"""Iteration matrix of heavy-ball momentum in one eigendirection.

    With :math:`g_t = \lambda e_{t-1}`, the updates :math:`b_t = \beta b_{t-1} + g_t`
    and :math:`e_t = e_{t-1} - \eta b_t` give

    .. math::

        \begin{pmatrix} b_t \\ e_t \end{pmatrix} =
        \underbrace{\begin{pmatrix} \beta & \lambda \\
        -\eta\beta & 1 - \eta\lambda \end{pmatrix}}_{R}
        \begin{pmatrix} b_{t-1} \\ e_{t-1} \end{pmatrix},
        \qquad \operatorname{tr} R = 1 + \beta - \eta\lambda,
        \quad \det R = \beta .

    Parameters
    ----------
    eta, beta, lam : float or ndarray
        :math:`\eta`, :math:`\beta`, :math:`\lambda`; they broadcast together.

    Returns
    -------
    ndarray, shape ``broadcast(eta, beta, lam).shape + (2, 2)``
    """
    eta, beta, lam = _real("eta", eta), _real("beta", beta), _real("lam", lam)
    return _matrix(beta, lam, -eta * beta, 1.0 - eta * lam)


def heavy_ball_eigenvalues(eta: Any, beta: Any, lam: Any) -> Array:
    r"""Both eigenvalues :math:`z_{1,2}` of :func:`heavy_ball_matrix`, as complex numbers.

    They are the roots of the characteristic polynomial
    :math:`z^2 - (1 + \beta - \eta\lambda) z + \beta`:

    .. math::

        z_{1,2} = \tfrac12\Bigl(1 + \beta - \eta\lambda
        \pm \sqrt{(1 + \beta - \eta\lambda)^2 - 4\beta}\Bigr).

    When the discriminant is negative they are complex conjugates with
    :math:`|z|^2 = z\bar z = \det R = \beta`, i.e. :math:`|z| = \sqrt\beta`.

    Returns
    -------
    ndarray of complex128, shape ``broadcast(eta, beta, lam).shape + (2,)``
        :math:`z_1` (with :math:`+\sqrt{\cdot}`) and :math:`z_2`.
    """
    eta, beta, lam = _real("eta", eta), _real("beta", beta), _real("lam", lam)
    return _roots(1.0 + beta - eta * lam, beta + 0.0 * eta * lam)


def heavy_ball_radius(eta: Any, beta: Any, lam: Any) -> Any:
    r"""Spectral radius :math:`\max(|z_1|, |z_2|)` of :func:`heavy_ball_matrix`, elementwise.

    With :math:`T = 1 + \beta - \eta\lambda`:

    .. math::

        \rho = \begin{cases}
        \sqrt\beta & T^2 < 4\beta \ \text{(under-damped: complex } z\text{)} \\
        \tfrac12\bigl(|T| + \sqrt{T^2 - 4\beta}\bigr) & T^2 \ge 4\beta
        \ \text{(over- or critically damped)}
        \end{cases}

    For :math:`0 \le \beta < 1`, :math:`\rho < 1` exactly when
    :math:`0 < \eta\lambda < 2 + 2\beta`.

    Returns
    -------
    float or ndarray with the broadcast shape of the arguments
    """
    eta, beta, lam = _real("eta", eta), _real("beta", beta), _real("lam", lam)
    return _scalar(_radius(1.0 + beta - eta * lam, beta + 0.0 * eta * lam))


def _worst_radius(radius: Any, eta: Any, beta: Any, lam: Any) -> Any:
    """The largest ``radius(eta, beta, lambda_i)`` over the eigenvalues, per (eta, beta)."""
    eta, beta = _real("eta", eta), _real("beta", beta)
    lam = _eigenset(lam)
    return _scalar(np.asarray(radius(eta[..., None], beta[..., None], lam)).max(axis=-1))


def heavy_ball_rate(eta: Any, beta: Any, lam: Any) -> Any:
    r"""Rate of heavy-ball momentum on a quadratic: :math:`\max_i \rho(\eta, \beta, \lambda_i)`.

    Parameters
    ----------
    eta, beta : float or ndarray
        Learning rate(s) and momentum coefficient(s); they broadcast together.
    lam : float or 1-D array_like
        The problem's eigenvalues; for all of :math:`[\mu, L]` pass ``(mu, L)``.

    Returns
    -------
    float or ndarray, shape ``broadcast(eta, beta).shape``
    """
    return _worst_radius(heavy_ball_radius, eta, beta, lam)


def critical_beta(eta: Any, lam: Any) -> Any:
    r"""The momentum that damps one direction critically: :math:`\beta_c = (1 - \sqrt{\eta\lambda})^2`.

    At :math:`\beta_c` the discriminant :math:`(1 + \beta - \eta\lambda)^2 - 4\beta`
    vanishes (a double eigenvalue :math:`z = 1 - \sqrt{\eta\lambda}`), and no
    other :math:`\beta` gives that direction a smaller radius: the rate is
    :math:`1 - \sqrt{\eta\lambda}` against gradient descent's
    :math:`1 - \eta\lambda`. Defined for :math:`0 \le \eta\lambda \le 1`.

    Parameters
    ----------
    eta, lam : float or ndarray
        Broadcast together; every product :math:`\eta\lambda` must lie in [0, 1].

    Returns
    -------
    float or ndarray
    """
    eta, lam = _real("eta", eta), _real("lam", lam)
    step = eta * lam
    if np.any((step < 0) | (step > 1)):
        raise ValueError("critical_beta needs 0 <= eta * lam <= 1 (above 1 the double "
                         "root is negative: beta = (sqrt(eta * lam) - 1)**2)")
    return _scalar((1.0 - np.sqrt(step)) ** 2)


def optimal_heavy_ball(mu: float, L: float) -> tuple[float, float, float]:
    r"""The best constant :math:`(\eta, \beta)` of heavy-ball momentum for eigenvalues in :math:`[\mu, L]`.

    .. math::

        \eta^\star = \Bigl(\frac{2}{\sqrt L + \sqrt\mu}\Bigr)^2, \qquad
        \beta^\star = \Bigl(\frac{\sqrt L - \sqrt\mu}{\sqrt L + \sqrt\mu}\Bigr)^2, \qquad
        \rho^\star = \sqrt{\beta^\star} = \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}.

    Every :math:`\lambda \in [\mu, L]` is then under- or critically damped, with
    radius :math:`\sqrt{\beta^\star}`, and no other pair has a smaller
    :func:`heavy_ball_rate` over :math:`[\mu, L]` (Polyak 1964; the Momentum
    chapter proves both).

    Returns
    -------
    (eta, beta, rate) : (float, float, float)
    """
    mu, L = _check_mu_L(mu, L)
    root_mu, root_L = np.sqrt(mu), np.sqrt(L)
    rate = (root_L - root_mu) / (root_L + root_mu)
    return float((2.0 / (root_L + root_mu)) ** 2), float(rate**2), float(rate)


def heavy_ball_variance(eta: Any, beta: Any, lam: Any, sigma: Any = 1.0) -> Any:
    r"""Stationary variance of the error of heavy-ball momentum under gradient noise.

    With :math:`g_t = \lambda e_{t-1} + \xi_t`, independent :math:`\xi_t` of mean 0
    and variance :math:`\sigma^2`, the error follows
    :math:`e_t = (1 + \beta - \eta\lambda) e_{t-1} - \beta e_{t-2} - \eta\xi_t`, and
    for :math:`t \to \infty`

    .. math::

        \mathbb{E}[e_t^2] \to \frac{(1 + \beta)\,\eta\,\sigma^2}
        {(1 - \beta)\,\lambda\,(2 + 2\beta - \eta\lambda)}
        \approx \frac{1}{1 - \beta}\cdot\frac{\eta\sigma^2}{2\lambda}
        \quad (\eta\lambda \ll 1).

    :math:`\beta = 0` gives SGD's :math:`\eta\sigma^2/(\lambda(2 - \eta\lambda))`.

    Returns
    -------
    float or ndarray
        The variance, elementwise; ``inf`` where the recurrence is not stable.
    """
    eta, beta = _real("eta", eta), _real("beta", beta)
    lam, sigma = _real("lam", lam), _real("sigma", sigma)
    step = eta * lam
    stable = (np.asarray(heavy_ball_radius(eta, beta, lam)) < 1.0) & (step > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (1.0 + beta) * eta * sigma**2 / ((1.0 - beta) * lam * (2.0 + 2.0 * beta - step))
    return _scalar(np.where(stable, var, np.inf))


# ----------------------------------------------------------------------------
# Nesterov's method
# ----------------------------------------------------------------------------

def nesterov_matrix(eta: Any, beta: Any, lam: Any) -> Array:
    r"""Iteration matrix of Nesterov momentum (optlib's and PyTorch's form) in one direction.

    :class:`optlib.Nesterov` computes :math:`b_t = \beta b_{t-1} + g_t`,
    :math:`x_t = x_{t-1} - \eta(g_t + \beta b_t)` with :math:`g_t = \lambda e_{t-1}`:

    .. math::

        \begin{pmatrix} b_t \\ e_t \end{pmatrix} =
        \begin{pmatrix} \beta & \lambda \\
        -\eta\beta^2 & 1 - \eta\lambda(1 + \beta) \end{pmatrix}
        \begin{pmatrix} b_{t-1} \\ e_{t-1} \end{pmatrix},
        \quad \operatorname{tr} = (1 + \beta)(1 - \eta\lambda),
        \quad \det = \beta(1 - \eta\lambda).

    **Change of variables.** Sutskever et al. (2013) take the gradient at the
    look-ahead point: :math:`u_t = \beta u_{t-1} - \eta\nabla f(\theta_{t-1} + \beta u_{t-1})`,
    :math:`\theta_t = \theta_{t-1} + u_t`. The parameters stored here are that
    look-ahead point, :math:`x_t = \theta_t + \beta u_t`, and the buffer is
    :math:`b_t = -u_t/\eta` (Bengio et al. 2013). Both forms then have the same
    characteristic polynomial
    :math:`z^2 - (1 + \beta)(1 - \eta\lambda) z + \beta(1 - \eta\lambda)`, so the
    same eigenvalues and rates.

    Returns
    -------
    ndarray, shape ``broadcast(eta, beta, lam).shape + (2, 2)``
    """
    eta, beta, lam = _real("eta", eta), _real("beta", beta), _real("lam", lam)
    return _matrix(beta, lam, -eta * beta**2, 1.0 - eta * lam * (1.0 + beta))


def nesterov_eigenvalues(eta: Any, beta: Any, lam: Any) -> Array:
    r"""Both eigenvalues of :func:`nesterov_matrix`, as complex numbers.

    Roots of :math:`z^2 - (1 + \beta)(1 - \eta\lambda) z + \beta(1 - \eta\lambda)`;
    complex ones have :math:`|z| = \sqrt{\beta(1 - \eta\lambda)}`.

    Returns
    -------
    ndarray of complex128, shape ``broadcast(eta, beta, lam).shape + (2,)``
    """
    eta, beta, lam = _real("eta", eta), _real("beta", beta), _real("lam", lam)
    shrink = 1.0 - eta * lam
    return _roots((1.0 + beta) * shrink, beta * shrink)


def nesterov_radius(eta: Any, beta: Any, lam: Any) -> Any:
    r"""Spectral radius of :func:`nesterov_matrix`, elementwise.

    With :math:`s = 1 - \eta\lambda`, :math:`T = (1 + \beta)s`, :math:`D = \beta s`:
    :math:`\sqrt{D}` when :math:`T^2 < 4D`, else :math:`(|T| + \sqrt{T^2 - 4D})/2`.

    Returns
    -------
    float or ndarray with the broadcast shape of the arguments
    """
    eta, beta, lam = _real("eta", eta), _real("beta", beta), _real("lam", lam)
    shrink = 1.0 - eta * lam
    return _scalar(_radius((1.0 + beta) * shrink, beta * shrink))


def nesterov_rate(eta: Any, beta: Any, lam: Any) -> Any:
    r"""Rate of Nesterov momentum on a quadratic: :math:`\max_i` of :func:`nesterov_radius`.

    Parameters
    ----------
    eta, beta : float or ndarray
        Broadcast together.
    lam : float or 1-D array_like
        The problem's eigenvalues; for all of :math:`[\mu, L]` pass ``(mu, L)``.

    Returns
    -------
    float or ndarray, shape ``broadcast(eta, beta).shape``
    """
    return _worst_radius(nesterov_radius, eta, beta, lam)


def optimal_nesterov(mu: float, L: float) -> tuple[float, float, float]:
    r"""The best constant :math:`(\eta, \beta)` of Nesterov momentum for eigenvalues in :math:`[\mu, L]`.

    .. math::

        \eta^\star = \frac{4}{3L + \mu}, \qquad
        \beta^\star = \frac{\sqrt{3\kappa + 1} - 2}{\sqrt{3\kappa + 1} + 2}, \qquad
        \rho^\star = 1 - \frac{2}{\sqrt{3\kappa + 1}}

    (Lessard, Recht & Packard 2016). At this pair :math:`\lambda = \mu` is
    critically damped, with the double root :math:`\rho^\star`, and
    :math:`\lambda = L` has the real root :math:`-\rho^\star`. The rate is
    slower than the heavy ball's :math:`(\sqrt\kappa - 1)/(\sqrt\kappa + 1)`
    (:func:`optimal_heavy_ball`) on a quadratic.

    Returns
    -------
    (eta, beta, rate) : (float, float, float)
    """
    mu, L = _check_mu_L(mu, L)
    root = float(np.sqrt(3.0 * L / mu + 1.0))
    return 4.0 / (3.0 * L + mu), (root - 2.0) / (root + 2.0), 1.0 - 2.0 / root

# ----------------------------------------------------------------------------
# measuring a rate
# ----------------------------------------------------------------------------

def measured_rate(errors: Any, window: int = 1, floor: float = 1e-100) -> Any:
    r"""Contraction per step measured from the errors of a run, for comparison with a ``*_rate``.

    For each run, with :math:`T` the last step at which the error is still
    above ``floor`` (so that underflow never enters) and :math:`s = \lfloor T/2 \rfloor`,

    .. math::

        \hat\rho = \Bigl(\frac{\bar e_T}{\bar e_s}\Bigr)^{1/(T - s)}, \qquad
        \bar e_r = \max_{r - w < r' \le r} |e_{r'}| ,

    the geometric mean of :math:`|e_t|/|e_{t-1}|` over the second half of the
    run, taken between the envelopes :math:`\bar e` over the last :math:`w`
    (``window``) steps. With :math:`w = 1` this is
    :math:`(|e_T|/|e_s|)^{1/(T - s)}`; an oscillating (under-damped) error
    needs :math:`w` of at least one period, so that a passage near zero does
    not count as progress. Where the slowest eigendirection has a double
    eigenvalue (critical damping), :math:`e_t \propto (c + d\,t)\rho^t` and
    :math:`\hat\rho` exceeds :math:`\rho` by the factor
    :math:`\approx (T/s)^{1/(T - s)}`.

    Parameters
    ----------
    errors : array_like, shape (steps + 1, ...)
        Row :math:`t` holds the error after :math:`t` steps: signed
        components :math:`e_t`, or norms :math:`\lVert x_t - x^\star \rVert`;
        trailing axes are independent runs.
    window : int
        Envelope length :math:`w \ge 1`.
    floor : float
        Errors at or below this count as underflowed; the default stays above
        where ``np.linalg.norm`` (which squares) loses precision.

    Returns
    -------
    float or ndarray, shape ``errors.shape[1:]``
        :math:`\hat\rho`; ``inf`` for a run with a non-finite error (it
        diverged), 0 for a run whose error became exactly 0.
    """
    window = check_int("window", window, 1)
    arr = np.abs(np.asarray(errors, dtype=np.float64))
    if arr.ndim == 0 or len(arr) < 2 * window + 1:
        raise ValueError(f"errors must have at least 2 * window + 1 = {2 * window + 1} rows "
                         f"(steps), got shape {arr.shape}")
    flat = arr.reshape(len(arr), -1)
    steps = len(flat) - 1
    finite = np.isfinite(flat).all(axis=0)
    above = flat > floor
    last = np.where(above.any(axis=0), steps - np.argmax(above[::-1], axis=0), steps)
    last = np.maximum(last, 2 * window)
    mid = last // 2
    # envelope[r - window + 1] = max(|e_{r-w+1}|, ..., |e_r|)
    envelope = np.lib.stride_tricks.sliding_window_view(
        np.where(np.isfinite(flat), flat, np.inf), window, axis=0).max(axis=-1)
    runs = np.arange(flat.shape[1])
    end, start = envelope[last - window + 1, runs], envelope[mid - window + 1, runs]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rate = (end / start) ** (1.0 / (last - mid))
    rate = np.where(start == 0, 0.0, rate)
    rate = np.where(finite, rate, np.inf)
    return _scalar(rate.reshape(arr.shape[1:]))
