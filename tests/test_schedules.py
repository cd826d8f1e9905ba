"""Tests for optlib.schedules.

Each schedule is checked against numbers worked out by hand from its formula,
against the matching torch.optim.lr_scheduler (when torch is installed), and
(cosine with warmup, factor) against d2l's reference classes re-typed below.
The array path is checked against the scalar path, and every error message
against the argument it must name.
"""
import math
import pickle

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from optlib import schedules as S

SQRT2 = math.sqrt(2.0)
SQRT3 = math.sqrt(3.0)
SQRT5 = math.sqrt(5.0)


def assert_lr_close(actual, expected, peak, rtol=1e-12):
    """Relative comparison, with an absolute floor of 1e-15 * peak.

    A cosine schedule computes eta_min + (eta_0 - eta_min)(1 + cos x)/2; near
    the end of a cycle 1 + cos x cancels, so every implementation (torch's
    included) knows the value only to about eps * eta_0 in absolute terms.
    """
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-15 * peak)


# ---------------------------------------------------------------------------
# Hand-computed values: each expected number is written out from the formula.
# ---------------------------------------------------------------------------

HAND = [
    ("constant", S.constant(lr=0.3), {0: 0.3, 1: 0.3, 10_000: 0.3}),
    # eta_0 gamma^floor(k/s), s = 3, gamma = 1/2
    ("step_decay", S.step_decay(lr=0.1, step_size=3, gamma=0.5),
     {0: 0.1, 2: 0.1, 3: 0.05, 5: 0.05, 6: 0.025, 9: 0.0125}),
    ("step_decay_default_gamma", S.step_decay(lr=1.0, step_size=1),
     {0: 1.0, 1: 0.1, 2: 0.01}),
    # one cut per milestone m <= k
    ("multistep", S.multistep(lr=1.0, milestones=[2, 5], gamma=0.1),
     {0: 1.0, 1: 1.0, 2: 0.1, 4: 0.1, 5: 0.01, 100: 0.01}),
    ("multistep_zero_milestone", S.multistep(lr=1.0, milestones=[0, 3], gamma=0.5),
     {0: 0.5, 2: 0.5, 3: 0.25}),
    ("multistep_no_milestones", S.multistep(lr=0.7, milestones=[]), {0: 0.7, 99: 0.7}),
    ("exponential", S.exponential(lr=2.0, gamma=0.5),
     {0: 2.0, 1: 1.0, 3: 0.25, 10: 2.0 / 1024}),
    ("exponential_growth", S.exponential(lr=1e-3, gamma=2.0), {0: 1e-3, 10: 1.024}),
    # eta_0 / sqrt(k + 1)
    ("inverse_sqrt", S.inverse_sqrt(lr=0.6), {0: 0.6, 3: 0.3, 8: 0.2, 99: 0.06}),
    # 0.2 + 0.8 (1 - k/4)^2, held after k = 4
    ("polynomial", S.polynomial(lr=1.0, total_steps=4, power=2.0, final_lr=0.2),
     {0: 1.0, 1: 0.65, 2: 0.4, 3: 0.25, 4: 0.2, 10: 0.2}),
    ("polynomial_linear", S.polynomial(lr=1.0, total_steps=5),
     {0: 1.0, 1: 0.8, 4: 0.2, 5: 0.0, 6: 0.0}),
    # max(0.3, 2 * 0.5^k)
    ("factor", S.factor(lr=2.0, factor=0.5, min_lr=0.3),
     {0: 2.0, 1: 1.0, 2: 0.5, 3: 0.3, 50: 0.3}),
    # (1 + cos(pi k / 4)) / 2, held at 0 after k = 4
    ("cosine", S.cosine(lr=1.0, total_steps=4),
     {0: 1.0, 1: (2 + SQRT2) / 4, 2: 0.5, 3: (2 - SQRT2) / 4, 4: 0.0, 9: 0.0}),
    ("cosine_final_lr", S.cosine(lr=1.0, total_steps=4, final_lr=0.1),
     {0: 1.0, 2: 0.55, 4: 0.1, 5: 0.1}),
    # warmup 0.2 -> 1 over W = 2 updates, then a cosine over T - W = 4 updates
    ("cosine_warmup", S.cosine(lr=1.0, total_steps=6, warmup_steps=2, warmup_start_lr=0.2),
     {0: 0.2, 1: 0.6, 2: 1.0, 3: (2 + SQRT2) / 4, 4: 0.5, 5: (2 - SQRT2) / 4,
      6: 0.0, 7: 0.0}),
    # cycles [0, 2), [2, 6), [6, 14), [14, 30), ...
    ("cosine_restarts_mult2", S.cosine_restarts(lr=1.0, period=2, mult=2),
     {0: 1.0, 1: 0.5, 2: 1.0, 3: (2 + SQRT2) / 4, 4: 0.5, 5: (2 - SQRT2) / 4,
      6: 1.0, 10: 0.5, 13: (1 + math.cos(7 * math.pi / 8)) / 2, 14: 1.0,
      22: 0.5, 29: (1 + math.cos(15 * math.pi / 16)) / 2, 30: 1.0}),
    # 0.1 + 0.9 (1 + cos(pi t / 3)) / 2 with t = k mod 3
    ("cosine_restarts_mult1", S.cosine_restarts(lr=1.0, period=3, min_lr=0.1),
     {0: 1.0, 1: 0.775, 2: 0.325, 3: 1.0, 4: 0.775, 302: 0.325}),
    # eta_init = 1/4, eta_min = 1/40, peak P = 0.375 * 8 - 1 = 2, last L = 7:
    # up: 1 + (1/4 - 1)/2 (1 + cos(pi k/2)); down: 1/40 + (39/40)/2 (1 + cos(pi (k-2)/5))
    ("one_cycle", S.one_cycle(max_lr=1.0, total_steps=8, pct_start=0.375,
                              div_factor=4.0, final_div_factor=10.0),
     {0: 0.25, 1: 0.625, 2: 1.0, 3: 0.025 + 0.4875 * (1 + (1 + SQRT5) / 4),
      5: 0.025 + 0.4875 * (1 + (1 - SQRT5) / 4), 7: 0.025, 8: 0.025, 100: 0.025}),
    # peak P = 0.25 * 8 - 1 = 1, last L = 7: down over 6 updates
    ("one_cycle_short_warmup", S.one_cycle(max_lr=1.0, total_steps=8, pct_start=0.25,
                                           div_factor=4.0, final_div_factor=10.0),
     {0: 0.25, 1: 1.0, 2: 0.025 + 0.4875 * (1 + SQRT3 / 2), 4: 0.5125, 7: 0.025}),
    # default div factors: 0.5/25 = 0.02 at k = 0, 0.02/1e4 = 2e-6 at the end
    ("one_cycle_defaults", S.one_cycle(max_lr=0.5, total_steps=100),
     {0: 0.02, 29: 0.5, 99: 2e-6}),
]


