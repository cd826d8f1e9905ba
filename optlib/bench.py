r"""Speed comparisons measured side by side, for ``python -m benchmarks`` and the book.

The command line (:mod:`benchmarks`) and the book's Performance appendix run
the same functions, defined here.

Four benchmarks, each a function returning a :class:`Section` (a table):

:func:`optimizer_step`
    one step of Adam, SGD with momentum, RMSprop and Adagrad on many
    float32 parameters, for optlib's numpy code, its fused (numba) path, the
    naive numpy style of most tutorials and ``torch.optim`` (foreach and
    fused), with the effective memory bandwidth of each next to the
    machine's (array copies timed in the same rounds);
:func:`mlp_epoch`
    one epoch of ``MLP([784, 100, 10])`` with Adam on MNIST, optlib against
    the same model, loss, initial weights, batches and optimizer in PyTorch,
    and the GFLOP/s of both against a large matrix product;
:func:`blas_thread_sweep`
    the same epoch of optlib with one BLAS thread and with every core;
:func:`trajectories`
    many Adam trajectories on Rosenbrock's function in one batched call,
    against a Python loop over starting points and against PyTorch.

How things are timed (:func:`time_interleaved`): after warm-up calls, every
round runs each variant once, in alternating order, so that a slow moment
of the machine hits all variants of a round alike. A ratio is the median
over rounds of the ratio *within* a round, not a ratio of medians. Between
calls the timer pauses briefly so that thread pools that busy-wait after
their work (OpenMP in PyTorch and numba, OpenBLAS) go back to sleep before
the next variant starts.

torch and numba are optional: their rows appear only when they are installed.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from optlib.optimizers import Optimizer

__all__ = [
    "Row", "Section", "Target", "time_interleaved", "paired_ratio", "machine_info",
    "optimizer_step", "model_step", "mlp_epoch", "blas_thread_sweep", "trajectories", "check_targets",
    "render", "OPTIMIZERS", "FULL", "QUICK",
]

#: Default sizes of ``python -m benchmarks``.
FULL = dict(n_params=10_000_000, n_arrays=20, rounds=11, mlp_rows=None, mlp_rounds=5,
            sweep_rounds=5, matmul_n=2048, n_points=10_000, steps=200, loop_sample=100,
            small_steps=200)
#: Sizes of ``--quick`` and of the book's Performance page (well under a minute).
QUICK = dict(n_params=2_000_000, n_arrays=20, rounds=5, mlp_rows=15_000, mlp_rounds=5,
             sweep_rounds=5, matmul_n=1024, n_points=2_000, steps=200, loop_sample=20,
             small_steps=100)


# ----------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------

def _timed(fn: Callable[[], Any]) -> float:
    gc_was_enabled = gc.isenabled()
    gc.disable()              # a collection inside one variant's call is noise
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()


def time_interleaved(variants: dict[str, Callable[[], Any]], rounds: int = 7,
                     warmup: int = 1, pause: float = 0.02) -> dict[str, list[float]]:
    """Seconds per call of every variant, measured in interleaved rounds.

    Parameters
    ----------
    variants : dict of name -> callable
        Each callable runs the work once (its return value is ignored).
    rounds : int
        Timed rounds, ``>= 1``; each runs every variant once. Odd rounds run
        the variants in reverse order.
    warmup : int
        Untimed rounds first (compilation, caches, page faults of fresh arrays).
    pause : float
        Seconds to sleep before every timed call.

    Returns
    -------
    dict of name -> list of float
        ``rounds`` times per variant, in round order.
    """
    if rounds < 1 or warmup < 0:
        raise ValueError(f"rounds must be >= 1 and warmup >= 0, got {rounds} and {warmup}")
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    # one full collection now; during each timed call the collector is off
    # (a collection costs ~0.1 s once torch is imported: not once per call)
    gc.collect()
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            if pause:
                time.sleep(pause)
            times[name].append(_timed(variants[name]))
    return times


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median over rounds of ``numerator[r] / denominator[r]`` (times of the same round)."""
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError("paired_ratio needs two equally long, non-empty lists of times")
    return statistics.median(a / b for a, b in zip(numerator, denominator))


# ----------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------

@dataclasses.dataclass
class Row:
    """One variant of a benchmark: its times per round and what one call does."""
    label: str
    threads: str
    seconds: list[float]
    work: float | None = None        # bytes moved or floating-point operations per call
    unit: str = ""                   # "GB/s" or "GFLOP/s"
    scale: float = 1.0               # times are multiplied by this (a sample scaled up)
    compared: bool = True            # False: a yardstick (copy, matmul), no ratio columns

    @property
    def median(self) -> float:
        """Median seconds per call (after ``scale``)."""
        return statistics.median(self.seconds) * self.scale

    @property
    def rate(self) -> float | None:
        """``work / median`` in units of 1e9 per second (GB/s, GFLOP/s), or None."""
        if self.work is None:
            return None
        return self.work / self.median / 1e9


