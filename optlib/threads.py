r"""How many threads the BLAS library behind numpy's matrix products may use.

numpy hands every ``A @ B`` to a BLAS library (OpenBLAS in the numpy wheels,
MKL or Accelerate elsewhere) that starts one thread per core by default.
That is right for large products and fragile for the small ones of a
minibatch step: ``MLP([784, 100, 10])`` with 128 examples multiplies a
``128 x 784`` matrix by a ``784 x 100`` one, about 20 million floating-point
operations, a fraction of a millisecond on one core. Between products the
BLAS worker threads busy-wait, competing for the cores with the Python
thread that runs everything else, with other processes (a notebook server,
a browser), and with other libraries' thread pools (PyTorch's OpenMP workers
spin the same way). A parallel product must wait for its slowest thread, so
when another program holds a core, the step waits for the operating system
to hand that core back. On an idle two-core machine one epoch of that MLP
took the same time on one or two threads; on a busy one it took six times
longer on two.

So the library decides deliberately:

* :func:`threads_for_flops` is the policy: one thread per
  :data:`FLOPS_PER_THREAD` operations of the largest product, at least one,
  at most the cores this process may use (:func:`available_cores`);
* :func:`threads_for_model` applies it to a model's largest product for a
  given batch size (a weight matrix of shape ``(fan_in, fan_out)`` costs
  :math:`2 \cdot \text{batch} \cdot \text{fan\_in} \cdot \text{fan\_out}`);
* :func:`blas_threads` is the context manager that sets the limit for a
  block and restores the previous one afterwards, through ``threadpoolctl``
  (``pip install optlib[threads]``). Without it the block runs unchanged
  and a one-time warning says so.

:func:`optlib.train.fit` uses them around its training loop; call them
yourself around your own loops::

    from optlib.threads import blas_threads, threads_for_model
    with blas_threads(threads_for_model(model, batch_size=128)):
        for X_batch, y_batch in batches:
            ...

Environment variables such as ``OMP_NUM_THREADS`` or
``OPENBLAS_NUM_THREADS`` also work, but only if set before numpy is
imported; this module changes the limit at run time.

The optimizers' own threads are a separate setting. numpy's element-wise
operations run on one core, but they release the interpreter lock, so an
optimizer can split the pieces of a large leaf over a small pool of threads
and run the update at the memory bandwidth of several cores instead of one.
The default is one thread: on an idle 2-core machine two threads made a
10-million-parameter Adam step only 1.2 to 1.4 times faster, and on a busy one
they were slower than one, because every numpy call must take the
interpreter lock back from the other thread. :func:`optimizer_threads` is
the count, :func:`set_optimizer_threads` changes it for the process, and the
environment variable ``OPTLIB_NUM_THREADS`` sets the starting value::

    from optlib.threads import available_cores, set_optimizer_threads
    set_optimizer_threads(available_cores())   # large leaves on every core

The results do not depend on the count: each element is updated by the same
operations whichever thread runs them.
"""
from __future__ import annotations

import contextlib
import itertools
import numbers
import os
import queue
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "FLOPS_PER_THREAD", "available_cores", "threads_for_flops", "threads_for_model",
    "resolve_threads", "blas_threads", "blas_info",
    "optimizer_threads", "set_optimizer_threads", "share_work",
]

#: Floating-point operations of one matrix product per BLAS thread: products
#: up to about 2 * 128 * 784 * 1000 (a 1000-unit hidden layer on MNIST
#: batches of 128) run on one thread. Measured on a 2-core machine: an
#: isolated 128 x 784 x 100 product runs 1.5 times faster on two threads, but
#: a whole training epoch of MLP([784, 100, 10]) (where products are a third
#: of the time) was within 3% on one or two threads when the machine was idle,
#: and 6 times slower on two threads while other processes were running.
#: Larger products (2 * 128 * 784 * 2000 and up) gain 1.9x or more.
FLOPS_PER_THREAD = 200_000_000

