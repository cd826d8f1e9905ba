"""The optimizer contract of DESIGN.md, one clause at a time, for every optimizer.

- params/grads as ndarray, dict, list or tuple; state per leaf; updates in place;
- ``lr`` a number, an array or a schedule ``lr(k)`` with k = updates done before;
- array-valued hyperparameters broadcasting against the parameters;
- ``state_dict`` / ``load_state_dict`` with bit-identical resumption;
- ``DivergenceError`` (a FloatingPointError) before anything changes;
- ``ValueError`` naming the argument and its range, or the leaf; ``TypeError``
  for non-float or non-array parameters;
- float32 stays float32; the caller's gradients are never written;
- the chunked update equals the whole-array update bit for bit;
- a subclass of a few lines gets all of the above.

Numbers are checked against independent computations (separate runs, closed
forms); the per-optimizer numerics live in test_optimizers.py.
"""
from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import optlib
from optlib import optimizers as O

# name -> (class, options); every option of every optimizer is on in at least one
CONFIGS = {
    "SGD": (optlib.SGD, {}),
    "SGD-wd": (optlib.SGD, dict(weight_decay=0.1)),
    "SGD-momentum-dampening-wd": (optlib.SGD, dict(momentum=0.9, dampening=0.3,
                                                   weight_decay=0.1)),
    "SGD-nesterov-wd": (optlib.SGD, dict(momentum=0.9, nesterov=True, weight_decay=0.1)),
    "Momentum": (optlib.Momentum, {}),
    "Nesterov": (optlib.Nesterov, dict(weight_decay=0.1)),
    "Adagrad": (optlib.Adagrad, dict(lr_decay=0.1, weight_decay=0.1,
                                     initial_accumulator_value=0.1)),
    "RMSprop": (optlib.RMSprop, {}),
    "RMSprop-centered-momentum-wd": (optlib.RMSprop, dict(momentum=0.5, centered=True,
                                                          weight_decay=0.1)),
    "Adadelta": (optlib.Adadelta, dict(weight_decay=0.1)),
    "Adam": (optlib.Adam, dict(weight_decay=0.1)),
    "Adam-amsgrad": (optlib.Adam, dict(amsgrad=True)),
    "AMSGrad": (optlib.AMSGrad, dict(weight_decay=0.1)),
    "AdamW": (optlib.AdamW, {}),
    "AdamW-amsgrad": (optlib.AdamW, dict(weight_decay=0.1, amsgrad=True)),
    "Yogi": (optlib.Yogi, {}),
}
NAMES = sorted(CONFIGS)
CLASSES = [optlib.SGD, optlib.Momentum, optlib.Nesterov, optlib.Adagrad, optlib.RMSprop,
           optlib.Adadelta, optlib.Adam, optlib.AMSGrad, optlib.AdamW, optlib.Yogi]


def make(name, **overrides):
    cls, options = CONFIGS[name]
    return cls(**{"lr": 0.05, **options, **overrides})


def leaves(seed=0, dtype=np.float64):
    """Three leaves of different shapes, including a 0-d one."""
    rng = np.random.default_rng(seed)
    return {"a": rng.standard_normal(3).astype(dtype),
            "b": rng.standard_normal((2, 3)).astype(dtype),
            "c": np.array(rng.standard_normal(), dtype=dtype)}


def grads_like(params, k, seed=0):
    """Gradients that depend on the params: 0.5*(x - 0.3) + noise_k."""
    out = {}
    for i, (n, x) in enumerate(params.items()):
        noise = np.random.default_rng([seed, k, i]).standard_normal(x.shape)
        out[n] = np.asarray(0.5 * (x - 0.3) + 0.1 * noise, dtype=x.dtype)
    return out


def run(opt, params, steps, start=0, seed=0):
    for k in range(start, start + steps):
        opt.step(params, grads_like(params, k, seed))
    return params


def copy_tree(params):
    return {n: x.copy() for n, x in params.items()}


def assert_trees_equal(a, b):
    assert list(a) == list(b)
    for n in a:
        assert a[n].dtype == b[n].dtype, n
        np.testing.assert_array_equal(a[n], b[n], err_msg=f"leaf {n}")


def assert_state_equal(sd1, sd2):
    assert sd1["optimizer"] == sd2["optimizer"]
    assert sd1["t"] == sd2["t"]
    assert sd1["state"].keys() == sd2["state"].keys()
    for leaf in sd1["state"]:
        assert sd1["state"][leaf].keys() == sd2["state"][leaf].keys()
        for k in sd1["state"][leaf]:
            np.testing.assert_array_equal(sd1["state"][leaf][k], sd2["state"][leaf][k])


# ============================================================================
# structures
# ============================================================================

@pytest.mark.parametrize("name", NAMES)
def test_dict_list_tuple_and_single_arrays_give_the_same_update(name):
    ref = leaves()
    as_dict = copy_tree(ref)
    as_list = [x.copy() for x in ref.values()]
    as_tuple = tuple(x.copy() for x in ref.values())
    alone = copy_tree(ref)
    opts = [make(name) for _ in range(3)]
    opts_alone = {n: make(name) for n in ref}
    for k in range(6):
        g = grads_like(as_dict, k)
        assert opts[0].step(as_dict, g) is None
        opts[1].step(as_list, [x.copy() for x in g.values()])
        opts[2].step(as_tuple, list(g.values()))       # tuple params, list grads
        for n in ref:
            opts_alone[n].step(alone[n], g[n])
    for i, n in enumerate(ref):
        np.testing.assert_array_equal(as_list[i], as_dict[n])
        np.testing.assert_array_equal(as_tuple[i], as_dict[n])
        np.testing.assert_array_equal(alone[n], as_dict[n])
    assert not np.array_equal(as_dict["b"], ref["b"])     # it moved
    assert [o.t for o in opts] == [6, 6, 6]


def test_grads_dict_may_list_keys_in_another_order():
    p1, p2 = leaves(), leaves()
    o1, o2 = optlib.Adam(lr=0.1), optlib.Adam(lr=0.1)
    for k in range(3):
        g = grads_like(p1, k)
        o1.step(p1, g)
        o2.step(p2, dict(reversed(list(grads_like(p2, k).items()))))
    assert_trees_equal(p1, p2)


def test_params_are_updated_in_place():
    x = np.ones(3)
    view = x[:]
    optlib.SGD(lr=0.5).step(x, np.ones(3))
    np.testing.assert_array_equal(view, [0.5, 0.5, 0.5])


# ============================================================================
# learning rate: number or schedule
# ============================================================================

def test_schedule_is_called_once_per_step_with_k_updates_done_before():
    calls = []

    def schedule(k):
        calls.append(k)
        return 0.1 / (k + 1)

    params = leaves()
    opt = optlib.Adam(lr=schedule)
    run(opt, params, 4)
    assert calls == [0, 1, 2, 3]
    sd = opt.state_dict()
    calls.clear()
    resumed = optlib.Adam(lr=schedule)
    resumed.load_state_dict(sd)
    resumed.step(params, grads_like(params, 4))
    assert calls == [4]


