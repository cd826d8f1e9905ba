"""The fused (numba) path agrees with the numpy code; the fused option's errors; memory per step.

The numpy code is checked against torch.optim and hand-derived steps in
test_optimizers.py; here the kernels are checked against it (same operations,
so equal to float rounding), against hand-derived steps of their own, and the
numpy path's memory use per step is measured with tracemalloc.
"""
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import optlib
from optlib import optimizers as O

numba = pytest.importorskip("numba")
from optlib import fused  # noqa: E402  (needs numba)

CONFIGS = {
    "SGD": (optlib.SGD, dict(lr=0.1)),
    "SGD-wd": (optlib.SGD, dict(lr=0.1, weight_decay=0.1)),
    "Momentum": (optlib.Momentum, dict(lr=0.1)),
    "SGD-damped": (optlib.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    "Nesterov": (optlib.Nesterov, dict(lr=0.1, weight_decay=0.01)),
    "Adagrad": (optlib.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                     initial_accumulator_value=0.2)),
    "RMSprop": (optlib.RMSprop, dict(lr=0.01)),
    "RMSprop-centered": (optlib.RMSprop, dict(lr=0.01, centered=True)),
    "RMSprop-momentum": (optlib.RMSprop, dict(lr=0.01, momentum=0.5)),
    "RMSprop-all": (optlib.RMSprop, dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True,
                                         weight_decay=0.1)),
    "Adadelta": (optlib.Adadelta, dict(lr=1.0, rho=0.8, weight_decay=0.1)),
    "Adam": (optlib.Adam, dict(lr=0.01)),
    "Adam-l2-amsgrad": (optlib.Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "AMSGrad": (optlib.AMSGrad, dict(lr=0.01)),
    "AdamW": (optlib.AdamW, dict(lr=0.01)),
    "AdamW-amsgrad": (optlib.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "Yogi": (optlib.Yogi, dict(lr=0.01)),
}
SHAPES = [(7, 3), (257,), (2, 3, 4)]
STEPS = 8


@pytest.fixture(params=["serial", "parallel"])
def kernel_version(request, monkeypatch):
    """Run every leaf through the one-thread or the all-cores version of the kernels."""
    if request.param == "parallel" and numba.get_num_threads() < 2:
        pytest.skip("one core: the parallel kernels are not used")
    monkeypatch.setattr(fused, "PARALLEL_MIN_ELEMENTS", 10**12 if request.param == "serial" else 0)
    return request.param


def spy_on_update(monkeypatch, owner):
    """Record the sizes of the params that go through ``owner.update(opt, param, grad, state, lr, t)``.

    ``owner`` is an optimizer class (its numpy ``update``: the class whose
    update runs, as AMSGrad and AdamW inherit or extend Adam's) or the
    ``fused`` module (its kernel dispatch).
    """
    calls = []
    original = owner.update

    def spy(opt, param, grad, state, lr, t):
        calls.append(param.size)
        return original(opt, param, grad, state, lr, t)
    monkeypatch.setattr(owner, "update", spy)
    return calls


def gradients(shapes, dtype, seed, k):
    rng = np.random.default_rng([seed, k])
    return [(rng.standard_normal(s) * (1 + k % 3)).astype(dtype) for s in shapes]


def assert_close_to_rounding(actual, expected, dtype, what):
    # equal up to a few units of float rounding, relative to the array's scale
    tol = 8 * np.finfo(dtype).eps * max(1.0, float(np.max(np.abs(expected))))
    err = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))
    assert err <= tol, f"{what}: fused and numpy differ by {err:.3g} > {tol:.3g}"


def run_both(cls, kwargs, dtype, shapes=SHAPES, steps=STEPS, seed=0):
    rng = np.random.default_rng(seed)
    x0 = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ref, fast = [x.copy() for x in x0], [x.copy() for x in x0]
    o_ref, o_fast = cls(**kwargs), cls(**kwargs, fused=True)
    for k in range(steps):
        g = gradients(shapes, dtype, seed, k)
        o_ref.step(ref, g)
        o_fast.step(fast, g)
    return ref, fast, o_ref, o_fast, x0


# ---- agreement with the numpy code -------------------------------------------

