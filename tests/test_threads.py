"""optlib.threads: the BLAS thread policy and the context manager that applies it."""
import os
import sys
import warnings

import numpy as np
import pytest

from optlib import threads
from optlib.nn import MLP
from optlib.threads import (
    FLOPS_PER_THREAD,
    available_cores,
    blas_info,
    blas_threads,
    threads_for_flops,
    threads_for_model,
)


def blas_thread_counts():
    """Threads of every BLAS library in this process, read independently through threadpoolctl."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    counts = [entry["num_threads"] for entry in threadpoolctl.threadpool_info()
              if entry["user_api"] == "blas"]
    if not counts:
        pytest.skip("no BLAS library that threadpoolctl can see")
    return counts


# ---- the policy ---------------------------------------------------------------

def test_small_products_get_one_thread():
    assert threads_for_flops(0) == 1
    assert threads_for_flops(FLOPS_PER_THREAD - 1, max_threads=8) == 1


def test_threads_grow_with_the_work_and_stop_at_the_cap():
    assert threads_for_flops(2 * FLOPS_PER_THREAD, max_threads=8) == 2
    assert threads_for_flops(3.5 * FLOPS_PER_THREAD, max_threads=8) == 3
    assert threads_for_flops(100 * FLOPS_PER_THREAD, max_threads=8) == 8
    assert threads_for_flops(100 * FLOPS_PER_THREAD, max_threads=1) == 1


def test_default_cap_is_the_available_cores(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 3)
    assert threads_for_flops(1e15) == 3


def test_available_cores_is_a_positive_count():
    n = available_cores()
    assert isinstance(n, int) and 1 <= n <= (os.cpu_count() or n)


@pytest.mark.parametrize("flops", [-1, float("nan"), "many", None, True])
def test_bad_flops_is_rejected_by_name(flops):
    with pytest.raises(ValueError, match="flops"):
        threads_for_flops(flops)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_max_threads_is_rejected_by_name(bad):
    with pytest.raises(ValueError, match="max_threads"):
        threads_for_flops(1e9, max_threads=bad)


def test_the_book_mlp_with_batch_128_runs_on_one_thread():
    # 2 * 128 * 784 * 100 = 20 MFLOP: the case that ran several times slower on two threads
    assert threads_for_model(MLP([784, 100, 10]), 128, max_threads=16) == 1


def test_model_policy_uses_its_largest_product(monkeypatch):
    model = MLP([784, 2000, 10])
    largest = 2 * 1024 * 784 * 2000
    assert threads_for_model(model, 1024, max_threads=64) == largest // FLOPS_PER_THREAD
    # the cap still applies, and so does the default cap (the available cores)
    assert threads_for_model(model, 1024, max_threads=2) == 2
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    assert threads_for_model(model, 1024) == 4


def test_model_without_matrices_gets_one_thread():
    class Scalars:
        params = {"a": np.zeros(3), "b": np.zeros(())}
    assert threads_for_model(Scalars(), 10**6, max_threads=8) == 1


def test_model_without_params_is_a_type_error():
    with pytest.raises(TypeError, match="params"):
        threads_for_model(object(), 128)


@pytest.mark.parametrize("bad", [0, -1, 2.5, None])
def test_bad_batch_size_is_rejected_by_name(bad):
    with pytest.raises(ValueError, match="batch_size"):
        threads_for_model(MLP([4, 3]), bad)


# ---- the context manager ---------------------------------------------------------

def test_blas_threads_sets_and_restores_the_limit():
    before = blas_thread_counts()
    with blas_threads(1):
        assert set(blas_thread_counts()) == {1}
    assert blas_thread_counts() == before


def test_blas_threads_restores_the_limit_after_an_exception():
    before = blas_thread_counts()
    with pytest.raises(KeyError):
        with blas_threads(1):
            raise KeyError("boom")
    assert blas_thread_counts() == before


def test_blas_threads_nests():
    before = blas_thread_counts()
    with blas_threads(2):
        outer = blas_thread_counts()
        with blas_threads(1):
            assert set(blas_thread_counts()) == {1}
        assert blas_thread_counts() == outer
    assert blas_thread_counts() == before


def test_blas_threads_none_changes_nothing():
    before = blas_thread_counts()
    with blas_threads(1):
        with blas_threads(None):
            assert set(blas_thread_counts()) == {1}
    assert blas_thread_counts() == before


def test_products_are_unchanged_by_the_thread_count():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((300, 200)), rng.standard_normal((200, 100))
    with blas_threads(1):
        one = A @ B
    np.testing.assert_allclose(one, np.einsum("ik,kj->ij", A, B), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_thread_count_is_rejected_by_name(bad):
    with pytest.raises(ValueError, match=r"\bn must be an integer >= 1"):
        with blas_threads(bad):
            pass


def test_without_threadpoolctl_the_block_runs_and_warns_once(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)    # import fails
    monkeypatch.setattr(threads, "_warned_missing", False)
    ran = []
    with pytest.warns(UserWarning, match=r"pip install optlib\[threads\]"):
        with blas_threads(1):
            ran.append(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                        # a second warning would fail
        with blas_threads(1):
            ran.append(2)
    assert ran == [1, 2]
    assert blas_info() == []


def test_blas_info_describes_numpys_blas():
    info = blas_info()
    blas_thread_counts()                                      # skips without threadpoolctl
    assert info and all(entry["user_api"] == "blas" for entry in info)
    assert all(entry["num_threads"] >= 1 for entry in info)


# ---- the threads= argument of fit ---------------------------------------------------

def test_resolve_threads_auto_applies_the_policy(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    assert threads.resolve_threads("auto", MLP([784, 100, 10]), 128) == 1
    assert threads.resolve_threads("auto", MLP([784, 2000, 10]), 8192) == 4


def test_resolve_threads_passes_counts_and_none_through():
    assert threads.resolve_threads(3, None, 1) == 3
    assert threads.resolve_threads(np.int64(2), None, 1) == 2
    assert threads.resolve_threads(None, None, 1) is None


@pytest.mark.parametrize("bad", ["all", 0, -1, 2.0, True])
def test_resolve_threads_rejects_other_values_by_name(bad):
    with pytest.raises(ValueError, match='threads must be "auto", an integer >= 1 or None'):
        threads.resolve_threads(bad, MLP([4, 3]), 8)
