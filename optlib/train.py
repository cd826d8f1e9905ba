r"""The training loop: :func:`fit`, its :class:`History`, and checkpoints.

::

    model = MLP([784, 100, 10])
    history = fit(model, Adam(lr=1e-3), X, y, epochs=3, batch_size=128,
                  X_test=X_test, y_test=y_test)
    plt.plot(history.updates, history.loss)
    plt.plot(history.epochs, history.test_acc)

One epoch is one pass over the shuffled training set in minibatches
:math:`B_1, B_2, \dots`; update :math:`t` computes
:math:`\ell_t, g_t = \texttt{loss\_and\_grad}(X_{B_t}, y_{B_t})` and calls
``optimizer.step(model.params, g_t)``.

Reproducibility: epoch :math:`e` (0-based) shuffles with
``np.random.default_rng([seed, e])``, a generator that depends on nothing
but the seed and the epoch number. A run interrupted after epoch :math:`e`
and resumed from its checkpoint therefore sees exactly the minibatches of an
uninterrupted run, and ends with bit-identical parameters.

Divergence: a non-finite loss, or :class:`~optlib.DivergenceError` from the
optimizer (a gradient with NaN or inf), ends training cleanly: :func:`fit`
returns the history with ``diverged=True`` instead of raising.

Checkpoints are ``.npz`` files written by ``np.savez`` and read with
``allow_pickle=False``: parameters, optimizer state (flattened to key paths,
its nesting kept in a small JSON description), history and settings.
"""
from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from optlib._checks import check_int
from optlib.data import minibatches
from optlib.nn import EVAL_BATCH  # rows per forward pass of model.evaluate
from optlib.optimizers import DivergenceError
from optlib.threads import blas_threads, resolve_threads

__all__ = ["History", "Checkpoint", "fit", "save_checkpoint", "load_checkpoint",
           "replay"]

CHECKPOINT_FORMAT = "optlib-checkpoint-1"


# ----------------------------------------------------------------------------
# History
# ----------------------------------------------------------------------------

def _empty() -> np.ndarray:
    return np.zeros(0)


