"""The benchmarks package and ``python -m benchmarks``: the harness, the tables, tiny real runs.

No test here asserts a time: they check what is measured, how ratios are
paired, and that every benchmark runs end to end on tiny sizes.
"""
import itertools
import os
import pathlib
import statistics
import subprocess
import sys

import numpy as np
import pytest

from optlib.threads import available_cores

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:       # benchmarks/ is not installed: it lives in the repository
    sys.path.insert(0, str(REPO))

import benchmarks as bench  # noqa: E402
from benchmarks import harness, suites  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    Row, Section, Target, paired_ratio, render, time_interleaved,
)


# ---- the harness ----------------------------------------------------------------

def test_rounds_alternate_the_order_after_the_warmup(monkeypatch):
    calls = []
    variants = {name: (lambda name=name: calls.append(name)) for name in "ABC"}
    times = time_interleaved(variants, rounds=3, warmup=2, pause=0)
    assert calls == list("ABC" * 2) + list("ABC") + list("CBA") + list("ABC")
    assert {k: len(v) for k, v in times.items()} == {"A": 3, "B": 3, "C": 3}
    assert all(t >= 0 for v in times.values() for t in v)


def test_time_interleaved_measures_the_call(monkeypatch):
    clock = itertools.count(0.0, 0.5)                 # every reading is 0.5 s after the last
    monkeypatch.setattr(harness.time, "perf_counter", lambda: next(clock))
    times = time_interleaved({"a": lambda: None}, rounds=2, warmup=0, pause=0)
    assert times == {"a": [0.5, 0.5]}


@pytest.mark.parametrize("rounds,warmup", [(0, 1), (3, -1)])
def test_bad_rounds_are_rejected(rounds, warmup):
    with pytest.raises(ValueError, match="rounds"):
        time_interleaved({"a": lambda: None}, rounds=rounds, warmup=warmup)


def test_the_ratio_is_the_median_of_pairs_not_a_ratio_of_medians():
    a = [1.0, 10.0, 3.0]
    b = [2.0, 10.0, 1.0]                              # pairs: 0.5, 1, 3 -> median 1
    assert paired_ratio(a, b) == 1.0
    assert np.median(a) / np.median(b) == 1.5         # what an unpaired ratio would say


def test_paired_ratio_needs_equal_lengths():
    with pytest.raises(ValueError, match="equally long"):
        paired_ratio([1.0], [1.0, 2.0])


def sample_section():
    return Section("Demo", [
        Row("slow", "1", [2.0, 4.0, 2.0], work=8e9, unit="GB/s"),
        Row("fast", "2", [1.0, 1.0, 1.0], work=8e9, unit="GB/s"),
        Row("copy", "2", [0.5, 0.5, 0.5], work=8e9, unit="GB/s", compared=False),
    ], references=["slow"], notes=["a note"], ceiling="copy")


def test_section_ratios_and_rates():
    s = sample_section()
    assert s.ratio("fast", "slow") == 0.5             # pairs 0.5, 0.25, 0.5
    assert s.row("slow").median == 2.0 and s.row("slow").rate == 4.0
    assert s.row("copy").rate == 16.0
    with pytest.raises(KeyError, match="no row 'torch'"):
        s.row("torch")


def test_render_shows_times_rates_ceiling_and_ratios():
    text = render(sample_section())
    lines = text.splitlines()
    assert lines[0] == "Demo"
    assert "% of copy" in lines[1] and "/ slow" in lines[1]
    fast = next(line for line in lines if line.startswith("fast"))
    assert fast.split() == ["fast", "2", "1,000", "8", "GB/s", "50%", "0.5"]
    copy = next(line for line in lines if line.startswith("copy"))
    assert copy.split()[-1] == "100%"                 # a yardstick gets no ratio column
    assert lines[-1] == "  a note"


def test_a_table_without_rates_has_no_rate_column():
    section = Section("Parts", [Row("a", "1", [0.002]), Row("all", "1", [0.004])],
                      references=["all"])
    lines = render(section).splitlines()
    assert lines[1].split() == ["threads", "median", "ms", "/", "all"]
    assert lines[3].split() == ["a", "1", "2", "0.5"]


def test_a_scaled_row_is_compared_after_scaling():
    s = Section("S", [Row("sample", "1", [1.0, 1.0], scale=10.0), Row("all", "1", [2.0, 2.0])])
    assert s.row("sample").median == 10.0
    assert s.ratio("all", "sample") == 0.2