def test_sgd_schedule_closed_form():
    # x_T = x_0 - sum_k lr(k) g_k, with lr(k) = 0.1 * 0.5^k
    x = np.array([1.0, -2.0])
    g = np.array([1.0, 3.0])
    opt = optlib.SGD(lr=lambda k: 0.1 * 0.5**k)
    for _ in range(5):
        opt.step(x, g)
    total = sum(0.1 * 0.5**k for k in range(5))
    np.testing.assert_allclose(x, np.array([1.0, -2.0]) - total * g, rtol=1e-14)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", [0.05, np.float64(0.05), np.array(0.05)],
                         ids=["float", "np.float64", "0-d array"])
def test_constant_schedule_equals_constant_lr(name, value):
    p1, p2 = leaves(), leaves()
    run(make(name, lr=0.05), p1, 5)
    run(make(name, lr=lambda k: value), p2, 5)
    assert_trees_equal(p1, p2)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_schedule_with_invalid_value_raises_at_step_naming_schedule_and_k(bad):
    params = leaves()
    opt = optlib.Adam(lr=lambda k: 0.1 if k < 3 else bad)
    run(opt, params, 3)
    before, sd = copy_tree(params), opt.state_dict()
    with pytest.raises(ValueError, match=r"schedule.*k\s*=\s*3"):
        opt.step(params, grads_like(params, 3))
    assert_trees_equal(params, before)
    assert_state_equal(opt.state_dict(), sd)
    assert opt.t == 3


# ============================================================================
# array-valued hyperparameters
# ============================================================================

def row_problem(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)), rng.uniform(0.5, 2.0, (n, 2))


def run_rows_together_and_alone(make_batched, make_row, n, steps=8, dtype=np.float64):
    x0, curv = row_problem(n)
    x0, curv = x0.astype(dtype), curv.astype(dtype)
    batched = x0.copy()
    opt = make_batched()
    rows = [x0[i].copy() for i in range(n)]
    row_opts = [make_row(i) for i in range(n)]
    for k in range(steps):
        opt.step(batched, np.asarray(curv * (batched - 0.3), dtype=dtype))
        for i in range(n):
            row_opts[i].step(rows[i], np.asarray(curv[i] * (rows[i] - 0.3), dtype=dtype))
    return batched, np.stack(rows), x0


@pytest.mark.parametrize("name", NAMES)
def test_lr_array_of_shape_n_1_equals_n_separate_runs(name):
    lrs = np.linspace(0.001, 0.1, 50).reshape(50, 1)
    batched, rows, x0 = run_rows_together_and_alone(
        lambda: make(name, lr=lrs), lambda i: make(name, lr=float(lrs[i, 0])), 50)
    np.testing.assert_array_equal(batched, rows)
    assert not np.array_equal(rows[0] - x0[0], (rows[-1] - x0[-1]))


@pytest.mark.parametrize("name", ["SGD-momentum-dampening-wd", "Adagrad", "Adam", "Yogi"])
def test_elementwise_lr_array_equals_separate_runs(name):
    lrs = np.random.default_rng(5).uniform(0.001, 0.1, (6, 2))
    batched, rows, _ = run_rows_together_and_alone(
        lambda: make(name, lr=lrs), lambda i: make(name, lr=lrs[i]), 6)
    np.testing.assert_array_equal(batched, rows)


# (class, options, hyperparameter, one value per row)
ARRAY_HYPERS = [
    (optlib.SGD, dict(momentum=0.9), "dampening", [0.0, 0.3, 1.0]),
    (optlib.SGD, dict(momentum=0.9), "weight_decay", [0.0, 0.1, 0.5]),
    (optlib.SGD, {}, "momentum", [0.0, 0.5, 0.9, 0.99]),
    (optlib.Momentum, {}, "momentum", [0.0, 0.5, 0.9, 0.99]),
    (optlib.Nesterov, {}, "momentum", [0.5, 0.9, 0.99]),
    (optlib.Adagrad, {}, "lr_decay", [0.0, 0.1, 1.0]),
    (optlib.Adagrad, {}, "initial_accumulator_value", [0.0, 0.1, 1.0]),
    (optlib.Adagrad, {}, "eps", [1e-10, 1e-3, 0.1]),
    (optlib.Adagrad, {}, "weight_decay", [0.0, 0.1]),
    (optlib.RMSprop, {}, "alpha", [0.5, 0.9, 0.99]),
    (optlib.RMSprop, dict(centered=True), "momentum", [0.0, 0.5, 0.9]),
    (optlib.RMSprop, dict(momentum=0.5), "eps", [1e-8, 1e-2]),
    (optlib.Adadelta, {}, "rho", [0.5, 0.9, 0.99]),
    (optlib.Adadelta, {}, "eps", [1e-6, 1e-2]),
    (optlib.Adam, {}, "betas", [(0.0, 0.9), (0.5, 0.99), (0.9, 0.999)]),
    (optlib.Adam, dict(amsgrad=True), "weight_decay", [0.0, 0.1, 0.5]),
    (optlib.AMSGrad, {}, "betas", [(0.0, 0.9), (0.5, 0.99), (0.9, 0.999)]),
    (optlib.AdamW, {}, "weight_decay", [0.0, 0.01, 0.5]),
    (optlib.AdamW, dict(amsgrad=True), "betas", [(0.5, 0.99), (0.9, 0.999)]),
    (optlib.Yogi, {}, "betas", [(0.0, 0.9), (0.5, 0.99), (0.9, 0.999)]),
    (optlib.Yogi, {}, "initial_accumulator_value", [1e-6, 0.1, 1.0]),
    (optlib.Yogi, {}, "eps", [1e-3, 1e-8]),
]
ARRAY_IDS = [f"{c.__name__}-{h}-{'-'.join(o)}" for c, o, h, _ in ARRAY_HYPERS]


def batched_kwargs(options, hyper, values, lr=0.05):
    """Options with ``hyper`` as an (n, 1) array (betas: a pair of (n, 1) arrays)."""
    if hyper == "betas":
        b = np.array(values)
        value = (b[:, :1].copy(), b[:, 1:].copy())
    else:
        value = np.array(values, dtype=np.float64).reshape(-1, 1)
    return {"lr": lr, **options, hyper: value}


@pytest.mark.parametrize("cls,options,hyper,values", ARRAY_HYPERS, ids=ARRAY_IDS)
def test_array_hyperparameter_equals_separate_runs(cls, options, hyper, values):
    n = len(values)
    batched, rows, _ = run_rows_together_and_alone(
        lambda: cls(**batched_kwargs(options, hyper, values)),
        lambda i: cls(**{"lr": 0.05, **options, hyper: values[i]}), n, steps=10)
    if hyper == "betas":
        # beta**t of an array and of a float may round differently in the last bit
        np.testing.assert_allclose(batched, rows, rtol=1e-13, atol=0)
    else:
        np.testing.assert_array_equal(batched, rows)
    assert not np.allclose(rows[0], rows[-1])