@dataclasses.dataclass
class Section:
    """A benchmark's table: rows, the rows every other row is compared with, notes."""
    title: str
    rows: list[Row]
    references: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    ceiling: str | None = None       # a row whose rate the others are shown as a percentage of
    roles: dict[str, str] = dataclasses.field(default_factory=dict)   # role -> row label

    def row(self, label: str) -> Row:
        """The row called ``label`` (KeyError if absent, e.g. torch not installed)."""
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(f"no row {label!r} in {self.title!r}; rows: {[r.label for r in self.rows]}")

    def ratio(self, label: str, reference: str) -> float:
        """Time of ``label`` / time of ``reference``, median over rounds of the pairs."""
        a, b = self.row(label), self.row(reference)
        return paired_ratio(a.seconds, b.seconds) * a.scale / b.scale

    def has(self, *labels: str) -> bool:
        """True if every label is a row."""
        present = {r.label for r in self.rows}
        return all(label in present for label in labels)


@dataclasses.dataclass
class Target:
    """A goal ``time(label) / time(reference) <= limit`` within one section."""
    section: str
    label: str
    reference: str
    limit: float
    meaning: str

    def rows(self, sections: Sequence[Section]) -> tuple[Section, str, str] | None:
        """The section and the two row labels (roles resolved), or None when a row is missing."""
        for s in sections:
            label, reference = s.roles.get(self.label, self.label), s.roles.get(self.reference,
                                                                               self.reference)
            if s.title.startswith(self.section) and s.has(label, reference):
                return s, label, reference
        return None

    def measure(self, sections: Sequence[Section]) -> float | None:
        """The measured ratio, or None when a row is missing."""
        found = self.rows(sections)
        return None if found is None else found[0].ratio(found[1], found[2])


def _fmt_ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:,.0f}"


def render(section: Section) -> str:
    """The section as a plain-text table (fixed-width columns, one line per row)."""
    refs = [r for r in section.references if section.has(r)]
    ceiling = None
    if section.ceiling and section.has(section.ceiling):
        ceiling = section.row(section.ceiling)
    header = ["", "threads", "median ms", "rate"]
    header += [f"% of {ceiling.label}"] if ceiling is not None else []
    header += [f"/ {r}" for r in refs]
    lines = []
    for row in section.rows:
        rate = row.rate
        cells = [row.label, row.threads, _fmt_ms(row.median),
                 "" if rate is None else f"{rate:.3g} {row.unit}"]
        if ceiling is not None:
            cells.append("" if rate is None else f"{100 * rate / ceiling.rate:.0f}%")
        for ref in refs:
            if not row.compared:
                cells.append("")
            else:
                cells.append("1" if ref == row.label else f"{section.ratio(row.label, ref):.3g}")
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]

    def fmt(cells):
        first = f"{cells[0]:<{widths[0]}}"
        return "  ".join([first] + [f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:])])

    out = [section.title, fmt(header), "  ".join("-" * w for w in widths)]
    out += [fmt(cells) for cells in lines]
    out += [f"  {note}" for note in section.notes]
    return "\n".join(out)


Checked = tuple[Target, "float | None", "bool | None"]


def check_targets(targets: Sequence[Target], sections: Sequence[Section]) -> list[Checked]:
    """Each target with its measured ratio and whether it is met (None: not measured here)."""
    results = []
    for target in targets:
        value = target.measure(sections)
        results.append((target, value, None if value is None else value <= target.limit))
    return results


def render_targets(results: Sequence[Checked], sections: Sequence[Section] = ()) -> str:
    """The target check as text, one line per target."""
    lines = ["Targets (ratios of times measured in the same rounds)"]
    for target, value, met in results:
        found = target.rows(sections)
        label, reference = (found[1], found[2]) if found else (target.label, target.reference)
        shown = "not measured (benchmark not run, or torch/numba missing)" if value is None else (
            f"{value:.3g}  {'met' if met else 'NOT met'}")
        lines.append(f"  {target.meaning}: {label} / {reference} <= {target.limit:g}: {shown}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# optional libraries and the machine
# ----------------------------------------------------------------------------

def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _numba():
    try:
        import numba
    except ImportError:
        return None
    return numba


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> str:
    """Cores, CPU, Python, numpy with its BLAS, torch and numba, as a few lines of text."""
    from optlib.threads import available_cores, blas_info

    lines = [f"Machine: {_cpu_model()}, {available_cores()} cores available to this process "
             f"({os.cpu_count()} logical CPUs), {platform.system()} {platform.machine()}",
             f"Python {platform.python_version()}, numpy {np.__version__}"]
    blas = blas_info()
    if blas:
        lines.append("  BLAS: " + "; ".join(
            f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')} kernels, "
            f"{b.get('threading_layer')} threading, {b.get('num_threads')} threads by default)"
            for b in blas))
    else:
        lines.append("  BLAS: unknown (install threadpoolctl to see it)")
    torch = _torch()
    if torch is None:
        lines.append("torch not installed: its columns are left out")
    else:
        lines.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads by default; "
                     f"BLAS: {'MKL' if torch.backends.mkl.is_available() else 'no MKL'})")
    numba = _numba()
    if numba is None:
        lines.append("numba not installed: the fused rows are left out (pip install optlib[fast])")
    else:
        lines.append(f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads)")
    return "\n".join(lines)


