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

The optimizers' element-wise updates run on the calling thread only.
numpy releases the interpreter lock inside each operation, so splitting a
large leaf over threads looks attractive, but every numpy call must take
the lock back, and an update is a dozen calls per cache-sized piece. On
two cores, two threads sharing the pieces of an Adam update were no faster
than one, and up to 1.5 times slower when the pieces sat in the cache: the
threads spent the time waiting for each other's lock. The compiled kernels
of :mod:`optlib.fused` are the way to use every core for an update.
"""
from __future__ import annotations

import contextlib
import numbers
import os
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from optlib._checks import check_int

__all__ = [
    "FLOPS_PER_THREAD", "available_cores", "threads_for_flops", "threads_for_model",
    "resolve_threads", "blas_threads", "blas_info",
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
    cap = available_cores() if max_threads is None else check_int("max_threads", max_threads, 1)
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
    batch_size = check_int("batch_size", batch_size, 1)
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
    n = check_int("n", n, 1)
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
