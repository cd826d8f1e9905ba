"""Run every chapter of the book and print how long each one takes.

The time budget (book/CONVENTIONS.md) is 45 s per chapter and 6 minutes for
the whole book. Timed assertions do not belong in the test suite (they fail
on a slow or busy machine), so the budget is checked here, on demand::

    .venv/bin/python book/_scripts/chapter_times.py              # chapters in _toc.yml
    .venv/bin/python book/_scripts/chapter_times.py book/sgd.ipynb
    .venv/bin/python book/_scripts/chapter_times.py --seed 2 book/sgd.ipynb
    .venv/bin/python book/_scripts/chapter_times.py --save /tmp/run book/sgd.ipynb

``--seed N`` runs the chapters with ``SEED = N`` (their claims must hold for
any seed); ``--save DIR`` writes each executed notebook into DIR, with its
figures, so they can be looked at without building the book.

Each notebook runs in a fresh kernel in a temporary working directory, as in
the book build. The exit status is 1 if a chapter fails or a budget is
exceeded, else 0.
"""
from __future__ import annotations

import argparse
import pathlib
import re
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
CHAPTER_BUDGET_S = 45.0
BOOK_BUDGET_S = 360.0


def toc_notebooks(toc: pathlib.Path = REPO / "_toc.yml") -> list[pathlib.Path]:
    """The ``.ipynb`` chapters listed in ``_toc.yml``, in book order."""
    import yaml  # a Jupyter Book dependency

    if not toc.is_file():
        raise FileNotFoundError(f"{toc} not found; run from a checkout of the book")
    found: list[pathlib.Path] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                path = REPO / f"{node['file']}.ipynb"
                if path.is_file():
                    found.append(path)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc.read_text(encoding="utf-8")))
    return found


def run_notebook(path: pathlib.Path, timeout: int = 600, seed: int = 0,
                 save_to: pathlib.Path | None = None) -> float:
    """Execute one notebook with nbclient; return the wall-clock seconds.

    ``seed`` replaces the setup cell's ``SEED = 0``; ``save_to`` is a folder
    that receives the executed notebook (also when a cell fails).
    Raises ``nbclient.exceptions.CellExecutionError`` if a cell fails.
    """
    import nbclient
    import nbformat

    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "_ext"))
    from chapter_tools import with_seed
    from kernel_client import install

    install()   # the build's kernel-channel workarounds (book/_ext/kernel_client.py)

    nb = nbformat.read(str(path), as_version=4)
    if seed != 0:
        nb = with_seed(nb, seed)
    with tempfile.TemporaryDirectory(prefix="chapter-") as cwd:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": cwd}})
        start = time.perf_counter()
        try:
            client.execute()
        finally:
            if save_to is not None:
                save_executed(nb, path.stem, save_to)
        return time.perf_counter() - start


def save_executed(nb, stem: str, folder: pathlib.Path) -> None:
    """Write the executed notebook and each PNG figure it shows into ``folder``.

    Figures are named ``<stem>-cell<index>-<k>.png`` by the cell that drew them.
    """
    import base64

    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{stem}.ipynb"))
    for index, cell in enumerate(nb.cells):
        pngs = [out["data"]["image/png"] for out in cell.get("outputs", [])
                if "image/png" in out.get("data", {})]
        for k, png in enumerate(pngs):
            (folder / f"{stem}-cell{index}-{k}.png").write_bytes(base64.b64decode(png))


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def display_name(path: pathlib.Path) -> str:
    """The path relative to the repository when it is inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(path)


def failure_summary(err: Exception, width: int = 100) -> str:
    """The last line of a cell error (the exception), without colour codes."""
    lines = [line for line in ANSI_ESCAPE.sub("", str(err)).strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else type(err).__name__
    return last if len(last) <= width else last[: width - 3] + "..."


def format_table(rows: list[tuple[str, float | None, str]]) -> str:
    """A plain-text table: chapter, seconds (or 'failed'), status."""
    width = max([len("chapter")] + [len(name) for name, _, _ in rows])
    lines = [f"{'chapter':<{width}}  {'seconds':>8}  status", "-" * (width + 20)]
    for name, seconds, status in rows:
        shown = f"{seconds:8.1f}" if seconds is not None else f"{'-':>8}"
        lines.append(f"{name:<{width}}  {shown}  {status}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description="Time every chapter of the book.")
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path,
                        help="notebooks to run (default: every .ipynb chapter in _toc.yml)")
    parser.add_argument("--budget", type=float, default=CHAPTER_BUDGET_S,
                        help="seconds allowed per chapter (default: %(default)s)")
    parser.add_argument("--total-budget", type=float, default=BOOK_BUDGET_S,
                        help="seconds allowed for all chapters (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="run with SEED = this instead of 0 (default: %(default)s)")
    parser.add_argument("--save", type=pathlib.Path, metavar="DIR",
                        help="write each executed notebook into DIR")
    args = parser.parse_args(argv)

    paths = args.notebooks or toc_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"notebook not found: {', '.join(missing)}")

    from nbclient.exceptions import CellExecutionError

    rows, total, ok = [], 0.0, True
    for path in paths:
        try:
            seconds = run_notebook(path, seed=args.seed, save_to=args.save)
        except CellExecutionError as err:
            rows.append((display_name(path), None, f"FAILED: {failure_summary(err)}"))
            ok = False
            continue
        total += seconds
        over = seconds > args.budget
        ok &= not over
        rows.append((display_name(path), seconds, f"OVER {args.budget:g} s" if over else "ok"))
    over_total = total > args.total_budget
    ok &= not over_total
    rows.append(("total", total, f"OVER {args.total_budget:g} s" if over_total else "ok"))
    print(format_table(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
