r"""Many independent runs at once: learning-rate sweeps, optimizer comparisons, seeds.

A sweep is a list of runs that share nothing: eight learning rates, five
optimizers, three seeds. One run of a small model keeps one core busy (its
matrix products are too small to gain from a second BLAS thread, see
:mod:`optlib.threads`), so the way to use every core is to run several at
once, each on its own core::

    import optlib.sweep

    def one_epoch(lr):
        model = optlib.MLP([784, 100, 10], seed=0)
        return optlib.fit(model, optlib.Adam(lr=lr), X, y, epochs=1,
                          batch_size=128, progress=False, threads=1)

    histories = optlib.sweep.run(one_epoch, [1e-4, 3e-4, 1e-3, 3e-3])

or, for :func:`optlib.train.fit` runs, without writing the function::

    runs = [{"model": optlib.MLP([784, 100, 10], seed=0), "optimizer": optlib.Adam(lr=lr)}
            for lr in (1e-4, 3e-4, 1e-3, 3e-3)]
    histories = optlib.sweep.fit_many(runs, X, y, epochs=1, batch_size=128)

What :func:`run` promises:

* **Order.** ``run(fn, configs)[i]`` is ``fn(configs[i])``, whatever order
  the runs finish in.
* **The same numbers.** Each call runs with ``threads`` BLAS threads (one by
  default) in every worker and in this process alike, so the results are
  bit-identical to ``[fn(c) for c in configs]`` run one after another with
  that thread count. Nothing random is shared between runs: a run that needs
  randomness seeds it from its configuration.
* **Failures are reported, not lost.** A run that raises is recorded as a
  :class:`Failure` holding its configuration, the exception and the
  traceback; the other runs go on. With ``errors="raise"`` (the default),
  :class:`SweepError` is raised once every run has finished: its message
  names each failed configuration and its ``results`` hold everything that
  succeeded. With ``errors="return"`` the :class:`Failure` objects take the
  failed runs' places in the returned list. A training run that *diverges*
  is not a failure: :func:`optlib.train.fit` returns its history with
  ``diverged=True``.
* **Progress** through a tqdm bar with ``progress=True`` (when tqdm is
  installed; ``pip install optlib[progress]``).

Where the runs go (``executor``):

``None`` (the default)
    A process pool with one worker per core this process may use
    (``os.sched_getaffinity``, see :func:`optlib.threads.available_cores`),
    or ``workers`` of them; with one worker (or one configuration) the runs
    go one after another in this process, with no pool at all. On Linux the
    workers are forked, so ``fn`` is handed to them without pickling:
    functions defined in a notebook, lambdas and closures over large arrays
    all work, and the data is not copied (fork shares memory until it is
    written). Where fork does not exist (Windows, and macOS's default),
    ``fn`` and its data are pickled once per worker, and ``fn`` must be
    importable (defined in a module, not in ``__main__``).
any :class:`concurrent.futures.Executor`
    Its ``submit`` is called once per configuration; ``fn`` and the
    configuration are pickled for every run (``fn`` closes over its data,
    so keep large data out of it or use dask's scatter below). A
    ``dask.distributed`` cluster works through ``client.get_executor()``,
    and so do Ray's and loky's executors.
a ``dask.distributed.Client``
    Taken as it is: ``fn`` is sent to the cluster once
    (``client.scatter``) and every run refers to it, so a function that
    closes over a training set ships it once, not once per run::

        from dask.distributed import Client, LocalCluster
        client = Client(LocalCluster(n_workers=4, threads_per_worker=1))
        histories = optlib.sweep.run(one_epoch, lrs, executor=client)

dask is never needed by ``import optlib`` (``pip install optlib[cluster]``).

Thread limits in a worker: BLAS through ``threadpoolctl`` (``pip install
optlib[threads]``; without it a warning says the limit could not be set),
and numba's threads when numba is loaded (always one in a forked worker:
numba's OpenMP threads cannot run in a child forked from a process that has
used them). Pools made here with a start
method other than fork also get ``OMP_NUM_THREADS`` and the BLAS libraries'
variables in their environment, which take effect before numpy loads.
Executors whose workers are threads of one process share one process-wide
BLAS limit; it is set by the first run to start and restored when the last
one ends.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import pickle
import reprlib
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from optlib._checks import check_int

__all__ = ["run", "fit_many", "Failure", "SweepError"]

#: Environment variables that set the thread count of BLAS and OpenMP libraries
#: when they load: given to the workers of pools that do not fork.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
              "NUMBA_NUM_THREADS")


# ----------------------------------------------------------------------------
# what a run leaves behind
# ----------------------------------------------------------------------------

@dataclasses.dataclass(eq=False)
class Failure:
    """A run that raised: its place in the sweep, its configuration and what went wrong.

    Attributes
    ----------
    index : int
        Position of the configuration in the list given to :func:`run`.
    config
        The configuration itself.
    error : BaseException
        The exception the run raised (in the worker; an exception that
        cannot be pickled arrives as a ``RuntimeError`` with its text), or
        the executor's own error when the run could not be carried out
        (a worker process that died, a configuration that cannot be pickled).
    traceback : str
        The formatted traceback, from the process where the run failed.
    """

    index: int
    config: Any
    error: BaseException
    traceback: str = ""

    def __repr__(self) -> str:
        return (f"Failure(index={self.index}, config={_short(self.config)}, "
                f"error={type(self.error).__name__}: {self.error})")


class SweepError(RuntimeError):
    """Some runs of a sweep failed; every other run finished and is kept.

    Attributes
    ----------
    results : list
        One entry per configuration, in order: the run's result, or its
        :class:`Failure`.
    failures : list of Failure
        The failed runs, in order.
    """

    def __init__(self, results: list[Any], failures: list[Failure]) -> None:
        self.results = results
        self.failures = failures
        lines = [f"{len(failures)} of {len(results)} runs failed (the others finished: "
                 "their results are in this error's .results):"]
        for f in failures:
            lines.append(f"  run {f.index}, config {_short(f.config)}: "
                         f"{type(f.error).__name__}: {f.error}")
        last = failures[-1].traceback.rstrip()
        if last:
            lines.append(f"Traceback of run {failures[-1].index}:\n{last}")
        super().__init__("\n".join(lines))

    def __reduce__(self):
        return (type(self), (self.results, self.failures))


def _short(value: Any) -> str:
    shorter = reprlib.Repr()
    shorter.maxstring = shorter.maxother = 120
    shorter.maxdict = shorter.maxlist = 8
    return shorter.repr(value)


@dataclasses.dataclass
class _Outcome:
    """What a worker sends back: the value, or the error and its traceback."""

    value: Any = None
    error: BaseException | None = None
    traceback: str = ""


# ----------------------------------------------------------------------------
# inside a worker
# ----------------------------------------------------------------------------

_limit_lock = threading.Lock()
_limit_users = 0
_limit_handle: Any = None


def _in_helper_thread(action: Callable[[], Any]) -> Any:
    # threadpoolctl lets one thread at a time own OpenBLAS's process-wide
    # limit, and an owner that is alive blocks the others. A thread that ends
    # right after setting (or restoring) the limit leaves no live owner.
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append((True, action()))
        except BaseException as err:       # re-raised in the calling thread
            outcome.append((False, err))
    helper = threading.Thread(target=target, name="optlib-sweep-blas-limit")
    helper.start()
    helper.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


@contextlib.contextmanager
def _shared_blas_limit(threadpoolctl: Any, threads: int):
    """The process-wide BLAS limit for runs on threads of one process.

    The first run to start sets it and the last one to end restores the
    previous limit, whichever threads they run on.
    """
    global _limit_users, _limit_handle
    with _limit_lock:
        if _limit_users == 0:
            _limit_handle = _in_helper_thread(
                lambda: threadpoolctl.threadpool_limits(limits=threads, user_api="blas"))
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                handle, _limit_handle = _limit_handle, None
                _in_helper_thread(handle.restore_original_limits)


@contextlib.contextmanager
def _thread_limits(threads: int, numba_threads: int):
    """BLAS limited to ``threads`` threads for the block, numba (when loaded) to ``numba_threads``."""
    from optlib.threads import _threadpoolctl

    threadpoolctl = _threadpoolctl()                    # warns once when missing
    if threadpoolctl is None:
        blas = contextlib.nullcontext()
    elif threading.current_thread() is threading.main_thread():
        # a process pool's worker, or this process: an ordinary nested limit
        blas = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    else:
        blas = _shared_blas_limit(threadpoolctl, threads)
    numba = sys.modules.get("numba")
    numba_before = None
    with blas:
        if numba is not None:    # loaded by fused=True; its thread count is per thread
            numba_before = numba.get_num_threads()
            numba.set_num_threads(min(numba_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            yield
        finally:
            if numba is not None:
                numba.set_num_threads(numba_before)


def _portable(error: BaseException) -> BaseException:
    """``error`` itself if it survives pickling, else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error} (the exception itself "
                            "could not be pickled)")