@pytest.mark.parametrize("hyper", ["lr", "weight_decay"])
def test_hyperparameter_that_does_not_broadcast_raises_naming_it_and_the_leaf(hyper):
    opt = optlib.SGD(**{"lr": 0.1, hyper: np.full((4, 1), 0.1)})
    params = {"w": np.ones((4, 2)), "bias": np.ones(3)}
    before = copy_tree(params)
    with pytest.raises(ValueError, match=rf"{hyper}.*'bias'|'bias'.*{hyper}"):
        opt.step(params, {k: np.ones_like(v) for k, v in params.items()})
    assert_trees_equal(params, before)
    assert opt.t == 0
    with pytest.raises(ValueError, match=hyper):
        # broadcasting must not enlarge the parameter
        optlib.SGD(**{"lr": 0.1, hyper: np.full((3, 4, 1), 0.1)}).step(
            np.ones((4, 2)), np.ones((4, 2)))


def test_lr_array_with_a_negative_entry_is_rejected():
    with pytest.raises(ValueError, match=r"lr.*-0\.2"):
        optlib.Adam(lr=np.array([[0.1], [-0.2]]))


# ============================================================================
# state_dict / load_state_dict
# ============================================================================

def is_plain(obj):
    if isinstance(obj, dict):
        return all(isinstance(k, str) and is_plain(v) for k, v in obj.items())
    return isinstance(obj, (str, int, float, np.ndarray))


@pytest.mark.parametrize("schedule", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_resume_from_state_dict_is_bit_identical(name, schedule):
    lr = (lambda k: 0.05 / (1 + 0.3 * k)) if schedule else 0.05
    params = leaves()
    opt = make(name, lr=lr)
    run(opt, params, 10)
    saved, at_save = opt.state_dict(), copy_tree(params)
    assert is_plain(saved) and saved["t"] == 10 and saved["optimizer"] == type(opt).__name__
    run(opt, params, 10, start=10)
    resumed_params = copy_tree(at_save)
    resumed = make(name, lr=lr)
    resumed.load_state_dict(saved)
    assert resumed.t == 10
    run(resumed, resumed_params, 10, start=10)
    assert_trees_equal(resumed_params, params)
    assert_state_equal(resumed.state_dict(), opt.state_dict())


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_arrays_are_copies(name):
    p1, p2 = leaves(), leaves()
    o1, o2 = make(name), make(name)
    run(o1, p1, 3)
    run(o2, p2, 3)
    # mutating what state_dict() returned must not reach o1
    sd1 = o1.state_dict()
    for s in sd1["state"].values():
        for arr in s.values():
            arr[...] = 123.0
    sd1["t"] = 99
    # mutating the dict after load_state_dict must not reach the loader
    sd2 = o2.state_dict()
    o3, p3 = make(name), copy_tree(p2)
    o3.load_state_dict(sd2)
    for s in sd2["state"].values():
        for arr in s.values():
            arr[...] = -7.0
    for opt, p in [(o1, p1), (o2, p2), (o3, p3)]:
        run(opt, p, 3, start=3)
    assert_trees_equal(p1, p2)
    assert_trees_equal(p3, p2)
    assert o1.t == 6 and o3.t == 6


@pytest.mark.parametrize("cls,options,hyper,values", ARRAY_HYPERS, ids=ARRAY_IDS)
def test_state_dict_roundtrip_with_array_hyperparameters(cls, options, hyper, values):
    n = len(values)
    x0, _ = row_problem(n)
    params = x0.copy()
    kwargs = batched_kwargs(options, hyper, values, lr=np.linspace(0.01, 0.1, n)[:, None])
    opt = cls(**kwargs)
    for k in range(3):
        opt.step(params, params - 0.3)
    resumed_params = params.copy()
    resumed = cls(**kwargs)
    resumed.load_state_dict(opt.state_dict())
    for k in range(3):
        opt.step(params, params - 0.3)
        resumed.step(resumed_params, resumed_params - 0.3)
    np.testing.assert_array_equal(resumed_params, params)


@pytest.mark.parametrize("source,target", [
    (optlib.Adam, optlib.AdamW), (optlib.Adam, optlib.AMSGrad), (optlib.SGD, optlib.Momentum),
    (optlib.Yogi, optlib.Adam), (optlib.RMSprop, optlib.Adagrad), (optlib.Adadelta, optlib.SGD),
])
def test_loading_into_another_optimizer_class_raises(source, target):
    params = leaves()
    src = source(lr=0.01)
    run(src, params, 2)
    dst = target(lr=0.01)
    with pytest.raises(ValueError, match=rf"\b{source.__name__}\b.*\b{target.__name__}\b"):
        dst.load_state_dict(src.state_dict())
    assert dst.t == 0 and dst.state_dict()["state"] == {}


def adam_state_dict():
    params = leaves()
    opt = optlib.Adam(lr=0.01)
    run(opt, params, 2)
    return opt.state_dict()


@pytest.mark.parametrize("missing", ["optimizer", "t", "state"])
def test_state_dict_without_a_top_level_key_raises(missing):
    sd = adam_state_dict()
    del sd[missing]
    with pytest.raises(ValueError, match=missing):
        optlib.Adam().load_state_dict(sd)


def test_state_dict_with_wrong_state_arrays_raises_naming_the_leaf():
    sd = adam_state_dict()
    del sd["state"]["b"]["exp_avg_sq"]
    opt = optlib.Adam()
    with pytest.raises(ValueError, match=r"'b'.*exp_avg_sq"):
        opt.load_state_dict(sd)
    assert opt.t == 0 and opt.state_dict()["state"] == {}   # nothing half-loaded
    sd = adam_state_dict()
    sd["state"]["a"]["velocity"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"'a'.*velocity"):
        optlib.Adam().load_state_dict(sd)
    # Adam without amsgrad has no max_exp_avg_sq: options must match too
    with pytest.raises(ValueError, match="max_exp_avg_sq"):
        optlib.Adam(amsgrad=True).load_state_dict(adam_state_dict())
    params = leaves()
    sgd = optlib.SGD(lr=0.1)
    run(sgd, params, 2)
    with pytest.raises(ValueError, match="momentum_buffer"):
        optlib.SGD(lr=0.1, momentum=0.9).load_state_dict(sgd.state_dict())


@pytest.mark.parametrize("t", [-1, 1.5, True, "3"])
def test_state_dict_with_invalid_t_raises(t):
    sd = adam_state_dict()
    sd["t"] = t
    with pytest.raises(ValueError, match=r"\bt\b"):
        optlib.Adam().load_state_dict(sd)


def test_state_dict_that_is_not_a_dict_raises():
    with pytest.raises(ValueError, match="state_dict"):
        optlib.Adam().load_state_dict([("t", 1)])


@pytest.mark.parametrize("state", [[], [("a", {})], "exp_avg", {"a": 3.0}],
                         ids=["list", "list of pairs", "str", "leaf not a dict"])
def test_state_dict_with_malformed_state_raises_value_error(state):
    sd = adam_state_dict()
    sd["state"] = state
    opt = optlib.Adam()
    with pytest.raises(ValueError, match="state"):
        opt.load_state_dict(sd)
    assert opt.t == 0


STATEFUL = [n for n in NAMES if n not in ("SGD", "SGD-wd")]   # plain SGD keeps no arrays


@pytest.mark.parametrize("name", STATEFUL)
def test_loaded_state_for_other_shapes_raises_at_step_before_any_change(name):
    src = make(name)
    run(src, {"w": np.ones(3), "v": np.ones(2)}, 2)
    assert src.state_dict()["state"]["w"]
    opt = make(name)
    opt.load_state_dict(src.state_dict())
    params = {"w": np.ones(4), "v": np.ones(2)}
    before = copy_tree(params)
    with pytest.raises(ValueError, match="'w'"):
        opt.step(params, {"w": np.ones(4), "v": np.ones(2)})
    assert_trees_equal(params, before)
    assert opt.t == 2
    assert_state_equal(opt.state_dict(), src.state_dict())
    # a different dtype is another set of parameters too
    params32 = {"w": np.ones(3, np.float32), "v": np.ones(2, np.float32)}
    with pytest.raises(ValueError, match="'w'|'v'"):
        opt.step(params32, copy_tree(params32))
    np.testing.assert_array_equal(params32["w"], 1.0)
    assert opt.t == 2


def test_loaded_state_for_other_leaf_names_raises_at_step():
    src = optlib.Adam()
    run(src, {"w": np.ones(3)}, 2)
    opt = optlib.Adam()
    opt.load_state_dict(src.state_dict())
    params = {"u": np.ones(3)}
    with pytest.raises(ValueError, match="'u'|'w'"):
        opt.step(params, {"u": np.ones(3)})
    np.testing.assert_array_equal(params["u"], 1.0)
    assert opt.t == 2


# ============================================================================
# DivergenceError and check_finite
# ============================================================================

def test_divergence_error_is_a_floating_point_error():
    assert issubclass(optlib.DivergenceError, FloatingPointError)
    assert optlib.DivergenceError is O.DivergenceError


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "+inf", "-inf"])
@pytest.mark.parametrize("name", NAMES)
def test_non_finite_gradient_raises_before_anything_changes(name, bad):
    params = leaves()
    opt, twin = make(name), make(name)
    twin_params = copy_tree(params)
    run(opt, params, 3)
    run(twin, twin_params, 3)
    before, sd = copy_tree(params), opt.state_dict()
    grads = grads_like(params, 3)
    grads["b"][1, 2] = bad                 # the second leaf: "a" could be updated first
    grads_before = copy_tree(grads)
    with pytest.raises(optlib.DivergenceError, match="'b'"):
        opt.step(params, grads)
    assert_trees_equal(params, before)
    assert_state_equal(opt.state_dict(), sd)
    assert opt.t == 3
    assert_trees_equal(grads, grads_before)
    # and it carries on exactly as if the bad step had never been tried
    run(opt, params, 2, start=3)
    run(twin, twin_params, 2, start=3)
    assert_trees_equal(params, twin_params)


