"""pytest plugin: run every chapter with a second seed.

Loaded by ``-p seeded_notebooks`` in pyproject.toml's addopts (``pythonpath``
puts book/_scripts on sys.path); a plugin rather than a book/conftest.py,
whose module name would shadow tests/conftest.py.

The book build executes every chapter with ``SEED = 0``; this collector makes
``make test`` execute each one again, through nbval, with the setup cell's
``SEED = 0`` replaced by ``SEED = 1`` (or ``OPTLIB_BOOK_SEED``), so a claim
that held for one seed only fails the tests (book/CONVENTIONS.md, "Claims
hold for any seed")::

    .venv/bin/python -m pytest book                       # seed 1
    OPTLIB_BOOK_SEED=2 .venv/bin/python -m pytest book    # seed 2

Outputs are not compared with stored ones (chapters are committed without
outputs): a cell passes when it runs without an error, which is what the
chapters' hidden ``assert`` cells need.
"""
from __future__ import annotations

import os
import pathlib
import sys

import pytest
from nbval.plugin import IPyNbFile

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from chapter_tools import with_seed  # noqa: E402

BOOK = pathlib.Path(__file__).resolve().parents[1]


def book_seed() -> int:
    """The seed of the notebook tests: ``OPTLIB_BOOK_SEED``, default 1."""
    text = os.environ.get("OPTLIB_BOOK_SEED", "1")
    try:
        seed = int(text)
    except ValueError:
        raise pytest.UsageError(f"OPTLIB_BOOK_SEED must be a non-negative integer, "
                                f"got {text!r}") from None
    if seed < 0:
        raise pytest.UsageError(f"OPTLIB_BOOK_SEED must be a non-negative integer, got {seed}")
    return seed


class SeededNotebook(IPyNbFile):
    """An nbval notebook whose setup cell fixes :func:`book_seed` instead of 0."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.compare_outputs = False  # run and fail on errors, as --nbval-lax does
        self.seed = book_seed()

    def collect(self):
        cells = super().collect()   # reads self.nb, then yields one item per code cell
        first = next(cells, None)
        if first is None:
            return
        with_seed(self.nb, self.seed)   # edits the cell object the first item runs
        yield first
        yield from cells


def pytest_collect_file(file_path: pathlib.Path, parent):
    if (file_path.suffix == ".ipynb" and file_path.resolve().parent == BOOK
            and ".ipynb_checkpoints" not in file_path.parts):
        return SeededNotebook.from_parent(parent, path=file_path)
    return None
