r"""Learning-rate schedules: pure, closed-form functions of the update count.

Every factory in this module returns a :class:`Schedule`, a callable
``schedule(k)`` where ``k`` is the number of updates done *before* this one
(0, 1, 2, ...). So ``schedule(0)`` is the learning rate of the first update,
and ``schedule(k)`` is exactly the learning rate a ``torch.optim`` optimizer
uses for its ``(k+1)``-th ``step()`` when the matching
``torch.optim.lr_scheduler`` is stepped once after every ``optimizer.step()``.

Symbols used in the docstrings (and in the book):

* :math:`k` -- updates done so far; :math:`\eta(k)` -- the learning rate of
  update :math:`t = k+1` (the book's :math:`\eta_t = \eta(t-1)`);
* :math:`\eta_0` -- ``lr`` (the starting or peak learning rate);
* :math:`\eta_{\min}` -- ``final_lr`` / ``min_lr``; :math:`T` -- ``total_steps``.

``schedule(k)`` accepts

* a Python ``int`` (or numpy integer) and returns a Python ``float``: this is
  the path an optimizer takes once per update, so it uses :mod:`math` only;
* an integer ndarray (or a list / ``range`` of ints) and returns a float64
  ndarray of the same shape, for plotting a whole schedule at once. The array
  path is whole-array numpy with no Python loop over ``k``.

A schedule keeps no state: calling it out of order, twice, or on an array
never changes what it returns. Each schedule's ``repr`` is the factory call
that rebuilds it, e.g. ``cosine(lr=0.1, total_steps=100, final_lr=0.0)``.
"""
from __future__ import annotations

import bisect
import math
import numbers
from typing import Any, Sequence

import numpy as np

__all__ = [
    "Schedule",
    "constant",
    "step_decay",
    "multistep",
    "exponential",
    "inverse_sqrt",
    "polynomial",
    "factor",
    "cosine",
    "cosine_restarts",
    "one_cycle",
    "warmup",
]

_INT64_MAX = np.iinfo(np.int64).max


# --------------------------------------------------------------------------
# Argument checking: every message names the argument and the allowed range.
# --------------------------------------------------------------------------