@pytest.mark.parametrize("name, schedule, expected", HAND, ids=[h[0] for h in HAND])
def test_hand_computed_values(name, schedule, expected):
    ks = list(expected)
    want = np.array([expected[k] for k in ks])
    scalar = np.array([schedule(k) for k in ks])
    np.testing.assert_allclose(scalar, want, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(schedule(np.array(ks)), want, rtol=1e-13, atol=1e-16)


def test_one_cycle_peak_between_updates():
    # pct_start * T = 1.5, so the peak P = 0.5 falls between updates 0 and 1:
    # k = 0 is eta_init, and k = 1 is already on the way down, with
    # x = (1 - 0.5) / (4 - 0.5) = 1/7 of the descent done.
    schedule = S.one_cycle(max_lr=1.0, total_steps=5, pct_start=0.3, div_factor=2.0,
                           final_div_factor=5.0)
    down = 0.1 + 0.9 * (1 + math.cos(math.pi / 7)) / 2
    np.testing.assert_allclose([schedule(0), schedule(1)], [0.5, down], rtol=1e-14)


@pytest.mark.parametrize("mult, period", [(3, 1), (2, 5), (10, 1), (7, 3)])
def test_cosine_restarts_boundaries_exact_for_large_cycle_index(mult, period):
    # Cycle i starts at k_i = T_0 (m^i - 1) / (m - 1). With min_lr = 0 the
    # rate there is exactly eta_0 and the update before is the last of the
    # previous cycle (t = T_{i-1} - 1). Far past 2**53 a float-only cycle
    # index would land on the wrong side of these boundaries.
    top = int(math.log(2**57 / period) / math.log(mult))
    starts = [period * (mult**i - 1) // (mult - 1) for i in range(1, top)]
    prev_lengths = [period * mult ** (i - 1) for i in range(1, top)]
    last_of_prev = [(1 + math.cos(math.pi * (t - 1) / t)) / 2 for t in prev_lengths]
    after_start = [(1 + math.cos(math.pi / (t * mult))) / 2 for t in prev_lengths]
    schedule = S.cosine_restarts(lr=1.0, period=period, mult=mult)
    for ks, want in [(starts, 1.0), ([s - 1 for s in starts], last_of_prev),
                     ([s + 1 for s in starts], after_start)]:
        assert_lr_close([schedule(k) for k in ks], want, 1.0, rtol=1e-14)
        assert_lr_close(schedule(np.array(ks, dtype=np.int64)), want, 1.0, rtol=1e-14)


def test_cosine_restarts_python_int_beyond_int64():
    # The scalar path uses Python ints, so any k works; k_i for i = 100, m = 2.
    schedule = S.cosine_restarts(lr=1.0, period=1, mult=2)
    start = 2**100 - 1
    assert schedule(start) == 1.0
    assert schedule(start + 2**99) == pytest.approx(0.5, rel=1e-14)


def test_exponential_growth_saturates_to_inf_on_both_paths():
    schedule = S.exponential(lr=1.0, gamma=2.0)
    assert schedule(5000) == math.inf
    assert np.all(schedule(np.array([5000, 6000])) == math.inf)


# ---------------------------------------------------------------------------
# torch.optim.lr_scheduler cross-checks
# ---------------------------------------------------------------------------

def torch_learning_rates(torch, make_scheduler, lr, n):
    """The lr torch's SGD uses for each of its first n steps (scheduler stepped after each)."""
    param = torch.nn.Parameter(torch.zeros(3))
    param.grad = torch.ones(3)
    optimizer = torch.optim.SGD([param], lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's internal step(0) warns
        scheduler = make_scheduler(torch, optimizer)
        rates = []
        for _ in range(n):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    return np.array(rates)


TORCH_CASES = [
    # id, optlib schedule, torch scheduler factory, SGD lr, updates compared
    ("constant", S.constant(0.05),
     lambda t, o: t.optim.lr_scheduler.LambdaLR(o, lambda k: 1.0), 0.05, 300),
    ("constant_constantlr", S.constant(0.05),
     lambda t, o: t.optim.lr_scheduler.ConstantLR(o, factor=1.0, total_iters=10), 0.05, 300),
    ("step_decay", S.step_decay(0.3, step_size=7, gamma=0.8),
     lambda t, o: t.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.8), 0.3, 400),
    ("multistep", S.multistep(0.2, milestones=[10, 50, 51, 200], gamma=0.5),
     lambda t, o: t.optim.lr_scheduler.MultiStepLR(o, [10, 50, 51, 200], gamma=0.5), 0.2, 400),
    ("exponential", S.exponential(0.1, gamma=0.99),
     lambda t, o: t.optim.lr_scheduler.ExponentialLR(o, gamma=0.99), 0.1, 400),
    ("inverse_sqrt", S.inverse_sqrt(0.1),
     lambda t, o: t.optim.lr_scheduler.LambdaLR(o, lambda k: 1 / math.sqrt(k + 1)), 0.1, 400),
    ("polynomial", S.polynomial(0.4, total_steps=300, power=1.7),
     lambda t, o: t.optim.lr_scheduler.PolynomialLR(o, total_iters=300, power=1.7), 0.4, 400),
    ("polynomial_linear", S.polynomial(0.4, total_steps=250),
     lambda t, o: t.optim.lr_scheduler.PolynomialLR(o, total_iters=250), 0.4, 400),
    # torch's CosineAnnealingLR keeps following the cosine after T_max: compare k <= T.
    ("cosine", S.cosine(0.1, total_steps=300, final_lr=1e-3),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=300, eta_min=1e-3), 0.1, 301),
    ("cosine_to_zero", S.cosine(0.1, total_steps=257),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=257), 0.1, 258),
    ("cosine_restarts", S.cosine_restarts(0.1, period=7, mult=2, min_lr=1e-3),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=2,
                                                                   eta_min=1e-3), 0.1, 500),
    ("cosine_restarts_mult1", S.cosine_restarts(0.1, period=10),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=10), 0.1, 400),
    ("cosine_restarts_mult3", S.cosine_restarts(0.1, period=1, mult=3),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=3), 0.1, 400),
    # OneCycleLR is defined for total_steps updates: compare k < T.
    ("one_cycle", S.one_cycle(0.5, total_steps=400),
     lambda t, o: t.optim.lr_scheduler.OneCycleLR(
         o, max_lr=0.5, total_steps=400, pct_start=0.3, anneal_strategy="cos",
         div_factor=25.0, final_div_factor=1e4, three_phase=False, cycle_momentum=False),
     0.5, 400),
    ("one_cycle_odd", S.one_cycle(2.0, total_steps=333, pct_start=0.25, div_factor=10.0,
                                  final_div_factor=100.0),
     lambda t, o: t.optim.lr_scheduler.OneCycleLR(
         o, max_lr=2.0, total_steps=333, pct_start=0.25, anneal_strategy="cos",
         div_factor=10.0, final_div_factor=100.0, three_phase=False, cycle_momentum=False),
     2.0, 333),
]


