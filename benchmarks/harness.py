r"""The timing harness of ``python -m benchmarks`` and the book's Performance appendix.

How things are timed (:func:`time_interleaved`): after warm-up calls, every
round runs each variant once, in alternating order, so that a slow moment
of the machine hits all variants of a round alike. A ratio is the median
over rounds of the ratio *within* a round, not a ratio of medians. Between
calls the timer pauses briefly so that thread pools that busy-wait after
their work (OpenMP in PyTorch and numba, OpenBLAS) go back to sleep before
the next variant starts.

A benchmark returns a :class:`Section` (a table of :class:`Row` objects,
rendered by :func:`render`); a :class:`Target` is a goal on the ratio of two
rows, checked by :func:`check_targets`. The benchmarks themselves are in
:mod:`benchmarks.suites`.

torch and numba are optional: :func:`machine_info` names what is installed.
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

__all__ = [
    "Row", "Section", "Target", "time_interleaved", "paired_ratio", "machine_info",
    "check_targets", "render", "render_targets",
]


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
    percent_of_ceiling: bool = False   # the reference is a ceiling: also show 1/ratio in %

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
    rated = any(row.rate is not None for row in section.rows)   # else no rate column
    header = ["", "threads", "median ms"] + (["rate"] if rated else [])
    header += [f"% of {ceiling.label}"] if ceiling is not None else []
    header += [f"/ {r}" for r in refs]
    lines = []
    for row in section.rows:
        rate = row.rate
        cells = [row.label, row.threads, _fmt_ms(row.median)]
        cells += ["" if rate is None else f"{rate:.3g} {row.unit}"] if rated else []
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
        if value is not None and target.percent_of_ceiling:
            shown += f" ({100 / value:.0f}% of the ceiling; the goal is {100 / target.limit:.0f}%)"
        lines.append(f"  {target.meaning}: {label} / {reference} <= {target.limit:g}: {shown}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# optional libraries and the machine
# ----------------------------------------------------------------------------

_TORCH_DEFAULT_THREADS: list[int] = []


def _torch():
    try:
        import torch
    except ImportError:
        return None
    if not _TORCH_DEFAULT_THREADS:     # before any benchmark sets it
        _TORCH_DEFAULT_THREADS.append(torch.get_num_threads())
    return torch


def _torch_default_threads() -> int | None:
    """torch's thread count as it was when torch was first imported here (None: no torch)."""
    return _TORCH_DEFAULT_THREADS[0] if _torch() is not None else None


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