def _real(name: str, value: Any) -> float:
    """``value`` as a finite Python float, or a ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"{name} must be a real number, got {value!r} ({type(value).__name__})"
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def _non_negative(name: str, value: Any) -> float:
    value = _real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def _positive(name: str, value: Any) -> float:
    value = _real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def _integer(name: str, value: Any, minimum: int) -> int:
    """``value`` as a Python int >= ``minimum`` (floats such as 10.0 are refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an integer >= {minimum}, "
            f"got {value!r} ({type(value).__name__})"
        )
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _milestones(value: Any) -> tuple[int, ...]:
    """Strictly increasing integers >= 0, as a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise ValueError(
            "milestones must be a sequence of strictly increasing integers >= 0, "
            f"got {value!r}"
        )
    milestones = tuple(_integer("milestones[%d]" % i, m, 0) for i, m in enumerate(value))
    if any(a >= b for a, b in zip(milestones, milestones[1:])):
        raise ValueError(
            "milestones must be strictly increasing integers >= 0, "
            f"got {list(milestones)!r}; sort them and drop repeats"
        )
    return milestones


def _bad_k(k: Any, why: str) -> ValueError:
    return ValueError(
        f"k must be an int >= 0 or an integer array of them (the number of updates "
        f"done before this one), {why}"
    )


# --------------------------------------------------------------------------
# Helpers shared by the scalar (math) and array (numpy) paths.
# --------------------------------------------------------------------------

def _power(base: float, exponent: int) -> float:
    """``base ** exponent`` that saturates to inf instead of raising OverflowError."""
    try:
        return base**exponent
    except OverflowError:  # only possible for base > 1 and a huge exponent
        return math.inf


def _power_array(base: float, exponent: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # same saturation to inf as _power
        return np.power(base, exponent.astype(np.float64))


def _half_cosine(eta_max: float, eta_min: float, theta: float) -> float:
    r""":math:`\eta_{\min} + \tfrac12(\eta_{\max}-\eta_{\min})(1+\cos\theta)`.

    The angle ``theta`` goes from 0 (``eta_max``) to pi (``eta_min``). Written
    in torch's order of operations, so the two agree to rounding.
    """
    return eta_min + (eta_max - eta_min) * (1 + math.cos(theta)) / 2


def _half_cosine_array(eta_max: float, eta_min: float, theta: np.ndarray) -> np.ndarray:
    return eta_min + (eta_max - eta_min) * (1 + np.cos(theta)) / 2


# --------------------------------------------------------------------------
# The callable every factory returns.
# --------------------------------------------------------------------------

def _linear_ramp(start: float, end: float, k: Any, steps: int) -> Any:
    """The linear warmup ramp: ``start`` at k = 0, ``end`` at k = ``steps``."""
    return start + (end - start) * k / max(steps, 1)


class Schedule:
    """A learning-rate schedule :math:`k \\mapsto \\eta(k)` (see the module docstring).

    Build one with a factory such as :func:`cosine`; call it with an int
    (returns a float) or an integer array (returns a float64 array of the same
    shape). The hyperparameters are readable as attributes and as the dict
    :attr:`params`.
    """

    #: The factory that builds this schedule; also the name in the repr.
    name = "schedule"

    def __init__(self, **params: Any) -> None:
        self._params = params
        for key, value in params.items():
            setattr(self, key, value)

    @property
    def params(self) -> dict[str, Any]:
        """The factory arguments, in order (a copy)."""
        return dict(self._params)

    def _repr_params(self) -> dict[str, Any]:
        return self._params

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self._repr_params().items())
        return f"{self.name}({args})"

    def __call__(self, k: int | np.ndarray | Sequence[int]) -> float | np.ndarray:
        # Fast path: an optimizer calls lr(k) with a Python int once per update.
        if type(k) is int:
            if k < 0:
                raise _bad_k(k, f"got {k}")
            return self._scalar(k)
        return self._call_general(k)

    def _call_general(self, k: Any) -> float | np.ndarray:
        if isinstance(k, (bool, np.bool_)):
            raise _bad_k(k, f"got the bool {k!r}")
        if isinstance(k, numbers.Integral):  # numpy integer scalars
            return self(int(k))
        if isinstance(k, float | np.floating):
            raise _bad_k(k, f"got the float {k!r}; pass an int")
        ks = np.asarray(k)
        if ks.dtype.kind not in "iu":
            raise _bad_k(k, f"got an array of dtype {ks.dtype}; use an integer dtype")
        if ks.size and ks.min() < 0:
            raise _bad_k(k, f"got an array holding {ks.min()}")
        if ks.size and ks.dtype.kind == "u" and ks.max() > _INT64_MAX:
            raise _bad_k(k, f"got {ks.max()}, which does not fit in int64")
        ks = ks.astype(np.int64, copy=False)
        # numpy turns 0-d results into scalars; give back the caller's shape.
        return np.asarray(self._array(ks), dtype=np.float64).reshape(ks.shape)

    # Subclasses implement the formula twice: once with math for one int k
    # (fast, returns a float) and once with numpy for an int64 array.
    def _scalar(self, k: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _array(self, k: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------
# constant
# --------------------------------------------------------------------------

class _Constant(Schedule):
    name = "constant"

    def _scalar(self, k: int) -> float:
        return self.lr

    def _array(self, k: np.ndarray) -> np.ndarray:
        return np.full(k.shape, self.lr, dtype=np.float64)


def constant(lr: float) -> Schedule:
    r"""A constant learning rate.

    .. math:: \eta(k) = \eta_0

    Parameters
    ----------
    lr : float
        :math:`\eta_0 \ge 0`.

    Notes
    -----
    Equivalent to no torch scheduler at all (or ``LambdaLR(opt, lambda k: 1.0)``).
    """
    return _Constant(lr=_non_negative("lr", lr))


# --------------------------------------------------------------------------
# step_decay, multistep, exponential
# --------------------------------------------------------------------------

class _StepDecay(Schedule):
    name = "step_decay"

    def _scalar(self, k: int) -> float:
        return self.lr * _power(self.gamma, k // self.step_size)

    def _array(self, k: np.ndarray) -> np.ndarray:
        return self.lr * _power_array(self.gamma, k // self.step_size)


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    r"""Multiply the learning rate by :math:`q` (``gamma``) every ``step_size`` updates.

    .. math:: \eta(k) = \eta_0 \, q^{\lfloor k / s \rfloor}

    Parameters
    ----------
    lr : float
        :math:`\eta_0 \ge 0`.
    step_size : int
        :math:`s \ge 1`, the number of updates between decays.
    gamma : float
        :math:`q > 0`, the decay factor (torch's ``gamma``; default 0.1).

    Notes
    -----
    Same as ``torch.optim.lr_scheduler.StepLR(opt, step_size, gamma)``.
    """
    return _StepDecay(
        lr=_non_negative("lr", lr),
        step_size=_integer("step_size", step_size, 1),
        gamma=_positive("gamma", gamma),
    )


class _MultiStep(Schedule):
    name = "multistep"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._milestone_array = np.asarray(self.milestones, dtype=np.int64)

    def _scalar(self, k: int) -> float:
        return self.lr * _power(self.gamma, bisect.bisect_right(self.milestones, k))

    def _array(self, k: np.ndarray) -> np.ndarray:
        passed = np.searchsorted(self._milestone_array, k, side="right")
        return self.lr * _power_array(self.gamma, passed)


def multistep(lr: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    r"""Multiply the learning rate by :math:`q` (``gamma``) at each milestone.

    .. math:: \eta(k) = \eta_0 \, q^{\,|\{ m_j \in M : m_j \le k \}|}

    i.e. after :math:`k` updates the rate has been cut once for every
    milestone :math:`m_j \le k`.

    Parameters
    ----------
    lr : float
        :math:`\eta_0 \ge 0`.
    milestones : sequence of int
        :math:`M = (m_1 < m_2 < \dots)`, strictly increasing integers >= 0.
    gamma : float
        :math:`q > 0`, the decay factor (torch's ``gamma``; default 0.1).

    Notes
    -----
    Same as ``torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma)``
    (torch also accepts a repeated milestone, meaning :math:`q^2`; here
    repeats are refused as a likely typo).
    """
    return _MultiStep(
        lr=_non_negative("lr", lr),
        milestones=_milestones(milestones),
        gamma=_positive("gamma", gamma),
    )


class _Exponential(Schedule):
    name = "exponential"

    def _scalar(self, k: int) -> float:
        return self.lr * _power(self.gamma, k)

    def _array(self, k: np.ndarray) -> np.ndarray:
        return self.lr * _power_array(self.gamma, k)


def exponential(lr: float, gamma: float) -> Schedule:
    r"""Multiply the learning rate by :math:`q` (``gamma``) after every update.

    .. math:: \eta(k) = \eta_0 \, q^{k}

    Parameters
    ----------
    lr : float
        :math:`\eta_0 \ge 0`.
    gamma : float
        :math:`q > 0` (torch's ``gamma``). Below 1 it decays; above 1 it
        grows, as in a learning-rate range test (a rate that overflows becomes
        ``inf``).

    Notes
    -----
    Same as ``torch.optim.lr_scheduler.ExponentialLR(opt, gamma)``.
    """
    return _Exponential(lr=_non_negative("lr", lr), gamma=_positive("gamma", gamma))


# --------------------------------------------------------------------------
# inverse_sqrt, polynomial, factor
# --------------------------------------------------------------------------

class _InverseSqrt(Schedule):
    name = "inverse_sqrt"

    def _scalar(self, k: int) -> float:
        return self.lr / math.sqrt(k + 1)

    def _array(self, k: np.ndarray) -> np.ndarray:
        return self.lr / np.sqrt(k + 1)


def inverse_sqrt(lr: float) -> Schedule:
    r"""Decay as one over the square root of the update number.

    .. math:: \eta(k) = \frac{\eta_0}{\sqrt{k+1}}

    With :math:`t = k+1` the update number, this is the
    :math:`\alpha_t = \alpha/\sqrt{t}` of the Adam paper's convergence analysis.

    Parameters
    ----------
    lr : float
        :math:`\eta_0 \ge 0`.

    Notes
    -----
    Same as ``torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 / math.sqrt(k + 1))``.
    """
    return _InverseSqrt(lr=_non_negative("lr", lr))


class _Polynomial(Schedule):
    name = "polynomial"

    def _scalar(self, k: int) -> float:
        # 1.0 - k / T is torch's own expression; min() holds the rate after T.
        remaining = 1.0 - min(k, self.total_steps) / self.total_steps
        return self.final_lr + (self.lr - self.final_lr) * remaining**self.power

    def _array(self, k: np.ndarray) -> np.ndarray:
        remaining = 1.0 - np.minimum(k, self.total_steps) / self.total_steps
        return self.final_lr + (self.lr - self.final_lr) * remaining**self.power


def polynomial(
    lr: float, total_steps: int, power: float = 1.0, final_lr: float = 0.0
) -> Schedule:
    r"""Polynomial decay from :math:`\eta_0` to :math:`\eta_{\min}` over :math:`T` updates.

    .. math::
        \eta(k) = \eta_{\min} + (\eta_0 - \eta_{\min})
                 \left(1 - \frac{\min(k, T)}{T}\right)^{p}

    ``power=1`` is a linear decay; the rate stays at :math:`\eta_{\min}` for
    :math:`k \ge T`.

    Parameters
    ----------
    lr : float
        :math:`\eta_0 \ge 0`.
    total_steps : int
        :math:`T \ge 1`.
    power : float
        :math:`p > 0` (default 1).
    final_lr : float
        :math:`\eta_{\min} \ge 0` (default 0).

    Notes
    -----
    With ``final_lr=0`` this is
    ``torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=T, power=p)``.
    """
    return _Polynomial(
        lr=_non_negative("lr", lr),
        total_steps=_integer("total_steps", total_steps, 1),
        power=_positive("power", power),
        final_lr=_non_negative("final_lr", final_lr),
    )


class _Factor(Schedule):
    name = "factor"

    def _scalar(self, k: int) -> float:
        return max(self.min_lr, self.lr * _power(self.factor, k))

    def _array(self, k: np.ndarray) -> np.ndarray:
        return np.maximum(self.min_lr, self.lr * _power_array(self.factor, k))


def factor(lr: float, factor: float, min_lr: float = 1e-7) -> Schedule:
    r"""Multiplicative decay with a floor (d2l's ``FactorScheduler``).

    .. math:: \eta(k) = \max\!\left(\eta_{\min},\ \eta_0\,q^{k}\right)

    the closed form of :math:`\eta(k+1) = \max(\eta_{\min}, q\,\eta(k))`.

    Parameters
    ----------
    lr : float
        :math:`\eta_0 \ge 0`.
    factor : float
        :math:`q \in (0, 1]`, the ratio of the geometric decay.
    min_lr : float
        :math:`\eta_{\min}`, with :math:`0 \le \eta_{\min} \le \eta_0`
        (default 1e-7, d2l's ``stop_factor_lr``).

    Notes
    -----
    Convention: :math:`\eta_0` is the rate of the *first* update, as for every
    schedule in this module (this is :func:`exponential` with a floor). d2l's
    ``FactorScheduler`` is stateful and decays *before* it returns, so its
    :math:`n`-th call (counting from 1) returns
    :math:`\max(\eta_{\min}, \eta_0 q^n)` = ``factor(...)(n)`` whatever
    ``num_update`` it is given; its first update already uses
    :math:`q\eta_0`. We keep :math:`\eta_0` for the first update so that
    ``lr`` means the same thing in all schedules and the value depends only
    on :math:`k`, not on how often the scheduler was called.
    """
    lr = _non_negative("lr", lr)
    alpha = _positive("factor", factor)
    if alpha > 1:
        raise ValueError(f"factor must be in (0, 1], got {alpha!r}")
    min_lr = _non_negative("min_lr", min_lr)
    if min_lr > lr:
        raise ValueError(f"min_lr must be in [0, lr] = [0, {lr!r}], got {min_lr!r}")
    return _Factor(lr=lr, factor=alpha, min_lr=min_lr)


# --------------------------------------------------------------------------
# cosine (with optional linear warmup)
# --------------------------------------------------------------------------

class _Cosine(Schedule):
    name = "cosine"

    def _repr_params(self) -> dict[str, Any]:
        if self.warmup_steps:
            return self._params
        # Without warmup the two warmup arguments are noise in the repr.
        return {key: self._params[key] for key in ("lr", "total_steps", "final_lr")}

    def _scalar(self, k: int) -> float:
        warmup, total = self.warmup_steps, self.total_steps
        if k < warmup:
            return _linear_ramp(self.warmup_start_lr, self.lr, k, warmup)
        if k >= total:
            return self.final_lr
        return _half_cosine(self.lr, self.final_lr, math.pi * (k - warmup) / (total - warmup))

    def _array(self, k: np.ndarray) -> np.ndarray:
        warmup, total = self.warmup_steps, self.total_steps
        ramp = _linear_ramp(self.warmup_start_lr, self.lr, k, warmup)
        anneal = _half_cosine_array(
            self.lr, self.final_lr, math.pi * (np.minimum(k, total) - warmup) / (total - warmup)
        )
        return np.where(k < warmup, ramp, np.where(k >= total, self.final_lr, anneal))


def cosine(
    lr: float,
    total_steps: int,
    final_lr: float = 0.0,
    warmup_steps: int = 0,
    warmup_start_lr: float = 0.0,
) -> Schedule:
    r"""Cosine annealing from :math:`\eta_0` to :math:`\eta_{\min}`, optional linear warmup.

    With :math:`W` warmup updates starting from :math:`\eta_w`:

    .. math::
        \eta(k) = \begin{cases}
            \eta_w + (\eta_0 - \eta_w)\,\dfrac{k}{W} & k < W \\[1ex]
            \eta_{\min} + \dfrac{\eta_0 - \eta_{\min}}{2}
                \left(1 + \cos\dfrac{\pi (k - W)}{T - W}\right) & W \le k \le T \\[1ex]
            \eta_{\min} & k > T
        \end{cases}

    Parameters
    ----------
    lr : float
        :math:`\eta_0 \ge 0`, the peak rate.
    total_steps : int
        :math:`T \ge 1`, the update count at which the rate reaches
        :math:`\eta_{\min}`, warmup included.
    final_lr : float
        :math:`\eta_{\min} \ge 0` (default 0).
    warmup_steps : int
        :math:`W`, with :math:`0 \le W < T` (default 0: no warmup).
    warmup_start_lr : float
        :math:`\eta_w \ge 0`, the rate of the first warmup update (default 0).

    Notes
    -----
    Without warmup this is ``torch.optim.lr_scheduler.CosineAnnealingLR(opt,
    T_max=T, eta_min=final_lr)`` for :math:`k \le T`; torch's recursion keeps
    following the cosine back up after :math:`T`, this schedule holds
    :math:`\eta_{\min}` (as d2l does). With warmup it is d2l's
    ``CosineScheduler(max_update=T, base_lr=lr, final_lr, warmup_steps,
    warmup_begin_lr=warmup_start_lr)``.
    """
    total_steps = _integer("total_steps", total_steps, 1)
    warmup_steps = _integer("warmup_steps", warmup_steps, 0)
    if warmup_steps >= total_steps:
        raise ValueError(
            f"warmup_steps must be in [0, total_steps) = [0, {total_steps}), "
            f"got {warmup_steps}; total_steps counts the warmup too"
        )
    return _Cosine(
        lr=_non_negative("lr", lr),
        total_steps=total_steps,
        final_lr=_non_negative("final_lr", final_lr),
        warmup_steps=warmup_steps,
        warmup_start_lr=_non_negative("warmup_start_lr", warmup_start_lr),
    )


# --------------------------------------------------------------------------
# cosine_restarts (SGDR)
# --------------------------------------------------------------------------

class _CosineRestarts(Schedule):
    name = "cosine_restarts"

    def _cycle(self, k: int) -> tuple[int, int]:
        """(updates into the current cycle, length of the current cycle), exactly."""
        period, mult = self.period, self.mult
        if mult == 1:
            return k % period, period
        # Cycle i starts at k_i = T_0 (m^i - 1)/(m - 1), so k is in cycle i
        # iff m^i <= q + 1 < m^(i+1) with q = floor(k (m-1) / T_0).
        q1 = k * (mult - 1) // period + 1
        i = int(math.log(q1) / math.log(mult))
        # The float log can be one off at a boundary: settle it with ints.
        if mult ** (i + 1) <= q1:
            i += 1
        elif mult**i > q1:
            i -= 1
        return k - period * (mult**i - 1) // (mult - 1), period * mult**i

    def _cycle_array(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        period, mult = self.period, self.mult
        if mult == 1:
            return k % period, np.full(k.shape, period, dtype=np.int64)
        if k.size and int(k.max()) > _INT64_MAX // mult**3:
            # The int64 powers below would overflow; Python ints would not.
            raise _bad_k(
                k, f"got {int(k.max())}, too large for an int64 array with mult={mult}; "
                "call the schedule with Python ints instead"
            )
        q1 = k * (mult - 1) // period + 1
        i = np.floor(np.log(q1) / math.log(mult)).astype(np.int64)
        i += mult ** (i + 1) <= q1  # same integer correction as _cycle
        i -= mult**i > q1
        power = mult**i
        return k - period * (power - 1) // (mult - 1), period * power

    def _scalar(self, k: int) -> float:
        into_cycle, cycle_length = self._cycle(k)
        return _half_cosine(self.lr, self.min_lr, math.pi * into_cycle / cycle_length)

    def _array(self, k: np.ndarray) -> np.ndarray:
        into_cycle, cycle_length = self._cycle_array(k)
        return _half_cosine_array(self.lr, self.min_lr, math.pi * into_cycle / cycle_length)


def cosine_restarts(
    lr: float, period: int, mult: int = 1, min_lr: float = 0.0
) -> Schedule:
    r"""Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter).

    Cycle :math:`i = 0, 1, \dots` lasts :math:`T_i = T_0\,T_{\mathrm{mult}}^{\,i}`
    updates and starts at :math:`k_i = \sum_{j<i} T_j`. Inside it, with
    :math:`T_{\mathrm{cur}} = k - k_i`,

    .. math::
        \eta(k) = \eta_{\min} + \frac{\eta_0 - \eta_{\min}}{2}
                 \left(1 + \cos\frac{\pi\,T_{\mathrm{cur}}}{T_i}\right)

    so the rate jumps back to :math:`\eta_0` at every :math:`k_i`. The cycle
    index has the closed form
    :math:`i = \lfloor \log_{T_{\mathrm{mult}}}(k (T_{\mathrm{mult}}-1)/T_0 + 1) \rfloor`
    (:math:`i = \lfloor k/T_0 \rfloor` when :math:`T_{\mathrm{mult}} = 1`),
    evaluated in integer arithmetic so cycle boundaries are exact.

    Parameters
    ----------
    lr : float
        :math:`\eta_0 \ge 0`.
    period : int
        :math:`T_0 \ge 1`, the length of the first cycle.
    mult : int
        :math:`T_{\mathrm{mult}} \ge 1`, the factor by which each cycle is
        longer than the last (default 1: equal cycles).
    min_lr : float
        :math:`\eta_{\min} \ge 0` (default 0).

    Notes
    -----
    Same as ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt,
    T_0=period, T_mult=mult, eta_min=min_lr)``.
    """
    return _CosineRestarts(
        lr=_non_negative("lr", lr),
        period=_integer("period", period, 1),
        mult=_integer("mult", mult, 1),
        min_lr=_non_negative("min_lr", min_lr),
    )


# --------------------------------------------------------------------------
# one_cycle
# --------------------------------------------------------------------------

class _OneCycle(Schedule):
    name = "one_cycle"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.initial_lr = self.max_lr / self.div_factor
        self.min_lr = self.initial_lr / self.final_div_factor
        # torch's phase boundary, a float: the warmup ends at update number
        # pct_start*T - 1 and the annealing at T - 1.
        self._peak = float(self.pct_start * self.total_steps) - 1
        self._last = self.total_steps - 1
        # three_phase: back down to initial_lr at 2 pct_start T - 2, then to min_lr.
        self._valley = float(2 * self.pct_start * self.total_steps) - 2

    def _repr_params(self) -> dict[str, Any]:
        if self.three_phase:
            return self._params
        return {key: v for key, v in self._params.items() if key != "three_phase"}

    def _scalar(self, k: int) -> float:
        peak, last = self._peak, self._last
        if self.three_phase:
            valley = self._valley
            if k <= peak:
                return _half_cosine(self.initial_lr, self.max_lr, math.pi * (k / peak))
            if k <= valley:
                return _half_cosine(
                    self.max_lr, self.initial_lr, math.pi * ((k - peak) / (valley - peak))
                )
            if k <= last:
                return _half_cosine(
                    self.initial_lr, self.min_lr, math.pi * ((k - valley) / (last - valley))
                )
            return self.min_lr
        if k <= peak:
            return _half_cosine(self.initial_lr, self.max_lr, math.pi * (k / peak))
        if k <= last:
            return _half_cosine(
                self.max_lr, self.min_lr, math.pi * ((k - peak) / (last - peak))
            )
        return self.min_lr

    def _array(self, k: np.ndarray) -> np.ndarray:
        peak, last = self._peak, self._last
        up = _half_cosine_array(self.initial_lr, self.max_lr, math.pi * (k / peak))
        if self.three_phase:
            valley = self._valley
            down = _half_cosine_array(
                self.max_lr, self.initial_lr,
                math.pi * ((np.clip(k, peak, valley) - peak) / (valley - peak)),
            )
            anneal = _half_cosine_array(
                self.initial_lr, self.min_lr,
                math.pi * ((np.clip(k, valley, last) - valley) / (last - valley)),
            )
            return np.where(k <= peak, up, np.where(
                k <= valley, down, np.where(k <= last, anneal, self.min_lr)))
        down = _half_cosine_array(
            self.max_lr, self.min_lr, math.pi * ((np.minimum(k, last) - peak) / (last - peak))
        )
        return np.where(k <= peak, up, np.where(k <= last, down, self.min_lr))


def one_cycle(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    r"""The 1cycle policy with cosine annealing (Smith; fastai; torch).

    The rate rises from :math:`\eta_{\mathrm{init}} = \eta_{\max}/d` to
    :math:`\eta_{\max}`, then falls to :math:`\eta_{\min} =
    \eta_{\mathrm{init}}/d_f`. With the peak at :math:`P = pT - 1` and the last
    update at :math:`L = T - 1`, and
    :math:`c(a, b, x) = b + \tfrac{a - b}{2}(1 + \cos \pi x)`
    (a half cosine from :math:`a` at :math:`x=0` to :math:`b` at :math:`x=1`):

    .. math::
        \eta(k) = \begin{cases}
            c\!\left(\eta_{\mathrm{init}}, \eta_{\max}, \dfrac{k}{P}\right) & k \le P \\[1ex]
            c\!\left(\eta_{\max}, \eta_{\min}, \dfrac{k - P}{L - P}\right) & P < k \le L \\[1ex]
            \eta_{\min} & k > L
        \end{cases}

    Parameters
    ----------
    max_lr : float
        :math:`\eta_{\max} \ge 0`, the peak rate.
    total_steps : int
        :math:`T \ge 1`, the length of the cycle in updates.
    pct_start : float
        :math:`p \in (0, 1)`, the fraction of the cycle spent warming up
        (default 0.3). :math:`pT` must exceed 1 so the warmup is not empty.
    div_factor : float
        :math:`d > 0`: :math:`\eta_{\mathrm{init}} = \eta_{\max}/d` (default 25).
    final_div_factor : float
        :math:`d_f > 0`: :math:`\eta_{\min} = \eta_{\mathrm{init}}/d_f` (default 1e4).
    three_phase : bool
        False (default): the two phases above. True: Smith's original shape,
        with :math:`V = 2pT - 2`: up from :math:`\eta_{\mathrm{init}}` to
        :math:`\eta_{\max}` for :math:`k \le P`, back down to
        :math:`\eta_{\mathrm{init}}` (symmetrically) for :math:`P < k \le V`,
        then :math:`c(\eta_{\mathrm{init}}, \eta_{\min}, (k - V)/(L - V))`
        for :math:`V < k \le L`, the short final "annihilation" phase.
        Needs :math:`V < L`, i.e. :math:`2pT < T + 1`.

    Notes
    -----
    Same as ``torch.optim.lr_scheduler.OneCycleLR(opt, max_lr, total_steps,
    pct_start, anneal_strategy='cos', div_factor, final_div_factor,
    three_phase, cycle_momentum=False)`` for :math:`k < T`, the updates
    torch defines. After the cycle this schedule holds :math:`\eta_{\min}`
    (torch raises an error), so a training loop that overruns by a step does
    not crash.
    """
    max_lr = _non_negative("max_lr", max_lr)
    total_steps = _integer("total_steps", total_steps, 1)
    pct_start = _real("pct_start", pct_start)
    if not 0 < pct_start < 1:
        raise ValueError(f"pct_start must be in the open interval (0, 1), got {pct_start!r}")
    if pct_start * total_steps <= 1:
        raise ValueError(
            f"pct_start * total_steps must be > 1 so the warmup spans at least one "
            f"update, got pct_start={pct_start!r}, total_steps={total_steps} "
            f"(product {pct_start * total_steps!r}); raise pct_start or total_steps"
        )
    if not isinstance(three_phase, (bool, np.bool_)):
        raise ValueError(f"three_phase must be True or False, got {three_phase!r}")
    three_phase = bool(three_phase)
    if three_phase and 2 * pct_start * total_steps - 2 >= total_steps - 1:
        raise ValueError(
            f"with three_phase=True, 2 * pct_start * total_steps must be < total_steps + 1 "
            f"so the final phase is not empty, got pct_start={pct_start!r}, "
            f"total_steps={total_steps}; lower pct_start"
        )
    return _OneCycle(
        max_lr=max_lr,
        total_steps=total_steps,
        pct_start=pct_start,
        div_factor=_positive("div_factor", div_factor),
        final_div_factor=_positive("final_div_factor", final_div_factor),
        three_phase=three_phase,
    )


# --------------------------------------------------------------------------
# warmup: a linear ramp in front of any schedule
# --------------------------------------------------------------------------

class _Warmup(Schedule):
    name = "warmup"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._target = float(self.schedule(0))

    def _scalar(self, k: int) -> float:
        warmup = self.warmup_steps
        if k < warmup:
            return _linear_ramp(self.warmup_start_lr, self._target, k, warmup)
        return float(self.schedule(k - warmup))

    def _array(self, k: np.ndarray) -> np.ndarray:
        warmup = self.warmup_steps
        ramp = _linear_ramp(self.warmup_start_lr, self._target, k, warmup)
        after = np.asarray(self.schedule(np.maximum(k - warmup, 0)), dtype=np.float64)
        return np.where(k < warmup, ramp, after)


def warmup(schedule: Any, warmup_steps: int, warmup_start_lr: float = 0.0) -> Schedule:
    r"""Put a linear warmup of :math:`W` updates in front of any schedule :math:`s`.

    .. math::
        \eta(k) = \begin{cases}
            \eta_w + \bigl(s(0) - \eta_w\bigr)\,\dfrac{k}{W} & k < W \\[1ex]
            s(k - W) & k \ge W
        \end{cases}

    The ramp climbs from :math:`\eta_w` towards :math:`s(0)` (reached at
    :math:`k = W`), and then :math:`s` runs as if training started there: it
    is shifted by :math:`W` updates, so a schedule that should end at update
    :math:`T` of the whole run gets ``total_steps = T - W``. Thus
    ``warmup(cosine(lr, T - W), W, w)`` equals
    ``cosine(lr, T, warmup_steps=W, warmup_start_lr=w)``.

    Parameters
    ----------
    schedule : Schedule
        :math:`s`, any schedule of this module (or a callable ``s(k)`` that
        accepts an int and an integer array, as those do).
    warmup_steps : int
        :math:`W \ge 0` (0: the schedule unchanged).
    warmup_start_lr : float
        :math:`\eta_w \ge 0`, the rate of the first update (default 0).

    Notes
    -----
    Same as ``torch.optim.lr_scheduler.SequentialLR(opt, [LinearLR(opt,
    start_factor=w / s(0), end_factor=1.0, total_iters=W), main],
    milestones=[W])`` where ``main`` is the torch scheduler of :math:`s`
    (torch's ``LinearLR`` needs ``start_factor > 0``, so :math:`\eta_w > 0`).
    """
    if not callable(schedule):
        raise ValueError(
            f"schedule must be a callable lr(k), such as schedules.cosine(...), "
            f"got {schedule!r} ({type(schedule).__name__})"
        )
    return _Warmup(
        schedule=schedule,
        warmup_steps=_integer("warmup_steps", warmup_steps, 0),
        warmup_start_lr=_non_negative("warmup_start_lr", warmup_start_lr),
    )