def test_targets_resolve_roles_to_rows():
    s = sample_section()
    s.roles = {"the slow one": "slow"}
    target = Target("Demo", "fast", "the slow one", 0.6, "fast is fast")
    assert target.measure([s]) == 0.5
    text = bench.render_targets(bench.check_targets([target], [s]), [s])
    assert "fast / slow <= 0.6: 0.5  met" in text


def test_targets_are_checked_against_measured_ratios():
    s = sample_section()
    met = Target("Demo", "fast", "slow", 0.6, "fast is fast")
    missed = Target("Demo", "fast", "slow", 0.4, "fast is very fast")
    absent = Target("Demo", "torch", "slow", 1.0, "torch row")
    results = bench.check_targets([met, missed, absent], [s])
    assert [(r[1], r[2]) for r in results] == [(0.5, True), (0.5, False), (None, None)]
    text = bench.render_targets(results)
    assert "0.5  met" in text and "NOT met" in text and "not measured" in text


def test_mlp_flops_count_the_products_both_frameworks_compute():
    # forward 784*100 + 100*10, the same again for weight gradients, and one
    # hidden-layer gradient 100*10 (none for the input): times 2 per multiply-add
    per_row = 2 * (784 * 100 + 100 * 10) * 2 + 2 * 100 * 10
    assert suites._mlp_flops([784, 100, 10], 3) == 3 * per_row


def test_machine_info_names_numpy_and_the_optional_libraries():
    text = bench.machine_info()
    assert f"numpy {np.__version__}" in text
    assert "cores available" in text
    assert ("torch not installed" in text) or ("torch " in text)
    assert ("numba not installed" in text) or ("numba " in text)


# ---- the naive reference is the same algorithm -------------------------------------

@pytest.mark.parametrize("name", sorted(bench.OPTIMIZERS))
def test_the_naive_style_computes_the_same_update(name):
    import optlib
    cls_name, kwargs, _, _, naive, _, _ = bench.OPTIMIZERS[name]
    rng = np.random.default_rng(1)
    x0 = {k: rng.standard_normal(50) for k in "ab"}
    ours = {k: v.copy() for k, v in x0.items()}
    theirs = {k: v.copy() for k, v in x0.items()}
    opt = getattr(optlib, cls_name)(**kwargs)
    state = {"t": 0, "m": {k: np.zeros(50) for k in "ab"}, "v": {k: np.zeros(50) for k in "ab"}}
    for k in range(5):
        g = {key: rng.standard_normal(50) for key in "ab"}
        opt.step(ours, g)
        naive(theirs, g, state)
    for key in "ab":
        np.testing.assert_allclose(theirs[key], ours[key], rtol=1e-12)
        assert np.max(np.abs(ours[key] - x0[key])) > 1e-4


# ---- the benchmarks on tiny sizes ----------------------------------------------------

def test_optimizer_step_runs_every_variant_and_the_copies():
    section = bench.optimizer_step("Adam", n_params=20_000, n_arrays=3, rounds=2, pause=0)
    labels = [r.label for r in section.rows]
    assert labels[:2] == ["naive numpy", "optlib"] and "numpy copy" in labels
    assert ("torch foreach 1t" in labels) == (harness._torch() is not None)
    if harness._torch() is not None:
        # torch runs on as many threads as optlib's numpy code and its fused kernels
        cores = available_cores()
        assert section.row("torch foreach 1t").threads == "1"
        assert section.row("optlib").threads == "1"
        assert section.roles["torch foreach, same threads as optlib"] == "torch foreach 1t"
        if cores > 1:
            assert section.row(f"torch foreach {cores}t").threads == str(cores)
        fused_label = section.roles["torch fused, same threads as optlib fused"]
        assert section.row(fused_label).threads == str(available_cores())
    assert ("optlib fused" in labels) == (harness._numba() is not None)
    assert ("optlib fused unchecked" in labels) == (harness._numba() is not None)
    assert section.row("optlib").work == 7 * 4 * 20_000
    assert section.row("numpy copy").work == 2 * 4 * 20_000
    if harness._torch() is not None:
        # the yardsticks of a checked step: PyTorch's own check, and one read of the gradient
        cores = str(available_cores())
        read = section.row(f"torch read pass {cores}t")
        assert read.work == 4 * 20_000 and not read.compared
        assert section.row(f"torch fused + norm check {cores}t").compared
        bound = next(n for n in section.notes if n.startswith("A finiteness check"))
        expected = statistics.median(
            (f + r) / f for f, r in zip(section.row(f"torch fused {cores}t").seconds,
                                        read.seconds))
        assert f"= {expected:.3g} here, against the 8/7 = 1.14" in bound
    assert "Adam step: 20,000 float32 parameters in 3 arrays" in render(section)