@pytest.mark.parametrize("name, schedule, make_scheduler, lr, n", TORCH_CASES,
                         ids=[c[0] for c in TORCH_CASES])
def test_matches_torch(torch, name, schedule, make_scheduler, lr, n):
    expected = torch_learning_rates(torch, make_scheduler, lr, n)
    assert_lr_close([schedule(k) for k in range(n)], expected, lr)
    assert_lr_close(schedule(np.arange(n)), expected, lr)


def test_cosine_diverges_from_torch_after_total_steps_by_design(torch):
    # After T torch's recursion climbs back up the cosine; ours holds final_lr.
    make = lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10)  # noqa: E731
    expected = torch_learning_rates(torch, make, 1.0, 15)
    assert expected[14] > 0.05
    assert S.cosine(1.0, total_steps=10)(14) == 0.0


# ---------------------------------------------------------------------------
# d2l reference classes, re-typed from d2l.ai, chapter "Learning Rate Scheduling"
# (stateful: they must be called with k = 0, 1, 2, ... in order).
# ---------------------------------------------------------------------------

class D2LCosineScheduler:
    def __init__(self, max_update, base_lr=0.01, final_lr=0, warmup_steps=0,
                 warmup_begin_lr=0):
        self.base_lr_orig = base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.warmup_steps = warmup_steps
        self.warmup_begin_lr = warmup_begin_lr
        self.max_steps = self.max_update - self.warmup_steps

    def get_warmup_lr(self, epoch):
        increase = ((self.base_lr_orig - self.warmup_begin_lr)
                    * float(epoch) / float(self.warmup_steps))
        return self.warmup_begin_lr + increase

    def __call__(self, epoch):
        if epoch < self.warmup_steps:
            return self.get_warmup_lr(epoch)
        if epoch <= self.max_update:
            angle = math.pi * (epoch - self.warmup_steps) / self.max_steps
            self.base_lr = (self.final_lr + (self.base_lr_orig - self.final_lr)
                            * (1 + math.cos(angle)) / 2)
        return self.base_lr


