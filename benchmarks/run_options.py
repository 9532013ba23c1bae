"""The ``run`` command's options: its parser and the checks of its values, apart from
``benchmarks.cli`` (which runs it). Nothing here imports a framework or the harness's
heavy parts: a bad option exits with status 2 before anything is loaded.
"""

from __future__ import annotations

import argparse

from benchmarks import cluster
from benchmarks.ceiling import gemm_size
from benchmarks.options import (
    MAX_REPEATS,
    BadInput,
    check_count,
    check_positive,
    parse_threads,
    path_option,
    usable_cpus,
)
from benchmarks.workloads import BRIEF, PRESETS


def add_run_parser(commands: argparse._SubParsersAction) -> None:
    """The ``run`` command and its options, added to ``commands``."""
    run = commands.add_parser("run", help="run a matrix of cells and write a report")
    run.add_argument("--workload", default="all", help="W[,W..] or all (default)")
    run.add_argument("--backend", default="all", help="B[,B..] or all (default)")
    run.add_argument("--variant", help="V[,V..]: only these variants (default: the preset's)")
    run.add_argument(
        "--mode",
        default="auto",
        help="M[,M..]; all; default (each backend's first mode); or auto (the default: "
        "each backend's default mode at preset brief; at the other presets every mode on "
        "each workload's main variants, first seed, and the default mode elsewhere)",
    )
    run.add_argument(
        "--dtype",
        default="default",
        help="float32, float64, all, or default (each backend's first dtype)",
    )
    run.add_argument(
        "--preset",
        default=BRIEF,
        help=f"one of {', '.join(PRESETS)} (default {BRIEF}: minutes; quick sweeps the modes)",
    )
    run.add_argument("--seeds", help="0,1,2 or 0-9: override the workload's seeds")
    run.add_argument(
        "--threads",
        help="threads for every framework: N, or N,M,.. to run every cell at each count "
        f"(default: the CPUs this process may use, {usable_cpus()} here)",
    )
    run.add_argument("--timeout", type=float, help="seconds per cell (default: by preset)")
    run.add_argument("--out", type=path_option, help="run folder (default results/<time>-<preset>)")
    run.add_argument("--resume", action="store_true", help="keep finished cells in --out")
    run.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="processes per cell (default 1); 3 or more measure the process-to-process "
        "noise that `compare` needs to tell a real change from a lucky process",
    )
    run.add_argument(
        "--compare",
        type=path_option,
        metavar="BASE",
        help="after the run, compare it with the run in BASE",
    )
    cluster.add_options(run)
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the cells, longest first, with each one's and the run's estimated "
        "wall time (results/cell_times.json), and exit: nothing is imported or written",
    )
    run.add_argument(
        "--ceiling",
        type=float,
        metavar="GFLOPS",
        help="this machine's fp32 GEMM ceiling for the estimates (default: the newest "
        "one a run under results/ measured on this CPU model)",
    )


def check_run_options(args: argparse.Namespace) -> None:
    """BadInput for a bad option; ``args.threads`` becomes the list of thread counts."""
    args.threads = parse_threads(args.threads)
    if args.timeout is not None:
        check_positive(args.timeout, "--timeout")
    check_count(args.repeats, "--repeats", MAX_REPEATS)
    cluster.check_options(args)
    if args.ceiling is not None:
        check_positive(args.ceiling, "--ceiling")
    if args.resume and args.out is None:
        raise BadInput("--resume needs --out DIR, the run to finish")
    if args.resume and not args.out.is_dir():
        raise BadInput(f"--resume: {args.out} is not a folder holding a run")
    try:
        gemm_size()
    except ValueError as error:
        raise BadInput(str(error)) from None