@dataclass(eq=False, repr=False)
class History:
    """What :func:`fit` records: numpy arrays, ready to plot.

    Per update (index ``i`` is update number ``i + 1``):

    loss : ndarray
        Minibatch objective :math:`\\ell_t` the optimizer saw (including the
        ``l2`` penalty).
    lr : ndarray
        Learning rate of the update: ``optimizer.lr``, or the schedule's value
        ``lr(k)`` at ``k = optimizer.t`` before the step. NaN when the learning
        rate is an array with more than one element.

    Per completed epoch (empty when not measured):

    train_loss, train_acc : ndarray
        Loss (without penalty) and accuracy on the whole training set after the
        epoch; empty with ``evaluate_train=False``. Accuracies are recorded only
        for models that report one (classification).
    test_loss, test_acc : ndarray
        The same on ``X_test, y_test``; empty without a test set.
    epoch_updates : ndarray
        Number of updates done at the end of each epoch: the x-coordinates that
        put per-epoch points on a per-update axis.
    epoch_seconds : ndarray
        Wall-clock seconds of each epoch's updates (evaluation not included).

    Whole run:

    seconds : float
        Wall-clock seconds of all of :func:`fit` (over resumed runs too).
    diverged : bool
        True if training stopped on a non-finite loss or gradient.
    diverged_at : int or None
        Number of the update that failed (1-based, like ``optimizer.t``): updates
        ``1 .. diverged_at - 1`` were applied and recorded, update ``diverged_at``
        was not. None if the run did not diverge.
    """

    loss: np.ndarray = field(default_factory=_empty)
    lr: np.ndarray = field(default_factory=_empty)
    train_loss: np.ndarray = field(default_factory=_empty)
    train_acc: np.ndarray = field(default_factory=_empty)
    test_loss: np.ndarray = field(default_factory=_empty)
    test_acc: np.ndarray = field(default_factory=_empty)
    epoch_updates: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    epoch_seconds: np.ndarray = field(default_factory=_empty)
    seconds: float = 0.0
    diverged: bool = False
    diverged_at: int | None = None

    #: names of the per-update and per-epoch array fields
    ARRAYS = ("loss", "lr", "train_loss", "train_acc", "test_loss", "test_acc",
              "epoch_updates", "epoch_seconds")

    @property
    def n_updates(self) -> int:
        """Number of updates applied."""
        return len(self.loss)

    @property
    def n_epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.epoch_seconds)

    @property
    def updates(self) -> np.ndarray:
        """Update numbers ``1, 2, ..., n_updates``: the x-axis for ``loss`` and ``lr``."""
        return np.arange(1, self.n_updates + 1)

    @property
    def epochs(self) -> np.ndarray:
        """Epoch numbers ``1, 2, ..., n_epochs``: the x-axis for the per-epoch arrays."""
        return np.arange(1, self.n_epochs + 1)

    def __repr__(self) -> str:
        parts = [f"epochs={self.n_epochs}", f"updates={self.n_updates}"]
        if self.n_updates:
            parts.append(f"loss={self.loss[-1]:.4g}")
        for name in ("train_loss", "train_acc", "test_loss", "test_acc"):
            values = getattr(self, name)
            if len(values):
                parts.append(f"{name}={values[-1]:.4g}")
        parts.append(f"seconds={self.seconds:.3g}")
        if self.diverged:
            parts.append(f"diverged_at={self.diverged_at}")
        return f"History({', '.join(parts)})"

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every field as a numpy array (``diverged_at`` None is stored as -1)."""
        arrays = {name: np.asarray(getattr(self, name)) for name in self.ARRAYS}
        arrays["seconds"] = np.float64(self.seconds)
        arrays["diverged"] = np.bool_(self.diverged)
        arrays["diverged_at"] = np.int64(-1 if self.diverged_at is None else self.diverged_at)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "History":
        """Inverse of :meth:`to_arrays`."""
        missing = [f.name for f in fields(cls) if f.name not in arrays]
        if missing:
            raise ValueError(f"history arrays lack the field {missing[0]!r}")
        kwargs: dict[str, Any] = {name: np.array(arrays[name]) for name in cls.ARRAYS}
        kwargs["seconds"] = float(arrays["seconds"])
        kwargs["diverged"] = bool(arrays["diverged"])
        at = int(arrays["diverged_at"])
        kwargs["diverged_at"] = None if at < 0 else at
        return cls(**kwargs)


class _Recorder:
    """Lists that grow during :func:`fit`, turned into a :class:`History` on demand."""

    def __init__(self, history: History | None = None) -> None:
        history = history or History()
        self.lists = {name: list(getattr(history, name)) for name in History.ARRAYS}
        self.seconds = history.seconds
        self.diverged = history.diverged
        self.diverged_at = history.diverged_at

    def history(self) -> History:
        arrays = {name: np.asarray(values, dtype=np.int64 if name == "epoch_updates" else np.float64)
                  for name, values in self.lists.items()}
        return History(**arrays, seconds=self.seconds, diverged=self.diverged,
                       diverged_at=self.diverged_at)


# ----------------------------------------------------------------------------
# fit
# ----------------------------------------------------------------------------

def _check_model_and_optimizer(model: Any, optimizer: Any) -> None:
    if not isinstance(getattr(model, "params", None), Mapping) or not callable(
            getattr(model, "loss_and_grad", None)):
        raise TypeError(
            f"model must have a dict `params` and a method `loss_and_grad(X, y, l2)` "
            f"(like optlib.nn.MLP), got {type(model).__name__}"
        )
    if not callable(getattr(optimizer, "step", None)) or not hasattr(optimizer, "t"):
        raise TypeError(
            f"optimizer must have a method `step(params, grads)` and a counter `t` "
            f"(like optlib.Adam), got {type(optimizer).__name__}"
        )


def _check_data(X: Any, y: Any, x_name: str, y_name: str) -> None:
    if not hasattr(X, "shape") or not hasattr(y, "shape"):
        raise TypeError(f"{x_name} and {y_name} must be numpy arrays")
    if len(X) != len(y):
        raise ValueError(f"{x_name} has {len(X)} rows but {y_name} has {len(y)}: one target per row")
    if len(X) == 0:
        raise ValueError(f"{x_name} is empty")


def _current_lr(optimizer: Any) -> float:
    """The learning rate the next step uses, as a float (NaN if it is a multi-element array)."""
    lr = getattr(optimizer, "lr", math.nan)
    if callable(lr):
        lr = lr(optimizer.t)             # k = updates done before this one
    if isinstance(lr, float):
        return lr
    arr = np.asarray(lr, dtype=np.float64)
    return float(arr.reshape(-1)[0]) if arr.size == 1 else math.nan


def _evaluate(model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Data loss (no penalty) and, if the model has one, accuracy."""
    if callable(getattr(model, "evaluate", None)):
        return model.evaluate(X, y)
    return {"loss": float(model.loss_and_grad(X, y)[0])}


