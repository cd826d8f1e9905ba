r"""Gradient-based optimizers with the update rules of ``torch.optim``.

Every optimizer updates parameters **in place**::

    opt = Adam(lr=1e-3)
    opt.step(params, grads)  # params: ndarray, dict or list/tuple of ndarrays

Notation (the book uses the same symbols): :math:`x_t` parameters after
:math:`t` updates, :math:`g_t` the gradient used by update :math:`t`
(:math:`t = 1, 2, \dots`), :math:`\eta` the learning rate ``lr``,
:math:`\omega` ``weight_decay``, :math:`\beta` ``momentum``, :math:`\delta`
``dampening``, :math:`\beta_1, \beta_2` ``betas``, :math:`\epsilon` ``eps``,
:math:`b_t` the momentum buffer. :math:`\mu` (strong convexity) and
:math:`\lambda` (Hessian eigenvalues) keep their meaning from the book and are
never hyperparameters.
A schedule ``lr(k)`` is evaluated at :math:`k = t - 1`, the number of updates
done before this one.

Writing a new optimizer is a short subclass: list its hyperparameters in
``__init__`` through :meth:`Optimizer._hyper`, create its per-leaf state in
:meth:`Optimizer.init_state` and write the update of one leaf in
:meth:`Optimizer.update`. The base class handles structures, schedules,
validation, the finiteness check, scratch memory and ``state_dict``.
"""
from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Union

import numpy as np

Array = np.ndarray
Params = Union[Array, Mapping[str, Array], list, tuple]
LearningRate = Union[float, Array, Callable[[int], Any]]

__all__ = [
    "DivergenceError", "Optimizer", "SGD", "Momentum", "Nesterov", "Adagrad",
    "RMSprop", "Adadelta", "Adam", "AMSGrad", "AdamW", "Yogi",
]

#: Elements per chunk when a leaf is updated piecewise (float32 elements;
#: float64 leaves use half as many). A chunk's handful of arrays (param, grad,
#: state, scratch: about 1 MB) stays in the L2 cache, so the several numpy
#: passes of an update read main memory about once; larger chunks also
#: spread the Python overhead of an update (a microsecond per numpy call)
#: over more elements.
CHUNK_ELEMENTS = 1 << 15

class DivergenceError(FloatingPointError):
    """A gradient held NaN or inf; nothing was changed."""


# ----------------------------------------------------------------------------
# parameter structures
# ----------------------------------------------------------------------------

def _leaves(tree: Params, what: str) -> list[tuple[str, Array]]:
    """(name, array) for each leaf of an ndarray, dict or list/tuple."""
    if isinstance(tree, np.ndarray):
        return [("", tree)]
    if isinstance(tree, Mapping):
        return [(str(k), v) for k, v in tree.items()]
    if isinstance(tree, (list, tuple)):
        return [(str(i), v) for i, v in enumerate(tree)]
    raise TypeError(
        f"{what} must be a numpy ndarray, a dict of ndarrays or a list/tuple of "
        f"ndarrays, got {type(tree).__name__}"
    )


def _leaf_label(name: str) -> str:
    return "the parameter array" if name == "" else f"leaf {name!r}"


def _pair_leaves(params: Params, grads: Params) -> list[tuple[str, Array, Array]]:
    """Match params and grads leaf by leaf; raise before anything is touched."""
    p_leaves = _leaves(params, "params")
    g_leaves = _leaves(grads, "grads")
    if type(params) is not type(grads) and not (
        isinstance(params, Mapping) and isinstance(grads, Mapping)
    ) and not (
        isinstance(params, (list, tuple)) and isinstance(grads, (list, tuple))
    ):
        raise ValueError(
            f"grads must have the same structure as params: params is a "
            f"{type(params).__name__}, grads is a {type(grads).__name__}"
        )
    p_names = [n for n, _ in p_leaves]
    g_names = [n for n, _ in g_leaves]
    if isinstance(params, Mapping):
        missing = [n for n in p_names if n not in g_names]
        extra = [n for n in g_names if n not in p_names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"no gradient for leaf {missing[0]!r}")
            if extra:
                parts.append(f"gradient for unknown leaf {extra[0]!r}")
            raise ValueError("grads do not match params: " + "; ".join(parts))
        grad_of = dict(g_leaves)
        g_leaves = [(n, grad_of[n]) for n in p_names]
    elif len(p_leaves) != len(g_leaves):
        raise ValueError(
            f"grads do not match params: {len(p_leaves)} parameter arrays but "
            f"{len(g_leaves)} gradient arrays"
        )
    pairs = []
    for (name, p), (_, g) in zip(p_leaves, g_leaves):
        if isinstance(g, np.generic) and isinstance(p, np.ndarray) and p.ndim == 0:
            g = np.asarray(g)  # arithmetic on a 0-d parameter yields a numpy scalar
        # the common case costs a few attribute reads; messages are built only on failure
        if not (isinstance(p, np.ndarray) and p.dtype.kind == "f" and p.flags.writeable
                and isinstance(g, np.ndarray) and g.shape == p.shape and g.dtype == p.dtype):
            _raise_leaf_error(name, p, g)
        pairs.append((name, p, g))
    return pairs


def _raise_leaf_error(name: str, p: Any, g: Any) -> None:
    """Raise the error that explains why (p, g) cannot be updated."""
    label = _leaf_label(name)
    if not isinstance(p, np.ndarray):
        raise TypeError(
            f"params {label} is a {type(p).__name__}, not a numpy ndarray: "
            "parameters are updated in place, so they must be arrays"
        )
    if not np.issubdtype(p.dtype, np.floating):
        raise TypeError(
            f"params {label} has dtype {p.dtype}; parameters must be floating "
            "point (float32 or float64) to be updated in place: convert with "
            ".astype(np.float64)"
        )
    if not p.flags.writeable:
        raise ValueError(f"params {label} is read-only; pass a writeable array")
    if not isinstance(g, np.ndarray):
        raise ValueError(
            f"grads {label} is a {type(g).__name__}, not a numpy ndarray"
        )
    if g.shape != p.shape:
        raise ValueError(
            f"grads {label} has shape {g.shape} but the parameter has shape {p.shape}"
        )
    raise ValueError(
        f"grads {label} has dtype {g.dtype} but the parameter has dtype "
        f"{p.dtype}; compute the gradient in the parameter's dtype"
    )