def test_optimizer_step_without_the_optional_libraries():
    section = bench.optimizer_step("Adagrad", n_params=5_000, n_arrays=2, rounds=1,
                                   fused=False, torch_variants=False, pause=0)
    assert [r.label for r in section.rows] == ["naive numpy", "optlib", "numpy copy"]
    assert section.references == ["naive numpy"] and section.ceiling == "numpy copy"


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="'Lion'"):
        bench.optimizer_step("Lion")


def test_mlp_epoch_trains_the_same_model_on_both_sides():
    rng = np.random.default_rng(0)
    X = rng.random((600, 20), dtype=np.float32)
    y = rng.integers(0, 3, 600)
    section = bench.mlp_epoch(sizes=(20, 16, 3), batch_size=64, rounds=1, matmul_n=64,
                              data=(X, y), pause=0)
    labels = [r.label for r in section.rows]
    assert labels[0] == "optlib" and labels[-1] == "float32 matmul"
    losses = section.notes[-1]
    assert losses.startswith("final minibatch loss: optlib ")
    if harness._torch() is not None:
        # same initial weights, same batches, same loss and optimizer: same final loss
        values = dict(part.rsplit(" ", 1) for part in losses.split(": ", 1)[1].split(", "))
        assert abs(float(values["torch"]) - float(values["optlib"])) < 1e-3


def test_mlp_epoch_scales_the_ceiling_to_the_epoch_and_sets_torch_threads_apart():
    rng = np.random.default_rng(0)
    X = rng.random((300, 20), dtype=np.float32)
    y = rng.integers(0, 3, 300)
    section = bench.mlp_epoch(sizes=(20, 16, 3), batch_size=64, rounds=1, matmul_n=64,
                              data=(X, y), pause=0, threads=1, torch_threads=2, fused=False,
                              skipped=False, title="Training, every core")
    assert section.title.startswith("Training, every core: one epoch of MLP([20, 16, 3])")
    assert "optlib, update skipped" not in [r.label for r in section.rows]
    assert not any(n.startswith("At 50% of the ceiling") for n in section.notes)
    matmul = section.row("float32 matmul")
    flops = suites._mlp_flops([20, 16, 3], 300)
    # the product's time is scaled to the epoch's FLOPs; its rate is the product's own
    assert matmul.work == flops and matmul.scale == flops / (2 * 64**3)
    assert matmul.rate == pytest.approx(2 * 64**3 / np.median(matmul.seconds) / 1e9)
    if harness._torch() is not None:
        assert section.row("torch").threads == "2" and section.row("optlib").threads == "1"


def test_the_products_alone_are_the_products_the_flops_count():
    # count the products _products_alone computes: their 2*m*n*k must be _mlp_flops
    X = np.random.default_rng(0).random((300, 20), dtype=np.float32)
    flops = []

    class Counting(np.ndarray):
        def __matmul__(self, other):
            assert self.dtype == other.dtype == np.float32      # in the data's dtype
            flops.append(2 * self.shape[0] * self.shape[1] * other.shape[1])
            return (np.asarray(self) @ np.asarray(other)).view(Counting)

    run = suites._products_alone([20, 16, 3], X.view(Counting), 64)
    run()
    assert sum(flops) == suites._mlp_flops([20, 16, 3], 300)