def _n_batches(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


def _progress_bar(total: int, initial: int):
    try:
        from tqdm.auto import tqdm
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "fit(progress=True) needs tqdm: pip install optlib[progress] "
            "(or pip install tqdm), or pass progress=False"
        ) from err
    return tqdm(total=total, initial=initial, unit="update", desc="training")


def _check_resume(meta: Mapping[str, Any], path: Any, settings: Mapping[str, Any]) -> None:
    for name, value in settings.items():
        if name in meta and meta[name] != value:
            raise ValueError(
                f"checkpoint {os.fspath(path)!r} was written by a run with {name}={meta[name]!r}, "
                f"but fit got {name}={value!r}: the resumed run would not match. Pass "
                f"{name}={meta[name]!r}, or a new checkpoint path to start afresh"
            )


def fit(model: Any, optimizer: Any, X: np.ndarray, y: np.ndarray, epochs: int,
        batch_size: int, seed: int = 0, X_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None, progress: bool = True, *, l2: float = 0.0,
        shuffle: bool = True, drop_last: bool = False, evaluate_train: bool = True,
        checkpoint: "str | os.PathLike[str] | None" = None,
        checkpoint_every: int = 1, threads: "int | str | None" = "auto") -> History:
    r"""Train ``model`` with ``optimizer`` by minibatch gradient descent.

    Parameters
    ----------
    model
        Has ``params`` (dict of arrays) and ``loss_and_grad(X, y, l2)``; an
        ``evaluate(X, y)`` method, if present, gives the per-epoch numbers
        (:class:`~optlib.nn.MLP`, :class:`~optlib.nn.LinearRegression`).
    optimizer
        An :class:`optlib.Optimizer`; it updates ``model.params`` in place.
    X, y : ndarray
        Training data, one example per row.
    epochs : int
        Total number of epochs. With a checkpoint, training continues from the
        epoch stored there up to ``epochs``.
    batch_size : int
        Rows per minibatch (the last one is smaller unless ``drop_last``).
    seed : int
        Epoch ``e`` shuffles with ``np.random.default_rng([seed, e])``: same
        seed, same minibatches, same result bit for bit.
    X_test, y_test : ndarray, optional
        Evaluated after every epoch.
    progress : bool
        Show a tqdm progress bar (``tqdm.auto``: a widget in notebooks, text in
        terminals); False prints nothing.
    l2 : float
        Weight penalty passed to ``loss_and_grad``.
    shuffle, drop_last : bool
        Passed to :func:`optlib.data.minibatches`.
    evaluate_train : bool
        Evaluate on the whole training set after each epoch (one forward pass
        over it); False saves that time.
    checkpoint : path, optional
        If the file exists, load model, optimizer and history from it and
        resume after its last epoch; then save to it after every
        ``checkpoint_every`` epochs and after the last one (atomically). The
        settings seed, batch_size, shuffle, drop_last and l2 must match the
        stored ones.
    threads : "auto", int or None
        BLAS threads for the matrix products. ``"auto"`` applies
        :func:`optlib.threads.threads_for_model`: one thread per 2e8
        floating-point operations of the model's largest product, so one
        thread for small models such as ``MLP([784, 100, 10])`` at batch 128,
        whose products gain little from a second thread on an idle machine
        and lose several-fold on a busy one. Training steps are sized by
        ``batch_size``, the per-epoch evaluation by its 8192-row chunks. An
        int fixes the count for both; None leaves the BLAS library's own
        setting alone. The previous setting is restored when ``fit`` returns.

    Returns
    -------
    History
        ``diverged`` is True if a non-finite loss or gradient stopped training;
        the parameters are then those after the last good update.
    """
    _check_model_and_optimizer(model, optimizer)
    _check_data(X, y, "X", "y")
    if (X_test is None) != (y_test is None):
        raise ValueError("pass both X_test and y_test, or neither")
    if X_test is not None:
        _check_data(X_test, y_test, "X_test", "y_test")
    epochs = check_int("epochs", epochs, 0)
    batch_size = check_int("batch_size", batch_size, 1)
    seed = check_int("seed", seed, 0)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, 1)
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not l2 >= 0:
        raise ValueError(f"l2 must be a number >= 0, got {l2!r}")
    n_batches = _n_batches(len(X), batch_size, drop_last)
    if n_batches == 0:
        raise ValueError(
            f"batch_size={batch_size} with drop_last=True leaves no minibatch of the "
            f"{len(X)} training rows; lower batch_size or set drop_last=False"
        )
    train_threads = resolve_threads(threads, model, batch_size)   # checks `threads` early
    eval_threads = resolve_threads(threads, model, EVAL_BATCH)
    settings = {"seed": seed, "batch_size": batch_size, "shuffle": bool(shuffle),
                "drop_last": bool(drop_last), "l2": float(l2)}

    start_epoch, record = 0, _Recorder()
    if checkpoint is not None and os.path.exists(checkpoint):
        saved = load_checkpoint(checkpoint, model, optimizer)
        _check_resume(saved.meta, checkpoint, settings)
        start_epoch, record = saved.epoch, _Recorder(saved.history)
    if record.diverged or start_epoch >= epochs:
        return record.history()      # nothing left to do: the stored run has ended

    started = time.perf_counter()
    with contextlib.ExitStack() as run:
        # Everything that lasts for the run is entered here and undone on any
        # exit, KeyboardInterrupt included: this is the place for run-wide
        # settings such as a BLAS thread limit. Divergence is detected
        # explicitly (finite loss, DivergenceError), so numpy's overflow
        # warnings on the way to it are noise.
        run.enter_context(np.errstate(over="ignore", invalid="ignore"))
        bar = None
        if progress:
            bar = run.enter_context(_progress_bar(epochs * n_batches, start_epoch * n_batches))
        for epoch in range(start_epoch, epochs):
            with blas_threads(train_threads):
                completed = _run_epoch(model, optimizer, X, y, epoch, batch_size, seed, l2,
                                       shuffle, drop_last, record, bar)
            if not completed:
                break
            with blas_threads(eval_threads):
                _end_of_epoch(model, X, y, X_test, y_test, evaluate_train, record, bar)
            if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs):
                record.seconds += time.perf_counter() - started
                started = time.perf_counter()
                save_checkpoint(checkpoint, model, optimizer, record.history(),
                                epoch=epoch + 1, meta=settings)
    record.seconds += time.perf_counter() - started
    return record.history()


