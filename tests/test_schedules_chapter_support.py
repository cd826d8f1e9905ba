"""Schedules added for the learning-rate scheduling chapter: ``warmup`` and
``one_cycle(..., three_phase=True)``, checked against torch.optim.lr_scheduler
(``SequentialLR`` + ``LinearLR``, ``OneCycleLR(three_phase=True)``) and against
hand-computed values; plus the docstrings' notation (q for a geometric ratio)."""
import math
import pickle

import numpy as np
import pytest

import optlib
from optlib import schedules as S
from test_schedules import torch_learning_rates  # the one torch lr recorder


def assert_lr_close(ours, theirs, scale):
    np.testing.assert_allclose(np.asarray(ours, dtype=float), theirs, rtol=1e-10,
                               atol=1e-12 * scale)


# ---------------------------------------------------------------------------
# warmup
# ---------------------------------------------------------------------------

def test_warmup_by_hand():
    # ramp 0.1 -> 1.0 over W = 3 updates (0.1, 0.4, 0.7), then s(k - 3)
    s = S.multistep(lr=1.0, milestones=[2], gamma=0.5)
    w = S.warmup(s, warmup_steps=3, warmup_start_lr=0.1)
    expected = [0.1, 0.4, 0.7, 1.0, 1.0, 0.5, 0.5]
    np.testing.assert_allclose([w(k) for k in range(7)], expected, rtol=1e-15)
    np.testing.assert_allclose(w(np.arange(7)), expected, rtol=1e-15)


def test_warmup_then_cosine_is_cosine_with_warmup():
    # two independent implementations of the same schedule
    for total, steps, start in [(100, 10, 0.0), (57, 13, 0.02), (5, 1, 0.3)]:
        wrapped = S.warmup(S.cosine(0.1, total - steps, final_lr=1e-3), steps, start)
        direct = S.cosine(0.1, total, final_lr=1e-3, warmup_steps=steps,
                          warmup_start_lr=start)
        k = np.arange(total + 20)
        np.testing.assert_allclose(wrapped(k), direct(k), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose([wrapped(int(i)) for i in k], direct(k),
                                   rtol=1e-12, atol=1e-15)


def test_warmup_zero_steps_is_the_schedule():
    s = S.one_cycle(0.5, 50)
    k = np.arange(60)
    np.testing.assert_array_equal(S.warmup(s, 0)(k), s(k))


WARMUP_TORCH = [
    # id, optlib schedule, torch main scheduler factory, W, start lr, lr, n
    ("cosine", S.cosine(0.2, total_steps=90),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=90), 10, 0.002, 0.2, 100),
    ("multistep", S.multistep(0.2, milestones=[20, 40], gamma=0.1),
     lambda t, o: t.optim.lr_scheduler.MultiStepLR(o, [20, 40], gamma=0.1), 7, 0.02, 0.2, 80),
    ("exponential", S.exponential(0.3, gamma=0.97),
     lambda t, o: t.optim.lr_scheduler.ExponentialLR(o, gamma=0.97), 5, 0.03, 0.3, 60),
    ("step_decay", S.step_decay(0.3, step_size=9, gamma=0.5),
     lambda t, o: t.optim.lr_scheduler.StepLR(o, step_size=9, gamma=0.5), 4, 0.1, 0.3, 60),
]


@pytest.mark.parametrize("name, schedule, make_main, steps, start, lr, n", WARMUP_TORCH,
                         ids=[c[0] for c in WARMUP_TORCH])
def test_warmup_matches_torch_sequential_lr(torch, name, schedule, make_main, steps,
                                            start, lr, n):
    def make(t, o):
        ramp = t.optim.lr_scheduler.LinearLR(o, start_factor=start / lr, end_factor=1.0,
                                             total_iters=steps)
        return t.optim.lr_scheduler.SequentialLR(o, [ramp, make_main(t, o)],
                                                 milestones=[steps])

    expected = torch_learning_rates(torch, make, lr, n)
    wrapped = S.warmup(schedule, steps, start)
    assert_lr_close([wrapped(k) for k in range(n)], expected, lr)
    assert_lr_close(wrapped(np.arange(n)), expected, lr)


def test_warmup_in_an_optimizer_uses_k_equal_t_minus_1():
    # SGD on f(x) = x^2/2 from x = 1: x_t = x_{t-1} (1 - eta(t - 1))
    w = S.warmup(S.constant(0.5), 4, 0.1)
    x = np.array([1.0])
    opt = optlib.SGD(lr=w)
    expected = 1.0
    for k in range(8):
        opt.step(x, x.copy())
        expected *= 1 - w(k)
    assert x[0] == pytest.approx(expected, rel=1e-14)
    assert [round(w(k), 12) for k in range(5)] == [0.1, 0.2, 0.3, 0.4, 0.5]