_warned_missing = False


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; ``os.cpu_count()`` elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def threads_for_flops(flops: float, max_threads: int | None = None) -> int:
    r"""The policy: BLAS threads for a product of ``flops`` floating-point operations.

    .. math::

        n = \min\bigl(n_{\max},\ \max(1,\ \lfloor \text{flops} / F \rfloor)\bigr)

    with :math:`F` = :data:`FLOPS_PER_THREAD` and :math:`n_{\max}` =
    ``max_threads`` (default: :func:`available_cores`). An ``(m, k) @ (k, n)``
    product costs ``2*m*k*n`` operations.

    Parameters
    ----------
    flops : float
        Operations of the largest matrix product in the loop, ``>= 0``.
    max_threads : int, optional
        Upper bound, ``>= 1``.

    Returns
    -------
    int
        A thread count between 1 and ``max_threads``.
    """
    if isinstance(flops, bool) or not isinstance(flops, numbers.Real) or not flops >= 0:
        raise ValueError(f"flops must be a number >= 0, got {flops!r}")
    cap = available_cores() if max_threads is None else _check_count("max_threads", max_threads)
    return int(min(cap, max(1, flops // FLOPS_PER_THREAD)))


def threads_for_model(model: Any, batch_size: int, max_threads: int | None = None) -> int:
    """BLAS threads for minibatch steps of ``model``: the policy for its largest product.

    Every two-dimensional entry of ``model.params`` is taken as a weight
    matrix of shape ``(fan_in, fan_out)`` multiplied by a ``(batch_size,
    fan_in)`` batch; a model without one (no matrix products) gets 1.

    Parameters
    ----------
    model
        Anything with a ``params`` dict of arrays (:class:`optlib.nn.MLP`,
        :class:`optlib.nn.LinearRegression`).
    batch_size : int
        Rows per minibatch, ``>= 1``.
    max_threads : int, optional
        Upper bound (default: :func:`available_cores`).
    """
    params = getattr(model, "params", None)
    if not isinstance(params, dict):
        raise TypeError(
            f"model must have a params dict of arrays, got {type(model).__name__} "
            f"whose params is {type(params).__name__}"
        )
    batch_size = _check_count("batch_size", batch_size)
    largest = max((2.0 * batch_size * W.shape[0] * W.shape[1]
                   for W in params.values() if np.ndim(W) == 2), default=0.0)
    return threads_for_flops(largest, max_threads)


def resolve_threads(threads: int | str | None, model: Any, batch_size: int) -> int | None:
    """What a ``threads=`` argument (as in :func:`optlib.train.fit`) means for one loop.

    Parameters
    ----------
    threads : "auto", int or None
        ``"auto"``: the policy, :func:`threads_for_model` of ``model`` and
        ``batch_size``; an int ``>= 1``: that many threads; None: leave the
        BLAS library's own setting alone.
    model, batch_size
        As in :func:`threads_for_model` (only used for ``"auto"``).

    Returns
    -------
    int or None
        The argument for :func:`blas_threads`.
    """
    if threads is None:
        return None
    if isinstance(threads, str):
        if threads != "auto":
            raise ValueError(f'threads must be "auto", an integer >= 1 or None, got {threads!r}')
        return threads_for_model(model, batch_size)
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f'threads must be "auto", an integer >= 1 or None, got {threads!r}')
    return int(threads)


def _threadpoolctl():
    """The threadpoolctl module, or None (with a one-time warning) when it is missing."""
    global _warned_missing
    try:
        import threadpoolctl
    except ImportError:
        if not _warned_missing:
            _warned_missing = True
            warnings.warn(
                "threadpoolctl is not installed, so optlib cannot set the number of BLAS "
                "threads and matrix products use the library's default (often every "
                "core, which is slow for small products). Install it with "
                "`pip install optlib[threads]` (or `pip install threadpoolctl`)",
                UserWarning, stacklevel=3,
            )
        return None
    return threadpoolctl


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit the BLAS libraries loaded in this process to ``n`` threads inside the block.

    The previous limits are restored on exit, also after an exception.

    Parameters
    ----------
    n : int or None
        Threads, ``>= 1`` (use :func:`threads_for_model` or
        :func:`threads_for_flops` to choose it); None leaves the limits as
        they are.

    Notes
    -----
    Uses ``threadpoolctl.threadpool_limits(n, user_api="blas")``. Without
    threadpoolctl the block runs with the BLAS default, and the first call
    warns once per process. Only BLAS is limited: numpy's element-wise
    operations are single-threaded anyway, and other OpenMP pools (PyTorch,
    numba) are left alone.
    """
    if n is None:
        yield
        return
    n = _check_count("n", n)
    threadpoolctl = _threadpoolctl()
    if threadpoolctl is None:
        yield
        return
    with threadpoolctl.threadpool_limits(limits=n, user_api="blas"):
        yield


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process: name, version, threads, CPU kernel.

    One dict per library (``threadpoolctl.threadpool_info()`` entries whose
    ``user_api`` is ``"blas"``); an empty list without threadpoolctl.
    """
    try:
        import threadpoolctl
    except ImportError:
        return []
    return [dict(entry) for entry in threadpoolctl.threadpool_info()
            if entry.get("user_api") == "blas"]


# ----------------------------------------------------------------------------
# the optimizers' thread pool
# ----------------------------------------------------------------------------

_optimizer_threads: int | None = None     # None: not chosen yet (env var or 1)
_workers: list["_Worker"] = []
_workers_lock = threading.Lock()


def optimizer_threads() -> int:
    """Threads an optimizer step may use for large leaves (1: the calling thread only).

    The value set by :func:`set_optimizer_threads`; before any call, the
    environment variable ``OPTLIB_NUM_THREADS`` if it is set, otherwise 1
    (see the module notes for why).
    """
    global _optimizer_threads
    if _optimizer_threads is None:
        env = os.environ.get("OPTLIB_NUM_THREADS", "").strip()
        if env:
            try:
                value = int(env)
            except ValueError:
                value = 0
            if value < 1:
                raise ValueError(
                    f"the environment variable OPTLIB_NUM_THREADS must be an integer >= 1, "
                    f"got {env!r}; unset it for the default of one thread"
                )
            _optimizer_threads = value
        else:
            _optimizer_threads = 1
    return _optimizer_threads


def set_optimizer_threads(n: int | None) -> None:
    """Set the threads optimizer steps use for large leaves, for the whole process.

    Parameters
    ----------
    n : int or None
        Threads, ``>= 1`` (1 runs every update on the calling thread); None
        goes back to the default (``OPTLIB_NUM_THREADS``, else 1).
    """
    global _optimizer_threads
    _optimizer_threads = None if n is None else _check_count("n", n)


class _Worker:
    """A persistent daemon thread running the functions put in its queue, one at a time."""

    def __init__(self) -> None:
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="optlib-optimizer", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            self.tasks.get()()


def _forget_workers() -> None:
    # a forked child has none of its parent's threads: start new ones when needed
    global _workers_lock
    _workers.clear()
    _workers_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _pool(n: int) -> list[_Worker]:
    # created on first use, grown when more are asked for; they sleep between steps
    with _workers_lock:
        while len(_workers) < n:
            _workers.append(_Worker())
        return _workers[:n]


class _Task:
    """One pool thread's share of a call: skipped if the caller finished before it started."""

    def __init__(self, body: Callable[[], None]) -> None:
        self.body = body
        self.lock = threading.Lock()
        self.state = "waiting"              # -> "running", or -> "skipped"
        self.finished = threading.Event()

    def __call__(self) -> None:
        with self.lock:
            if self.state == "skipped":
                return
            self.state = "running"
        try:
            self.body()
        finally:
            self.finished.set()

    def skip_or_wait(self, may_skip: bool) -> None:
        with self.lock:
            if may_skip and self.state == "waiting":
                self.state = "skipped"
                return
        self.finished.wait()


def share_work(items: Sequence[Any], fn: Callable[[Any], None], threads: int,
               *, every_thread: bool = False) -> None:
    """Call ``fn(item)`` for every item, on the calling thread and ``threads - 1`` pool threads.

    Each thread takes the next item when it finishes one, so the items are
    shared by how fast each thread really runs: when another program holds a
    core, the pool thread on it takes fewer items (or none). (A thread that
    the operating system suspends while it holds the interpreter lock still
    delays the others: on a machine whose cores are busy with other
    programs, one thread can be faster.)

    With ``every_thread=True`` the items are dealt out in turn instead
    (thread ``w`` of ``n`` takes items ``w, w + n, ...``), so every thread
    runs at least one: for a first call whose threads set up buffers they
    keep for later calls.

    Returns when every item is done. If ``fn`` raises, the threads take no
    further items, and the exception is raised here after every thread has
    stopped, so no thread is still writing when the caller sees it.
    """
    if threads <= 1 or len(items) <= 1:
        for item in items:
            fn(item)
        return
    _check_count("threads", threads)
    threads = min(threads, len(items))
    next_index = itertools.count().__next__      # atomic: one C call under the lock
    failures: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            if every_thread:
                for item in items[w::threads]:
                    if failures:
                        return
                    fn(item)
                return
            while not failures:
                i = next_index()
                if i >= len(items):
                    return
                fn(items[i])
        except BaseException as err:    # noqa: BLE001 - re-raised by the caller
            failures.append(err)

    tasks = []
    for w, pool_thread in enumerate(_pool(threads - 1), start=1):
        tasks.append(_Task(lambda w=w: worker(w)))
        pool_thread.tasks.put(tasks[-1])
    worker(0)
    for task in tasks:
        # a pool thread that has not started yet has nothing left to do: do not
        # wait for the operating system to schedule it
        task.skip_or_wait(may_skip=not every_thread)
    if failures:
        raise failures[0]