def _run_epoch(model: Any, optimizer: Any, X: np.ndarray, y: np.ndarray, epoch: int,
               batch_size: int, seed: int, l2: float, shuffle: bool, drop_last: bool,
               record: _Recorder, bar: Any) -> bool:
    """One pass over the data; False if training diverged."""
    losses, lrs = record.lists["loss"], record.lists["lr"]
    rng = np.random.default_rng([seed, epoch])     # depends on (seed, epoch) only: resumable
    postfix_every = max(1, _n_batches(len(X), batch_size, drop_last) // 20)
    started = time.perf_counter()
    for i, (X_batch, y_batch) in enumerate(
            minibatches(X, y, batch_size, rng, shuffle=shuffle, drop_last=drop_last)):
        lr = _current_lr(optimizer)
        loss, grads = model.loss_and_grad(X_batch, y_batch, l2=l2)
        try:
            if not math.isfinite(loss):
                raise DivergenceError(f"loss is {loss}")
            optimizer.step(model.params, grads)
        except DivergenceError:
            record.diverged, record.diverged_at = True, len(losses) + 1
            if bar is not None:
                bar.set_postfix(diverged_at=record.diverged_at)
            return False
        losses.append(loss)
        lrs.append(lr)
        if bar is not None:
            bar.update()
            if i % postfix_every == 0:
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.4g}", refresh=False)
    record.lists["epoch_seconds"].append(time.perf_counter() - started)
    record.lists["epoch_updates"].append(len(losses))
    return True


