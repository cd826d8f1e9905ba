r"""The optional fused path: one compiled pass over memory per leaf (numba).

``Adam(lr=1e-3, fused=True)`` (any optimizer of :mod:`optlib.optimizers`)
updates every contiguous float32/float64 leaf with a numba kernel that
reads each element of the parameter, gradient and state once, applies the
whole update rule in registers and writes the results back, using every
core (``numba.prange``). The numpy code in :mod:`optlib.optimizers` stays the
reference and the version the book explains: it runs the same equation as
a handful of whole-array operations, each one a pass over memory (chunked
so that the passes after the first hit the cache). The kernels here perform
the *same* floating-point operations in the *same* order, in the dtype of
the parameters, without fast-math reassociation or fused multiply-adds, so
their results equal the numpy path's up to float rounding (in practice
they are bit-identical; the tests check agreement within a few units in
the last place).

Install with ``pip install optlib[fast]`` (numba). ``import optlib`` never
imports numba; this module is imported when an optimizer is built with
``fused=True``.

Compilation: a kernel is compiled the first time it meets a dtype (about a
second or two per kernel). Compiled code is cached on disk (numba's
``cache=True``): next to this file in ``__pycache__`` when that folder is
writable, otherwise in numba's per-user cache folder (``NUMBA_CACHE_DIR``
chooses another). When no folder is writable the kernels still work,
compiled anew in every process.

What falls back to the numpy code: leaves that are not C-contiguous, and
dtypes other than float32/float64. Array-valued hyperparameters are refused
(``ValueError`` when the optimizer is built, or when a schedule returns an
array): a fused kernel takes scalars only.
"""
from __future__ import annotations

import types
import warnings
from typing import Any, Callable

import numpy as np

try:
    import numba
    from numba import prange
except ImportError as err:  # pragma: no cover - exercised by a test that hides numba
    raise ImportError(
        "fused=True needs numba, which is not installed: pip install optlib[fast] "
        "(or pip install numba), or build the optimizer with fused=False"
    ) from err

__all__ = ["PARALLEL_MIN_ELEMENTS", "UPDATES", "update", "is_finite", "has_kernel"]

#: Leaves with fewer elements run on one thread: waking numba's worker
#: threads (tens of microseconds) costs more than it saves on small arrays.
PARALLEL_MIN_ELEMENTS = 1 << 17

_SUPPORTED = (np.dtype(np.float32), np.dtype(np.float64))


# ----------------------------------------------------------------------------
# compiling: a parallel and a serial dispatcher per kernel, cached on disk
# ----------------------------------------------------------------------------

def _renamed(func: Callable, suffix: str) -> Callable:
    # numba's disk cache keys entries by the function's qualified name and
    # bytecode, not by the parallel flag: give the serial copy its own name
    # so the two versions never overwrite each other.
    copy = types.FunctionType(func.__code__, func.__globals__, func.__name__ + suffix,
                              func.__defaults__, func.__closure__)
    copy.__qualname__ = func.__qualname__ + suffix
    copy.__module__ = func.__module__
    return copy


def _jit(func: Callable, parallel: bool) -> Callable:
    # error_model="numpy": x/0 gives inf or nan as in numpy (the default
    # raises ZeroDivisionError, and its check per element stops vectorization).
    # fastmath stays off so that the operations are those of the numpy code.
    options = dict(parallel=parallel, error_model="numpy", fastmath=False, nogil=True)
    try:
        return numba.njit(cache=True, **options)(func)
    except RuntimeError as err:  # no writable cache folder (e.g. read-only install)
        warnings.warn(
            f"optlib.fused: cannot cache compiled kernels ({err}); they will be compiled "
            "in every process. Set NUMBA_CACHE_DIR to a writable folder to cache them",
            UserWarning, stacklevel=2,
        )
        return numba.njit(cache=False, **options)(func)


class _Kernel:
    """A kernel in two compiled versions: all cores for large leaves, one for small ones."""

    def __init__(self, func: Callable) -> None:
        self.parallel = _jit(func, parallel=True)
        self.serial = _jit(_renamed(func, "_serial"), parallel=False)

    def __call__(self, *args: Any) -> Any:
        if args[0].size >= PARALLEL_MIN_ELEMENTS and numba.get_num_threads() > 1:
            return self.parallel(*args)
        return self.serial(*args)