def _call(fn: Callable[[Any], Any], config: Any, threads: int,
          numba_threads: int | None = None) -> _Outcome:
    """Run ``fn(config)`` with the thread limits; never raises an Exception."""
    try:
        with _thread_limits(threads, threads if numba_threads is None else numba_threads):
            return _Outcome(value=fn(config))
    except Exception as err:
        return _Outcome(error=_portable(err), traceback=traceback.format_exc())


_installed: Callable[[Any], Any] | None = None


def _install(fn: Callable[[Any], Any]) -> None:
    """Pool initializer: keep ``fn`` in the worker (a forked worker gets it without pickling)."""
    global _installed
    _installed = fn


def _call_installed(config: Any, threads: int, numba_threads: int) -> _Outcome:
    return _call(_installed, config, threads, numba_threads)


# ----------------------------------------------------------------------------
# running the sweep
# ----------------------------------------------------------------------------

def _check_errors(errors: Any) -> str:
    if errors not in ("raise", "return"):
        raise ValueError(f'errors must be "raise" or "return", got {errors!r}')
    return errors


def _progress_bar(total: int):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        warnings.warn("optlib.sweep.run(progress=True) shows its bar with tqdm, which is not "
                      "installed: pip install optlib[progress] (or pip install tqdm). Running "
                      "without a bar", UserWarning, stacklevel=3)
        return None
    return tqdm(total=total, unit="run", desc="sweep")