def _end_of_epoch(model: Any, X: np.ndarray, y: np.ndarray, X_test: np.ndarray | None,
                  y_test: np.ndarray | None, evaluate_train: bool, record: _Recorder,
                  bar: Any) -> None:
    shown = {}
    for prefix, data, wanted in (("train", (X, y), evaluate_train),
                                 ("test", (X_test, y_test), X_test is not None)):
        if not wanted:
            continue
        result = _evaluate(model, *data)
        record.lists[f"{prefix}_loss"].append(float(result["loss"]))
        shown[f"{prefix}_loss"] = f"{result['loss']:.4g}"
        if "accuracy" in result:
            record.lists[f"{prefix}_acc"].append(float(result["accuracy"]))
            shown[f"{prefix}_acc"] = f"{result['accuracy']:.4f}"
    if bar is not None and shown:
        bar.set_postfix(shown)


# ----------------------------------------------------------------------------
# checkpoints
# ----------------------------------------------------------------------------

@dataclass(eq=False)
class Checkpoint:
    """What :func:`load_checkpoint` returns besides restoring model and optimizer."""

    epoch: int
    history: History | None
    meta: dict[str, Any]


def _flatten(tree: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """Describe ``tree`` as JSON, moving its arrays into ``arrays`` under key paths."""
    if isinstance(tree, Mapping):
        items = []
        for key, value in tree.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"cannot save key {key!r} at {path!r}: dict keys must be str or int")
            items.append([key, type(key).__name__, _flatten(value, f"{path}/{key}", arrays)])
        return {"dict": items}
    if isinstance(tree, (list, tuple)):
        kind = type(tree).__name__ if type(tree) in (list, tuple) else "list"
        return {kind: [_flatten(v, f"{path}/{i}", arrays) for i, v in enumerate(tree)]}
    if isinstance(tree, (np.ndarray, np.generic)):
        arr = np.asarray(tree)
        if arr.dtype.hasobject:
            raise TypeError(f"cannot save {path!r}: object arrays need pickle; use numeric arrays")
        if path in arrays:
            raise ValueError(f"cannot save {path!r}: two entries share this key path")
        arrays[path] = arr
        return {"array": path, "scalar": isinstance(tree, np.generic)}
    if tree is None:
        return {"none": None}
    for kind in (bool, int, float, str):      # bool first: it is also an int
        if isinstance(tree, kind):
            return {kind.__name__: tree}
    raise TypeError(
        f"cannot save {path!r} of type {type(tree).__name__}: checkpoints hold numbers, "
        "strings, numpy arrays and dicts/lists of them"
    )