class D2LFactorScheduler:
    def __init__(self, factor=1, stop_factor_lr=1e-7, base_lr=0.1):
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.base_lr = base_lr

    def __call__(self, num_update):
        self.base_lr = max(self.stop_factor_lr, self.base_lr * self.factor)
        return self.base_lr


@pytest.mark.parametrize("total, lr, final, warmup, start", [
    (20, 0.3, 0.01, 5, 0.0),      # the d2l chapter's warmup example
    (20, 0.3, 0.01, 0, 0.0),      # its no-warmup example
    (300, 0.1, 0.0, 37, 0.01),
    (50, 1.0, 0.2, 49, 0.5),      # warmup up to the last update before T
])
def test_cosine_matches_d2l(total, lr, final, warmup, start):
    d2l = D2LCosineScheduler(total, base_lr=lr, final_lr=final, warmup_steps=warmup,
                             warmup_begin_lr=start)
    n = total + 30
    expected = np.array([d2l(k) for k in range(n)])
    schedule = S.cosine(lr, total_steps=total, final_lr=final, warmup_steps=warmup,
                        warmup_start_lr=start)
    assert_lr_close([schedule(k) for k in range(n)], expected, lr)
    assert_lr_close(schedule(np.arange(n)), expected, lr)


@pytest.mark.parametrize("lr, alpha, floor", [(2.0, 0.9, 1e-2), (0.1, 0.5, 1e-7), (1.0, 1.0, 0.5)])
def test_factor_matches_d2l_shifted_by_one(lr, alpha, floor):
    # d2l decays before returning: its n-th call (from 1) is our k = n.
    d2l = D2LFactorScheduler(factor=alpha, stop_factor_lr=floor, base_lr=lr)
    expected = np.array([d2l(t) for t in range(200)])
    schedule = S.factor(lr, factor=alpha, min_lr=floor)
    assert schedule(0) == lr
    assert_lr_close(schedule(np.arange(1, 201)), expected, lr)