@pytest.mark.parametrize("name", ["SGD", "Adam", "Yogi"])
def test_non_finite_gradient_on_the_first_step_and_in_a_large_leaf(name, monkeypatch):
    monkeypatch.setattr(O, "CHUNK_ELEMENTS", 7)
    params = {"small": np.ones(2), "big": np.ones(50)}
    grads = {"small": np.ones(2), "big": np.ones(50)}
    grads["big"][-1] = np.nan
    opt = make(name)
    with pytest.raises(optlib.DivergenceError, match="'big'"):
        opt.step(params, grads)
    assert opt.t == 0 and opt.state_dict()["state"] == {}
    assert (params["small"] == 1).all() and (params["big"] == 1).all()


def test_finite_float32_gradient_whose_sum_overflows_is_not_divergence():
    g = np.full(10, 3e38, dtype=np.float32)     # finite; the float32 sum is inf
    x = np.zeros(10, dtype=np.float32)
    optlib.SGD(lr=1e-40).step(x, g)
    assert np.isfinite(x).all()


@pytest.mark.parametrize("name", NAMES)
def test_check_finite_false_lets_nan_into_params(name):
    x = np.ones(4)
    opt = make(name, check_finite=False)
    opt.step(x, np.array([0.5, np.nan, -0.5, 0.1]))
    assert np.isnan(x[1])
    assert np.isfinite(x[[0, 2, 3]]).all()
    assert opt.t == 1