@contextlib.contextmanager
def _library_threads(numba: Any, torch: Any, threads: int):
    """numba's and torch's thread counts set to ``threads`` in the block, then restored."""
    saved_numba = numba.get_num_threads() if numba is not None else None
    try:
        if numba is not None:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        with _TorchThreads(torch, threads) if torch is not None else contextlib.nullcontext():
            yield
    finally:
        if numba is not None:
            numba.set_num_threads(saved_numba)


class _TorchThreads:
    """Set torch's intra-op threads for a block and restore them afterwards."""

    def __init__(self, torch, n: int) -> None:
        self.torch, self.n = torch, n

    def __enter__(self):
        self.before = self.torch.get_num_threads()
        self.torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        self.torch.set_num_threads(self.before)


# ----------------------------------------------------------------------------
# optimizer step
# ----------------------------------------------------------------------------

def _naive_adam(params, grads, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    # the dict-of-arrays style of most tutorials: a temporary for every sub-expression
    state["t"] += 1
    t = state["t"]
    for k in params:
        g = grads[k]
        state["m"][k] = b1 * state["m"][k] + (1 - b1) * g
        state["v"][k] = b2 * state["v"][k] + (1 - b2) * g**2
        m_hat = state["m"][k] / (1 - b1**t)
        v_hat = state["v"][k] / (1 - b2**t)
        params[k] -= lr * m_hat / (np.sqrt(v_hat) + eps)


def _naive_momentum(params, grads, state, lr=1e-3, mu=0.9):
    for k in params:
        state["v"][k] = mu * state["v"][k] + grads[k]
        params[k] -= lr * state["v"][k]


def _naive_rmsprop(params, grads, state, lr=1e-3, alpha=0.99, eps=1e-8):
    for k in params:
        g = grads[k]
        state["v"][k] = alpha * state["v"][k] + (1 - alpha) * g**2
        params[k] -= lr * g / (np.sqrt(state["v"][k]) + eps)


def _naive_adagrad(params, grads, state, lr=1e-3, eps=1e-10):
    for k in params:
        g = grads[k]
        state["v"][k] += g**2
        params[k] -= lr * g / (np.sqrt(state["v"][k]) + eps)


#: The optimizers of :func:`optimizer_step`: optlib class and keyword arguments,
#: torch class and keyword arguments, the naive numpy version, words of 4 bytes
#: read or written per parameter by a one-pass update, and whether torch has a
#: fused CPU kernel for it.
OPTIMIZERS = {
    "Adam": ("Adam", {"lr": 1e-3}, "Adam", {"lr": 1e-3}, _naive_adam, 7, True),
    "SGD momentum": ("SGD", {"lr": 1e-3, "momentum": 0.9}, "SGD", {"lr": 1e-3, "momentum": 0.9},
                     _naive_momentum, 5, True),
    "RMSprop": ("RMSprop", {"lr": 1e-3}, "RMSprop", {"lr": 1e-3}, _naive_rmsprop, 5, False),
    "Adagrad": ("Adagrad", {"lr": 1e-3}, "Adagrad", {"lr": 1e-3}, _naive_adagrad, 5, True),
}


def _leaves(n_params: int, n_arrays: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    sizes = [n_params // n_arrays + (i < n_params % n_arrays) for i in range(n_arrays)]
    return {f"w{i}": rng.standard_normal(s, dtype=np.float32) for i, s in enumerate(sizes)}


def optimizer_step(name: str = "Adam", n_params: int = 10_000_000, n_arrays: int = 20,
                   rounds: int = 7, threads: int | None = None, fused: bool | None = None,
                   torch_variants: bool | None = None, pause: float = 0.02) -> Section:
    """One optimizer step on ``n_params`` float32 parameters in ``n_arrays`` arrays.

    Rows: the naive numpy style (reference), optlib (numpy, one thread),
    optlib ``fused=True`` (numba, ``threads`` threads; when numba is
    installed), ``torch.optim`` with ``foreach=True`` and with ``fused=True``
    (``threads`` threads; when torch is installed and has the kernel).

    The rate column is the effective bandwidth: the bytes a one-pass update
    must read and write (Adam: read x, g, m, v, write x, m, v, so 7 words of
    4 bytes per parameter) divided by the time.

    Parameters
    ----------
    name : str
        A key of :data:`OPTIMIZERS`.
    threads : int, optional
        Threads of the fused kernels and of torch (default: every available core).
    fused, torch_variants : bool, optional
        Include those rows (default: when the library is installed).
    """
    import optlib
    from optlib.threads import available_cores, blas_threads

    if name not in OPTIMIZERS:
        raise ValueError(f"name must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    cls_name, kwargs, torch_name, torch_kwargs, naive, words, torch_has_fused = OPTIMIZERS[name]
    threads = threads or available_cores()
    numba = _numba() if fused in (None, True) else None
    torch = _torch() if torch_variants in (None, True) else None
    rng = np.random.default_rng(0)
    grads = _leaves(n_params, n_arrays, rng)
    x0 = _leaves(n_params, n_arrays, rng)

    def fresh():
        return {k: v.copy() for k, v in x0.items()}

    variants: dict[str, Callable[[], Any]] = {}
    labels: dict[str, str] = {}

    p_naive = fresh()
    naive_state = {"t": 0, "m": {k: np.zeros_like(v) for k, v in x0.items()},
                   "v": {k: np.zeros_like(v) for k, v in x0.items()}}
    variants["naive numpy"] = lambda: naive(p_naive, grads, naive_state)
    labels["naive numpy"] = "1"

    p_opt, opt = fresh(), getattr(optlib, cls_name)(**kwargs)
    variants["optlib"] = lambda: opt.step(p_opt, grads)
    labels["optlib"] = "1"

    if numba is not None:
        p_fused, opt_fused = fresh(), getattr(optlib, cls_name)(**kwargs, fused=True)
        variants["optlib fused"] = lambda: opt_fused.step(p_fused, grads)
        labels["optlib fused"] = str(threads)
        # the same without the finiteness check, which torch does not make
        p_bare = fresh()
        opt_bare = getattr(optlib, cls_name)(**kwargs, fused=True, check_finite=False)
        variants["optlib fused unchecked"] = lambda: opt_bare.step(p_bare, grads)
        labels["optlib fused unchecked"] = str(threads)

    roles = {}
    if torch is not None:
        torch_cls = getattr(torch.optim, torch_name)
        t_grads = [torch.from_numpy(g) for g in grads.values()]

        def torch_params():
            ps = [torch.from_numpy(v).requires_grad_() for v in fresh().values()]
            for p, g in zip(ps, t_grads):
                p.grad = g
            return ps

        def on_threads(n, fn):
            # torch's thread count is set right before each call: every torch row
            # says how many threads it had
            def call():
                torch.set_num_threads(n)
                return fn()
            return call

        kinds = ["foreach"] + (["fused"] if torch_has_fused else [])
        for n in sorted({1, threads}):
            for kind in kinds:
                opt_t = torch_cls(torch_params(), **torch_kwargs, **{kind: True})
                label = f"torch {kind} {n}t"
                variants[label], labels[label] = on_threads(n, opt_t.step), str(n)
        roles["torch foreach, same threads as optlib"] = "torch foreach 1t"
        roles["torch fused, same threads as optlib fused"] = f"torch fused {threads}t"

    # the machine's memory bandwidth, measured in the same rounds: copies of n_params float32
    src = np.concatenate(list(grads.values()))
    dst = np.empty_like(src)
    variants["numpy copy"] = lambda: np.copyto(dst, src)
    labels["numpy copy"] = "1"
    if torch is not None:
        t_src, t_dst = torch.from_numpy(src), torch.empty(src.size)
        variants[f"torch copy {threads}t"] = on_threads(threads, lambda: t_dst.copy_(t_src))
        labels[f"torch copy {threads}t"] = str(threads)

    first_call = None
    if numba is not None:
        # the first fused call compiles the kernel (or loads it from the disk cache)
        first_call = _timed(variants["optlib fused"])
    # one BLAS thread: optlib's finiteness check starts with a dot product,
    # and its row says "1 thread"
    with _library_threads(numba, torch, threads), blas_threads(1):
        times = time_interleaved(variants, rounds=rounds, pause=pause)

    rows = [Row(label, labels[label], times[label], words * 4 * n_params, "GB/s")
            for label in variants if "copy" not in label]
    rows += [Row(label, labels[label], times[label], 2 * 4 * n_params, "GB/s", compared=False)
             for label in variants if "copy" in label]
    ceiling = f"torch copy {threads}t" if torch is not None else "numpy copy"
    notes = [f"rate = effective bandwidth: {words} words of 4 bytes read or written per "
             "parameter (what a one-pass update must move), divided by the time; the copy "
             "rows (2 words per element) are the machine's memory bandwidth."]
    if first_call is not None:
        notes.append(f"optlib fused: the first call took {first_call:.2f} s (compiling the "
                     "kernel, or loading it from numba's disk cache), excluded above. "
                     "'unchecked' is check_finite=False: no pass over the gradient looking "
                     "for NaN/inf before the update (torch makes none).")
    if torch is not None:
        notes.append("torch runs in this process; 'Nt' rows ran with torch.set_num_threads(N). "
                     f"optlib's numpy code ran on one thread, its fused kernels on {threads}.")
    refs = [r for r in ("naive numpy", "torch foreach 1t", f"torch fused {threads}t")
            if r in variants]
    return Section(f"{name} step: {n_params:,} float32 parameters in {n_arrays} arrays",
                   rows, references=refs, notes=notes, ceiling=ceiling, roles=roles)


# ----------------------------------------------------------------------------
# training an MLP on MNIST
# ----------------------------------------------------------------------------

def _mlp_flops(sizes: Sequence[int], n_rows: int) -> float:
    """Floating-point operations of the matrix products of one epoch.

    Forward ``Z_l = A_{l-1} W_l``: ``2 n fan_in fan_out`` per layer; backward,
    the weight gradient ``A_{l-1}^T Δ_l`` for every layer and ``Δ_l W_l^T``
    for every layer but the first (nobody needs the gradient of the input):
    the products optlib and PyTorch both compute.
    """
    layers = list(zip(sizes[:-1], sizes[1:]))
    per_row = sum(2 * a * b for a, b in layers)          # forward
    per_row += sum(2 * a * b for a, b in layers)         # weight gradients
    per_row += sum(2 * a * b for a, b in layers[1:])     # gradients of hidden activations
    return float(per_row * n_rows)


def _torch_mlp(torch, model, lr: float):
    layers = []
    n = model.n_layers
    for l in range(1, n + 1):
        W, b = model.params[f"W{l}"], model.params[f"b{l}"]
        # the model's dtype, whatever torch's default dtype is in this process
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch.from_numpy(W).dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))   # the same initial weights
            linear.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(linear)
        if l < n:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    return net, torch.optim.Adam(net.parameters(), lr=lr)


def _torch_epoch(torch, net, opt, X, y, order, batch_size: int) -> float:
    loss_fn = torch.nn.functional.cross_entropy
    total = 0.0
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(X[index]), y[index])
        loss.backward()
        opt.step()
        total = loss.item()
    return total


def _fit_one_epoch(model, optimizer, X, y, batch_size: int, threads: int) -> float:
    """optlib.train.fit for one epoch with ``threads`` BLAS threads; the last minibatch loss."""
    import inspect

    from optlib.threads import blas_threads
    from optlib.train import fit

    # fit may choose the BLAS threads itself (its threads= argument); pin them either way
    pinned = {"threads": threads} if "threads" in inspect.signature(fit).parameters else {}
    with blas_threads(threads):
        history = fit(model, optimizer, X, y, epochs=1, batch_size=batch_size, seed=0,
                      progress=False, evaluate_train=False, **pinned)
    return float(history.loss[-1])


def _mnist(data: Any, n_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    from optlib.data import load_mnist

    if data is None:
        (X, y), _ = load_mnist()
    else:
        X, y = data
    if n_rows is not None:
        X, y = X[:n_rows], y[:n_rows]
    return np.ascontiguousarray(X, dtype=np.float32), np.asarray(y)


class _SkippedUpdate(Optimizer):
    """Checks its gradients like any optimizer, then changes nothing."""

    def __init__(self) -> None:
        super().__init__(lr=1e-3)

    def update(self, param, grad, state, lr, t) -> None:
        pass


def mlp_epoch(sizes: Sequence[int] = (784, 100, 10), batch_size: int = 128,
              n_rows: int | None = None, rounds: int = 5, threads: int | None = None,
              matmul_n: int = 2048, fused: bool | None = None,
              torch_variants: bool | None = None, data: Any = None,
              pause: float = 0.05) -> Section:
    """One epoch of ``MLP(sizes)`` with Adam (lr 1e-3) on MNIST, optlib against PyTorch.

    Both sides start from the same weights (He initialisation drawn by
    :class:`optlib.nn.MLP`, copied into ``torch.nn.Linear``), visit the same
    minibatches (the permutation :func:`optlib.train.fit` draws for epoch 0),
    compute the same mean softmax cross-entropy and use Adam with the same
    settings; PyTorch uses its default CPU Adam and autograd. Every round
    starts from the initial weights again.

    Parameters
    ----------
    n_rows : int, optional
        Train on the first ``n_rows`` examples only (default: all 60,000).
    threads : int, optional
        BLAS threads for optlib (through :func:`optlib.threads.blas_threads`)
        and ``torch.set_num_threads`` for PyTorch. Default: the policy
        :func:`optlib.threads.threads_for_model`.
    matmul_n : int
        Size of the reference product ``(n, n) @ (n, n)`` in float32, timed
        with the same number of threads: the ceiling for GFLOP/s.
    data : tuple, optional
        ``(X, y)`` to use instead of loading MNIST.
    """
    import optlib
    from optlib.nn import MLP
    from optlib.threads import blas_threads, threads_for_model

    numba = _numba() if fused in (None, True) else None
    torch = _torch() if torch_variants in (None, True) else None
    X, y = _mnist(data, n_rows)
    sizes = list(sizes)
    template = MLP(sizes, seed=0)
    threads = threads or threads_for_model(template, batch_size)
    order = np.random.default_rng([0, 0]).permutation(len(X))   # fit's epoch 0, seed 0
    final_loss: dict[str, float] = {}

    def optlib_run(label: str, make_optimizer: Callable[[], Any]):
        def run():
            final_loss[label] = _fit_one_epoch(MLP(sizes, seed=0), make_optimizer(), X, y,
                                               batch_size, threads)
        return run

    variants: dict[str, Callable[[], Any]] = {
        "optlib": optlib_run("optlib", lambda: optlib.Adam(lr=1e-3))}
    if numba is not None:
        variants["optlib fused Adam"] = optlib_run("optlib fused Adam",
                                                   lambda: optlib.Adam(lr=1e-3, fused=True))
    # everything but the update's arithmetic: what the optimizer could at best save
    variants["optlib, update skipped"] = optlib_run("optlib, update skipped", _SkippedUpdate)
    if torch is not None:
        X_t, y_t = torch.from_numpy(X.copy()), torch.from_numpy(np.array(y, dtype=np.int64))
        order_t = torch.from_numpy(order)

        def torch_run():
            net, opt = _torch_mlp(torch, template, 1e-3)
            final_loss["torch"] = _torch_epoch(torch, net, opt, X_t, y_t, order_t, batch_size)
        variants["torch"] = torch_run
    A = np.random.default_rng(1).random((matmul_n, matmul_n), dtype=np.float32)
    variants["float32 matmul"] = lambda: A @ A

    with _library_threads(numba, torch, threads), blas_threads(threads):
        times = time_interleaved(variants, rounds=rounds, pause=pause)

    flops = _mlp_flops(sizes, len(X))
    rows = [Row(label, str(threads), times[label], flops, "GFLOP/s")
            for label in variants if label != "float32 matmul"]
    rows.append(Row("float32 matmul", str(threads), times["float32 matmul"],
                    2.0 * matmul_n**3, "GFLOP/s", compared=False))
    notes = [
        f"{len(X):,} examples in batches of {batch_size}; GFLOP/s counts the matrix products "
        f"(2*m*n*k each): forward, weight gradients, hidden-layer gradients, "
        f"{flops / 1e9:.2f} GFLOP per epoch. 'float32 matmul' is ({matmul_n}, {matmul_n}) @ "
        f"({matmul_n}, {matmul_n}), the machine's ceiling at this thread count.",
        f"threads = {threads}: BLAS threads for numpy (optlib.threads.blas_threads) and "
        f"torch.set_num_threads({threads}) for PyTorch, in this process.",
        "optlib, update skipped: the same epoch with an optimizer whose update does nothing "
        "(its step still checks the gradients), so the parameters never change: the cost of "
        "the data, the forward and backward passes and the loop, without Adam's arithmetic.",
        "final minibatch loss: " + ", ".join(f"{k} {v:.4f}" for k, v in final_loss.items()
                                             if k != "optlib, update skipped"),
    ]
    return Section(f"Training: one epoch of MLP({sizes}) with Adam, batch {batch_size}, on MNIST",
                   rows, references=["torch"] if torch is not None else [], notes=notes,
                   ceiling="float32 matmul")


def blas_thread_sweep(sizes: Sequence[int] = (784, 100, 10), batch_size: int = 128,
                      n_rows: int | None = None, thread_counts: Sequence[int] | None = None,
                      rounds: int = 3, data: Any = None, pause: float = 0.05) -> Section:
    """One epoch of ``fit`` with different numbers of BLAS threads: why the policy picks its count.

    Parameters
    ----------
    thread_counts : sequence of int, optional
        Default: the policy's count (:func:`optlib.threads.threads_for_model`)
        and every available core, if that differs.
    """
    import optlib
    from optlib.nn import MLP
    from optlib.threads import available_cores, threads_for_model

    X, y = _mnist(data, n_rows)
    sizes = list(sizes)
    policy = threads_for_model(MLP(sizes, seed=0), batch_size)
    counts = sorted(set(thread_counts or (policy, available_cores())))
    label = {n: f"{n} BLAS thread{'s' if n > 1 else ''}" + (" (policy)" if n == policy else "")
             for n in counts}
    variants = {label[n]: (lambda n=n: _fit_one_epoch(MLP(sizes, seed=0), optlib.Adam(lr=1e-3),
                                                      X, y, batch_size, n))
                for n in counts}
    times = time_interleaved(variants, rounds=rounds, pause=pause)
    flops = _mlp_flops(sizes, len(X))
    rows = [Row(label[n], str(n), times[label[n]], flops, "GFLOP/s") for n in counts]
    ref = [label[policy]] if policy in counts else []
    return Section(f"Training threads: one epoch of MLP({sizes}), batch {batch_size}, "
                   f"{len(X):,} examples, optlib with fixed BLAS threads", rows, references=ref,
                   notes=["optlib.threads.threads_for_model picks the policy's count; "
                          "fit(threads=...) overrides it."])


# ----------------------------------------------------------------------------
# batched trajectories
# ----------------------------------------------------------------------------

def trajectories(n_points: int = 10_000, steps: int = 200, loop_sample: int = 100,
                 rounds: int = 5, lr: float = 1e-2, torch_variants: bool | None = None,
                 pause: float = 0.02) -> Section:
    """Adam from ``n_points`` starting points on Rosenbrock's function, ``steps`` steps each.

    Rows: optlib (:func:`optlib.surfaces.trajectory`, all points in one
    ``(n_points, 2)`` array); a Python loop calling ``trajectory`` once per
    point, timed on ``loop_sample`` points and scaled to ``n_points``; and
    PyTorch with one batched ``(n_points, 2)`` tensor, autograd for the
    gradient and ``torch.optim.Adam`` (one thread, like numpy here). Every
    variant records the whole path, float64.
    """
    import optlib
    from optlib.surfaces import rosenbrock, trajectory

    torch = _torch() if torch_variants in (None, True) else None
    surface = rosenbrock()
    rng = np.random.default_rng(0)
    x0 = np.column_stack([rng.uniform(-2, 2, n_points), rng.uniform(-1, 3, n_points)])
    sample = x0[:loop_sample]

    def batched():
        return trajectory(surface, optlib.Adam(lr=lr, check_finite=False), x0, steps)

    def loop():
        return [trajectory(surface, optlib.Adam(lr=lr, check_finite=False), point, steps)
                for point in sample]

    variants: dict[str, Callable[[], Any]] = {"optlib batched": batched,
                                              "loop over points": loop}
    if torch is not None:
        def torch_batched():
            x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
            opt = torch.optim.Adam([x], lr=lr)
            path = torch.empty((steps + 1, n_points, 2), dtype=torch.float64)
            path[0] = x.detach()
            for k in range(1, steps + 1):
                opt.zero_grad(set_to_none=True)
                u, v = x[:, 0], x[:, 1]
                f = ((1.0 - u) ** 2 + 100.0 * (v - u**2) ** 2).sum()
                f.backward()
                opt.step()
                path[k] = x.detach()
            return path
        variants["torch batched"] = torch_batched
        with _TorchThreads(torch, 1):
            times = time_interleaved(variants, rounds=rounds, pause=pause)
    else:
        times = time_interleaved(variants, rounds=rounds, pause=pause)
    # sanity: the batched and the per-point paths agree
    batched_path = batched()
    loop_paths = loop()
    agree = max(float(np.max(np.abs(batched_path[:, i] - p))) for i, p in enumerate(loop_paths))
    updates = float(n_points * steps)
    rows = [Row("optlib batched", "1", times["optlib batched"]),
            Row("loop over points", "1", times["loop over points"],
                scale=n_points / len(sample))]
    if torch is not None:
        rows.append(Row("torch batched", "1", times["torch batched"]))
    for row in rows:
        row.work, row.unit = updates * 1e3, "M updates/s"   # rate = work/time/1e9, in millions
    notes = [f"{n_points:,} points x {steps} Adam steps (lr {lr:g}) on Rosenbrock, float64, "
             "whole paths kept.",
             f"loop over points: trajectory() called once per point on a sample of {len(sample)} "
             f"points, time scaled by {n_points / len(sample):g}; its paths equal the batched ones "
             f"(max difference {agree:.1e}).",
             "rate: millions of point-updates per second."]
    if torch is not None:
        notes.append("torch batched: one (n, 2) tensor, autograd gradient, torch.optim.Adam, "
                     "torch.set_num_threads(1), in this process.")
    refs = ["loop over points"] + (["torch batched"] if torch is not None else [])
    return Section(f"Trajectories: {n_points:,} starting points x {steps} steps of Adam "
                   "on Rosenbrock", rows, references=refs, notes=notes)


def model_step(sizes: Sequence[int] = (784, 100, 10), steps: int = 200, rounds: int = 7,
               fused: bool | None = None, torch_variants: bool | None = None,
               pause: float = 0.02) -> Section:
    """``steps`` Adam steps on the parameters of a small ``MLP(sizes)``: one buffer or many.

    A small model is where the cost of a numpy call, not the arithmetic,
    is the time. :class:`optlib.nn.MLP` keeps its parameters, and
    ``loss_and_grad`` its gradients, as views of one flat buffer each, so the
    optimizer updates all of them as one array (see
    :class:`optlib.optimizers.Optimizer`). Rows: that layout ("optlib"); the
    same values as separate arrays ("optlib apart", the reference: updated
    leaf by leaf); the fused kernel on the buffer ("optlib fused");
    ``torch.optim.Adam`` on the same tensors, default (a loop over
    parameters) and ``foreach``. Every row runs on one thread.
    The gradient is the same every step (one minibatch of random data).
    """
    import optlib
    from optlib.nn import MLP
    from optlib.threads import blas_threads

    numba = _numba() if fused in (None, True) else None
    torch = _torch() if torch_variants in (None, True) else None
    model = MLP(list(sizes), seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], 128)
    _, grads = model.loss_and_grad(X, y)           # views of one buffer, like the params
    n_params = model.n_params

    def run(opt, params, g):
        def call():
            for _ in range(steps):
                opt.step(params, g)
        return call

    tiled = MLP(list(sizes), seed=0).params
    apart = {k: v.copy() for k, v in model.params.items()}
    apart_grads = {k: v.copy() for k, v in grads.items()}
    variants: dict[str, Callable[[], Any]] = {
        "optlib": run(optlib.Adam(lr=1e-3), tiled, grads),
        "optlib apart": run(optlib.Adam(lr=1e-3), apart, apart_grads),
    }
    if numba is not None:
        variants["optlib fused"] = run(optlib.Adam(lr=1e-3, fused=True),
                                       MLP(list(sizes), seed=0).params, grads)
    if torch is not None:
        t_grads = [torch.from_numpy(g.copy()) for g in grads.values()]
        for kind, options in (("torch", {}), ("torch foreach", {"foreach": True})):
            tensors = [torch.from_numpy(v.copy()).requires_grad_() for v in model.params.values()]
            for t, g in zip(tensors, t_grads):
                t.grad = g
            variants[kind] = (lambda opt: lambda: [opt.step() for _ in range(steps)])(
                torch.optim.Adam(tensors, lr=1e-3, **options))
    with _library_threads(numba, torch, 1), blas_threads(1):
        times = time_interleaved(variants, rounds=rounds, pause=pause)
    rows = [Row(label, "1", times[label], n_params * steps * 1e3, "M params/s")
            for label in variants]
    leaves = ", ".join(f"{k} {v.shape}" for k, v in model.params.items())
    notes = [f"MLP({list(sizes)}): {n_params:,} float32 parameters in {len(model.params)} "
             f"arrays ({leaves}); {steps} steps per call.",
             "optlib and optlib fused: the parameters and gradients in one buffer each, as "
             "MLP keeps them; optlib apart: the same values in separate arrays.",
             "rate: millions of parameters updated per second. Every row ran on one thread."]
    return Section(f"Small model: {steps} Adam steps on MLP({list(sizes)})", rows,
                   references=["optlib apart"], notes=notes)


# ----------------------------------------------------------------------------
# everything, with the targets
# ----------------------------------------------------------------------------

#: The goals of the performance work, as ratios of times in the same rounds.
TARGETS = [
    Target("Adam step", "optlib", "torch foreach, same threads as optlib", 1.0,
           "optlib Adam at most as slow as torch foreach"),
    Target("Adam step", "optlib", "naive numpy", 0.25,
           "optlib Adam at least 4x faster than the naive numpy style"),
    Target("Adam step", "optlib fused", "torch fused, same threads as optlib fused", 1.3,
           "fused Adam within 1.3x of torch fused"),
    Target("Training", "optlib", "torch", 0.5, "MLP epoch at most half of PyTorch's time"),
]


def run_all(sizes: dict[str, Any] | None = None, only: Sequence[str] | None = None,
            optimizers: Sequence[str] = tuple(OPTIMIZERS), threads: int | None = None,
            fused: bool | None = None, torch_variants: bool | None = None,
            out: Callable[[str], Any] = print) -> list[Section]:
    """Run the benchmarks and print each table as soon as it is measured.

    Parameters
    ----------
    sizes : dict, optional
        Keys of :data:`FULL` (the default); :data:`QUICK` for a short run.
    only : sequence of {"step", "small", "mlp", "threads", "trajectories"}, optional
        Which benchmarks (default: all).
    out : callable
        Receives each block of text (default: ``print``).
    """
    s = dict(FULL, **(sizes or {}))
    only = list(only or ("step", "small", "mlp", "threads", "trajectories"))
    sections: list[Section] = []

    def emit(section: Section) -> None:
        sections.append(section)
        out(render(section) + "\n")

    out(machine_info() + "\n")
    if "step" in only:
        for name in optimizers:
            emit(optimizer_step(name, s["n_params"], s["n_arrays"], s["rounds"], threads,
                                fused, torch_variants))
    if "small" in only:
        emit(model_step(steps=s["small_steps"], rounds=s["rounds"], fused=fused,
                        torch_variants=torch_variants))
    data = None
    if "mlp" in only or "threads" in only:
        try:
            data = _mnist(None, s["mlp_rows"])
        except (OSError, ValueError) as err:   # no copy, no network, a corrupt file
            out(f"Training benchmarks skipped: MNIST could not be loaded ({err}). Point "
                "OPTLIB_DATA at a folder holding mnist/, or allow the download.\n")
    if "mlp" in only and data is not None:
        emit(mlp_epoch(rounds=s["mlp_rounds"], matmul_n=s["matmul_n"], fused=fused,
                       torch_variants=torch_variants, data=data))
    if "threads" in only and data is not None:
        emit(blas_thread_sweep(rounds=s["sweep_rounds"], data=data))
    if "trajectories" in only:
        emit(trajectories(s["n_points"], s["steps"], s["loop_sample"], s["rounds"],
                          torch_variants=torch_variants))
    out(render_targets(check_targets(TARGETS, sections), sections))
    return sections