# ---------------------------------------------------------------------------
# Array path = scalar path, return types and shapes
# ---------------------------------------------------------------------------

rates = st.floats(1e-4, 10.0)


@st.composite
def any_schedule(draw):
    kind = draw(st.sampled_from(["constant", "step_decay", "multistep", "exponential",
                                 "inverse_sqrt", "polynomial", "factor", "cosine",
                                 "cosine_restarts", "one_cycle"]))
    lr = draw(rates)
    if kind == "constant":
        return S.constant(lr)
    if kind == "step_decay":
        return S.step_decay(lr, draw(st.integers(1, 50)), draw(st.floats(0.05, 1.5)))
    if kind == "multistep":
        milestones = sorted(draw(st.lists(st.integers(0, 3000), unique=True, max_size=6)))
        return S.multistep(lr, milestones, draw(st.floats(0.05, 1.5)))
    if kind == "exponential":
        return S.exponential(lr, draw(st.floats(0.9, 1.001)))
    if kind == "inverse_sqrt":
        return S.inverse_sqrt(lr)
    if kind == "polynomial":
        return S.polynomial(lr, draw(st.integers(1, 3000)), draw(st.floats(0.1, 4.0)),
                            draw(st.floats(0.0, 1e-3)))
    if kind == "factor":
        return S.factor(lr, draw(st.floats(0.5, 1.0)), draw(st.floats(0.0, 1e-4)))
    if kind == "cosine":
        total = draw(st.integers(1, 3000))
        return S.cosine(lr, total, draw(st.floats(0.0, 1e-3)),
                        draw(st.integers(0, total - 1)), draw(st.floats(0.0, 1e-3)))
    if kind == "cosine_restarts":
        return S.cosine_restarts(lr, draw(st.integers(1, 200)), draw(st.integers(1, 5)),
                                 draw(st.floats(0.0, 1e-3)))
    total = draw(st.integers(2, 3000))
    pct = draw(st.floats(1.01 / total, 0.99).filter(lambda p: p * total > 1))
    return S.one_cycle(lr, total, pct, draw(st.floats(1.0, 100.0)),
                       draw(st.floats(1.0, 1e5)))