# ----------------------------------------------------------------------------
# the kernels: the numpy update of optlib.optimizers, element by element, in
# the same order of operations. x, g are parameter and gradient; scalars
# arrive already cast to the arrays' dtype, as numpy casts a Python float.
# ----------------------------------------------------------------------------

def _sgd(p, g, wd, lr):
    for i in prange(p.size):
        x = p[i]
        gi = g[i]
        if wd != 0:
            gi = x * wd + g[i]                     # g_t + ω x_{t-1}
        p[i] = x - gi * lr                         # x_t = x_{t-1} - η g_t


def _sgd_momentum(p, g, b, wd, beta, one_minus_delta, damped, first, nesterov, lr):
    for i in prange(p.size):
        x = p[i]
        gi = g[i]
        if wd != 0:
            gi = x * wd + g[i]
        if first:
            bi = gi                                # b_1 = g_1
        elif damped:
            bi = b[i] * beta + gi * one_minus_delta    # b_t = β b_{t-1} + (1-δ) g_t
        else:
            bi = b[i] * beta + gi
        b[i] = bi
        d = bi * beta + gi if nesterov else bi       # d_t = g_t + β b_t (nesterov) or b_t
        p[i] = x - d * lr                          # x_t = x_{t-1} - η d_t


def _adagrad(p, g, s, wd, eps, clr):
    for i in prange(p.size):
        x = p[i]
        gi = g[i]
        if wd != 0:
            gi = x * wd + g[i]
        si = s[i] + gi * gi                        # s_t = s_{t-1} + g_t²
        s[i] = si
        p[i] = x - (gi / (np.sqrt(si) + eps)) * clr   # x_t = x_{t-1} - η̃_t g_t/(√s_t + ε)


def _rmsprop(p, g, v, gbar, b, wd, alpha, one_minus_alpha, eps, beta, lr, centered, momentum):
    for i in prange(p.size):
        x = p[i]
        gi = g[i]
        if wd != 0:
            gi = x * wd + g[i]
        vi = v[i] * alpha + (gi * gi) * one_minus_alpha   # v_t = α v_{t-1} + (1-α) g_t²
        v[i] = vi
        if centered:
            gb = gbar[i] * alpha + gi * one_minus_alpha   # ḡ_t
            gbar[i] = gb
            denom = np.sqrt(vi - gb * gb) + eps           # √(v_t - ḡ_t²) + ε
        else:
            denom = np.sqrt(vi) + eps
        if momentum:
            bi = b[i] * beta + gi / denom                   # b_t = β b_{t-1} + g_t/denom
            b[i] = bi
            p[i] = x - bi * lr
        else:
            p[i] = x - (gi / denom) * lr


def _adadelta(p, g, v, u, wd, rho, one_minus_rho, eps, lr):
    for i in prange(p.size):
        x = p[i]
        gi = g[i]
        if wd != 0:
            gi = x * wd + g[i]
        vi = v[i] * rho + (gi * gi) * one_minus_rho       # v_t = ρ v_{t-1} + (1-ρ) g_t²
        v[i] = vi
        ui = u[i]
        delta = (np.sqrt(ui + eps) / np.sqrt(vi + eps)) * gi   # Δ_t
        u[i] = ui * rho + (delta * delta) * one_minus_rho  # u_t = ρ u_{t-1} + (1-ρ) Δ_t²
        p[i] = x - delta * lr                              # x_t = x_{t-1} - η Δ_t


def _adam(p, g, m, v, vmax, wd, decay, one_minus_beta1, beta2, one_minus_beta2, eps,
          step_size, amsgrad):
    for i in prange(p.size):
        x = p[i] * decay                           # AdamW: x ← (1 - ηω) x (decay = 1 for Adam)
        gi = g[i]
        if wd != 0:
            gi = x * wd + g[i]                     # Adam: g_t + ω x_{t-1}
        mi = m[i]
        mi = mi + (gi - mi) * one_minus_beta1      # m_t = β1 m_{t-1} + (1-β1) g_t
        m[i] = mi
        vi = v[i] * beta2 + (gi * gi) * one_minus_beta2   # v_t = β2 v_{t-1} + (1-β2) g_t²
        v[i] = vi
        if amsgrad:
            vh = vmax[i]
            if vi > vh or vi != vi:                # v̂_t = max(v̂_{t-1}, v_t); nan wins (np.maximum)
                vh = vi
            vmax[i] = vh
            vi = vh
        denom = np.sqrt(vi) + eps                  # √v̂_t + ε √(1-β2^t)
        p[i] = x - (mi / denom) * step_size        # step_size = η √(1-β2^t)/(1-β1^t)


