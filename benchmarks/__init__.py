"""Reproducible speed comparisons of optlib, printed as tables.

Run from the repository root (``make bench`` does this)::

    .venv/bin/python -m benchmarks            # full sizes, about two minutes
    .venv/bin/python -m benchmarks --quick    # small sizes, well under a minute
    .venv/bin/python -m benchmarks --help     # every option

The measurements themselves live in :mod:`optlib.bench`, so that the book's
Performance page runs exactly the same code; this package is the command
line around them (:mod:`benchmarks.cli`).
"""
from benchmarks.cli import main, parse_args

__all__ = ["main", "parse_args"]