k_arrays = hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=8),
                      elements=st.integers(0, 5000))


@settings(max_examples=300, deadline=None)
@given(schedule=any_schedule(), ks=k_arrays)
def test_array_path_equals_scalar_path(schedule, ks):
    out = schedule(ks)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == ks.shape
    expected = np.array([schedule(int(k)) for k in ks.ravel()]).reshape(ks.shape)
    peak = max(schedule.params.get("lr", 0.0), schedule.params.get("max_lr", 0.0))
    assert_lr_close(out, expected, peak, rtol=1e-13)


@pytest.mark.parametrize("name, schedule", [(h[0], h[1]) for h in HAND],
                         ids=[h[0] for h in HAND])
def test_return_types_and_shapes(name, schedule):
    assert type(schedule(3)) is float
    assert type(schedule(np.int32(3))) is float
    assert type(schedule(np.uint64(3))) is float
    assert schedule(np.int32(3)) == schedule(3)
    zero_d = schedule(np.array(3))
    assert isinstance(zero_d, np.ndarray) and zero_d.shape == () and zero_d == schedule(3)
    grid = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = schedule(grid)
    assert out.shape == (3, 4) and out.dtype == np.float64
    assert out[2, 1] == pytest.approx(schedule(9), rel=1e-14)
    assert list(schedule([0, 1, 2])) == pytest.approx([schedule(k) for k in range(3)], rel=1e-14)
    assert schedule(range(4)).shape == (4,)
    assert schedule(np.array([], dtype=np.int64)).shape == (0,)


def test_schedules_are_stateless():
    schedule = S.cosine_restarts(0.1, period=5, mult=2)
    before = [schedule(k) for k in (40, 3, 17)]
    schedule(np.arange(1000))
    assert [schedule(k) for k in (40, 3, 17)] == before


# ---------------------------------------------------------------------------
# repr, params, pickling, docstrings
# ---------------------------------------------------------------------------

def test_repr_examples():
    assert repr(S.cosine(lr=0.1, total_steps=100)) == (
        "cosine(lr=0.1, total_steps=100, final_lr=0.0)")
    assert repr(S.cosine(0.1, 100, warmup_steps=5)) == (
        "cosine(lr=0.1, total_steps=100, final_lr=0.0, warmup_steps=5, warmup_start_lr=0.0)")
    assert repr(S.step_decay(np.float64(0.1), np.int64(30))) == (
        "step_decay(lr=0.1, step_size=30, gamma=0.1)")
    assert repr(S.multistep(1, [30, 80])) == "multistep(lr=1.0, milestones=(30, 80), gamma=0.1)"
    assert repr(S.one_cycle(0.5, 10)) == (
        "one_cycle(max_lr=0.5, total_steps=10, pct_start=0.3, div_factor=25.0, "
        "final_div_factor=10000.0)")


@pytest.mark.parametrize("name, schedule", [(h[0], h[1]) for h in HAND],
                         ids=[h[0] for h in HAND])
def test_repr_rebuilds_the_schedule(name, schedule):
    rebuilt = eval(repr(schedule), {n: getattr(S, n) for n in S.__all__})
    ks = np.arange(200)
    np.testing.assert_array_equal(rebuilt(ks), schedule(ks))
    assert repr(rebuilt) == repr(schedule)


@pytest.mark.parametrize("name, schedule", [(h[0], h[1]) for h in HAND],
                         ids=[h[0] for h in HAND])
def test_pickle_round_trip(name, schedule):
    again = pickle.loads(pickle.dumps(schedule))
    np.testing.assert_array_equal(again(np.arange(50)), schedule(np.arange(50)))


def test_params_and_attributes():
    schedule = S.cosine_restarts(lr=0.1, period=4, mult=2, min_lr=1e-3)
    assert schedule.params == {"lr": 0.1, "period": 4, "mult": 2, "min_lr": 1e-3}
    assert schedule.period == 4 and schedule.min_lr == 1e-3
    schedule.params["lr"] = 5.0  # a copy: the schedule is unchanged
    assert schedule(0) == 0.1
    assert isinstance(schedule, S.Schedule)


