"""optlib.sweep: concurrent runs equal sequential ones; failures keep their configuration.

The reference for every comparison is the plain loop ``[fn(c) for c in configs]``
run in this process, never the sweep's own earlier output.
"""
import concurrent.futures
import os
import pickle
import time

import numpy as np
import pytest

import optlib
from optlib import sweep
from optlib.nn import MLP
from optlib.train import fit

from conftest import python_stdout


def blobs(n=400, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = 3 * rng.standard_normal((k, d))
    y = rng.integers(0, k, size=n)
    return (centres[y] + rng.standard_normal((n, d))).astype(np.float32), y


X, Y = blobs()
LRS = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]


def train(lr):
    """A module-level run (picklable by reference): the history, the parameters, the pid."""
    model = MLP([6, 16, 3], seed=0)
    history = fit(model, optlib.Adam(lr=lr), X, Y, epochs=2, batch_size=32, seed=1,
                  progress=False, threads=1, X_test=X[:50], y_test=Y[:50])
    return history, {k: v.copy() for k, v in model.params.items()}, os.getpid()


def assert_same_run(a, b):
    (ha, pa, _), (hb, pb, _) = a, b
    for name in ("loss", "lr", "train_loss", "train_acc", "test_loss", "test_acc",
                 "epoch_updates"):
        np.testing.assert_array_equal(getattr(ha, name), getattr(hb, name), err_msg=name)
    assert list(pa) == list(pb)
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)


def fail_on_three(x):
    if x == 3:
        raise ValueError(f"cannot take {x}")
    return x * x


def blas_threads_seen(_):
    import threadpoolctl
    return sorted({d["num_threads"] for d in threadpoolctl.threadpool_info()
                   if d["user_api"] == "blas"})


def sleep_then_return(seconds):
    time.sleep(seconds)
    return seconds


class Unpicklable(Exception):
    def __init__(self, handle):
        super().__init__("holds a lock")
        self.handle = handle

    def __reduce__(self):
        raise TypeError("no pickling")


def raise_unpicklable(_):
    import threading
    raise Unpicklable(threading.Lock())


# ---- a process pool ---------------------------------------------------------------

def test_a_process_pool_gives_the_sequential_results_in_order():
    sequential = [train(lr) for lr in LRS]
    parallel = sweep.run(train, LRS, workers=2)
    assert len(parallel) == len(LRS)
    for a, b in zip(parallel, sequential):
        assert_same_run(a, b)
    # the runs differ from each other (the check above is not vacuous) ...
    assert not np.array_equal(parallel[0][0].loss, parallel[-1][0].loss)
    # ... and they ran in other processes
    assert os.getpid() not in {pid for _, _, pid in parallel}


def test_results_come_back_in_the_order_given_not_the_order_finished():
    delays = [0.4, 0.0, 0.2, 0.0]
    assert sweep.run(sleep_then_return, delays, workers=2) == delays


def test_a_lambda_over_local_data_runs_in_the_default_pool():
    # the default pool forks: fn reaches the workers without pickling
    data = np.arange(10.0)
    offset = 3.0
    result = sweep.run(lambda i: float(data[i] + offset), [1, 5, 9], workers=2)
    assert result == [4.0, 8.0, 12.0]