def test_the_one_thread_epoch_shows_the_budget_left_beside_the_products(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.random((300, 20), dtype=np.float32)
    y = rng.integers(0, 3, 300)
    flops = suites._mlp_flops([20, 16, 3], 300)
    # times chosen so that every number of the note is known: the ceiling's
    # product takes 0.1 s per epoch's worth of FLOPs, so 50% allows 0.2 s
    matmul_seconds = 0.1 * (2 * 64**3) / flops
    fake = {"optlib": [0.40, 0.60, 0.45], "optlib, update skipped": [0.30, 0.31, 0.40],
            "matrix products alone": [0.15, 0.10, 0.20], "float32 matmul": [matmul_seconds] * 3}

    def fake_timing(variants, rounds, pause):
        assert set(variants) == set(fake)
        return fake

    monkeypatch.setattr(suites, "time_interleaved", fake_timing)
    section = bench.mlp_epoch(sizes=(20, 16, 3), batch_size=64, rounds=3, matmul_n=64,
                              data=(X, y), pause=0, threads=1, fused=False,
                              torch_variants=False)
    alone = section.row("matrix products alone")
    assert not alone.compared and alone.work == flops
    note = next(n for n in section.notes if n.startswith("At 50% of the ceiling"))
    # budget 200 ms, products 150 (median), left 50; besides the products: the
    # median of 150, 210, 200 (not a difference of medians, 160); Adam: the
    # median of 100, 290, 50 (not 140)
    assert "the epoch may take 200 ms; the products alone take 150 of them" in note
    assert "which leaves 50 ms for everything else" in note
    assert "spends about 200 ms besides the products" in note
    assert "the numpy Adam update adds 100 ms" in note


def test_epoch_parts_add_up_to_the_epoch_round_by_round(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.random((300, 20), dtype=np.float32)
    y = rng.integers(0, 3, 300)
    # fixed times per loop, so that the differences are known exactly
    fake = {"minibatches": 1.0, "+ loss_and_grad": 5.0, "+ step, update skipped": 6.5,
            "+ Adam's update": 9.0, "fit": 9.25, "products": 2.5}
    seen = {}

    def fake_timing(variants, rounds, pause):
        for fn in variants.values():
            fn()                                   # every loop runs on the tiny data
        seen.update(variants)
        return {name: [fake[name] + r for r in range(rounds)] if name == "fit" else
                [fake[name]] * rounds for name in variants}

    monkeypatch.setattr(suites, "time_interleaved", fake_timing)
    section = bench.epoch_parts(sizes=(20, 16, 3), batch_size=64, rounds=3, data=(X, y))
    assert set(seen) == set(fake)
    parts = {row.label: row.seconds for row in section.rows}
    assert parts["draw and gather the minibatches"] == [1.0] * 3
    assert parts["matrix products"] == [2.5] * 3
    assert parts["around the products (bias, activation, loss, checks)"] == [1.5] * 3
    assert parts["optimizer step without its update (checks, bookkeeping)"] == [1.5] * 3
    assert parts["Adam's update (numpy arithmetic)"] == [2.5] * 3
    assert parts["fit's own work (setup, schedule, history)"] == [0.25, 1.25, 2.25]
    total = parts.pop("fit, one epoch")
    assert [sum(p) for p in zip(*parts.values())] == total
    assert section.references == ["fit, one epoch"] and "parts" in bench.BENCHMARKS


def test_lr_sweep_runs_one_after_another_and_on_workers_with_the_same_losses():
    rng = np.random.default_rng(0)
    X = rng.random((256, 20), dtype=np.float32)
    y = rng.integers(0, 3, 256)
    section = bench.lr_sweep(sizes=(20, 8, 3), batch_size=64, n_runs=3, workers=2, rounds=1,
                             data=(X, y), pause=0)
    assert [r.label for r in section.rows] == ["one after another", "optlib.sweep, 2 workers"]
    assert section.roles == {"optlib.sweep": "optlib.sweep, 2 workers"}
    assert "the same losses, bit for bit" in " ".join(section.notes)
    assert section.row("one after another").work == 3 * suites._mlp_flops([20, 8, 3], 256)
    target = next(t for t in bench.TARGETS if t.section == "Sweep")
    assert target.measure([section]) == section.ratio("optlib.sweep, 2 workers",
                                                      "one after another")


def test_a_ceiling_target_is_also_shown_as_a_percentage():
    s = Section("Training, one thread: demo", [Row("optlib", "1", [4.0, 4.0]),
                                               Row("float32 matmul", "1", [1.0, 1.0])])
    target = next(t for t in bench.TARGETS if t.section == "Training, one thread")
    text = bench.render_targets(bench.check_targets([target], [s]), [s])
    assert "optlib / float32 matmul <= 2: 4  NOT met (25% of the ceiling; the goal is 50%)" in text


def test_the_targets_are_those_of_the_issue():
    limits = {(t.section, t.label, t.reference): t.limit for t in bench.TARGETS}
    assert limits == {
        ("Sweep", "optlib.sweep", "one after another"): 0.6,
        ("Training, one thread", "optlib", "float32 matmul"): 2.0,
        ("Training, every core", "optlib", "torch"): 1.0,
        ("Adam step", "optlib fused", "torch fused, same threads as optlib fused"): 8 / 7,
        ("Adam step", "optlib", "torch foreach, same threads as optlib"): 1.0,
    }
    assert bench.FULL["rounds"] >= 11        # the fused target: median of >= 11 paired rounds


def test_model_step_compares_one_buffer_with_separate_arrays():
    section = bench.model_step(sizes=(6, 4, 3), steps=3, rounds=1, pause=0)
    labels = [r.label for r in section.rows]
    assert labels[:2] == ["optlib", "optlib apart"]
    assert ("optlib fused" in labels) == (harness._numba() is not None)
    assert ("torch foreach" in labels) == (harness._torch() is not None)
    assert section.references == ["optlib apart"]
    # 6*4 + 4 + 4*3 + 3 = 43 parameters, 3 steps per call, rate in millions per second
    assert section.row("optlib").work == 43 * 3 * 1e3
    assert "43 float32 parameters in 4 arrays" in section.notes[0]


def test_trajectories_compare_batched_with_a_loop_and_agree():
    section = bench.trajectories(n_points=40, steps=5, loop_sample=4, rounds=1,
                                 torch_variants=False, pause=0)
    assert section.row("loop over points").scale == 10
    assert "max difference 0.0e+00" in " ".join(section.notes)


# ---- the command line -------------------------------------------------------------

def test_command_line_sizes_and_choices():
    from benchmarks.cli import parse_args, sizes_from
    args = parse_args(["--quick", "--params", "1_000", "--only", "step", "--optimizers", "Adam"])
    sizes = sizes_from(args)
    assert sizes["n_params"] == 1000 and sizes["n_arrays"] == bench.QUICK["n_arrays"]
    assert args.only == ["step"] and args.optimizers == ["Adam"] and not args.check
    assert parse_args(["--check"]).check
    assert sizes_from(parse_args([]))["n_params"] == bench.FULL["n_params"]


@pytest.mark.parametrize("argv,message", [
    (["--params", "0"], "positive integer"),
    (["--only", "everything"], "invalid choice"),
    (["--points", "5", "--loop-sample", "10"], "--loop-sample 10 exceeds --points 5"),
])
def test_command_line_errors_name_the_option(argv, message, capsys):
    from benchmarks.cli import parse_args
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err


def test_python_dash_m_benchmarks_runs():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "step", "trajectories",
         "--optimizers", "SGD momentum", "--params", "30000", "--arrays", "3", "--rounds", "1",
         "--points", "50", "--steps", "5", "--loop-sample", "5", "--no-torch", "--no-fused"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("$ python -m benchmarks --quick")
    assert "--check" not in result.args and result.returncode == 0     # reports, never fails
    assert "SGD momentum step: 30,000 float32 parameters in 3 arrays" in out
    assert "Trajectories: 50 starting points x 5 steps" in out
    assert "Targets" in out and "not measured" in out


# ---- the benchmarks live outside the installed library --------------------------------

def test_the_library_has_no_benchmark_code():
    import importlib.util
    assert importlib.util.find_spec("optlib.bench") is None
    assert (REPO / "benchmarks" / "suites.py").is_file()


def _performance_page_import_cell() -> str:
    import json
    cells = json.loads((REPO / "book" / "performance.ipynb").read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    (cell,) = [s for s in sources if "import benchmarks as bench" in s]
    return cell


def test_the_performance_page_finds_the_benchmarks_from_a_temporary_folder(tmp_path):
    # the build runs the page in a temporary folder, where benchmarks/ is not importable
    code = ("import sys, optlib\n" + _performance_page_import_cell().replace(
        "print(bench.machine_info())", "print(bench.__file__)"))
    env = {k: v for k, v in os.environ.items() if k not in ("OPTLIB_REPO", "PYTHONPATH")}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert pathlib.Path(out.stdout.strip()) == REPO / "benchmarks" / "__init__.py"
    # a folder without benchmarks/ is named in the error
    env["OPTLIB_REPO"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and f"no benchmarks/ folder in {tmp_path}" in out.stderr