@pytest.mark.parametrize("name", [n for n in S.__all__ if n != "Schedule"])
def test_factory_docstrings_give_the_formula(name):
    doc = getattr(S, name).__doc__
    assert ".. math::" in doc and r"\eta_" in doc and "Parameters" in doc


# ---------------------------------------------------------------------------
# Error paths: the message names the argument and the allowed range
# ---------------------------------------------------------------------------

PCT = "pct_start must be in the open interval (0, 1)"
BAD_ARGUMENTS = [
    (S.constant, dict(lr=-0.1), "lr must be >= 0"),
    (S.constant, dict(lr=float("nan")), "lr must be a finite number"),
    (S.constant, dict(lr=float("inf")), "lr must be a finite number"),
    (S.constant, dict(lr="0.1"), "lr must be a real number"),
    (S.constant, dict(lr=True), "lr must be a real number"),
    (S.constant, dict(lr=np.array([0.1, 0.2])), "lr must be a real number"),
    (S.step_decay, dict(lr=-1.0, step_size=3), "lr must be >= 0"),
    (S.step_decay, dict(lr=0.1, step_size=0), "step_size must be an integer >= 1"),
    (S.step_decay, dict(lr=0.1, step_size=2.5), "step_size must be an integer >= 1"),
    (S.step_decay, dict(lr=0.1, step_size=3.0), "step_size must be an integer >= 1"),
    (S.step_decay, dict(lr=0.1, step_size=3, gamma=0.0), "gamma must be > 0"),
    (S.step_decay, dict(lr=0.1, step_size=3, gamma=-0.5), "gamma must be > 0"),
    (S.multistep, dict(lr=0.1, milestones=[5, 3]), "milestones must be strictly increasing"),
    (S.multistep, dict(lr=0.1, milestones=[3, 3]), "milestones must be strictly increasing"),
    (S.multistep, dict(lr=0.1, milestones=[-1, 4]), "milestones[0] must be an integer >= 0"),
    (S.multistep, dict(lr=0.1, milestones=[1, 2.5]), "milestones[1] must be an integer >= 0"),
    (S.multistep, dict(lr=0.1, milestones=5), "milestones must be a sequence"),
    (S.multistep, dict(lr=0.1, milestones="12"), "milestones must be a sequence"),
    (S.multistep, dict(lr=0.1, milestones=[1], gamma=0), "gamma must be > 0"),
    (S.multistep, dict(lr=-0.1, milestones=[1]), "lr must be >= 0"),
    (S.exponential, dict(lr=0.1, gamma=0.0), "gamma must be > 0"),
    (S.exponential, dict(lr=0.1, gamma=float("inf")), "gamma must be a finite number"),
    (S.exponential, dict(lr=-0.1, gamma=0.9), "lr must be >= 0"),
    (S.inverse_sqrt, dict(lr=-0.1), "lr must be >= 0"),
    (S.polynomial, dict(lr=0.1, total_steps=0), "total_steps must be an integer >= 1"),
    (S.polynomial, dict(lr=0.1, total_steps=10, power=0.0), "power must be > 0"),
    (S.polynomial, dict(lr=0.1, total_steps=10, final_lr=-1e-3), "final_lr must be >= 0"),
    (S.polynomial, dict(lr=-0.1, total_steps=10), "lr must be >= 0"),
    (S.factor, dict(lr=0.1, factor=0.0), "factor must be > 0"),
    (S.factor, dict(lr=0.1, factor=1.5), "factor must be in (0, 1]"),
    (S.factor, dict(lr=0.1, factor=0.5, min_lr=-1.0), "min_lr must be >= 0"),
    (S.factor, dict(lr=0.1, factor=0.5, min_lr=0.2), "min_lr must be in [0, lr]"),
    (S.factor, dict(lr=-0.1, factor=0.5), "lr must be >= 0"),
    (S.cosine, dict(lr=0.1, total_steps=0), "total_steps must be an integer >= 1"),
    (S.cosine, dict(lr=0.1, total_steps=10.0), "total_steps must be an integer >= 1"),
    (S.cosine, dict(lr=-0.1, total_steps=10), "lr must be >= 0"),
    (S.cosine, dict(lr=0.1, total_steps=10, final_lr=-0.1), "final_lr must be >= 0"),
    (S.cosine, dict(lr=0.1, total_steps=10, warmup_steps=-1),
     "warmup_steps must be an integer >= 0"),
    (S.cosine, dict(lr=0.1, total_steps=10, warmup_steps=10),
     "warmup_steps must be in [0, total_steps)"),
    (S.cosine, dict(lr=0.1, total_steps=10, warmup_steps=2, warmup_start_lr=-0.1),
     "warmup_start_lr must be >= 0"),
    (S.cosine_restarts, dict(lr=0.1, period=0), "period must be an integer >= 1"),
    (S.cosine_restarts, dict(lr=0.1, period=5, mult=0), "mult must be an integer >= 1"),
    (S.cosine_restarts, dict(lr=0.1, period=5, mult=1.5), "mult must be an integer >= 1"),
    (S.cosine_restarts, dict(lr=0.1, period=5, min_lr=-0.1), "min_lr must be >= 0"),
    (S.cosine_restarts, dict(lr=-0.1, period=5), "lr must be >= 0"),
    (S.one_cycle, dict(max_lr=-0.1, total_steps=100), "max_lr must be >= 0"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=0), "total_steps must be an integer >= 1"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, pct_start=0.0), PCT),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, pct_start=1.0), PCT),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, pct_start=-0.2), PCT),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, pct_start="0.3"),
     "pct_start must be a real number"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=3), "pct_start * total_steps must be > 1"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=10, pct_start=0.1), "pct_start * total_steps must be > 1"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, div_factor=0.0), "div_factor must be > 0"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, final_div_factor=-1.0),
     "final_div_factor must be > 0"),
]


