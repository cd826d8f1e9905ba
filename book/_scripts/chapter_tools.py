"""The chapter conventions in code: the repository URL, the canonical first
cell, and checks/fixes for the committed notebooks.

This module is the one Python place that holds the book's repository URL.
``_config.yml`` (``repository.url``) and the install line of every chapter's
first cell must agree with it; ``tests/test_book.py`` checks both.

Usage (from the repository root)::

    python book/_scripts/chapter_tools.py check            # every notebook under book/
    python book/_scripts/chapter_tools.py clean book/sgd.ipynb   # strip outputs, fix first cell
    python book/_scripts/chapter_tools.py new book/momentum.ipynb "Momentum"
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import uuid
from typing import Any

BOOK = pathlib.Path(__file__).resolve().parents[1]

#: The book's repository: launch buttons, the repository button and the Colab
#: install line all point here.
REPOSITORY_URL = "https://github.com/optlib-book/optlib"

#: What ``%pip install`` receives on Colab.
INSTALL_TARGET = f"git+{REPOSITORY_URL}"

#: The first code cell of every chapter, verbatim (book/CONVENTIONS.md shows it).
FIRST_CELL = f'''\
# Setup, the same in every chapter: on Colab, install optlib from the book's
# repository if it is missing; then import the libraries and fix the seed.
import importlib.util
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("optlib") is None:
    %pip install --quiet "{INSTALL_TARGET}"

import matplotlib.pyplot as plt
import numpy as np

import optlib
import optlib.plot

optlib.plot.use_book_style()  # figures sized for the text column, legible text
SEED = 0
rng = np.random.default_rng(SEED)'''

#: The line of :data:`FIRST_CELL` that fixes the seed; :func:`with_seed` replaces it.
SEED_LINE = "SEED = 0"

#: Longest line of a code cell, in characters: what fits the book's text column.
MAX_LINE = 88

NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def notebooks(root: pathlib.Path = BOOK) -> list[pathlib.Path]:
    """Every ``.ipynb`` under ``root``, without Jupyter's checkpoint copies."""
    return sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def read(path: pathlib.Path) -> dict[str, Any]:
    """Load a notebook as plain JSON (no nbformat upgrade or validation)."""
    try:
        return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a valid notebook (JSON error: {err})") from err


def source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (notebooks store it as a string or a list of lines)."""
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def first_code_cell(nb: dict[str, Any]) -> dict[str, Any] | None:
    """The first cell of type ``code``, or None when there is none."""
    return next((c for c in nb.get("cells", []) if c.get("cell_type") == "code"), None)


def problems(path: pathlib.Path) -> list[str]:
    """Everything in one notebook that breaks the conventions, one message each.

    Checked: no outputs, no execution counts, code lines of at most
    :data:`MAX_LINE` characters, and a first code cell equal to :data:`FIRST_CELL`. Messages start with the file and the cell index.
    """
    nb = read(path)
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            found.append(f"{path}: cell {index} has outputs; clear them before committing")
        if cell.get("execution_count") is not None:
            found.append(
                f"{path}: cell {index} has execution_count {cell['execution_count']}; "
                "clear outputs before committing"
            )
        for number, line in enumerate(source(cell).split("\n"), start=1):
            if len(line) > MAX_LINE:
                found.append(f"{path}: cell {index} line {number} has {len(line)} characters; "
                             f"at most {MAX_LINE} fit the book's column")
    first = first_code_cell(nb)
    if first is None:
        found.append(f"{path}: no code cell; the first code cell must be the setup cell")
    elif source(first).strip() != FIRST_CELL:
        index = nb["cells"].index(first)
        found.append(
            f"{path}: cell {index} (the first code cell) is not the canonical setup cell; "
            "copy it from book/CONVENTIONS.md or run "
            "`python book/_scripts/chapter_tools.py clean` on the notebook"
        )
    return found


def with_seed(nb: dict[str, Any], seed: int) -> dict[str, Any]:
    """The notebook with ``SEED = seed`` in its setup cell instead of ``SEED = 0``.

    The book's claims must hold for any seed (book/CONVENTIONS.md): the build
    runs every chapter with seed 0, the notebook tests with another one.
    Raises ``ValueError`` when the first code cell does not fix the seed with
    :data:`SEED_LINE`, so a chapter cannot silently escape the second seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    first = first_code_cell(nb)
    lines = source(first).split("\n") if first is not None else []
    if SEED_LINE not in lines:
        raise ValueError(f"the first code cell has no line {SEED_LINE!r} to replace; "
                         "run `python book/_scripts/chapter_tools.py clean` on the notebook")
    lines[lines.index(SEED_LINE)] = f"SEED = {seed}"
    first["source"] = "\n".join(lines)
    return nb


def code_cell(text: str, tags: list[str] | None = None) -> dict[str, Any]:
    """A fresh code cell without outputs."""
    metadata = {"tags": list(tags)} if tags else {}
    return {"cell_type": "code", "execution_count": None, "metadata": metadata,
            "outputs": [], "source": text}


def markdown_cell(text: str) -> dict[str, Any]:
    """A markdown cell."""
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def clean(nb: dict[str, Any]) -> dict[str, Any]:
    """Strip outputs and execution counts; make the first code cell canonical.

    A notebook without any code cell gets the setup cell after its first cell.
    """
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    first = first_code_cell(nb)
    if first is None:
        nb.setdefault("cells", []).insert(min(1, len(nb.get("cells", []))), code_cell(FIRST_CELL))
    else:
        first["source"] = FIRST_CELL
    return nb


def new_chapter(title: str, label: str) -> dict[str, Any]:
    """A minimal valid chapter: a title cell with a label, then the setup cell."""
    return {
        "cells": [markdown_cell(f"({label})=\n# {title}"), code_cell(FIRST_CELL)],
        "metadata": dict(NOTEBOOK_METADATA),
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write(nb: dict[str, Any], path: pathlib.Path) -> None:
    """Write a notebook the way Jupyter does (nbformat: 1-space indent, ids added)."""
    import nbformat  # a Jupyter Book dependency; imported here so `check` needs only json

    for cell in nb.get("cells", []):
        # nbformat 4.5 requires cell ids; Jupyter makes them the same way
        cell.setdefault("id", uuid.uuid4().hex[:8])
    node = nbformat.from_dict(nb)
    nbformat.validate(node)
    nbformat.write(node, str(path))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_check = sub.add_parser("check", help="report notebooks that break the conventions")
    p_check.add_argument("paths", nargs="*", type=pathlib.Path)
    p_clean = sub.add_parser("clean", help="strip outputs and make the first cell canonical")
    p_clean.add_argument("paths", nargs="+", type=pathlib.Path)
    p_new = sub.add_parser("new", help="create a minimal chapter notebook")
    p_new.add_argument("path", type=pathlib.Path)
    p_new.add_argument("title")
    args = parser.parse_args(argv)

    if args.command == "check":
        found = [msg for path in (args.paths or notebooks()) for msg in problems(path)]
        print("\n".join(found) if found else "all notebooks follow the conventions")
        return 1 if found else 0
    if args.command == "clean":
        for path in args.paths:
            write(clean(read(path)), path)
            print(f"cleaned {path}")
        return 0
    if args.path.exists():
        print(f"{args.path} exists already; pick another file name", file=sys.stderr)
        return 2
    write(new_chapter(args.title, "ch:" + args.path.stem.replace("_", "-")), args.path)
    print(f"created {args.path}; add it to _toc.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