def test_workers_run_on_one_blas_thread_and_this_process_keeps_its_limit():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [d["num_threads"] for d in threadpoolctl.threadpool_info()
              if d["user_api"] == "blas"]
    assert sweep.run(blas_threads_seen, range(3), workers=2) == [[1]] * 3
    assert sweep.run(blas_threads_seen, range(2), workers=1) == [[1]] * 2   # in this process
    assert sweep.run(blas_threads_seen, [0], workers=1, threads=2) == [[2]]
    after = [d["num_threads"] for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"]
    assert after == before


def test_a_pool_that_does_not_fork_gets_the_thread_variables(monkeypatch):
    import multiprocessing
    if "spawn" not in multiprocessing.get_all_start_methods():
        pytest.skip("no spawn start method")
    monkeypatch.setattr(sweep, "_pool_context", lambda: multiprocessing.get_context("spawn"))
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    got = sweep.run(os.getenv, ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"], workers=2)
    assert got == ["1", "1"]
    assert "OPENBLAS_NUM_THREADS" not in os.environ      # this process's environment restored


# ---- failures ----------------------------------------------------------------------

def test_a_failing_run_is_reported_with_its_config_and_the_others_survive():
    with pytest.raises(sweep.SweepError) as caught:
        sweep.run(fail_on_three, [1, 2, 3, 4], workers=2)
    err = caught.value
    assert "1 of 4 runs failed" in str(err)
    assert "run 2, config 3: ValueError: cannot take 3" in str(err)
    assert "fail_on_three" in str(err)                 # the worker's traceback is shown
    assert err.results[:2] == [1, 4] and err.results[3] == 16
    (failure,) = err.failures
    assert err.results[2] is failure
    assert (failure.index, failure.config) == (2, 3)
    assert isinstance(failure.error, ValueError) and "cannot take 3" in str(failure.error)
    assert "fail_on_three" in failure.traceback


def test_errors_return_puts_the_failure_in_place():
    results = sweep.run(fail_on_three, [3, 5], workers=1, errors="return")
    assert isinstance(results[0], sweep.Failure) and results[0].config == 3
    assert results[1] == 25
    assert "config=3" in repr(results[0]) and "ValueError" in repr(results[0])


def test_an_exception_that_cannot_be_pickled_arrives_as_its_text():
    (failure,) = sweep.run(raise_unpicklable, [0, 1], workers=2, errors="return")[:1]
    assert isinstance(failure, sweep.Failure)
    assert isinstance(failure.error, RuntimeError)
    assert "Unpicklable: holds a lock" in str(failure.error)


def test_a_config_that_cannot_be_pickled_fails_alone():
    import threading
    results = sweep.run(str, [1, threading.Lock(), 3], workers=2, errors="return")
    assert results[0] == "1" and results[2] == "3"
    assert isinstance(results[1], sweep.Failure)


def test_sweep_error_pickles_with_its_results():
    err = sweep.SweepError([1, sweep.Failure(1, "c", ValueError("x"))],
                           [sweep.Failure(1, "c", ValueError("x"))])
    again = pickle.loads(pickle.dumps(err))
    assert again.results[0] == 1 and again.failures[0].config == "c"


# ---- other executors ----------------------------------------------------------------

def test_any_executor_is_accepted_and_the_blas_limit_comes_back():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [d["num_threads"] for d in threadpoolctl.threadpool_info()
              if d["user_api"] == "blas"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        got = sweep.run(blas_threads_seen, range(6), executor=pool)
        parallel = sweep.run(train, LRS[:3], executor=pool)
    assert got == [[1]] * 6
    for a, lr in zip(parallel, LRS[:3]):
        assert_same_run(a, train(lr))
    after = [d["num_threads"] for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"]
    assert after == before


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.parametrize("how", ["client", "get_executor"])
def test_a_dask_cluster_gives_the_sequential_results(dask_client, how):
    executor = dask_client if how == "client" else dask_client.get_executor()
    parallel = sweep.run(train, LRS[:3], executor=executor)
    for a, lr in zip(parallel, LRS[:3]):
        assert_same_run(a, train(lr))
    with pytest.raises(sweep.SweepError, match="run 1, config 3: ValueError"):
        sweep.run(fail_on_three, [2, 3, 4], executor=executor)
    results = sweep.run(fail_on_three, [2, 3, 4], executor=executor, errors="return")
    assert results[0] == 4 and results[2] == 16 and results[1].config == 3


def test_fit_many_on_a_dask_cluster(dask_client):
    runs = [{"model": MLP([6, 16, 3], seed=0), "optimizer": optlib.Adam(lr=lr)}
            for lr in LRS[:2]]
    histories = sweep.fit_many(runs, X, Y, executor=dask_client, epochs=1, batch_size=32)
    for history, one, lr in zip(histories, runs, LRS[:2]):
        model = MLP([6, 16, 3], seed=0)
        expected = fit(model, optlib.Adam(lr=lr), X, Y, epochs=1, batch_size=32,
                       progress=False, threads=1)
        np.testing.assert_array_equal(history.loss, expected.loss)
        np.testing.assert_array_equal(one["model"].params["W1"], model.params["W1"])


# ---- fit_many ------------------------------------------------------------------------

def test_fit_many_equals_fit_one_after_another():
    def make(seed, lr):
        return {"model": MLP([6, 16, 3], seed=seed), "optimizer": optlib.Adam(lr=lr)}
    settings = [(0, 1e-2), (1, 1e-2), (0, 3e-2)]
    runs = [make(*s) for s in settings]
    runs[2]["l2"] = 1e-3                                 # a per-run override of fit's arguments
    histories = sweep.fit_many(runs, X, Y, workers=2, epochs=2, batch_size=32, seed=3,
                               X_test=X[:50], y_test=Y[:50])
    for history, one, s in zip(histories, runs, settings):
        ref = make(*s)
        expected = fit(ref["model"], ref["optimizer"], X, Y, epochs=2, batch_size=32, seed=3,
                       X_test=X[:50], y_test=Y[:50], progress=False, threads=1,
                       l2=one.get("l2", 0.0))
        for name in ("loss", "test_loss", "test_acc", "train_loss"):
            np.testing.assert_array_equal(getattr(history, name), getattr(expected, name))
        # the caller's model and optimizer end as fit leaves them, in the model's own buffer
        for k in ref["model"].params:
            np.testing.assert_array_equal(one["model"].params[k], ref["model"].params[k])
        assert one["model"].params["W1"].base is one["model"].params["b2"].base
        assert one["optimizer"].t == ref["optimizer"].t == 2 * 13
        ours, theirs = one["optimizer"].state_dict(), ref["optimizer"].state_dict()
        for leaf in theirs["state"]:
            for key, value in theirs["state"][leaf].items():
                np.testing.assert_array_equal(ours["state"][leaf][key], value)
    assert not np.array_equal(histories[0].loss, histories[2].loss)


def test_fit_many_reports_a_diverging_run_as_data_and_a_broken_one_as_a_failure():
    runs = [{"model": MLP([6, 16, 3], seed=0), "optimizer": optlib.SGD(lr=1e30)},
            {"model": MLP([6, 16, 3], seed=0), "optimizer": optlib.Adam(lr=1e-2)},
            {"model": MLP([6, 16, 3], seed=0), "optimizer": optlib.Adam(lr=1e-2),
             "batch_size": 0}]
    before = runs[2]["model"].params["W1"].copy()
    results = sweep.fit_many(runs, X, Y, workers=2, epochs=1, batch_size=32, errors="return")
    assert results[0].diverged and not results[1].diverged
    assert isinstance(results[2], sweep.Failure) and "batch_size" in str(results[2].error)
    assert results[2].config is runs[2]
    np.testing.assert_array_equal(runs[2]["model"].params["W1"], before)
    with pytest.raises(sweep.SweepError, match="batch_size"):
        sweep.fit_many(runs[1:], X, Y, workers=1, epochs=1, batch_size=32)


def test_fit_many_checks_its_arguments_before_running():
    one = {"model": MLP([6, 16, 3]), "optimizer": optlib.Adam()}
    with pytest.raises(TypeError, match="'epoch'"):
        sweep.fit_many([one], X, Y, epoch=1, batch_size=32)
    with pytest.raises(TypeError, match=r"runs\[0\] has 'lr'"):
        sweep.fit_many([dict(one, lr=0.1)], X, Y, epochs=1, batch_size=32)
    with pytest.raises(ValueError, match=r"runs\[0\] must be a dict with 'model'"):
        sweep.fit_many([{"model": one["model"]}], X, Y, epochs=1, batch_size=32)


# ---- arguments, progress, import --------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,message", [
    (dict(errors="ignore"), ValueError, "errors must be"),
    (dict(workers=0), ValueError, "workers must be an integer >= 1"),
    (dict(threads=1.5), ValueError, "threads must be an integer >= 1"),
    (dict(workers=2, executor=concurrent.futures.ThreadPoolExecutor(1)), ValueError,
     "either executor or workers"),
    (dict(executor=object()), TypeError, "concurrent.futures.Executor"),
])
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        sweep.run(abs, [1, 2], **kwargs)


def test_fn_must_be_callable_and_no_configs_is_no_runs():
    with pytest.raises(TypeError, match="fn must be callable"):
        sweep.run(3, [1])
    assert sweep.run(abs, []) == []


def test_progress_shows_a_bar_per_finished_run(capsys):
    pytest.importorskip("tqdm")
    assert sweep.run(abs, [-1, -2, -3], workers=2, progress=True) == [1, 2, 3]
    err = capsys.readouterr().err
    assert "sweep" in err and "3/3" in err


def test_import_optlib_starts_no_pool_and_loads_no_dask():
    code = ("import sys, optlib\n"
            "mods = ('multiprocessing', 'concurrent.futures', 'dask', 'distributed', 'tqdm')\n"
            "print(optlib.sweep.run.__module__, [m for m in mods if m in sys.modules])\n")
    assert python_stdout(code) == "optlib.sweep []"


def fused_step(_):
    import numba
    x = np.ones(1 << 18, np.float32)
    optlib.Adam(lr=0.5, fused=True).step(x, np.ones_like(x))
    return numba.get_num_threads(), float(x[0])


def test_forked_workers_run_numba_kernels_after_this_process_used_its_threads():
    numba = pytest.importorskip("numba")
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one core: numba never starts its thread pool")
    x = np.ones(1 << 18, np.float32)
    optlib.Adam(lr=0.5, fused=True).step(x, np.ones_like(x))      # parallel kernel here
    # OpenMP in a forked child of a process that used it would abort the worker
    assert sweep.run(fused_step, [0, 1], workers=2, threads=2) == [(1, 0.5), (1, 0.5)]
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


def test_an_epoch_on_every_core_matches_the_one_thread_epoch_to_float32_rounding():
    # the "every core" epoch of the benchmarks: fit with one BLAS thread per core. A
    # threaded product may split its sums differently, so equality is promised to
    # float32 rounding only (OpenBLAS here splits the output, and the results agree
    # bit for bit)
    pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2048, 256)).astype(np.float32)
    y = rng.integers(0, 10, 2048)
    params = []
    for threads in (1, 2):
        model = MLP([256, 256, 10], seed=0)
        fit(model, optlib.Adam(lr=1e-3), X, y, epochs=1, batch_size=512, progress=False,
            threads=threads, evaluate_train=False)
        params.append(model.params)
    moved = np.max(np.abs(params[0]["W1"] - MLP([256, 256, 10], seed=0).params["W1"]))
    assert moved > 1e-4                        # the epoch changed the weights
    for k in params[0]:
        np.testing.assert_allclose(params[1][k], params[0][k], rtol=1e-4, atol=1e-6,
                                   err_msg=k)