def _is_finite(g: Array) -> bool:
    # First the quick test: one BLAS dot product g·g, a single read of g.
    # NaN and inf propagate into a sum of squares, so a finite sum proves
    # every element finite. A non-finite sum may also come from huge finite
    # values whose squares overflow; the exact test below decides then.
    if g.dtype in _BLAS_FLOATS and g.size >= _DOT_MIN and g.flags.c_contiguous:
        flat = g.reshape(-1)
        with np.errstate(over="ignore", invalid="ignore"):   # overflow: decided below
            if np.isfinite(np.dot(flat, flat)):
                return True
    # Exact: NaN propagates through max and min, and an infinity is the max
    # or the min. Allocation-free; large arrays go piecewise so that the min
    # re-reads each piece from the cache.
    if g.size <= _CHECK_PIECE or not g.flags.c_contiguous:
        return g.size == 0 or bool(np.isfinite(np.maximum.reduce(g, axis=None))
                                   and np.isfinite(np.minimum.reduce(g, axis=None)))
    return _pieces_finite(g.reshape(-1), range(0, g.size, _CHECK_PIECE))


def _pieces_finite(flat: Array, starts: range) -> bool:
    for start in starts:
        piece = flat[start:start + _CHECK_PIECE]
        if not (np.isfinite(np.maximum.reduce(piece)) and np.isfinite(np.minimum.reduce(piece))):
            return False
    return True


#: dtypes whose dot product is a BLAS call; smaller arrays skip the quick test
_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_DOT_MIN = 1024
#: Elements per piece of the exact finiteness test of a large gradient.
_CHECK_PIECE = 1 << 16


def _first_non_finite(units: list["_Unit"],
                      compiled: Callable[[Array], bool | None] | None = None) -> str | None:
    """Name of the first leaf whose gradient holds NaN or inf, or None.

    A coalesced unit is checked as one array; only if it fails are its
    leaves checked one by one, to name the culprit. ``compiled`` is
    :func:`optlib.fused.is_finite` (None where it does not apply).
    """
    def finite(g: Array) -> bool:
        verdict = None if compiled is None else compiled(g)
        return _is_finite(g) if verdict is None else verdict

    for unit in units:
        if not finite(unit.g):
            return next(name for name, _, g in unit.leaves if not finite(g))
    return None


class _Unit(NamedTuple):
    """What one update call handles: a leaf, or adjacent leaves of one buffer."""

    leaves: list[tuple[str, Array, Array]]   # (name, param, grad) of each leaf
    p: Array                                 # the leaf's param, or a 1-D view spanning the leaves
    g: Array


def _single_units(pairs: list[tuple[str, Array, Array]]) -> list[_Unit]:
    return [_Unit([pair], pair[1], pair[2]) for pair in pairs]


def _runs(arrays: list[Array]) -> list[tuple[int, int, Array | None]]:
    """Split ``arrays`` into runs that tile one buffer, in order: ``(start, stop, span)``.

    ``span`` is the 1-D view of the buffer covering ``arrays[start:stop]``
    (None for a run of one array). Only contiguous views of one C-contiguous
    base, of its dtype, qualify; their addresses (a microsecond each to
    read) are looked at only when everything else fits.
    """
    address: dict[int, int] = {}

    def start_of(i: int) -> int:
        if i not in address:
            address[i] = arrays[i].ctypes.data
        return address[i]

    def origin_of(root: Array) -> int:                # the base's address, read once
        if -1 not in address:
            address[-1] = root.ctypes.data
        return address[-1]

    def continues(i: int) -> bool:          # arrays[i] starts where arrays[i - 1] ends
        a, b = arrays[i - 1], arrays[i]
        root = a.base
        # plain ndarrays only: a subclass (np.matrix, memmap) may index differently
        return (type(root) is np.ndarray and type(a) is np.ndarray and type(b) is np.ndarray
                and b.base is root and root.flags.c_contiguous
                and a.dtype == b.dtype == root.dtype
                and a.flags.c_contiguous and b.flags.c_contiguous
                and start_of(i) == start_of(i - 1) + a.nbytes
                and (start_of(i - 1) - origin_of(root)) % root.itemsize == 0)

    runs, first = [], 0
    for i in range(1, len(arrays) + 1):
        if i < len(arrays) and continues(i):
            continue
        span = None
        if i - first > 1:
            root = arrays[first].base
            offset = (start_of(first) - origin_of(root)) // root.itemsize
            span = root.reshape(-1)[offset:offset + sum(a.size for a in arrays[first:i])]
        runs.append((first, i, span))
        first = i
    return runs


def _units(pairs: list[tuple[str, Array, Array]]) -> list[_Unit]:
    """Group the runs of leaves whose params and grads tile one buffer each (see :func:`_runs`)."""
    units: list[_Unit] = []
    for start, stop, p_span in _runs([p for _, p, _ in pairs]):
        if p_span is None:
            units += _single_units(pairs[start:stop])
            continue
        run = pairs[start:stop]
        g_runs = _runs([g for _, _, g in run])
        if len(g_runs) == 1 and p_span.flags.writeable:
            units.append(_Unit(run, p_span, g_runs[0][2]))
        else:           # the grads are laid out otherwise: leaf by leaf
            units += _single_units(run)
    return units


# ----------------------------------------------------------------------------
# hyperparameter checks
# ----------------------------------------------------------------------------