@pytest.mark.parametrize("name", NAMES)
def test_check_finite_false_lets_inf_through_silently(name):
    # check_finite=False is for batched trajectories where a diverging row is
    # data: the update must not raise (nor warn, which the test config and a
    # strict warnings filter turn into an error) when a row reaches inf.
    x = np.ones((2, 2))
    opt = make(name, check_finite=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        opt.step(x, np.array([[0.5, 0.5], [np.inf, -np.inf]]))
        opt.step(x, np.array([[0.5, 0.5], [np.inf, np.nan]]))
    assert np.isfinite(x[0]).all()
    assert not np.isfinite(x[1]).all()


# ============================================================================
# invalid hyperparameters: ValueError naming the argument and the allowed range
# ============================================================================

NONNEG = r"(\[0(\.0*)?, ?inf\]|>= ?0|non-?negative)"
UNIT = r"\[0(\.0*)?, ?1(\.0*)?\]"
HALF_OPEN = r"\[0(\.0*)?, ?1(\.0*)?\)"
POSITIVE = r"(\(0(\.0*)?, ?inf\]|> ?0|positive)"

INVALID = []
for _cls in CLASSES:
    INVALID += [(_cls, dict(lr=-0.1), "lr", NONNEG),
                (_cls, dict(lr=float("nan")), "lr", NONNEG),
                (_cls, dict(lr=float("inf")), "lr", NONNEG),
                (_cls, dict(lr=True), "lr", ""),
                (_cls, dict(lr="0.1"), "lr", "")]
for _cls in [optlib.SGD, optlib.Momentum, optlib.Nesterov, optlib.Adagrad,
             optlib.RMSprop, optlib.Adadelta, optlib.Adam, optlib.AMSGrad, optlib.AdamW]:
    INVALID.append((_cls, dict(weight_decay=-0.1), "weight_decay", NONNEG))
for _cls in [optlib.SGD, optlib.Momentum, optlib.Nesterov, optlib.RMSprop]:
    INVALID += [(_cls, dict(momentum=-0.1), "momentum", UNIT),
                (_cls, dict(momentum=1.5), "momentum", UNIT),
                (_cls, dict(momentum=True), "momentum", "")]
for _cls in [optlib.SGD, optlib.Momentum]:
    INVALID += [(_cls, dict(momentum=0.9, dampening=-0.1), "dampening", UNIT),
                (_cls, dict(momentum=0.9, dampening=1.1), "dampening", UNIT)]
for _cls in [optlib.Adagrad, optlib.RMSprop, optlib.Adadelta, optlib.Adam, optlib.AMSGrad,
             optlib.AdamW, optlib.Yogi]:
    INVALID += [(_cls, dict(eps=-1e-8), "eps", NONNEG),
                (_cls, dict(eps=float("nan")), "eps", NONNEG)]
for _cls in [optlib.Adam, optlib.AMSGrad, optlib.AdamW, optlib.Yogi]:
    INVALID += [(_cls, dict(betas=(1.0, 0.999)), r"betas\[0\]|beta1", HALF_OPEN),
                (_cls, dict(betas=(0.9, 1.0)), r"betas\[1\]|beta2", HALF_OPEN),
                (_cls, dict(betas=(-0.1, 0.999)), r"betas\[0\]|beta1", HALF_OPEN),
                (_cls, dict(betas=(0.9, 1.5)), r"betas\[1\]|beta2", HALF_OPEN),
                (_cls, dict(betas=(0.9,)), "betas", "pair"),
                (_cls, dict(betas=(0.9, 0.99, 0.999)), "betas", "pair"),
                (_cls, dict(betas=0.9), "betas", "pair")]
INVALID += [
    (optlib.SGD, dict(nesterov=True), "nesterov", "momentum"),
    (optlib.SGD, dict(nesterov=True, momentum=0.9, dampening=0.5), "nesterov", "dampening"),
    (optlib.Nesterov, dict(momentum=0.0), "nesterov", "momentum"),
    (optlib.Adagrad, dict(lr_decay=-0.1), "lr_decay", NONNEG),
    (optlib.Adagrad, dict(initial_accumulator_value=-0.1), "initial_accumulator_value", NONNEG),
    (optlib.RMSprop, dict(alpha=-0.1), "alpha", UNIT),
    (optlib.RMSprop, dict(alpha=1.1), "alpha", UNIT),
    (optlib.Adadelta, dict(rho=-0.1), "rho", UNIT),
    (optlib.Adadelta, dict(rho=1.1), "rho", UNIT),
    (optlib.Yogi, dict(initial_accumulator_value=0.0), "initial_accumulator_value", POSITIVE),
    (optlib.Yogi, dict(initial_accumulator_value=-1.0), "initial_accumulator_value", POSITIVE),
    (optlib.Adam, dict(lr=np.array([[0.1], [-0.1]])), "lr", NONNEG),
    (optlib.RMSprop, dict(alpha=np.array([0.5, 1.5])), "alpha", UNIT),
]


@pytest.mark.parametrize(
    "cls,kwargs,name,allowed", INVALID,
    ids=[f"{c.__name__}-{'-'.join(f'{k}={v!r}' for k, v in kw.items())}"
         for c, kw, _, _ in INVALID])
def test_invalid_hyperparameter_raises_naming_it_and_its_range(cls, kwargs, name, allowed):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert re.search(name, message), message
    assert re.search(allowed, message), message


def test_valid_edge_values_are_accepted():
    optlib.SGD(lr=0.0, momentum=1.0, dampening=1.0)
    optlib.RMSprop(alpha=0.0)
    optlib.RMSprop(alpha=1.0, momentum=1.0)
    optlib.Adadelta(rho=0.0, eps=0.0)
    optlib.Adadelta(rho=1.0)
    optlib.Adam(betas=(0.0, 0.0), eps=0.0)
    optlib.Adagrad(initial_accumulator_value=0.0, eps=0.0)
    optlib.Yogi(initial_accumulator_value=1e-300)
    optlib.Adam(lr=np.float32(0.1), betas=[0.9, 0.99])


# ============================================================================
# mismatched structures, shapes, dtypes; non-float and non-array params
# ============================================================================

def check_rejected(exc, pattern, params, grads, opt=None):
    opt = opt or optlib.Adam(lr=0.1)
    before = {k: np.array(v, copy=True) for k, v in
              (params.items() if isinstance(params, dict) else enumerate(params))}
    with pytest.raises(exc, match=pattern):
        opt.step(params, grads)
    for k, v in before.items():
        np.testing.assert_array_equal(params[k], v)
    assert opt.t == 0


def test_missing_grad_key_raises_naming_it():
    check_rejected(ValueError, "'b'", leaves(), {k: v for k, v in leaves().items() if k != "b"})


def test_extra_grad_key_raises_naming_it():
    check_rejected(ValueError, "'zeta'", leaves(), {**leaves(), "zeta": np.ones(2)})


def test_list_length_mismatch_raises():
    params = [np.ones(2), np.ones(3)]
    check_rejected(ValueError, r"\b2\b.*\b3\b", params, [np.ones(2), np.ones(3), np.ones(1)])
    check_rejected(ValueError, r"\b2\b.*\b1\b", params, [np.ones(2)])


def test_structure_kind_mismatch_raises():
    check_rejected(ValueError, "struct", {"a": np.ones(2)}, [np.ones(2)])
    check_rejected(ValueError, "struct", [np.ones(2)], {"0": np.ones(2)})
    with pytest.raises(ValueError, match="struct"):
        optlib.SGD().step(np.ones(2), [np.ones(2)])


def test_shape_mismatch_raises_naming_the_leaf():
    grads = leaves()
    grads["b"] = np.ones((3, 2))
    check_rejected(ValueError, r"'b'.*\(3, 2\)", leaves(), grads)
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)|\(4,\).*\(3,\)"):
        optlib.SGD().step(np.ones(3), np.ones(4))


@pytest.mark.parametrize("pdt,gdt", [(np.float64, np.float32), (np.float32, np.float64)])
def test_dtype_mismatch_raises_naming_the_leaf(pdt, gdt):
    params = leaves(dtype=pdt)
    grads = leaves(dtype=pdt)
    grads["c"] = grads["c"].astype(gdt)
    check_rejected(ValueError, rf"'c'.*{np.dtype(gdt).name}", params, grads)


def test_grad_that_is_not_an_array_raises_naming_the_leaf():
    check_rejected(ValueError, "'b'", leaves(), {**leaves(), "b": [[1.0] * 3] * 2})


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.complex128])
def test_non_float_params_are_a_type_error_naming_the_leaf(dtype):
    params = {"w": np.ones(3), "k": np.ones(3, dtype=dtype)}
    with pytest.raises(TypeError, match="'k'"):
        optlib.SGD().step(params, {"w": np.ones(3), "k": np.ones(3, dtype=dtype)})
    np.testing.assert_array_equal(params["w"], 1.0)


def test_integer_single_array_is_a_type_error():
    with pytest.raises(TypeError, match="int"):
        optlib.Adam().step(np.arange(3), np.arange(3))


@pytest.mark.parametrize("params", [1.0, [1.0, 2.0], {"w": [1.0, 2.0]}, "x", None],
                         ids=["float", "list of floats", "dict of list", "str", "None"])
def test_non_array_params_are_a_type_error(params):
    with pytest.raises(TypeError):
        optlib.SGD().step(params, params)


def test_read_only_params_raise_naming_the_leaf():
    params = leaves()
    params["b"].flags.writeable = False
    check_rejected(ValueError, r"'b'.*read-only|read-only.*'b'", params, leaves())


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Adam", "Adagrad", "Yogi"])
def test_params_changing_structure_between_steps_raise(name):
    opt = make(name)
    params = leaves()
    run(opt, params, 2)
    extra = {**copy_tree(params), "d": np.ones(2)}
    with pytest.raises(ValueError, match="'d'"):
        opt.step(extra, grads_like(extra, 2))
    fewer = {k: v for k, v in copy_tree(params).items() if k != "a"}
    with pytest.raises(ValueError, match="'a'"):
        opt.step(fewer, grads_like(fewer, 2))
    assert opt.t == 2
    lst = make(name)
    lp = [np.ones(2), np.ones(3)]
    lst.step(lp, [np.ones(2), np.ones(3)])
    with pytest.raises(ValueError):
        lst.step(lp + [np.ones(1)], [np.ones(2), np.ones(3), np.ones(1)])
    assert lst.t == 1


