"""The command line of ``python -m benchmarks``.

Every table compares variants timed in the same interleaved rounds (see
:mod:`benchmarks.harness`); the last block checks the performance targets. With
``--check`` the exit status is 1 if a measured target is missed (a target
that cannot be measured, because torch or numba is not installed, counts as
met); without it the command reports and exits 0.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from benchmarks import suites

BENCHMARKS = suites.BENCHMARKS


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time optlib against the naive numpy style, PyTorch and the hardware, "
                    "side by side in interleaved rounds.")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (2M parameters, 15,000 MNIST rows, 2,000 "
                             "trajectories): about a minute")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME",
                        help=f"run only these benchmarks: {', '.join(BENCHMARKS)}")
    parser.add_argument("--optimizers", nargs="+", choices=list(suites.OPTIMIZERS),
                        metavar="NAME", help="optimizers of the step benchmark: "
                        + ", ".join(repr(n) for n in suites.OPTIMIZERS))
    parser.add_argument("--params", type=_positive_int, help="parameters of the step benchmark")
    parser.add_argument("--arrays", type=_positive_int, help="arrays they are split into")
    parser.add_argument("--rounds", type=_positive_int,
                        help="timed rounds of each benchmark (at least 5 for the targets)")
    parser.add_argument("--mlp-rows", type=_positive_int,
                        help="MNIST rows of the training epoch (default: all 60,000)")
    parser.add_argument("--points", type=_positive_int, help="starting points of the trajectories")
    parser.add_argument("--steps", type=_positive_int, help="steps of each trajectory")
    parser.add_argument("--loop-sample", type=_positive_int,
                        help="points the per-point Python loop runs (scaled up)")
    parser.add_argument("--threads", type=_positive_int,
                        help="threads of the fused kernels and of torch in the step "
                             "benchmark (default: every available core)")
    parser.add_argument("--no-torch", action="store_true", help="leave out the PyTorch rows")
    parser.add_argument("--no-fused", action="store_true", help="leave out the numba rows")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if a measured target is missed")
    args = parser.parse_args(argv)
    if args.loop_sample and args.points and args.loop_sample > args.points:
        parser.error(f"--loop-sample {args.loop_sample} exceeds --points {args.points}")
    return args


def sizes_from(args: argparse.Namespace) -> dict:
    """The sizes dict of :func:`benchmarks.suites.run_all` for these arguments."""
    sizes = dict(suites.QUICK if args.quick else suites.FULL)
    for key, value in (("n_params", args.params), ("n_arrays", args.arrays),
                       ("rounds", args.rounds), ("mlp_rounds", args.rounds),
                       ("sweep_rounds", args.rounds), ("lr_sweep_rounds", args.rounds),
                       ("mlp_rows", args.mlp_rows), ("n_points", args.points),
                       ("steps", args.steps), ("loop_sample", args.loop_sample)):
        if value is not None:
            sizes[key] = value
    sizes["loop_sample"] = min(sizes["loop_sample"], sizes["n_points"])
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; returns the exit status (1 if ``--check`` and a target is missed)."""
    args = parse_args(argv)
    words = list(sys.argv[1:] if argv is None else argv)
    print(("$ python -m benchmarks " + shlex.join(words)).rstrip() + "\n", flush=True)
    sections = suites.run_all(
        sizes=sizes_from(args), only=args.only,
        optimizers=args.optimizers or tuple(suites.OPTIMIZERS), threads=args.threads,
        fused=False if args.no_fused else None,
        torch_variants=False if args.no_torch else None,
        out=lambda text: print(text, flush=True))
    results = suites.check_targets(suites.TARGETS, sections)
    return 1 if args.check and any(met is False for _, _, met in results) else 0