@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_float32_kernels_match_the_numpy_code(name, kernel_version, monkeypatch):
    cls, kwargs = CONFIGS[name]
    numpy_calls = spy_on_update(monkeypatch, cls)
    ref, fast, o_ref, o_fast, x0 = run_both(cls, kwargs, np.float32)
    n_numpy_calls = len(numpy_calls)
    assert n_numpy_calls == STEPS * len(SHAPES), "the reference run must use the numpy code"
    for i, (a, b) in enumerate(zip(fast, ref)):
        assert a.dtype == np.float32
        assert_close_to_rounding(a, b, np.float32, f"{name} leaf {i}")
    for leaf in o_ref.state:
        for key in o_ref.state[leaf]:
            assert_close_to_rounding(o_fast.state[leaf][key], o_ref.state[leaf][key],
                                     np.float32, f"{name} state {key} of leaf {leaf}")
    assert o_fast.t == o_ref.t == STEPS
    # the run moved the parameters, so the comparison is not of two unchanged arrays
    assert max(float(np.max(np.abs(a - x))) for a, x in zip(fast, x0)) > 1e-3


@pytest.mark.parametrize("name", ["Adam", "AdamW-amsgrad", "SGD-damped", "RMSprop-all"])
def test_float64_kernels_match_the_numpy_code(name, kernel_version):
    cls, kwargs = CONFIGS[name]
    ref, fast, _, _, _ = run_both(cls, kwargs, np.float64)
    for i, (a, b) in enumerate(zip(fast, ref)):
        assert a.dtype == np.float64
        assert_close_to_rounding(a, b, np.float64, f"{name} leaf {i}")


def test_the_fused_run_does_not_call_the_numpy_update(monkeypatch):
    numpy_calls = spy_on_update(monkeypatch, optlib.Adam)
    params = [np.ones(100, np.float32), np.ones((4, 5), np.float32)]
    optlib.Adam(fused=True).step(params, [np.ones(100, np.float32), np.ones((4, 5), np.float32)])
    assert numpy_calls == []
    assert np.all(params[0] < 1)


@pytest.mark.parametrize("name", ["Adam", "AdamW-amsgrad", "SGD-damped", "RMSprop-all", "Yogi"])
def test_fused_kernels_on_leaves_in_one_buffer_match_the_numpy_code(name, monkeypatch):
    # an MLP keeps its parameters and gradients in one buffer each: one kernel call per step
    from optlib.nn import MLP
    cls, kwargs = CONFIGS[name]
    model, reference = MLP([5, 4, 3], seed=1), MLP([5, 4, 3], seed=1)
    o_fast, o_ref = cls(**kwargs, fused=True), cls(**kwargs)
    kernel_sizes = spy_on_update(monkeypatch, fused)
    rng = np.random.default_rng(0)
    for _ in range(STEPS):
        X, y = rng.standard_normal((8, 5)).astype(np.float32), rng.integers(0, 3, 8)
        o_fast.step(model.params, model.loss_and_grad(X, y)[1])
        o_ref.step(reference.params, reference.loss_and_grad(X, y)[1])
    assert kernel_sizes == [model.n_params] * STEPS
    for key in model.params:
        assert_close_to_rounding(model.params[key], reference.params[key], np.float32, key)
        assert not np.array_equal(model.params[key], MLP([5, 4, 3], seed=1).params[key])


# ---- hand-derived steps, independent of the numpy code --------------------------

def test_fused_adam_first_step_is_lr_times_sign(kernel_version):
    # m1 = (1-b1) g, v1 = (1-b2) g^2  =>  x1 = x0 - lr g / (|g| + eps)
    lr, eps = 0.01, 1e-8
    g = np.array([3.0, -0.5, 1e-3, -200.0])
    x = np.zeros(4)
    optlib.Adam(lr=lr, eps=eps, fused=True).step(x, g)
    np.testing.assert_allclose(x, -lr * g / (np.abs(g) + eps), rtol=1e-14)


def test_fused_momentum_two_steps_by_hand(kernel_version):
    # b1 = g1, x1 = x0 - lr g1;  b2 = mu b1 + g2, x2 = x1 - lr b2
    lr, mu = 0.1, 0.9
    x0, g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 1.0]), np.array([-1.0, 2.0])
    x = x0.copy()
    opt = optlib.Momentum(lr=lr, momentum=mu, fused=True)
    opt.step(x, g1)
    np.testing.assert_allclose(x, x0 - lr * g1, rtol=1e-15)
    opt.step(x, g2)
    np.testing.assert_allclose(x, x0 - lr * g1 - lr * (mu * g1 + g2), rtol=1e-15)