@pytest.mark.parametrize("name", ["Momentum", "Adam", "Adagrad", "RMSprop", "Adadelta", "Yogi"])
def test_leaf_changing_shape_between_steps_raises(name):
    opt = make(name)
    opt.step({"w": np.ones(3)}, {"w": np.ones(3)})
    params = {"w": np.ones(4)}
    with pytest.raises(ValueError, match="'w'"):
        opt.step(params, {"w": np.ones(4)})
    np.testing.assert_array_equal(params["w"], 1.0)


# ============================================================================
# dtypes, grads untouched, non-contiguous arrays
# ============================================================================

def assert_float32_everywhere(opt, params):
    for n, x in params.items():
        assert x.dtype == np.float32, n
    for leaf, s in opt.state_dict()["state"].items():
        for k, v in s.items():
            assert v.dtype == np.float32, (leaf, k)


def normwise_close(a, b, rtol):
    return float(np.max(np.abs(a - b))) <= rtol * float(np.max(np.abs(b)))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lr_kind", ["float", "np.float64 schedule", "0-d array schedule"])
def test_float32_stays_float32(name, lr_kind):
    lr = {"float": 0.05,
          "np.float64 schedule": lambda k: np.float64(0.05) / (1 + k),
          "0-d array schedule": lambda k: np.array(0.05 / (1 + k))}[lr_kind]
    p32, p64 = leaves(dtype=np.float32), leaves(dtype=np.float64)
    o32, o64 = make(name, lr=lr), make(name, lr=lr)
    for k in range(5):
        o32.step(p32, grads_like(p32, k))
        o64.step(p64, grads_like(p64, k))
    assert_float32_everywhere(o32, p32)
    for n in p32:   # and float32 computes the same update
        assert normwise_close(p32[n], p64[n], 1e-5), n


@pytest.mark.parametrize("cls,options,hyper,values", ARRAY_HYPERS, ids=ARRAY_IDS)
def test_float32_stays_float32_with_float64_array_hyperparameters(cls, options, hyper, values):
    n = len(values)
    kwargs = batched_kwargs(options, hyper, values, lr=np.linspace(0.01, 0.1, n)[:, None])
    x0, curv = row_problem(n)
    p32, p64 = {"w": x0.astype(np.float32)}, {"w": x0.copy()}
    o32, o64 = cls(**kwargs), cls(**kwargs)
    for _ in range(5):
        o32.step(p32, {"w": (curv * (p32["w"] - 0.3)).astype(np.float32)})
        o64.step(p64, {"w": curv * (p64["w"] - 0.3)})
    assert_float32_everywhere(o32, p32)
    assert normwise_close(p32["w"], p64["w"], 1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_grads_are_never_written(name, monkeypatch):
    # read-only grads make any write fail loudly; the chunked path is covered
    monkeypatch.setattr(O, "CHUNK_ELEMENTS", 7)
    params = {**leaves(), "big": np.linspace(-1, 1, 40)}
    opt = make(name)
    for k in range(3):
        grads = grads_like(params, k)
        kept = copy_tree(grads)
        for g in grads.values():
            g.flags.writeable = False
        opt.step(params, grads)
        assert_trees_equal(grads, kept)


@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_params_and_grads(name, monkeypatch):
    monkeypatch.setattr(O, "CHUNK_ELEMENTS", 7)
    base = np.random.default_rng(2).standard_normal((6, 10))
    transposed = base.T.copy(order="C").T            # Fortran order
    strided_store = np.zeros((6, 20))
    strided_store[:, ::2] = base
    strided = strided_store[:, ::2]                  # a strided view of a bigger array
    contiguous = base.copy()
    assert not transposed.flags.c_contiguous and not strided.flags.c_contiguous
    opts = [make(name) for _ in range(3)]
    for k in range(4):
        g = np.asarray(0.5 * (contiguous - 0.3) + 0.01 * k)
        opts[0].step(contiguous, g)
        opts[1].step(transposed, np.asfortranarray(0.5 * (transposed - 0.3) + 0.01 * k))
        gs = np.zeros((6, 20))
        gs[:, ::2] = 0.5 * (strided - 0.3) + 0.01 * k
        opts[2].step(strided, gs[:, ::2])
    np.testing.assert_array_equal(transposed, contiguous)
    np.testing.assert_array_equal(strided, contiguous)
    assert (strided_store[:, 1::2] == 0).all()       # the gaps are untouched


# ============================================================================
# class relations and defaults
# ============================================================================

def test_aliases_equal_their_sgd_and_adam_forms():
    pairs = [(optlib.Momentum(lr=0.1), optlib.SGD(lr=0.1, momentum=0.9)),
             (optlib.Nesterov(lr=0.1), optlib.SGD(lr=0.1, momentum=0.9, nesterov=True)),
             (optlib.AMSGrad(lr=0.1), optlib.Adam(lr=0.1, amsgrad=True)),
             (optlib.AdamW(lr=0.1, weight_decay=0.0), optlib.Adam(lr=0.1))]
    for a, b in pairs:
        pa, pb = leaves(), leaves()
        run(a, pa, 5)
        run(b, pb, 5)
        assert_trees_equal(pa, pb)


def test_adamw_default_weight_decay_is_decoupled_1e_2():
    x = np.array([2.0])
    optlib.AdamW(lr=0.1).step(x, np.zeros(1))
    assert x[0] == 2.0 * (1 - 0.1 * 1e-2)


def test_t_counts_updates():
    opt = optlib.RMSprop()
    assert opt.t == 0
    run(opt, leaves(), 7)
    assert opt.t == 7


# ============================================================================
# property tests
# ============================================================================

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
dtypes = st.sampled_from([np.float32, np.float64])
kinds = st.sampled_from(["ndarray", "dict", "list", "tuple"])


def random_leaves(shape_list, dtype, seed):
    rng = np.random.default_rng(seed)
    return [np.array(rng.standard_normal(s), dtype=dtype) for s in shape_list]


def random_grads(params, seed, k):
    rng = np.random.default_rng([seed, k])
    return [np.array(0.5 * p + rng.standard_normal(p.shape), dtype=p.dtype) for p in params]


def as_structure(arrays, kind):
    if kind == "ndarray":
        return arrays[0]
    if kind == "dict":
        return {f"leaf{i}": a for i, a in enumerate(arrays)}
    return list(arrays) if kind == "list" else tuple(arrays)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(NAMES), shape_list=st.lists(shapes, min_size=1, max_size=3),
       dtype=dtypes, kind=kinds, seed=st.integers(0, 2**16))
def test_structure_update_equals_update_of_each_leaf_alone(name, shape_list, dtype, kind,
                                                           seed):
    if kind == "ndarray":
        shape_list = shape_list[:1]
    together = random_leaves(shape_list, dtype, seed)
    alone = [a.copy() for a in together]
    tree = as_structure(together, kind)
    opt = make(name)
    solo = [make(name) for _ in alone]
    for k in range(3):
        grads = random_grads(together, seed, k)
        opt.step(tree, as_structure(grads, kind))
        for o, p, g in zip(solo, alone, grads):
            o.step(p, g)
    for a, b in zip(together, alone):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)


chunkable_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=6).filter(
    lambda s: math.prod(s) > 7)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=12, deadline=None)
