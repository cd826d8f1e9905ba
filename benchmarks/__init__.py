"""Reproducible speed comparisons of optlib, printed as tables.

Run from the repository root (``make bench`` does this)::

    .venv/bin/python -m benchmarks            # full sizes, a few minutes
    .venv/bin/python -m benchmarks --quick    # small sizes, about a minute
    .venv/bin/python -m benchmarks --help     # every option

The benchmarks live here, outside the installed ``optlib`` package (nothing
of them is needed to train): :mod:`benchmarks.harness` times and tabulates,
:mod:`benchmarks.suites` holds the benchmarks and the targets, and
:mod:`benchmarks.cli` is the command line. The book's Performance appendix
imports this package (``import benchmarks as bench``) with the repository
on ``sys.path``, so that it runs exactly the same code; every public name of
the two modules is available here.
"""
from benchmarks.harness import (
    Row, Section, Target, check_targets, machine_info, paired_ratio, render, render_targets,
    time_interleaved,
)
from benchmarks.suites import (
    BENCHMARKS, FULL, OPTIMIZERS, QUICK, TARGETS, blas_thread_sweep, epoch_parts, lr_sweep,
    mlp_epoch, model_step, optimizer_step, run_all, trajectories,
)
from benchmarks.cli import main, parse_args

__all__ = [
    "Row", "Section", "Target", "check_targets", "machine_info", "paired_ratio", "render",
    "render_targets", "time_interleaved", "BENCHMARKS", "FULL", "OPTIMIZERS", "QUICK",
    "TARGETS", "blas_thread_sweep", "epoch_parts", "lr_sweep", "mlp_epoch", "model_step",
    "optimizer_step", "run_all", "trajectories", "main", "parse_args",
]