def _check_range(name: str, value: Any, low: float | None = None,
                 high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False) -> Any:
    """Return ``value`` (a number or float array) if it lies in the range."""
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Real) or isinstance(value, np.ndarray)
    ):
        raise ValueError(f"{name} must be a real number or a numpy array, got {value!r}")
    arr = np.asarray(value, dtype=np.float64)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    allowed = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    bad = ~np.isfinite(arr)
    if low is not None:
        bad |= (arr <= low) if low_open else (arr < low)
    if high is not None:
        bad |= (arr >= high) if high_open else (arr > high)
    if bad.any():
        shown = value if arr.ndim == 0 else f"an array with value {arr[bad].flat[0]}"
        raise ValueError(f"{name} must be in {allowed}, got {shown}")
    if isinstance(value, np.ndarray):
        return arr
    return float(value)


# ----------------------------------------------------------------------------
# the base class
# ----------------------------------------------------------------------------

class Optimizer:
    """Base class: structures, schedules, checks, scratch memory, state_dict.

    Parameters
    ----------
    lr : float, ndarray or callable
        Learning rate :math:`\\eta`: a number, an array broadcasting against
        every parameter (e.g. shape ``(n, 1)`` for ``n`` trajectories of shape
        ``(n, 2)``), or a schedule ``lr(k)`` called with ``k = t - 1`` updates
        done before this one.
    check_finite : bool
        Raise :class:`DivergenceError` when a gradient holds NaN or inf, before
        any parameter or state changes. Turn it off for batched trajectories
        where a diverging row is data, not an error.
    fused : bool
        Update each contiguous float32/float64 leaf with a compiled kernel
        (:mod:`optlib.fused`, numba: ``pip install optlib[fast]``) that makes
        one pass over memory on every core instead of the numpy code's several
        passes on one core. Same operations in the same order, so the results
        agree with the numpy code to float rounding. Hyperparameters must then
        be scalars. Only the optimizers of this module have kernels; a
        subclass with the same update rule keeps one by naming it
        (``fused_kernel = "adam"``, see :attr:`fused_kernel`).

    Notes
    -----
    Subclasses call ``self._hyper(name, value, ...)`` for each hyperparameter
    and implement :meth:`init_state` and :meth:`update`.

    Leaves whose parameters lie side by side in one buffer, in the order of
    ``params``, and whose gradients do too, are updated as one array (the
    models of :mod:`optlib.nn` keep them so): the update is element-wise, so
    the result is the same, and a step costs a dozen numpy calls instead of
    a dozen per leaf. Their state arrays are then views of one buffer too.
    Large contiguous arrays are updated in chunks of about
    :data:`CHUNK_ELEMENTS` elements, each small enough for the update's
    several passes to find it in the cache. Both run on the calling thread.
    """

    #: The name of this class's compiled update in :mod:`optlib.fused` (a key of
    #: ``optlib.fused.UPDATES``), or None. Read from the class itself, never
    #: inherited: a subclass may change the update rule, so it has a kernel only
    #: if it names one. The optimizer names its kernel; the kernels do not
    #: import the optimizers.
    fused_kernel: str | None = None

    def __init__(self, lr: LearningRate, *, check_finite: bool = True,
                 fused: bool = False) -> None:
        self.t = 0
        self.check_finite = bool(check_finite)
        self.fused = bool(fused)
        if self.fused:
            from optlib import fused as _fused  # ImportError naming optlib[fast] without numba
            if not _fused.has_kernel(type(self)):
                raise ValueError(
                    f"fused=True: {type(self).__name__} has no fused kernel (only the "
                    "optimizers of optlib.optimizers, and subclasses that set "
                    "fused_kernel, have one); use fused=False"
                )
        self.state: dict[str, dict[str, Array]] = {}
        self._hypers: dict[str, Any] = {}
        self._scratch_pool: dict[tuple[int, np.dtype], Array] = {}
        self._flat_state: dict[tuple[str, ...], dict[str, Array]] = {}
        if callable(lr):
            self.lr = lr
        else:
            self.lr = self._hyper("lr", lr, 0.0)

    # -- for subclasses -----------------------------------------------------

    def _hyper(self, name: str, value: Any, low: float | None = None,
               high: float | None = None, *, low_open: bool = False,
               high_open: bool = False) -> Any:
        """Validate a hyperparameter, remember it for broadcasting checks."""
        checked = _check_range(name, value, low, high,
                               low_open=low_open, high_open=high_open)
        if self.fused and isinstance(checked, np.ndarray) and checked.ndim:
            raise ValueError(
                f"{name} is an array of shape {checked.shape}, but fused=True takes scalar "
                "hyperparameters only; use fused=False for array-valued hyperparameters"
            )
        self._hypers[name] = checked
        return checked

    def init_state(self, param: Array) -> dict[str, Array]:
        """Per-leaf state arrays, created before the first update."""
        return {}

    def update(self, param: Array, grad: Array, state: dict[str, Array],
               lr: Any, t: int) -> None:
        """Update one leaf in place. ``t`` counts this update (1, 2, ...)."""
        raise NotImplementedError

    def scratch(self, like: Array, slot: int = 0) -> Array:
        """A reusable uninitialised buffer shaped like ``like``.

        One buffer per slot and dtype, grown to the largest leaf or chunk and
        reused across leaves and steps, so an update allocates nothing
        proportional to the number of parameters.
        """
        key = (slot, like.dtype)
        buf = self._scratch_pool.get(key)
        if buf is None or buf.size < like.size:
            buf = np.empty(like.size, dtype=like.dtype)
            self._scratch_pool[key] = buf
        return buf[: like.size].reshape(like.shape)

    def decayed(self, grad: Array, param: Array, weight_decay: Any) -> Array:
        r"""The L2-regularised gradient :math:`g + \omega x` (grad itself if :math:`\omega = 0`)."""
        if _is_zero(weight_decay):
            return grad
        out = np.multiply(param, weight_decay, out=self.scratch(param, 1))
        out += grad
        return out

    # -- the step -----------------------------------------------------------

    def current_lr(self) -> Any:
        """The learning rate the next update will use."""
        if not callable(self.lr):
            return self.lr
        value = self.lr(self.t)
        return _check_range(f"lr schedule value at k={self.t}", value, 0.0)

    def step(self, params: Params, grads: Params) -> None:
        """Apply one update to ``params`` in place; returns None.

        Every check (structure, shapes, dtypes, broadcasting, finiteness, the
        schedule's value) runs before the first array is written, so a failed
        step leaves parameters and optimizer state exactly as they were.
        """
        pairs = _pair_leaves(params, grads)
        if self.state and self.state.keys() != {n for n, _, _ in pairs}:
            unknown = sorted({n for n, _, _ in pairs} ^ set(self.state))
            raise ValueError(
                f"params changed structure since the first step ({_leaf_label(unknown[0])} "
                "differs); use a new optimizer for a new set of parameters"
            )
        for name, p, _ in pairs:
            for key, arr in self.state.get(name, _NO_STATE).items():
                if arr.shape != p.shape or arr.dtype != p.dtype:
                    raise ValueError(
                        f"optimizer state {key!r} of {_leaf_label(name)} has shape "
                        f"{arr.shape} and dtype {arr.dtype}, the parameter {p.shape} "
                        f"and {p.dtype}: the state_dict belongs to other parameters"
                    )
        lr = self.current_lr()
        if self.fused and isinstance(lr, np.ndarray) and lr.ndim:
            raise ValueError(
                f"the lr schedule returned an array of shape {lr.shape} at k={self.t}, but "
                "fused=True takes a scalar learning rate; use fused=False"
            )
        array_hypers = [(hname, h) for hname, h in dict(self._hypers, lr=lr).items()
                        if isinstance(h, np.ndarray) and h.ndim]
        for name, p, _ in (pairs if array_hypers else ()):
            for hname, h in array_hypers:
                try:
                    shape = np.broadcast_shapes(h.shape, p.shape)
                except ValueError:
                    shape = None
                if shape != p.shape:
                    raise ValueError(
                        f"{hname} of shape {h.shape} does not broadcast against "
                        f"params {_leaf_label(name)} of shape {p.shape}"
                    )
        # Leaves lying side by side in one buffer (optlib.nn models keep
        # their parameters and gradients that way) are checked and updated
        # as one array: a dozen numpy calls for the whole model instead of a
        # dozen per leaf. Array-valued hyperparameters broadcast leaf by leaf.
        units = _single_units(pairs) if array_hypers else _units(pairs)
        if self.check_finite:
            bad = _first_non_finite(units, self._fused.is_finite if self.fused else None)
            if bad is not None:
                raise DivergenceError(
                    f"gradient of {_leaf_label(bad)} holds NaN or inf at update "
                    f"{self.t + 1}; nothing was changed. Lower the learning rate, "
                    "or pass check_finite=False to let non-finite values through"
                )
        t = self.t + 1
        fused_update = self._fused.update if self.fused else None
        # With check_finite=False a non-finite value is data (a diverging
        # trajectory), so inf - inf and inf / inf inside the update stay quiet.
        quiet = (contextlib.nullcontext() if self.check_finite
                 else np.errstate(over="ignore", invalid="ignore", divide="ignore"))
        with quiet:
            for unit in units:
                p, g, state = unit.p, unit.g, self._unit_state(unit)
                if fused_update is not None:
                    fused_update(self, p, g, state, lr, t)
                elif not array_hypers and p.size > _chunk_elements(p) and _all_contiguous(p, g, state):
                    self._update_in_chunks(p, g, state, lr, t)
                else:
                    self.update(p, g, state, lr, t)
        self.t = t

    @property
    def _fused(self) -> Any:
        from optlib import fused     # imported by __init__ already when self.fused
        return fused

    def _unit_state(self, unit: "_Unit") -> dict[str, Array]:
        """The state arrays of a unit, created on its first step.

        A coalesced unit's state lives in flat arrays of which each leaf's
        state is a view, so ``self.state`` stays per leaf. State made leaf by
        leaf (by :meth:`load_state_dict`) is copied into flat arrays once.
        """
        if len(unit.leaves) == 1:
            name, p, _ = unit.leaves[0]
            state = self.state.get(name)
            if state is None:
                state = self.state[name] = self.init_state(p)
            return state
        names = tuple(name for name, _, _ in unit.leaves)
        flat = self._flat_state.get(names)
        if flat is not None and all(
                v.size == unit.p.size and all(self.state[name][k].base is v for name in names)
                for k, v in flat.items()):
            return flat
        leaf_states = [self.state.get(name) for name in names]
        if any(leaf_state is None for leaf_state in leaf_states):
            flat = self.init_state(unit.p)
        else:
            flat = {k: np.concatenate([leaf_state[k].reshape(-1) for leaf_state in leaf_states])
                    for k in leaf_states[0]}
        start = 0
        for name, p, _ in unit.leaves:
            self.state[name] = {k: v[start:start + p.size].reshape(p.shape) for k, v in flat.items()}
            start += p.size
        self._flat_state[names] = flat
        return flat

    def _update_in_chunks(self, p: Array, g: Array, state: dict[str, Array],
                          lr: Any, t: int) -> None:
        # Elementwise updates commute with slicing: run the same update on
        # cache-sized pieces of the flattened arrays, so that the update's
        # several numpy passes over a piece find it in the cache.
        flat_p, flat_g = p.reshape(-1), g.reshape(-1)
        flat_state = {k: v.reshape(-1) for k, v in state.items()}
        size = _chunk_elements(p)
        for start in range(0, flat_p.size, size):
            piece = slice(start, start + size)
            self.update(flat_p[piece], flat_g[piece],
                        {k: v[piece] for k, v in flat_state.items()}, lr, t)

    # -- persistence --------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A plain dict of numbers and copied numpy arrays: ``t`` and per-leaf state."""
        return {
            "optimizer": type(self).__name__,
            "t": self.t,
            "state": {leaf: {k: v.copy() for k, v in s.items()}
                      for leaf, s in self.state.items()},
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict`; later steps are bit-identical."""
        if not isinstance(state_dict, Mapping) or not {"optimizer", "t", "state"} <= set(state_dict):
            raise ValueError(
                "state_dict must be a dict with keys 'optimizer', 't' and 'state', "
                "as returned by Optimizer.state_dict()"
            )
        if state_dict["optimizer"] != type(self).__name__:
            raise ValueError(
                f"state_dict is from a {state_dict['optimizer']} optimizer; it cannot "
                f"be loaded into {type(self).__name__}"
            )
        t = state_dict["t"]
        if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
            raise ValueError(f"state_dict['t'] must be a non-negative integer, got {t!r}")
        leaf_states = state_dict["state"]
        if not isinstance(leaf_states, Mapping) or not all(
                isinstance(s, Mapping) for s in leaf_states.values()):
            raise ValueError(
                "state_dict['state'] must be a dict mapping each leaf name to a dict of "
                "arrays, as returned by Optimizer.state_dict()"
            )
        new_state: dict[str, dict[str, Array]] = {}
        for leaf, s in leaf_states.items():
            expected = set(self._state_names())
            if set(s) != expected:
                raise ValueError(
                    f"state_dict state for {_leaf_label(leaf)} has arrays {sorted(s)}; "
                    f"{type(self).__name__} with these options keeps {sorted(expected)}"
                )
            new_state[leaf] = {k: np.array(v, copy=True) for k, v in s.items()}
        self.state = new_state
        self._flat_state = {}
        self.t = int(t)

    def _state_names(self) -> list[str]:
        # A probe parameter that array-valued hyperparameters broadcast into.
        shapes = [h.shape for h in self._hypers.values() if isinstance(h, np.ndarray)]
        return list(self.init_state(np.zeros(np.broadcast_shapes((1,), *shapes))).keys())

    def __repr__(self) -> str:
        parts = [f"lr={self.lr!r}"] + [f"{k}={v!r}" for k, v in self._hypers.items() if k != "lr"]
        if self.fused:
            parts.append("fused=True")
        return f"{type(self).__name__}({', '.join(parts)})"


_NO_STATE: dict[str, Array] = {}


def _is_zero(value: Any) -> bool:
    return not isinstance(value, np.ndarray) and value == 0


def _chunk_elements(p: Array) -> int:
    # CHUNK_ELEMENTS counts float32 elements: wider dtypes get fewer per
    # chunk, so that a chunk's arrays take the same bytes of cache.
    return max(1, CHUNK_ELEMENTS * 4 // p.itemsize)


def _all_contiguous(p: Array, g: Array, state: dict[str, Array]) -> bool:
    return p.flags.c_contiguous and g.flags.c_contiguous and all(
        v.flags.c_contiguous for v in state.values()
    )


# ----------------------------------------------------------------------------
# SGD, Momentum, Nesterov
# ----------------------------------------------------------------------------

class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum (``torch.optim.SGD``).

    .. math::

        g_t &\leftarrow g_t + \omega x_{t-1} \\
        b_t &= \begin{cases} g_t & t = 1 \\ \beta b_{t-1} + (1-\delta) g_t & t > 1 \end{cases} \\
        d_t &= \begin{cases} g_t + \beta b_t & \text{nesterov} \\ b_t & \text{otherwise} \end{cases} \\
        x_t &= x_{t-1} - \eta\, d_t

    With ``momentum=0`` this is plain (stochastic) gradient descent
    :math:`x_t = x_{t-1} - \eta g_t`. This is the "PyTorch" form of momentum:
    the learning rate multiplies the buffer, not the gradient inside it
    (Sutskever et al. 2013 put :math:`\eta` inside; the two agree for a
    constant :math:`\eta`).

    Parameters
    ----------
    lr : float, ndarray or callable, default 1e-3
    momentum : float, default 0 (:math:`\beta`, in [0, 1])
    dampening : float, default 0 (:math:`\delta`, in [0, 1])
    weight_decay : float, default 0 (:math:`\omega \ge 0`, L2 penalty added to the gradient)
    nesterov : bool, default False (needs momentum > 0 and dampening = 0)
    """

    fused_kernel = "sgd"

    def __init__(self, lr: LearningRate = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, *,
                 check_finite: bool = True, fused: bool = False) -> None:
        super().__init__(lr, check_finite=check_finite, fused=fused)
        self.momentum = self._hyper("momentum", momentum, 0.0, 1.0)
        self.dampening = self._hyper("dampening", dampening, 0.0, 1.0)
        self.weight_decay = self._hyper("weight_decay", weight_decay, 0.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and (np.any(np.asarray(self.momentum) <= 0) or np.any(np.asarray(self.dampening) != 0)):
            raise ValueError(
                "nesterov=True needs momentum > 0 and dampening = 0 "
                f"(got momentum={momentum}, dampening={dampening})"
            )

    def _has_momentum(self) -> bool:
        return not _is_zero(self.momentum)

    def init_state(self, param: Array) -> dict[str, Array]:
        return {"momentum_buffer": np.zeros_like(param)} if self._has_momentum() else {}

    def update(self, param, grad, state, lr, t):
        g = self.decayed(grad, param, self.weight_decay)  # g_t + ω x_{t-1}
        if self._has_momentum():
            b = state["momentum_buffer"]
            if t == 1:
                b[...] = g  # b_1 = g_1
            else:
                b *= self.momentum  # b_t = β b_{t-1} + (1-δ) g_t
                if _is_zero(self.dampening):
                    b += g
                else:
                    b += np.multiply(g, 1.0 - self.dampening, out=self.scratch(param, 2))
            if self.nesterov:
                d = np.multiply(b, self.momentum, out=self.scratch(param, 2))
                d += g  # d_t = g_t + β b_t
            else:
                d = b
        else:
            d = g
        step = np.multiply(d, lr, out=self.scratch(param, 0))
        param -= step  # x_t = x_{t-1} - η d_t


class Momentum(SGD):
    r"""Heavy-ball momentum: :class:`SGD` with ``momentum=0.9`` by default.

    :math:`b_t = \beta b_{t-1} + g_t`, :math:`x_t = x_{t-1} - \eta b_t` (Polyak 1964).
    """

    fused_kernel = "sgd"

    def __init__(self, lr: LearningRate = 1e-3, momentum: float = 0.9,
                 dampening: float = 0.0, weight_decay: float = 0.0, *,
                 check_finite: bool = True, fused: bool = False) -> None:
        super().__init__(lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=False,
                         check_finite=check_finite, fused=fused)


class Nesterov(SGD):
    r"""Nesterov momentum: :class:`SGD` with ``nesterov=True``, ``momentum=0.9``.

    :math:`b_t = \beta b_{t-1} + g_t`, :math:`x_t = x_{t-1} - \eta (g_t + \beta b_t)`:
    the "look-ahead" form of Bengio et al. (2013) used by PyTorch and Keras,
    which evaluates the gradient at the current iterate rather than at the
    extrapolated point of Sutskever et al. (2013).
    """

    fused_kernel = "sgd"

    def __init__(self, lr: LearningRate = 1e-3, momentum: float = 0.9,
                 weight_decay: float = 0.0, *,
                 check_finite: bool = True, fused: bool = False) -> None:
        super().__init__(lr, momentum=momentum, dampening=0.0,
                         weight_decay=weight_decay, nesterov=True,
                         check_finite=check_finite, fused=fused)


# ----------------------------------------------------------------------------
# AdaGrad, RMSprop, Adadelta
# ----------------------------------------------------------------------------

class Adagrad(Optimizer):
    r"""AdaGrad (Duchi, Hazan & Singer 2011), as ``torch.optim.Adagrad``.

    .. math::

        g_t &\leftarrow g_t + \omega x_{t-1} \\
        \tilde\eta_t &= \eta / (1 + (t-1)\,c) \\
        s_t &= s_{t-1} + g_t^2, \qquad s_0 = \text{initial\_accumulator\_value} \\
        x_t &= x_{t-1} - \tilde\eta_t\, g_t / (\sqrt{s_t} + \epsilon)

    :math:`c` is ``lr_decay``. :math:`\epsilon` is added *outside* the
    square root, as in PyTorch; TensorFlow/Keras start the accumulator at 0.1.

    Parameters
    ----------
    lr : default 1e-2
    lr_decay : default 0 (:math:`c \ge 0`)
    weight_decay : default 0
    initial_accumulator_value : default 0 (:math:`s_0 \ge 0`)
    eps : default 1e-10
    """

    fused_kernel = "adagrad"

    def __init__(self, lr: LearningRate = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, check_finite: bool = True, fused: bool = False) -> None:
        super().__init__(lr, check_finite=check_finite, fused=fused)
        self.lr_decay = self._hyper("lr_decay", lr_decay, 0.0)
        self.weight_decay = self._hyper("weight_decay", weight_decay, 0.0)
        self.initial_accumulator_value = self._hyper(
            "initial_accumulator_value", initial_accumulator_value, 0.0)
        self.eps = self._hyper("eps", eps, 0.0)

    def init_state(self, param):
        s0 = np.empty_like(param)
        s0[...] = self.initial_accumulator_value
        return {"sum": s0}

    def update(self, param, grad, state, lr, t):
        g = self.decayed(grad, param, self.weight_decay)
        clr = lr / (1 + (t - 1) * self.lr_decay)  # η̃_t
        s = state["sum"]
        sq = np.multiply(g, g, out=self.scratch(param, 0))
        s += sq  # s_t = s_{t-1} + g_t²
        denom = np.sqrt(s, out=self.scratch(param, 0))
        denom += self.eps  # √s_t + ε
        step = np.divide(g, denom, out=denom)
        step *= clr
        param -= step  # x_t = x_{t-1} - η̃_t g_t/(√s_t + ε)


class RMSprop(Optimizer):
    r"""RMSprop (Tieleman & Hinton 2012), as ``torch.optim.RMSprop``.

    .. math::

        g_t &\leftarrow g_t + \omega x_{t-1} \\
        s_t &= \gamma s_{t-1} + (1-\gamma) g_t^2 \\
        \bar g_t &= \gamma \bar g_{t-1} + (1-\gamma) g_t, \quad
        \tilde s_t = s_t - \bar g_t^2 \quad (\text{centered; else } \tilde s_t = s_t) \\
        b_t &= \beta b_{t-1} + g_t / (\sqrt{\tilde s_t} + \epsilon) \\
        x_t &= x_{t-1} - \eta\, b_t \quad (\text{with } \beta = 0:\ x_t = x_{t-1} - \eta g_t/(\sqrt{\tilde s_t}+\epsilon))

    :math:`\gamma` is PyTorch's ``alpha``; the state ``square_avg`` is :math:`s_t`
    and ``grad_avg`` is :math:`\bar g_t`.

    Parameters
    ----------
    lr : default 1e-2
    alpha : default 0.99 (:math:`\gamma`, in [0, 1])
    eps : default 1e-8, added outside the square root
    weight_decay : default 0
    momentum : default 0 (:math:`\beta`, in [0, 1])
    centered : default False
    """

    fused_kernel = "rmsprop"

    def __init__(self, lr: LearningRate = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *,
                 check_finite: bool = True, fused: bool = False) -> None:
        super().__init__(lr, check_finite=check_finite, fused=fused)
        self.alpha = self._hyper("alpha", alpha, 0.0, 1.0)
        self.eps = self._hyper("eps", eps, 0.0)
        self.weight_decay = self._hyper("weight_decay", weight_decay, 0.0)
        self.momentum = self._hyper("momentum", momentum, 0.0, 1.0)
        self.centered = bool(centered)

    def init_state(self, param):
        state = {"square_avg": np.zeros_like(param)}
        if not _is_zero(self.momentum):
            state["momentum_buffer"] = np.zeros_like(param)
        if self.centered:
            state["grad_avg"] = np.zeros_like(param)
        return state

    def update(self, param, grad, state, lr, t):
        g = self.decayed(grad, param, self.weight_decay)
        v = state["square_avg"]
        v *= self.alpha
        sq = np.multiply(g, g, out=self.scratch(param, 0))
        sq *= 1.0 - self.alpha
        v += sq  # s_t = γ s_{t-1} + (1-γ) g_t²
        denom = self.scratch(param, 0)
        if self.centered:
            gbar = state["grad_avg"]
            gbar *= self.alpha
            gbar += np.multiply(g, 1.0 - self.alpha, out=denom)  # ḡ_t
            np.multiply(gbar, gbar, out=denom)
            np.subtract(v, denom, out=denom)  # s̃_t = s_t - ḡ_t²
            np.sqrt(denom, out=denom)
        else:
            np.sqrt(v, out=denom)
        denom += self.eps  # √s̃_t + ε
        if _is_zero(self.momentum):
            step = np.divide(g, denom, out=denom)
            step *= lr
            param -= step
        else:
            b = state["momentum_buffer"]
            b *= self.momentum
            b += np.divide(g, denom, out=denom)  # b_t = β b_{t-1} + g_t/(√s̃_t+ε)
            param -= np.multiply(b, lr, out=denom)


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012), as ``torch.optim.Adadelta``.

    .. math::

        g_t &\leftarrow g_t + \omega x_{t-1} \\
        s_t &= \gamma s_{t-1} + (1-\gamma) g_t^2 \\
        d_t &= \frac{\sqrt{a_{t-1} + \epsilon}}{\sqrt{s_t + \epsilon}}\, g_t \\
        a_t &= \gamma a_{t-1} + (1-\gamma) d_t^2 \\
        x_t &= x_{t-1} - \eta\, d_t

    with :math:`s_0 = a_0 = 0`. :math:`\gamma` is PyTorch's ``rho`` (the paper's
    :math:`\rho`); the state ``square_avg`` is :math:`s_t` (the paper's
    :math:`E[g^2]_t`) and ``acc_delta`` is :math:`a_t`, the leaky average of the
    squared directions :math:`d_t` (the paper's :math:`E[\Delta x^2]_t`; it holds
    :math:`d_t^2`, not :math:`(\eta d_t)^2`, so the two agree only at
    :math:`\eta = 1`). The paper's update is :math:`\Delta x_t = -d_t`.

    :math:`\epsilon` sits *inside* both square roots, and ``lr=1.0`` by default
    (Zeiler's method has no learning rate; PyTorch keeps one as a scale).

    Parameters
    ----------
    lr : default 1.0
    rho : default 0.9 (:math:`\gamma`, in [0, 1])
    eps : default 1e-6
    weight_decay : default 0
    """

    fused_kernel = "adadelta"

    def __init__(self, lr: LearningRate = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *,
                 check_finite: bool = True, fused: bool = False) -> None:
        super().__init__(lr, check_finite=check_finite, fused=fused)
        self.rho = self._hyper("rho", rho, 0.0, 1.0)
        self.eps = self._hyper("eps", eps, 0.0)
        self.weight_decay = self._hyper("weight_decay", weight_decay, 0.0)

    def init_state(self, param):
        return {"square_avg": np.zeros_like(param), "acc_delta": np.zeros_like(param)}

    def update(self, param, grad, state, lr, t):
        g = self.decayed(grad, param, self.weight_decay)
        s, a = state["square_avg"], state["acc_delta"]
        s *= self.rho
        sq = np.multiply(g, g, out=self.scratch(param, 0))
        sq *= 1.0 - self.rho
        s += sq  # s_t = γ s_{t-1} + (1-γ) g_t²
        std = np.add(s, self.eps, out=self.scratch(param, 0))
        np.sqrt(std, out=std)  # √(s_t + ε)
        delta = np.add(a, self.eps, out=self.scratch(param, 2))
        np.sqrt(delta, out=delta)  # √(a_{t-1} + ε)
        delta /= std
        delta *= g  # d_t
        a *= self.rho
        sq = np.multiply(delta, delta, out=std)
        sq *= 1.0 - self.rho
        a += sq  # a_t = γ a_{t-1} + (1-γ) d_t²
        delta *= lr
        param -= delta  # x_t = x_{t-1} - η d_t


# ----------------------------------------------------------------------------
# Adam, AMSGrad, AdamW, Yogi
# ----------------------------------------------------------------------------

class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015), as ``torch.optim.Adam``; AMSGrad with ``amsgrad=True``.

    .. math::

        g_t &\leftarrow g_t + \omega x_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \quad (\text{amsgrad; else } \hat v_t = v_t) \\
        x_t &= x_{t-1} - \frac{\eta}{1-\beta_1^t}\,
               \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    :math:`m_0 = v_0 = 0`. :math:`\epsilon` is added outside the square root
    and after bias correction, as in PyTorch and the paper (Keras' default
    :math:`\epsilon` is 1e-7, PyTorch's 1e-8). ``weight_decay`` here is an L2
    penalty added to the gradient; for decoupled decay use :class:`AdamW`.

    Parameters
    ----------
    lr : default 1e-3
    betas : default (0.9, 0.999), each in [0, 1)
    eps : default 1e-8
    weight_decay : default 0
    amsgrad : default False
    """

    fused_kernel = "adam"

    def __init__(self, lr: LearningRate = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 *, check_finite: bool = True, fused: bool = False) -> None:
        super().__init__(lr, check_finite=check_finite, fused=fused)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = self._hyper("betas[0]", betas[0], 0.0, 1.0, high_open=True)
        self.beta2 = self._hyper("betas[1]", betas[1], 0.0, 1.0, high_open=True)
        self.eps = self._hyper("eps", eps, 0.0)
        self.weight_decay = self._hyper("weight_decay", weight_decay, 0.0)
        self.amsgrad = bool(amsgrad)

    def init_state(self, param):
        state = {"exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}
        if self.amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        return state

    def _gradient(self, param, grad):
        return self.decayed(grad, param, self.weight_decay)

    def update(self, param, grad, state, lr, t):
        g = self._gradient(param, grad)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        buf = self.scratch(param, 0)
        np.subtract(g, m, out=buf)
        buf *= 1.0 - self.beta1
        m += buf  # m_t = β1 m_{t-1} + (1-β1) g_t
        v *= self.beta2
        np.multiply(g, g, out=buf)
        buf *= 1.0 - self.beta2
        v += buf  # v_t = β2 v_{t-1} + (1-β2) g_t²
        if self.amsgrad:
            v_hat = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        else:
            v_hat = v
        bias_correction1 = 1.0 - self.beta1 ** t
        bias_correction2_sqrt = (1.0 - self.beta2 ** t) ** 0.5
        # m_t / (√v̂_t/c + ε) = c m_t / (√v̂_t + c ε) with c = √(1-β2^t): the same
        # quotient without a pass that divides every element by c
        denom = np.sqrt(v_hat, out=buf)
        denom += self.eps * bias_correction2_sqrt  # √v̂_t + ε √(1-β2^t)
        step = np.divide(m, denom, out=buf)
        step *= lr * bias_correction2_sqrt / bias_correction1
        param -= step  # x_t = x_{t-1} - η/(1-β1^t) · m_t/(√v̂_t/√(1-β2^t) + ε)


class AMSGrad(Adam):
    r"""AMSGrad (Reddi, Kale & Kumar 2018): :class:`Adam` with ``amsgrad=True``.

    The denominator uses :math:`\hat v_t = \max(\hat v_{t-1}, v_t)`, so the
    effective step size never grows.
    """

    fused_kernel = "adam"

    def __init__(self, lr: LearningRate = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *,
                 check_finite: bool = True, fused: bool = False) -> None:
        super().__init__(lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=True, check_finite=check_finite, fused=fused)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``.

    .. math::

        x_{t-1} &\leftarrow (1 - \eta\omega)\, x_{t-1} \\
        &\text{then the Adam update with } \omega = 0 \text{ in the gradient.}

    Parameters
    ----------
    lr : default 1e-3
    betas : default (0.9, 0.999)
    eps : default 1e-8
    weight_decay : default 1e-2 (:math:`\omega`)
    amsgrad : default False
    """

    fused_kernel = "adamw"

    def __init__(self, lr: LearningRate = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 *, check_finite: bool = True, fused: bool = False) -> None:
        super().__init__(lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, check_finite=check_finite, fused=fused)

    def update(self, param, grad, state, lr, t):
        if not _is_zero(self.weight_decay):
            param *= 1.0 - lr * self.weight_decay  # x ← (1 - ηω) x
        super().update(param, grad, state, lr, t)

    def _gradient(self, param, grad):
        return grad  # decay is not in the gradient


class Yogi(Optimizer):
    r"""Yogi (Zaheer et al. 2018), following ``optax.yogi``.

    .. math::

        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_t &= v_{t-1} - (1-\beta_2)\, \operatorname{sign}(v_{t-1} - g_t^2)\, g_t^2 \\
        x_t &= x_{t-1} - \eta\, \frac{m_t / (1-\beta_1^t)}{\sqrt{v_t / (1-\beta_2^t)} + \epsilon}

    Unlike Adam's multiplicative :math:`v_t`, Yogi's second moment moves
    additively towards :math:`g_t^2`, so it cannot forget a large past
    gradient too quickly. As in optax, :math:`m_0 = v_0 = 10^{-6}`
    (``initial_accumulator_value``), :math:`\epsilon = 10^{-3}` and both
    moments are bias-corrected. optax has no default learning rate; ours is
    the paper's 1e-2.

    Parameters
    ----------
    lr : default 1e-2
    betas : default (0.9, 0.999)
    eps : default 1e-3
    initial_accumulator_value : default 1e-6 (> 0)
    """

    fused_kernel = "yogi"

    def __init__(self, lr: LearningRate = 1e-2, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-3, initial_accumulator_value: float = 1e-6, *,
                 check_finite: bool = True, fused: bool = False) -> None:
        super().__init__(lr, check_finite=check_finite, fused=fused)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = self._hyper("betas[0]", betas[0], 0.0, 1.0, high_open=True)
        self.beta2 = self._hyper("betas[1]", betas[1], 0.0, 1.0, high_open=True)
        self.eps = self._hyper("eps", eps, 0.0)
        self.initial_accumulator_value = self._hyper(
            "initial_accumulator_value", initial_accumulator_value, 0.0, low_open=True)

    def init_state(self, param):
        m0 = np.empty_like(param)
        m0[...] = self.initial_accumulator_value
        return {"exp_avg": m0, "exp_avg_sq": m0.copy()}

    def update(self, param, grad, state, lr, t):
        m, v = state["exp_avg"], state["exp_avg_sq"]
        buf, sq = self.scratch(param, 0), self.scratch(param, 1)
        m *= self.beta1
        m += np.multiply(grad, 1.0 - self.beta1, out=buf)  # m_t = β1 m_{t-1} + (1-β1) g_t
        np.multiply(grad, grad, out=sq)  # g_t²
        np.subtract(v, sq, out=buf)
        np.sign(buf, out=buf)
        buf *= sq
        buf *= 1.0 - self.beta2
        v -= buf  # v_t = v_{t-1} - (1-β2) sign(v_{t-1}-g_t²) g_t²
        denom = np.divide(v, 1.0 - self.beta2 ** t, out=buf)
        np.sqrt(denom, out=denom)
        denom += self.eps  # √(v_t/(1-β2^t)) + ε
        step = np.divide(m, denom, out=denom)
        step *= lr / (1.0 - self.beta1 ** t)
        param -= step