def _pool_context():
    import multiprocessing

    if "fork" in multiprocessing.get_all_start_methods():
        # no pickling of fn, no copy of its data, no re-import in each worker
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


@contextlib.contextmanager
def _thread_env(threads: int):
    """The thread variables set to ``threads`` for workers started in the block."""
    saved = {name: os.environ.get(name) for name in THREAD_ENV}
    os.environ.update({name: str(threads) for name in THREAD_ENV})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _wait(futures: list[Any], bar: Any) -> None:
    """Block until every future is done, advancing the bar as each one finishes."""
    if bar is None:
        return
    import queue

    finished: queue.SimpleQueue = queue.SimpleQueue()
    for future in futures:
        future.add_done_callback(finished.put)
    for _ in futures:
        finished.get()
        bar.update()


def _outcomes(futures: list[Any], bar: Any) -> list[_Outcome]:
    _wait(futures, bar)
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result())
        except BaseException as err:    # the executor's failure (a dead worker, pickling)
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                raise
            # one exception may fail several futures (a broken pool): its type and
            # message say what happened, its growing traceback would not
            outcomes.append(_Outcome(error=err, traceback="".join(
                traceback.format_exception_only(type(err), err))))
    return outcomes


def _in_process(fn, configs, threads, bar) -> list[_Outcome]:
    outcomes = []
    for config in configs:
        outcomes.append(_call(fn, config, threads))
        if bar is not None:
            bar.update()
    return outcomes