def test_fused_adagrad_two_steps_by_hand():
    lr, eps = 0.5, 1e-10
    g1, g2 = np.array([2.0, -1.0]), np.array([1.0, 3.0])
    x = np.zeros(2)
    opt = optlib.Adagrad(lr=lr, eps=eps, fused=True)
    opt.step(x, g1)
    opt.step(x, g2)
    s1, s2 = g1**2, g1**2 + g2**2
    expected = -lr * g1 / (np.sqrt(s1) + eps) - lr * g2 / (np.sqrt(s2) + eps)
    np.testing.assert_allclose(x, expected, rtol=1e-14)


# ---- what falls back to the numpy code ------------------------------------------

def test_non_contiguous_leaves_use_the_numpy_code(monkeypatch):
    numpy_calls = spy_on_update(monkeypatch, optlib.Adam)
    base = np.random.default_rng(3).standard_normal((6, 10))
    ref = {"w": base.copy()[:, ::2], "c": np.ones(5)}
    fast = {"w": base.copy()[:, ::2], "c": np.ones(5)}
    o_ref, o_fast = optlib.Adam(lr=0.1), optlib.Adam(lr=0.1, fused=True)
    for k in range(3):
        g = {"w": np.full((6, 5), 0.5 + k), "c": np.full(5, -1.0 - k)}
        o_ref.step(ref, g)
        numpy_calls.clear()
        o_fast.step(fast, g)
        assert numpy_calls == [30]                       # only the strided leaf
    np.testing.assert_array_equal(fast["w"], ref["w"])
    np.testing.assert_array_equal(fast["c"], ref["c"])


def test_float16_leaves_use_the_numpy_code(monkeypatch):
    numpy_calls = spy_on_update(monkeypatch, optlib.SGD)
    ref, fast = np.ones(4, np.float16), np.ones(4, np.float16)
    g = np.array([1, 2, 3, 4], np.float16)
    optlib.SGD(lr=0.1, momentum=0.9).step(ref, g)
    optlib.SGD(lr=0.1, momentum=0.9, fused=True).step(fast, g)
    assert len(numpy_calls) == 2
    assert fast.dtype == np.float16
    np.testing.assert_array_equal(fast, ref)


# ---- the fused optimizer keeps the optimizer contract ------------------------------

def test_state_dict_moves_between_fused_and_numpy():
    shapes = [(300,), (4, 5)]
    rng = np.random.default_rng(5)
    x0 = [rng.standard_normal(s) for s in shapes]
    a, b = [x.copy() for x in x0], [x.copy() for x in x0]
    o_fused, o_numpy = optlib.Adam(lr=0.01, fused=True), optlib.Adam(lr=0.01)
    for k in range(3):
        o_fused.step(a, gradients(shapes, np.float64, 5, k))
    resumed = optlib.Adam(lr=0.01)
    resumed.load_state_dict(o_fused.state_dict())
    b = [x.copy() for x in a]
    for k in range(3, 6):
        g = gradients(shapes, np.float64, 5, k)
        o_fused.step(a, g)
        resumed.step(b, g)
    assert resumed.t == o_fused.t == 6
    for x, y in zip(a, b):
        assert_close_to_rounding(x, y, np.float64, "resumed run")
    assert o_numpy.t == 0


def test_non_finite_gradient_raises_before_the_fused_update():
    params = {"a": np.ones(3), "b": np.ones(70_000)}
    grads = {"a": np.ones(3), "b": np.ones(70_000)}
    grads["b"][-1] = np.inf
    opt = optlib.Adam(fused=True)
    with pytest.raises(optlib.DivergenceError, match="'b'"):
        opt.step(params, grads)
    assert opt.t == 0 and opt.state == {}
    assert np.all(params["a"] == 1) and np.all(params["b"] == 1)


def test_repr_shows_fused():
    assert "fused=True" in repr(optlib.Adam(fused=True))
    assert "fused" not in repr(optlib.Adam())


# ---- errors ---------------------------------------------------------------------