def _unflatten(spec: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if "array" in spec:
        arr = arrays[spec["array"]]
        return arr[()] if spec["scalar"] else arr       # [()] turns a 0-d array back into a scalar
    (kind, value), = spec.items()
    if kind == "dict":
        return {(int(k) if t == "int" else k): _unflatten(v, arrays) for k, t, v in value}
    if kind in ("list", "tuple"):
        items = [_unflatten(v, arrays) for v in value]
        return items if kind == "list" else tuple(items)
    if kind == "none":
        return None
    return {"bool": bool, "int": int, "float": float, "str": str}[kind](value)


def save_checkpoint(path: "str | os.PathLike[str]", model: Any, optimizer: Any = None,
                    history: History | None = None, epoch: int = 0, *,
                    meta: Mapping[str, Any] | None = None) -> None:
    """Write model parameters, optimizer state, history and ``epoch`` to ``path``.

    The file is an uncompressed ``.npz`` (used as named: no extension is
    added) that loads with ``allow_pickle=False``. It is written to a temporary
    file in the same folder and then moved over ``path`` with ``os.replace``,
    so an interruption leaves either the old checkpoint or the new one, never
    half a file.

    Parameters
    ----------
    path : str or PathLike
    model
        Its ``params`` dict is saved.
    optimizer : optional
        Its ``state_dict()`` is saved, nested dicts flattened to key paths.
    history : History, optional
    epoch : int
        Number of completed epochs; :func:`fit` resumes with the next one.
    meta : dict, optional
        Extra numbers or strings (fit stores its seed and batch settings).
    """
    epoch = check_int("epoch", epoch, 0)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(CHECKPOINT_FORMAT),
        "epoch": np.int64(epoch),
    }
    for name, value in model.params.items():
        arrays[f"model/{name}"] = np.asarray(value)
    if optimizer is not None:
        spec = _flatten(optimizer.state_dict(), "optimizer", arrays)
        arrays["optimizer_spec"] = np.array(json.dumps(spec))
    if history is not None:
        for name, value in history.to_arrays().items():
            arrays[f"history/{name}"] = np.asarray(value)
    arrays["meta_spec"] = np.array(json.dumps(_flatten(dict(meta or {}), "meta", arrays)))
    _atomic_savez(path, arrays)