def _on_pool(fn, configs, workers, threads, bar) -> list[_Outcome]:
    from concurrent.futures import ProcessPoolExecutor

    context = _pool_context()
    forked = context.get_start_method() == "fork"
    pool = None
    try:
        # workers start while tasks are submitted: a spawned one reads the variables
        with contextlib.nullcontext() if forked else _thread_env(threads):
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                       initializer=_install, initargs=(fn,))
            # numba's OpenMP threads cannot run in a forked child of a process
            # that used them: forked workers run the compiled kernels on one thread
            numba_threads = 1 if forked else threads
            futures = [pool.submit(_call_installed, config, threads, numba_threads)
                       for config in configs]
        return _outcomes(futures, bar)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _is_dask_client(executor: Any) -> bool:
    return (type(executor).__module__.split(".")[0] == "distributed"
            and callable(getattr(executor, "scatter", None)))


def _on_executor(executor, fn, configs, threads, bar) -> list[_Outcome]:
    if _is_dask_client(executor):
        shared = executor.scatter(fn, hash=False)       # sent once, not once per run
        futures = [executor.submit(_call, shared, config, threads, pure=False)
                   for config in configs]
    elif callable(getattr(executor, "submit", None)):
        futures = [executor.submit(_call, fn, config, threads) for config in configs]
    else:
        raise TypeError(
            f"executor must be a concurrent.futures.Executor (or a dask.distributed Client), "
            f"got {type(executor).__name__}"
        )
    return _outcomes(futures, bar)