def test_array_hyperparameters_are_refused_by_name():
    with pytest.raises(ValueError, match=r"lr is an array of shape \(5, 1\).*fused=False"):
        optlib.SGD(lr=np.full((5, 1), 0.1), fused=True)
    with pytest.raises(ValueError, match=r"betas\[0\] is an array"):
        optlib.Adam(betas=(np.array([[0.9], [0.8]]), 0.999), fused=True)
    with pytest.raises(ValueError, match=r"weight_decay is an array"):
        optlib.AdamW(weight_decay=np.array([0.1, 0.2]), fused=True)


def test_a_schedule_returning_an_array_is_refused_before_any_change():
    opt = optlib.Adam(lr=lambda k: np.full((3, 1), 0.1), fused=True)
    params = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"lr schedule returned an array of shape \(3, 1\)"):
        opt.step(params, np.ones((3, 2)))
    assert opt.t == 0 and np.all(params == 1)


def test_scalar_schedules_work_with_fused():
    lrs = []
    ref, fast = np.ones(5), np.ones(5)
    o_ref = optlib.SGD(lr=lambda k: 0.1 / (k + 1))
    o_fast = optlib.SGD(lr=lambda k: lrs.append(k) or 0.1 / (k + 1), fused=True)
    for _ in range(3):
        o_ref.step(ref, np.ones(5))
        o_fast.step(fast, np.ones(5))
    assert lrs == [0, 1, 2]
    np.testing.assert_array_equal(fast, ref)


def test_a_subclass_has_no_kernel():
    class SignSGD(O.Optimizer):
        def update(self, param, grad, state, lr, t):
            param -= lr * np.sign(grad)

    with pytest.raises(ValueError, match="SignSGD has no fused kernel"):
        SignSGD(lr=0.1, fused=True)

    class MyAdam(optlib.Adam):       # may change the rule: no kernel either
        pass

    with pytest.raises(ValueError, match="MyAdam has no fused kernel"):
        MyAdam(fused=True)


def test_a_subclass_that_names_a_kernel_gets_it(monkeypatch):
    class QuietAdam(optlib.Adam):    # the same rule, other defaults: opts in by name
        fused_kernel = "adam"

        def __init__(self, lr=3e-3, **kwargs):
            super().__init__(lr, **kwargs)

    calls = spy_on_update(monkeypatch, fused)
    x_fused, x_numpy = np.ones(300, np.float32), np.ones(300, np.float32)
    o_fused, o_numpy = QuietAdam(fused=True), optlib.Adam(lr=3e-3)
    for k in range(3):
        g = gradients([(300,)], np.float32, 9, k)[0]
        o_fused.step(x_fused, g)
        o_numpy.step(x_numpy, g)
    assert calls == [300] * 3
    assert_close_to_rounding(x_fused, x_numpy, np.float32, "QuietAdam")
    assert fused.has_kernel(QuietAdam) and not fused.has_kernel(O.Optimizer)
    assert set(fused.UPDATES) == {cls.__dict__["fused_kernel"] for cls in (
        O.SGD, O.Momentum, O.Nesterov, O.Adagrad, O.RMSprop, O.Adadelta, O.Adam, O.AMSGrad,
        O.AdamW, O.Yogi)}


def test_missing_numba_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)          # import numba fails
    monkeypatch.delitem(sys.modules, "optlib.fused")
    monkeypatch.delattr(optlib, "fused", raising=False)
    with pytest.raises(ImportError, match=r"pip install optlib\[fast\]"):
        optlib.Adam(fused=True)
    optlib.Adam()                                             # the numpy path needs no numba