def _yogi(p, g, m, v, beta1, one_minus_beta1, one_minus_beta2, bias_correction2, eps,
          step_size):
    for i in prange(p.size):
        gi = g[i]
        mi = m[i] * beta1 + gi * one_minus_beta1   # m_t = β1 m_{t-1} + (1-β1) g_t
        m[i] = mi
        sq = gi * gi
        diff = v[i] - sq
        # sign(diff) * g², in the arrays' dtype (a float literal would be float64)
        if diff > 0:
            signed_sq = sq
        elif diff < 0:
            signed_sq = -sq
        else:
            signed_sq = diff * sq                  # 0 (or nan), as np.sign(diff) * g²
        vi = v[i] - signed_sq * one_minus_beta2    # v_t = v_{t-1} - (1-β2) sign(.) g_t²
        v[i] = vi
        denom = np.sqrt(vi / bias_correction2) + eps
        p[i] = p[i] - (mi / denom) * step_size


def _max_magnitude_bits(bits, magnitude):
    # The bits of |x| (sign bit cleared) order like |x|, and a float is inf or
    # nan exactly when they reach those of inf. An integer max reduction
    # vectorizes without fast-math (a float reduction would need
    # reassociation), cannot overflow, and reads each element once.
    largest = bits.dtype.type(0)
    for i in prange(bits.size):
        largest = max(largest, bits[i] & magnitude)
    return largest


_KERNELS: dict[str, _Kernel] = {}


def _kernel(name: str) -> _Kernel:
    kernel = _KERNELS.get(name)
    if kernel is None:
        kernel = _KERNELS[name] = _Kernel(globals()["_" + name])
    return kernel


# ----------------------------------------------------------------------------
# dispatch: one function per kind of optimizer, reading its hyperparameters
# ----------------------------------------------------------------------------

# per dtype: the unsigned integer view, the mask that clears the sign bit, the bits of inf
_FLOAT_BITS = {np.dtype(np.float32): (np.uint32, np.uint32(0x7FFFFFFF), np.uint32(0x7F800000)),
               np.dtype(np.float64): (np.uint64, np.uint64(0x7FFFFFFFFFFFFFFF),
                                      np.uint64(0x7FF0000000000000))}


def is_finite(grad: np.ndarray) -> bool | None:
    """True if every element of ``grad`` is finite, in one compiled pass on every core.

    None when the kernel does not apply (a dtype other than float32/float64,
    or a non-contiguous array): the caller then uses its own test.
    """
    spec = _FLOAT_BITS.get(grad.dtype)
    if spec is None or not grad.flags.c_contiguous:
        return None
    if grad.size == 0:
        return True
    uint, magnitude, inf = spec
    return bool(_kernel("max_magnitude_bits")(grad.reshape(-1).view(uint), magnitude) < inf)


def _no_state(like: np.ndarray) -> np.ndarray:
    # a stand-in for state a variant does not keep; the kernel never reads it
    return np.empty(1, dtype=like.dtype)


def _sgd_update(opt, p, g, state, lr, t, c):
    if "momentum_buffer" not in state:
        _kernel("sgd")(p, g, c(opt.weight_decay), c(lr))
        return
    damped = opt.dampening != 0
    _kernel("sgd_momentum")(p, g, state["momentum_buffer"], c(opt.weight_decay),
                            c(opt.momentum), c(1.0 - opt.dampening), damped, t == 1,
                            opt.nesterov, c(lr))


def _adagrad_update(opt, p, g, state, lr, t, c):
    clr = lr / (1 + (t - 1) * opt.lr_decay)
    _kernel("adagrad")(p, g, state["sum"], c(opt.weight_decay), c(opt.eps), c(clr))