def run(fn: Callable[[Any], Any], configs: Iterable[Any], *, executor: Any = None,
        workers: int | None = None, progress: bool = False, errors: str = "raise",
        threads: int = 1) -> list[Any]:
    """``[fn(c) for c in configs]``, the calls running concurrently.

    Parameters
    ----------
    fn : callable
        Called once per configuration as ``fn(config)``; returns anything
        picklable (a :class:`~optlib.train.History`, a loss, an array).
    configs : iterable
        One configuration per run: a learning rate, a dict of settings, a
        seed. Configurations are pickled to reach the workers.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where the runs go (see the module's documentation). Default: a
        process pool on the cores this process may use.
    workers : int, optional
        Size of the default pool (default: every available core, at most one
        per configuration). ``workers=1`` runs everything in this process,
        one run after another. Not allowed together with ``executor``.
    progress : bool
        Show a tqdm bar that advances as runs finish.
    errors : {"raise", "return"}
        What a failed run does once every run has finished: ``"raise"`` a
        :class:`SweepError` (holding every result), or ``"return"`` the list
        with a :class:`Failure` in place of each failed run's result.
    threads : int
        BLAS threads of each run (numba's too, when loaded). One, the
        default, keeps concurrent runs from competing for the cores.

    Returns
    -------
    list
        ``fn(configs[i])`` at index ``i``.

    Raises
    ------
    SweepError
        With ``errors="raise"``, if a run failed; raised after all runs ended.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    _check_errors(errors)
    threads = check_int("threads", threads, 1)
    if workers is not None:
        workers = check_int("workers", workers, 1)
        if executor is not None:
            raise ValueError("pass either executor or workers (the size of the default pool), "
                             "not both")
    configs = list(configs)
    if not configs:
        return []
    bar = _progress_bar(len(configs)) if progress else None
    try:
        if executor is not None:
            outcomes = _on_executor(executor, fn, configs, threads, bar)
        else:
            from optlib.threads import available_cores

            n_workers = min(len(configs), workers or available_cores())
            if n_workers == 1:
                outcomes = _in_process(fn, configs, threads, bar)
            else:
                outcomes = _on_pool(fn, configs, n_workers, threads, bar)
    finally:
        if bar is not None:
            bar.close()
    results: list[Any] = []
    failures: list[Failure] = []
    for index, (config, outcome) in enumerate(zip(configs, outcomes)):
        if outcome.error is None:
            results.append(outcome.value)
        else:
            failure = Failure(index, config, outcome.error, outcome.traceback)
            failures.append(failure)
            results.append(failure)
    if failures and errors == "raise":
        raise SweepError(results, failures)
    return results


# ----------------------------------------------------------------------------
# fit, many times
# ----------------------------------------------------------------------------

def _fit_keywords() -> set[str]:
    from optlib.train import fit

    return set(inspect.signature(fit).parameters) - {"model", "optimizer", "X", "y", "progress"}


def _fit_run(X: Any, y: Any, shared: Mapping[str, Any], run: Mapping[str, Any]) -> tuple:
    from optlib.train import fit

    settings = dict(shared)
    settings.update((k, v) for k, v in run.items() if k not in ("model", "optimizer"))
    model, optimizer = run["model"], run["optimizer"]
    history = fit(model, optimizer, X, y, progress=False, **settings)
    return history, model, optimizer


def fit_many(runs: Sequence[Mapping[str, Any]], X: Any, y: Any, *, executor: Any = None,
             workers: int | None = None, progress: bool = False, errors: str = "raise",
             threads: int = 1, **fit_kwargs: Any) -> list[Any]:
    """:func:`optlib.train.fit` once per run, the runs concurrently (see :func:`run`).

    Parameters
    ----------
    runs : sequence of dict
        Each holds ``"model"`` and ``"optimizer"``, and optionally any
        keyword argument of :func:`~optlib.train.fit` that differs between
        runs (``seed``, ``epochs``, ``l2``, ...), overriding ``fit_kwargs``.
    X, y : ndarray
        Training data, shared by every run. The default pool's forked
        workers read it without a copy; another executor gets it with every
        run (a dask ``Client`` once: see :func:`run`).
    executor, workers, progress, errors
        As in :func:`run`. ``progress`` is the sweep's bar (one step per
        run); ``fit``'s own bar is off.
    threads : int
        BLAS threads of each run, passed to ``fit(threads=...)`` too.
    **fit_kwargs
        Passed to every ``fit``: ``epochs`` and ``batch_size`` (required by
        ``fit``), ``X_test``, ``y_test``, ``seed``, ...

    Returns
    -------
    list of History
        In the order of ``runs`` (a :class:`Failure` in a failed run's place
        with ``errors="return"``). Afterwards each run's model and optimizer
        hold what ``fit`` left in them, as if the runs had been made one
        after another here: trained parameters (copied into the model's own
        arrays) and the optimizer's state. A failed run's model and
        optimizer are untouched.

    Notes
    -----
    A run that diverges is not a failure: its history has ``diverged=True``.
    """
    _check_errors(errors)
    allowed = _fit_keywords()
    unknown = sorted(set(fit_kwargs) - allowed)
    if unknown:
        raise TypeError(f"fit_many got {unknown[0]!r}, which is not an argument of fit")
    runs = list(runs)
    for i, one in enumerate(runs):
        if not isinstance(one, Mapping) or not {"model", "optimizer"} <= set(one):
            raise ValueError(f"runs[{i}] must be a dict with 'model' and 'optimizer', got "
                             f"{_short(one)}")
        extra = sorted(set(one) - allowed - {"model", "optimizer"})
        if extra:
            raise TypeError(f"runs[{i}] has {extra[0]!r}, which is not an argument of fit")
    shared = dict(fit_kwargs, threads=threads)
    results = run(functools.partial(_fit_run, X, y, shared), runs, executor=executor,
                  workers=workers, progress=progress, errors="return", threads=threads)
    histories: list[Any] = []
    for one, result in zip(runs, results):
        if isinstance(result, Failure):
            histories.append(result)
            continue
        history, model, optimizer = result
        if model is not one["model"]:            # trained elsewhere: bring the state home
            for name, value in model.params.items():
                one["model"].params[name][...] = value
            if callable(getattr(one["optimizer"], "load_state_dict", None)):
                one["optimizer"].load_state_dict(optimizer.state_dict())
        histories.append(history)
    failures = [h for h in histories if isinstance(h, Failure)]
    if failures and errors == "raise":
        raise SweepError(histories, failures)
    return histories