def test_import_optlib_does_not_import_numba():
    code = textwrap.dedent("""
        import sys, numpy as np, optlib
        optlib.Adam().step(np.ones(3), np.ones(3))
        assert "numba" not in sys.modules, "import optlib imported numba"
        assert "optlib.fused" not in sys.modules
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_a_writable_cache_the_kernels_still_compile(monkeypatch):
    real_njit = numba.njit

    def njit(*args, cache=False, **kwargs):
        if cache:
            raise RuntimeError("cannot cache function: no locator available")
        return real_njit(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", njit)

    def double(a):
        for i in range(a.size):
            a[i] *= 2

    with pytest.warns(UserWarning, match="NUMBA_CACHE_DIR"):
        kernel = fused._jit(double, parallel=False)
    a = np.arange(3.0)
    kernel(a)
    np.testing.assert_array_equal(a, [0.0, 2.0, 4.0])


def test_serial_and_parallel_versions_are_cached_under_different_names():
    kernel = fused._kernel("adam")
    assert kernel.serial.py_func.__qualname__ == kernel.parallel.py_func.__qualname__ + "_serial"
    assert kernel.parallel.targetoptions.get("parallel")
    assert not kernel.serial.targetoptions.get("parallel")


# ---- memory: no allocation proportional to the parameters after the first step -------

N_PARAMS = 2_000_000


def peak_traced_bytes(fn):
    """Peak bytes allocated (numpy reports its buffers to tracemalloc) while fn runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def big_leaves(dtype=np.float32):
    rng = np.random.default_rng(0)
    sizes = [N_PARAMS // 4] * 4
    params = [rng.standard_normal(n).astype(dtype) for n in sizes]
    grads = [rng.standard_normal(n).astype(dtype) for n in sizes]
    return params, grads


@pytest.mark.parametrize("make", [
    lambda: optlib.Adam(), lambda: optlib.SGD(momentum=0.9), lambda: optlib.RMSprop(),
    lambda: optlib.Adagrad(), lambda: optlib.Adam(fused=True), lambda: optlib.AdamW(amsgrad=True),
], ids=["Adam", "SGD-momentum", "RMSprop", "Adagrad", "Adam-fused", "AdamW-amsgrad"])
def test_a_step_allocates_nothing_proportional_to_the_parameters(make):
    params, grads = big_leaves()
    param_bytes = sum(p.nbytes for p in params)
    opt = make()
    opt.step(params, grads)                  # creates the state and the scratch buffers
    peak = peak_traced_bytes(lambda: opt.step(params, grads))
    # at most a chunk-sized scratch buffer may appear; far below one leaf
    assert peak < 0.02 * param_bytes, f"a step allocated {peak} bytes"


def test_the_allocation_measurement_sees_numpy_temporaries():
    # the tutorial style allocates a temporary per sub-expression: the instrument must see it
    params, grads = big_leaves()
    param_bytes = sum(p.nbytes for p in params)
    m = [np.zeros_like(p) for p in params]

    def naive():
        for i, (p, g) in enumerate(zip(params, grads)):
            m[i] = 0.9 * m[i] + 0.1 * g
            p -= 1e-3 * m[i]
    naive()
    assert peak_traced_bytes(naive) > 0.5 * param_bytes / len(params)


# ---- the finiteness check (numpy pieces and the compiled pass) --------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, -np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 65_535, 65_536, 199_999])
@pytest.mark.parametrize("fused_flag", [False, True])
def test_a_non_finite_value_anywhere_in_a_large_gradient_stops_the_step(dtype, bad, where,
                                                                       fused_flag, monkeypatch):
    # 200,000 elements: checked piecewise by numpy, in parallel by the kernel
    monkeypatch.setattr(fused, "PARALLEL_MIN_ELEMENTS", 1000)
    params = {"w": np.ones(200_000, dtype)}
    grads = {"w": np.full(200_000, 3e38 if dtype == np.float32 else 1e308, dtype)}
    grads["w"][where] = bad
    opt = optlib.SGD(lr=0.0, fused=fused_flag)
    with pytest.raises(optlib.DivergenceError, match="'w'"):
        opt.step(params, grads)
    assert opt.t == 0 and np.all(params["w"] == 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_finite_gradients_are_finite(dtype):
    # a sum of these would overflow; the check must not call them infinite
    big = np.finfo(dtype).max
    g = np.full(300_000, big, dtype)
    g[::2] = -big
    assert fused.is_finite(g) is True
    assert O._is_finite(g) is True
    params = np.zeros(300_000, dtype)
    optlib.SGD(lr=0.0, fused=True).step(params, g)
    optlib.SGD(lr=0.0).step(params, g)


def test_the_compiled_check_declines_what_it_cannot_read():
    assert fused.is_finite(np.ones((4, 6))[:, ::2]) is None          # not contiguous
    assert fused.is_finite(np.ones(5, np.float16)) is None           # not float32/64
    assert fused.is_finite(np.array([1.0, np.nan], np.float32)) is False
    assert fused.is_finite(np.zeros(0)) is True
    # a NaN with its sign bit set, and the largest and smallest finite values
    assert fused.is_finite(np.copysign(np.float32(np.nan), np.float32(-1)).reshape(1)) is False
    tiny = np.array([np.finfo(np.float64).smallest_subnormal, -np.finfo(np.float64).max])
    assert fused.is_finite(tiny) is True