@pytest.mark.parametrize("factory, kwargs, message", BAD_ARGUMENTS,
                         ids=[f"{f.__name__}-{m[:28]}" for f, _, m in BAD_ARGUMENTS])
def test_bad_arguments_raise_naming_the_argument(factory, kwargs, message):
    with pytest.raises(ValueError) as info:
        factory(**kwargs)
    assert message in str(info.value)


BAD_K = [
    (-1, "got -1"),
    (np.int64(-3), "got -3"),
    (2.0, "got the float 2.0"),
    (2.5, "got the float 2.5"),
    (np.float64(1.0), "got the float"),
    (True, "got the bool True"),
    (np.bool_(False), "got the bool"),
    (np.array([0, 1, -2]), "got an array holding -2"),
    (np.array([0.0, 1.0]), "dtype float64"),
    ([0.5, 1.5], "dtype float64"),
    (np.array([True, False]), "dtype bool"),
    (np.array(["1"]), "dtype <U1"),
    (None, "dtype object"),
]


@pytest.mark.parametrize("k, detail", BAD_K, ids=[repr(k)[:20] for k, _ in BAD_K])
def test_bad_k_raises(k, detail):
    schedule = S.cosine(0.1, total_steps=10)
    with pytest.raises(ValueError) as info:
        schedule(k)
    assert "k must be an int >= 0 or an integer array" in str(info.value)
    assert detail in str(info.value)


def test_huge_uint64_k_is_refused():
    with pytest.raises(ValueError, match="does not fit in int64"):
        S.constant(0.1)(np.array([2**64 - 1], dtype=np.uint64))


def test_cosine_restarts_array_too_large_for_int64():
    schedule = S.cosine_restarts(0.1, period=1, mult=2)
    with pytest.raises(ValueError, match="too large for an int64 array with mult=2"):
        schedule(np.array([0, 2**61 - 1]))
    # The scalar path has Python ints: 2**61 - 1 starts cycle 61 (k_i = 2**i - 1).
    assert schedule(2**61 - 1) == 0.1