def test_warmup_repr_pickle_params():
    w = S.warmup(S.cosine(0.1, 20), 5, 0.01)
    assert repr(w) == ("warmup(schedule=cosine(lr=0.1, total_steps=20, final_lr=0.0), "
                       "warmup_steps=5, warmup_start_lr=0.01)")
    rebuilt = eval(repr(w), {n: getattr(S, n) for n in S.__all__})
    k = np.arange(40)
    np.testing.assert_array_equal(rebuilt(k), w(k))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(w))(k), w(k))
    assert w.params["warmup_steps"] == 5 and isinstance(w, S.Schedule)


@pytest.mark.parametrize("kwargs, message", [
    (dict(schedule=0.1, warmup_steps=3), "schedule must be a callable"),
    (dict(schedule=S.constant(0.1), warmup_steps=-1), "warmup_steps must be an integer >= 0"),
    (dict(schedule=S.constant(0.1), warmup_steps=2.0), "warmup_steps must be an integer"),
    (dict(schedule=S.constant(0.1), warmup_steps=2, warmup_start_lr=-1.0),
     "warmup_start_lr must be >= 0"),
])
def test_warmup_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        S.warmup(**kwargs)


def test_warmup_refuses_bad_k():
    w = S.warmup(S.constant(0.1), 3)
    with pytest.raises(ValueError, match="k must be an int >= 0"):
        w(-1)
    with pytest.raises(ValueError, match="k must be an int >= 0"):
        w(1.0)


# ---------------------------------------------------------------------------
# one_cycle(three_phase=True)
# ---------------------------------------------------------------------------

def test_three_phase_by_hand():
    # T = 10, p = 0.3: peak P = 2, valley V = 4, last L = 9; init 0.1, max 1, min 0.01
    s = S.one_cycle(max_lr=1.0, total_steps=10, pct_start=0.3, div_factor=10.0,
                    final_div_factor=10.0, three_phase=True)
    c = lambda a, b, x: b + (a - b) * (1 + math.cos(math.pi * x)) / 2  # noqa: E731
    expected = [c(0.1, 1, 0), c(0.1, 1, 0.5), 1.0, c(1, 0.1, 0.5), 0.1]
    expected += [c(0.1, 0.01, j / 5) for j in range(1, 6)] + [0.01, 0.01]
    np.testing.assert_allclose([s(k) for k in range(12)], expected, rtol=1e-12)
    np.testing.assert_allclose(s(np.arange(12)), expected, rtol=1e-12)


THREE_PHASE_TORCH = [
    (0.5, 400, 0.3, 25.0, 1e4),
    (2.0, 333, 0.25, 10.0, 100.0),
    (0.1, 37, 0.45, 5.0, 50.0),
]


@pytest.mark.parametrize("max_lr, total, pct, div, final_div", THREE_PHASE_TORCH)
def test_three_phase_matches_torch(torch, max_lr, total, pct, div, final_div):
    def make(t, o):
        return t.optim.lr_scheduler.OneCycleLR(
            o, max_lr=max_lr, total_steps=total, pct_start=pct, anneal_strategy="cos",
            div_factor=div, final_div_factor=final_div, three_phase=True,
            cycle_momentum=False)

    expected = torch_learning_rates(torch, make, max_lr, total)
    s = S.one_cycle(max_lr, total, pct, div, final_div, three_phase=True)
    assert_lr_close([s(k) for k in range(total)], expected, max_lr)
    assert_lr_close(s(np.arange(total)), expected, max_lr)
    assert s(total + 5) == pytest.approx(max_lr / div / final_div)


def test_two_phase_unchanged_and_repr():
    two = S.one_cycle(0.5, 10)
    assert "three_phase" not in repr(two)
    three = S.one_cycle(0.5, 10, three_phase=True)
    assert repr(three).endswith("three_phase=True)")
    rebuilt = eval(repr(three), {n: getattr(S, n) for n in S.__all__})
    np.testing.assert_array_equal(rebuilt(np.arange(15)), three(np.arange(15)))
    assert not np.allclose(two(np.arange(10)), three(np.arange(10)))


def test_three_phase_bad_arguments():
    with pytest.raises(ValueError, match="three_phase must be True or False"):
        S.one_cycle(1.0, 10, three_phase="yes")
    with pytest.raises(ValueError, match="final phase is not empty"):
        S.one_cycle(1.0, 10, pct_start=0.6, three_phase=True)


# ---------------------------------------------------------------------------
# notation: the book writes q for the ratio of a geometric decay (torch's gamma)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["step_decay", "multistep", "exponential", "factor"])
def test_geometric_ratio_is_q_in_docstrings(name):
    doc = getattr(S, name).__doc__
    assert "q^" in doc and r"\gamma" not in doc and r"\alpha" not in doc
    assert r"\eta(k)" in doc and r"\eta_k" not in doc