@given(shape_list=st.lists(st.one_of(chunkable_shapes, shapes), min_size=1, max_size=3),
       big=chunkable_shapes, dtype=dtypes, seed=st.integers(0, 2**16))
def test_chunked_and_whole_array_updates_agree_bit_for_bit(name, shape_list, big, dtype, seed):
    arrays = random_leaves([big] + shape_list, dtype, seed)
    results = []
    for chunk in [7, 10**9]:
        params = [a.copy() for a in arrays]
        sizes = []
        cls = CONFIGS[name][0]
        original = cls.update

        def spy(self, param, grad, state, lr, t):
            sizes.append(param.size)
            return original(self, param, grad, state, lr, t)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(O, "CHUNK_ELEMENTS", chunk)
            mp.setattr(cls, "update", spy)
            opt = make(name, lr=lambda k: 0.05 / (1 + k))
            for k in range(4):
                opt.step(params, random_grads(params, seed, k))
        # the chunked run really went through pieces of at most 7 elements
        assert max(sizes) <= 7 if chunk == 7 else max(sizes) == max(a.size for a in arrays)
        results.append((params, opt.state_dict()))
    (p1, s1), (p2, s2) = results
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)
    assert_state_equal(s1, s2)


# ---- leaves side by side in one buffer are updated as one array -------------

def tiled(arrays, order=None, gap=0):
    """Copies of ``arrays`` as views of one flat buffer (in ``order``, ``gap`` elements apart)."""
    order = list(range(len(arrays))) if order is None else order
    dtype = arrays[0].dtype
    flat = np.zeros(sum(a.size + gap for a in arrays), dtype=dtype)
    views, start = [None] * len(arrays), 0
    for i in order:
        views[i] = flat[start:start + arrays[i].size].reshape(arrays[i].shape)
        views[i][...] = arrays[i]
        start += arrays[i].size + gap
    return views


def spied_run(name, params, grads_for, steps=5, **options):
    """Run ``steps`` steps; returns the optimizer and the sizes update() was called with."""
    opt = make(name, lr=lambda k: 0.05 / (1 + k), **options)
    sizes = []
    original = type(opt).update

    def spy(self, param, grad, state, lr, t):
        sizes.append(param.size)
        return original(self, param, grad, state, lr, t)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(opt), "update", spy)
        for k in range(steps):
            opt.step(params, grads_for(params, k))
    return opt, sizes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_tiled_leaves_are_updated_as_one_array_with_the_same_result(name, dtype):
    arrays = random_leaves([(6, 5), (5,), (5, 3), ()], dtype, seed=4)
    total = sum(a.size for a in arrays)

    def tiled_grads(params, k):
        return tiled(random_grads(params, 9, k))

    separate = [a.copy() for a in arrays]
    opt_separate, sizes_separate = spied_run(name, separate, lambda p, k: random_grads(p, 9, k))
    together = tiled(arrays)
    opt_together, sizes_together = spied_run(name, together, tiled_grads)
    assert sizes_separate == [a.size for a in arrays] * 5          # leaf by leaf
    assert sizes_together == [total] * 5                           # one call per step
    for a, b in zip(together, separate):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)
    assert_state_equal(opt_together.state_dict(), opt_separate.state_dict())
    # each leaf's state is its own view, of the shape of its parameter
    for i, a in enumerate(arrays):
        for v in opt_together.state[str(i)].values():
            assert v.shape == a.shape and v.dtype == a.dtype


@pytest.mark.parametrize("name", ["Adam-amsgrad", "Adagrad", "SGD-nesterov-wd"])
def test_tiled_state_survives_a_state_dict_round_trip_bit_for_bit(name):
    arrays = random_leaves([(4, 3), (3,), (3, 2)], np.float64, seed=5)

    def grads_for(params, k):
        return tiled(random_grads(params, 2, k))

    straight = tiled(arrays)
    opt, _ = spied_run(name, straight, grads_for, steps=6)
    resumed = tiled(arrays)
    first, _ = spied_run(name, resumed, grads_for, steps=3)
    second = make(name, lr=lambda k: 0.05 / (1 + k))
    second.load_state_dict(first.state_dict())      # per-leaf arrays: copied into one buffer
    for k in range(3, 6):
        second.step(resumed, grads_for(resumed, k))
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)
    assert_state_equal(opt.state_dict(), second.state_dict())


@pytest.mark.parametrize("layout", ["other order", "gaps", "grads apart", "params apart"])
def test_leaves_not_tiled_in_order_are_updated_one_by_one(layout):
    arrays = random_leaves([(4, 3), (3,), (2,)], np.float64, seed=6)
    if layout == "other order":
        params = tiled(arrays, order=[2, 1, 0])     # each leaf lies before the previous one
    elif layout == "gaps":
        params = tiled(arrays, gap=1)
    elif layout == "params apart":
        params = [a.copy() for a in arrays]
    else:
        params = tiled(arrays)

    def grads_for(p, k):
        grads = random_grads(p, 1, k)
        return grads if layout == "grads apart" else tiled(grads)

    expected = [a.copy() for a in arrays]
    make_opt = lambda: make("Adam", lr=lambda k: 0.05 / (1 + k))    # noqa: E731
    reference = make_opt()
    for k in range(3):
        reference.step(expected, random_grads(expected, 1, k))
    opt, sizes = spied_run("Adam", params, grads_for, steps=3)
    assert sizes == [12, 3, 2] * 3
    for a, b in zip(params, expected):
        np.testing.assert_array_equal(a, b)


def test_a_run_of_tiled_leaves_among_others_is_grouped():
    arrays = random_leaves([(5,), (4,), (3,), (2,)], np.float64, seed=8)
    first_three = tiled(arrays[:3])
    params = {"a": first_three[0], "b": first_three[1], "c": first_three[2],
              "d": arrays[3].copy()}

    def grads_for(p, k):
        g = random_grads(list(p.values()), 3, k)
        g3 = tiled(g[:3])
        return {"a": g3[0], "b": g3[1], "c": g3[2], "d": g[3]}

    opt, sizes = spied_run("Adam", params, grads_for, steps=2)
    assert sizes == [12, 2] * 2


def test_the_finiteness_check_names_the_leaf_inside_a_tiled_run_and_changes_nothing():
    arrays = random_leaves([(6,), (4,), (3,)], np.float64, seed=2)
    params = dict(zip("wbc", tiled(arrays)))
    opt = optlib.Adam(lr=0.1)
    opt.step(params, dict(zip("wbc", tiled(random_grads(arrays, 0, 0)))))
    before = {k: v.copy() for k, v in params.items()}
    state = opt.state_dict()
    grads = dict(zip("wbc", tiled(random_grads(arrays, 0, 1))))
    grads["b"][2] = np.nan
    with pytest.raises(optlib.DivergenceError, match="leaf 'b'"):
        opt.step(params, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    assert_state_equal(opt.state_dict(), state)


def test_array_hyperparameters_broadcast_leaf_by_leaf_even_when_tiled():
    # lr of shape (3, 1) broadcasts against each (3, k) leaf, not against their span
    arrays = random_leaves([(3, 2), (3, 4)], np.float64, seed=1)
    lr = np.array([[0.1], [0.01], [0.001]])
    params, separate = tiled(arrays), [a.copy() for a in arrays]
    grads = random_grads(arrays, 0, 0)
    optlib.SGD(lr=lr).step(params, tiled(grads))
    optlib.SGD(lr=lr).step(separate, grads)
    for a, b, x, g in zip(params, separate, arrays, grads):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, x - lr * g, rtol=1e-15, atol=0)   # row i moved by lr[i]