def _rmsprop_update(opt, p, g, state, lr, t, c):
    gbar = state.get("grad_avg")
    b = state.get("momentum_buffer")
    _kernel("rmsprop")(p, g, state["square_avg"],
                       _no_state(p) if gbar is None else gbar,
                       _no_state(p) if b is None else b,
                       c(opt.weight_decay), c(opt.alpha), c(1.0 - opt.alpha), c(opt.eps),
                       c(opt.momentum), c(lr), gbar is not None, b is not None)


def _adadelta_update(opt, p, g, state, lr, t, c):
    _kernel("adadelta")(p, g, state["square_avg"], state["acc_delta"], c(opt.weight_decay),
                        c(opt.rho), c(1.0 - opt.rho), c(opt.eps), c(lr))


def _adam_update(opt, p, g, state, lr, t, c, decoupled=False):
    vmax = state.get("max_exp_avg_sq")
    wd = opt.weight_decay
    decay, l2 = (1.0 - lr * wd, 0.0) if decoupled else (1.0, wd)
    bias_correction2_sqrt = (1.0 - opt.beta2 ** t) ** 0.5
    _kernel("adam")(p, g, state["exp_avg"], state["exp_avg_sq"],
                    _no_state(p) if vmax is None else vmax,
                    c(l2), c(decay), c(1.0 - opt.beta1), c(opt.beta2), c(1.0 - opt.beta2),
                    c(opt.eps * bias_correction2_sqrt),
                    c(lr * bias_correction2_sqrt / (1.0 - opt.beta1 ** t)), vmax is not None)


def _adamw_update(opt, p, g, state, lr, t, c):
    _adam_update(opt, p, g, state, lr, t, c, decoupled=True)


def _yogi_update(opt, p, g, state, lr, t, c):
    _kernel("yogi")(p, g, state["exp_avg"], state["exp_avg_sq"], c(opt.beta1),
                    c(1.0 - opt.beta1), c(1.0 - opt.beta2), c(1.0 - opt.beta2 ** t),
                    c(opt.eps), c(lr / (1.0 - opt.beta1 ** t)))


#: The fused updates by name. An optimizer class names its own in its
#: ``fused_kernel`` attribute (:class:`optlib.optimizers.Optimizer`), so this
#: module never imports the optimizers: the dependency runs one way.
UPDATES: dict[str, Callable] = {
    "sgd": _sgd_update, "adagrad": _adagrad_update, "rmsprop": _rmsprop_update,
    "adadelta": _adadelta_update, "adam": _adam_update, "adamw": _adamw_update,
    "yogi": _yogi_update,
}


def _kernel_update(cls: type) -> Callable | None:
    # the class's own attribute, not an inherited one: a subclass may change the rule
    return UPDATES.get(cls.__dict__.get("fused_kernel"))


def has_kernel(cls: type) -> bool:
    """True if optimizers of exactly this class have a fused kernel.

    That is, the class itself sets ``fused_kernel`` to a name in
    :data:`UPDATES`; a subclass that does not name one has none.
    """
    return _kernel_update(cls) is not None


def update(opt: Any, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
           lr: Any, t: int) -> None:
    """Update one leaf in place with the fused kernel of ``opt``'s class.

    Same contract as ``opt.update(param, grad, state, lr, t)`` (``t`` counts
    this update); leaves the fused kernels cannot take (not C-contiguous, a
    dtype other than float32/float64) go to ``opt.update``, the numpy code.
    Hyperparameters must be scalars (the optimizer checks this).
    """
    kernel_update = _kernel_update(type(opt))
    if kernel_update is None:
        raise ValueError(
            f"{type(opt).__name__} has no fused kernel; build it with fused=False"
        )
    if (param.dtype not in _SUPPORTED or not param.flags.c_contiguous
            or not grad.flags.c_contiguous
            or not all(a.flags.c_contiguous for a in state.values())):
        opt.update(param, grad, state, lr, t)
        return
    flat_state = {k: v.reshape(-1) for k, v in state.items()}
    cast = param.dtype.type          # a Python float meets the array as numpy casts it
    kernel_update(opt, param.reshape(-1), grad.reshape(-1), flat_state, float(lr), t, cast)