def _atomic_savez(path: "str | os.PathLike[str]", arrays: dict[str, np.ndarray]) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def load_checkpoint(path: "str | os.PathLike[str]", model: Any, optimizer: Any = None) -> Checkpoint:
    """Restore ``model.params`` (in place) and the optimizer's state from ``path``.

    Every check runs before anything is written: a checkpoint whose parameter
    names, shapes or dtypes differ from the model's raises ``ValueError``
    naming the file and the parameter, and leaves the model untouched.

    Returns
    -------
    Checkpoint
        ``epoch`` (completed epochs), ``history`` (or None) and ``meta``.
    """
    name = os.fspath(path)
    with np.load(name, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    if "format" not in arrays or str(arrays["format"]) != CHECKPOINT_FORMAT:
        raise ValueError(f"{name!r} is not an optlib checkpoint (written by save_checkpoint)")
    saved = {key[len("model/"):]: arr for key, arr in arrays.items() if key.startswith("model/")}
    _check_params_match(name, model.params, saved)
    state = None
    if optimizer is not None:
        if "optimizer_spec" not in arrays:
            raise ValueError(f"checkpoint {name!r} holds no optimizer state; pass optimizer=None")
        state = _unflatten(json.loads(str(arrays["optimizer_spec"])), arrays)
        try:
            optimizer.load_state_dict(state)
        except (ValueError, TypeError) as err:
            raise type(err)(f"checkpoint {name!r}: {err}") from err
    for key, arr in saved.items():
        model.params[key][...] = arr
    history = None
    if any(key.startswith("history/") for key in arrays):
        history = History.from_arrays({key[len("history/"):]: arr for key, arr in arrays.items()
                                       if key.startswith("history/")})
    meta = _unflatten(json.loads(str(arrays["meta_spec"])), arrays)
    return Checkpoint(epoch=int(arrays["epoch"]), history=history, meta=meta)


def _check_params_match(name: str, params: Mapping[str, np.ndarray],
                        saved: Mapping[str, np.ndarray]) -> None:
    for key in params:
        if key not in saved:
            raise ValueError(f"checkpoint {name!r} has no parameter {key!r}; it belongs to another model")
    for key, arr in saved.items():
        if key not in params:
            raise ValueError(f"checkpoint {name!r} has parameter {key!r}, which the model lacks")
        p = params[key]
        if arr.shape != p.shape or arr.dtype != p.dtype:
            raise ValueError(
                f"checkpoint {name!r}: parameter {key!r} has shape {arr.shape} and dtype "
                f"{arr.dtype}, the model's {p.shape} and {p.dtype}"
            )


# ----------------------------------------------------------------------------
# replaying a prescribed gradient sequence
# ----------------------------------------------------------------------------

def replay(optimizer: Any, gradients: Any, x0: Any, steps: int | None = None, *,
           record: "tuple[str, ...] | list[str]" = ()) -> dict[str, np.ndarray]:
    r"""Run ``optimizer`` on a prescribed sequence of gradients and record what it does.

    Starting from :math:`x_0`, update :math:`t = 1, \dots, T` calls
    ``optimizer.step(x, g_t)``, where

    * ``g_t = gradients[t - 1]`` if ``gradients`` is an array of shape
      ``(T, *x0.shape)``: a stream that does not depend on :math:`x`
      (synthetic noise, a burst, a recorded run), or
    * ``g_t = gradients(t, x)`` if it is a callable, called with the update
      number :math:`t` and the current iterate :math:`x_{t-1}` (closed loop;
      ``steps`` gives :math:`T`).

    This is how the book feeds an optimizer a gradient history chosen to
    show one behaviour (bias correction, a burst of large gradients, rare
    spikes) without a model around it. Hyperparameters may be arrays
    broadcasting against ``x0``, so one call replays many settings.

    Parameters
    ----------
    optimizer : optlib.Optimizer
        A fresh optimizer (its state carries over between calls).
    gradients : ndarray or callable
        The gradients :math:`g_1, \dots, g_T`, or ``grad(t, x)``. Each is
        converted to the dtype of the iterates.
    x0 : array_like
        Starting point; copied, never modified. A float16, float32 or float64
        array keeps its dtype; anything else becomes float64.
    steps : int, optional
        :math:`T`; required with a callable, and if given with an array it
        must equal ``len(gradients)``.
    record : sequence of str
        Names of the optimizer's per-parameter state arrays to record after
        every update (``"exp_avg"`` and ``"exp_avg_sq"`` are Adam's
        :math:`m_t` and :math:`v_t`).

    Returns
    -------
    dict of ndarray
        ``"x"``: the iterates :math:`x_0, \dots, x_T`, shape ``(T + 1, *x0.shape)``;
        and for each name in ``record`` its value after updates :math:`1, \dots, T`,
        shape ``(T, *x0.shape)`` (row ``t - 1`` is the value after update ``t``).
    """
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer must have a step(params, grads) method (an optlib "
                        f"optimizer), got {type(optimizer).__name__}")
    x = np.array(x0, copy=True)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    if callable(gradients):
        if steps is None:
            raise ValueError("steps is required when gradients is a callable grad(t, x)")
        steps = check_int("steps", steps, 0)
        stream = None
    else:
        stream = np.asarray(gradients)
        if stream.ndim != x.ndim + 1 or stream.shape[1:] != x.shape:
            raise ValueError(f"gradients must have shape (T, *x0.shape) = (T, "
                             f"{', '.join(map(str, x.shape))}), got {stream.shape}")
        if steps is not None and check_int("steps", steps, 0) != len(stream):
            raise ValueError(f"steps={steps} but gradients holds {len(stream)} gradients")
        steps = len(stream)
    names = [str(name) for name in record]
    known = optimizer._state_names() if hasattr(optimizer, "_state_names") else None
    unknown = [name for name in names if known is not None and name not in known]
    if unknown:
        raise ValueError(f"{type(optimizer).__name__} keeps no state {unknown[0]!r}; "
                         f"it keeps {sorted(known)}")
    path = np.empty((steps + 1,) + x.shape, dtype=x.dtype)
    path[0] = x
    recorded = {name: np.empty((steps,) + x.shape, dtype=x.dtype) for name in names}
    quiet = (contextlib.nullcontext() if getattr(optimizer, "check_finite", True)
             else np.errstate(over="ignore", invalid="ignore", divide="ignore"))
    with quiet:
        for t in range(1, steps + 1):
            g = gradients(t, x) if stream is None else stream[t - 1]
            optimizer.step(x, np.asarray(g, dtype=x.dtype))
            path[t] = x
            for name in names:
                recorded[name][t - 1] = optimizer.state[""][name]
    return {"x": path, **recorded}