def test_a_deep_copied_model_and_optimizer_keep_training_the_copy():
    # a copy's arrays are new objects in a new layout: nothing of the old one may be reused
    import copy
    from optlib.nn import MLP
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    model, opt = MLP([5, 4, 3], dtype=np.float64), optlib.Adam(lr=1e-2)
    opt.step(model.params, model.loss_and_grad(X, y)[1])
    model2, opt2 = copy.deepcopy((model, opt))
    for _ in range(3):
        opt.step(model.params, model.loss_and_grad(X, y)[1])
        opt2.step(model2.params, model2.loss_and_grad(X, y)[1])
    for key in model.params:
        np.testing.assert_array_equal(model2.params[key], model.params[key])
    assert opt2.t == opt.t == 4


def test_views_that_start_inside_an_element_are_updated_leaf_by_leaf():
    raw = np.zeros(8)
    u = raw.view(np.uint8)[4:52].view(np.float64)     # six float64s, 4 bytes off raw's grid
    a, b = u[:3], u[3:]
    a[...], b[...] = 1.0, 2.0
    g = np.ones(6)
    optlib.SGD(lr=0.5).step([a, b], [g[:3], g[3:]])
    np.testing.assert_array_equal(a, [0.5] * 3)
    np.testing.assert_array_equal(b, [1.5] * 3)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_ndarray_subclasses_are_updated_leaf_by_leaf():
    M = np.matrix(np.arange(12.0).reshape(3, 4))
    G = np.matrix(np.ones((3, 4)))
    optlib.SGD(lr=0.5).step({"r1": M[1:2], "r2": M[2:3]}, {"r1": G[1:2], "r2": G[2:3]})
    np.testing.assert_array_equal(M, np.arange(12.0).reshape(3, 4) - [[0], [0.5], [0.5]])
    G[2, 0] = np.nan
    with pytest.raises(optlib.DivergenceError, match="leaf 'r2'"):
        optlib.SGD(lr=0.5).step({"r1": M[1:2], "r2": M[2:3]}, {"r1": G[1:2], "r2": G[2:3]})


def test_a_dtype_changed_in_place_between_steps_is_seen():
    buf = np.zeros(6)
    a, b = buf[:3], buf[3:]
    g = np.ones(6)
    opt = optlib.SGD(lr=1.0)
    opt.step([a, b], [g[:3], g[3:]])
    a.dtype = b.dtype = np.dtype(">f8")                # same bytes, other byte order
    big_endian = np.ones(6, ">f8")
    opt.step([a, b], [big_endian[:3], big_endian[3:]])
    # the bytes of -1.0 (little-endian) read big-endian, minus lr * 1
    expected = np.frombuffer(np.full(6, -1.0, "<f8").tobytes(), dtype=">f8") - 1.0
    np.testing.assert_array_equal(np.concatenate([a, b]), expected)


def test_a_read_only_view_of_a_tiled_buffer_is_refused_by_name():
    arrays = tiled(random_leaves([(3,), (2,)], np.float64, seed=0))
    arrays[1].flags.writeable = False
    with pytest.raises(ValueError, match="leaf '1' is read-only"):
        optlib.SGD(lr=0.1).step(arrays, tiled([np.ones(3), np.ones(2)]))


# ---- a subclass written in a few lines ---------------------------------------

class SignSGD(optlib.Optimizer):
    """x <- x - lr * sign(g)."""

    def init_state(self, param):
        return {}

    def update(self, param, grad, state, lr, t):
        param -= lr * np.sign(grad)


class Signum(optlib.Optimizer):
    """m <- beta m + (1 - beta) g ; x <- x - lr * sign(m)."""

    def __init__(self, lr=0.01, beta=0.9, *, check_finite=True):
        super().__init__(lr, check_finite=check_finite)
        self.beta = self._hyper("beta", beta, 0.0, 1.0)

    def init_state(self, param):
        return {"m": np.zeros_like(param)}

    def update(self, param, grad, state, lr, t):
        m = state["m"]
        m *= self.beta
        m += (1 - self.beta) * grad
        param -= lr * np.sign(m)


def sign_sgd_reference(arrays, grad_list, lr):
    xs = [a.copy() for a in arrays]
    for k, grads in enumerate(grad_list):
        xs = [x - lr(k) * np.sign(g) for x, g in zip(xs, grads)]
    return xs


@settings(max_examples=40, deadline=None)
@given(shape_list=st.lists(shapes, min_size=1, max_size=3), dtype=dtypes, kind=kinds,
       seed=st.integers(0, 2**16), scheduled=st.booleans())
def test_subclass_in_a_few_lines_works_with_every_structure(shape_list, dtype, kind, seed,
                                                            scheduled):
    if kind == "ndarray":
        shape_list = shape_list[:1]
    lr = (lambda k: 0.1 * 0.5**k) if scheduled else (lambda k: 0.1)
    arrays = random_leaves(shape_list, dtype, seed)
    params = [a.copy() for a in arrays]
    tree = as_structure(params, kind)
    opt = SignSGD(lr=lr if scheduled else 0.1)
    grad_list = []
    for k in range(3):
        grads = random_grads(params, seed, k)
        grad_list.append(grads)
        opt.step(tree, as_structure(grads, kind))
    expected = sign_sgd_reference(arrays, grad_list, lr)
    for a, b in zip(params, expected):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-15)
    # state_dict of a stateless subclass: t and one empty state per leaf
    sd = opt.state_dict()
    assert sd["optimizer"] == "SignSGD" and sd["t"] == 3
    resumed = SignSGD(lr=lr if scheduled else 0.1)
    resumed.load_state_dict(sd)
    copies = [p.copy() for p in params]
    g = random_grads(params, seed, 3)
    opt.step(as_structure(params, kind), as_structure(g, kind))
    resumed.step(as_structure(copies, kind), as_structure(g, kind))
    for a, b in zip(params, copies):
        np.testing.assert_array_equal(a, b)


def test_stateful_subclass_validation_divergence_and_state_dict():
    with pytest.raises(ValueError, match=r"beta.*\[0(\.0)?, 1(\.0)?\]"):
        Signum(beta=1.5)
    params = leaves()
    opt = Signum(lr=lambda k: 0.1 / (1 + k), beta=np.array(0.8))
    run(opt, params, 4)
    saved, at_save = opt.state_dict(), copy_tree(params)
    run(opt, params, 3, start=4)
    resumed = Signum(lr=lambda k: 0.1 / (1 + k), beta=np.array(0.8))
    resumed.load_state_dict(saved)
    run(resumed, at_save, 3, start=4)
    assert_trees_equal(at_save, params)
    with pytest.raises(ValueError, match="Signum"):
        SignSGD(lr=0.1).load_state_dict(saved)
    grads = grads_like(params, 9)
    grads["a"][0] = np.nan
    before = copy_tree(params)
    with pytest.raises(optlib.DivergenceError):
        opt.step(params, grads)
    assert_trees_equal(params, before)
