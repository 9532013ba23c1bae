"""Command line: ``python -m benchmarks {list,run,report,compare,evaluate}``.

Every name is checked before anything is imported or run: a bad name exits with
status 2 and the list of valid ones, and no framework is ever imported for it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

from benchmarks.ceiling import gemm_size
from benchmarks.lifetime import exit_status
from benchmarks.records import Cell, RunContents, load_run, write_json_atomic
from benchmarks.run_folder import RefusedFolder, open_for_run
from shared import registry
from shared.params import DTYPES
from shared.registry import UnknownName
from shared.specs import SpecError
from shared.workloads import PRESETS, WORKLOADS, get_workload

EXIT_BAD_INPUT = 2
RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


class BadInput(ValueError):
    """Invalid command-line input; the message says what is valid."""


def _names(text: str, kind: str, valid: list[str]) -> list[str]:
    """Comma-separated names, or 'all'; raises UnknownName for a name not in ``valid``."""
    if text == "all":
        return list(valid)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise BadInput(f"no {kind} given; valid: {', '.join(valid)}")
    for name in names:
        if name not in valid:
            raise UnknownName(kind, name, valid)
    return names


def parse_seeds(text: str) -> list[int]:
    """``0,1,5`` or ``0-9`` (inclusive) or a mix: ``0-3,7``."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            seeds.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise BadInput(f"--seeds must look like 0,1,2 or 0-9, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise BadInput(f"--seeds needs non-negative seeds, got {text!r}")
    return sorted(set(seeds))


MODE_POLICIES = ("auto", "default", "all")


def plan(args: argparse.Namespace) -> tuple[list[Cell], list[tuple[Cell, str]]]:
    """The cells to run and the requested-but-not-applicable ones, with the reason."""
    workloads = _names(args.workload, "workload", list(WORKLOADS))
    backends = _names(args.backend, "backend", list(registry.BACKENDS))
    all_variants = sorted({v for w in workloads for v in get_workload(w).variants})
    variants = None if args.variant is None else _names(args.variant, "variant", all_variants)
    all_modes = sorted({m for b in backends for m in registry.get(b).modes})
    modes = () if args.mode in MODE_POLICIES else tuple(_names(args.mode, "mode", all_modes))
    dtypes = None if args.dtype == "default" else _names(args.dtype, "dtype", list(DTYPES))
    seeds = None if args.seeds is None else parse_seeds(args.seeds)
    cells, not_applicable = [], []
    for workload_name in workloads:
        workload = get_workload(workload_name)
        for variant in variants or workload.default_variants(args.preset):
            if variant not in workload.variants:
                continue
            try:
                workload.check(variant, args.preset)
            except SpecError as error:
                raise BadInput(
                    f"{workload_name}/{variant} at preset {args.preset}: {error}"
                ) from None
            variant_seeds = list(seeds or workload.seeds(variant, args.preset))
            for backend, seed in itertools.product(backends, variant_seeds):
                info = registry.get(backend)
                main = variant in workload.main_variants and seed == variant_seeds[0]
                for mode, dtype in itertools.product(
                    _modes(args.mode, info, workload_name, main, modes),
                    dtypes or (info.dtypes[0],),
                ):
                    cell = Cell(workload_name, variant, backend, mode, dtype, seed, args.preset)
                    reason = _not_applicable(info, workload_name, mode, dtype)
                    if reason:
                        not_applicable.append((cell, reason))
                    else:
                        cells.append(cell)
    if not cells:
        raise BadInput(
            "nothing to run: no requested backend supports the requested "
            "workloads, modes and dtypes"
        )
    return cells, not_applicable


def _modes(
    policy: str,
    info: registry.BackendInfo,
    workload: str,
    main: bool,
    requested: tuple[str, ...],
) -> tuple[str, ...]:
    """``auto``: every mode for a workload's main variants (first seed), the default
    mode elsewhere; ``default``: the default mode; ``all``: every mode; else as named.
    The policies pick among the modes that apply to the workload."""
    applicable = info.modes_for(workload) or (info.default_mode,)
    if policy == "all" or (policy == "auto" and main):
        return applicable
    if policy in MODE_POLICIES:
        return applicable[:1]
    return requested


def _not_applicable(info: registry.BackendInfo, workload: str, mode: str, dtype: str) -> str:
    if not info.runs(workload):
        return f"{info.name} runs only {', '.join(info.workloads or ())}"
    if mode not in info.modes:
        return f"{info.name} has no mode {mode} (modes: {', '.join(info.modes)})"
    if mode not in info.modes_for(workload):
        return f"{info.name} runs {workload} in {', '.join(info.modes_for(workload))} only"
    if dtype not in info.dtypes:
        return f"{info.name} computes in {', '.join(info.dtypes)} only"
    return ""


def command_list(args: argparse.Namespace) -> int:
    print("workloads (variants; seeds per preset smoke/quick/full):")
    for workload in WORKLOADS.values():
        print(f"  {workload.name}: {workload.description}")
        for variant in workload.variants:
            counts = "/".join(str(len(workload.seeds(variant, p))) for p in PRESETS)
            print(f"    {variant}  (seeds {counts})")
    print("backends (dtypes; installed?; modes, the first is the default):")
    for info in registry.BACKENDS.values():
        missing = registry.missing_packages(info.name)
        state = "installed" if not missing else f"NOT installed ({', '.join(missing)})"
        only = f"; workloads: {', '.join(info.workloads)}" if info.workloads else ""
        print(f"  {info.name}: {info.description}; dtypes {', '.join(info.dtypes)}{only}; {state}")
        for mode, note in info.modes.items():
            print(f"    {mode}: {note}")
    print(f"presets: {', '.join(PRESETS)}")
    return 0


def command_run(args: argparse.Namespace) -> int:
    if args.threads < 1:
        raise BadInput(f"--threads must be >= 1, got {args.threads}")
    if args.timeout is not None and args.timeout <= 0:
        raise BadInput(f"--timeout must be positive, got {args.timeout}")
    if args.repeats < 1:
        raise BadInput(f"--repeats must be >= 1, got {args.repeats}")
    if args.resume and args.out is None:
        raise BadInput("--resume needs --out DIR, the run to finish")
    if args.resume and not args.out.is_dir():
        raise BadInput(f"--resume: {args.out} is not a folder holding a run")
    if args.compare is not None:
        _check_run_dir(args.compare)
    try:
        gemm_size()
    except ValueError as error:
        raise BadInput(str(error)) from None
    cells, not_applicable = plan(args)
    # Imported here: planning and validation above never load the harness's heavy parts.
    from benchmarks.lifetime import interrupt_on_signals
    from benchmarks.runner import RunOptions

    args.out = args.out or RESULTS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{args.preset}"
    with interrupt_on_signals():  # SIGTERM and SIGHUP take Ctrl-C's way out
        # Lock the folder and apply the start and resume rules, before any work.
        description, lock_fd = open_for_run(args.out, args, cells, not_applicable, sys.argv)
        print(
            f"{len(cells)} cells -> {args.out}"
            + (f" ({len(not_applicable)} not applicable)" if not_applicable else ""),
            flush=True,
        )
        options = RunOptions(
            args.out, args.threads, args.timeout, args.resume, args.repeats, lock_fd
        )
        return _run_matrix(args, cells, options, description)


def _run_matrix(args: argparse.Namespace, cells: list[Cell], options, description) -> int:
    """Measure the ceiling, run the cells, write the report, end the invocation."""
    from benchmarks.report import write_report
    from benchmarks.runner import run_cells

    outcome = "crashed"
    try:
        description.set_ceiling(measure_ceilings(args.threads, options.lock_fd))
        records = run_cells(cells, options)
        outcome = "finished"
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM/SIGHUP (lifetime.Interrupted)
        outcome = f"interrupted by {interrupt.args[0] if interrupt.args else 'SIGINT'}"
        raise
    finally:
        description.end(outcome)
        report = write_report(args.out)
    counts = {s: sum(r["status"] == s for r in records) for s in {r["status"] for r in records}}
    print(f"done: {counts}; report: {report}")
    if args.compare is not None:
        from benchmarks.compare import compare_runs, format_changes

        print(format_changes(compare_runs(args.compare, args.out), args.compare, args.out))
    return 1 if counts.get("failed") or counts.get("timeout") else 0


def measure_ceilings(threads: int, lock_fd: int | None = None) -> list[dict]:
    """The fp32 GEMM ceiling at the run's thread count and at every logical CPU, each in
    a process that holds the run folder's lock (``lock_fd``) while it measures."""
    from benchmarks.ceiling import measure_in_subprocess

    counts = sorted({threads, os.cpu_count() or threads})
    print(
        f"measuring the fp32 GEMM ceiling with {' and '.join(map(str, counts))} thread(s)",
        flush=True,
    )
    fds = () if lock_fd is None else (lock_fd,)
    return [measure_in_subprocess(count, fds) for count in counts]


def command_report(args: argparse.Namespace) -> int:
    from benchmarks.report import write_report

    contents = _check_run_dir(args.run_dir)
    for problem in contents.problems:
        print(f"warning: left out: {problem}", file=sys.stderr)
    print(write_report(args.run_dir, contents))
    return 0


def _check_run_dir(path: Path) -> RunContents:
    """The run in ``path``; raises BadInput when it holds no readable cell record."""
    contents = load_run(path) if path.is_dir() else RunContents([], {}, [])
    if not contents.records:
        damaged = f" ({len(contents.problems)} damaged or foreign)" if contents.problems else ""
        raise BadInput(f"{path} holds no cell records{damaged}")
    return contents


def command_compare(args: argparse.Namespace) -> int:
    from benchmarks.compare import compare_runs, format_changes

    if not args.threshold > 0:
        raise BadInput(f"--threshold must be positive, got {args.threshold}")
    _check_run_dir(args.base)
    _check_run_dir(args.new)
    comparison = compare_runs(args.base, args.new, args.threshold)
    if comparison.compared == 0:
        raise BadInput(f"{args.base} and {args.new} have no cell in common")
    print(format_changes(comparison, args.base, args.new))
    return 1 if comparison.changes and args.fail_on_change else 0


def command_evaluate(args: argparse.Namespace) -> int:
    """Play episodes with a DQN checkpoint's online network on any backend."""
    from benchmarks.dqn import load_checkpoint

    if not args.checkpoint.is_file():
        raise BadInput(f"{args.checkpoint}: no such checkpoint file")
    if args.episodes < 1:
        raise BadInput(f"--episodes must be >= 1, got {args.episodes}")
    if args.epsilon is not None and not 0 <= args.epsilon <= 1:
        raise BadInput(f"--epsilon must be in [0, 1], got {args.epsilon}")
    info = registry.get(args.backend)
    if not info.runs("dqn"):
        raise BadInput(f"{info.name} does not run the dqn workload")
    mode = args.mode or info.modes_for("dqn")[0]
    if mode not in info.modes_for("dqn"):
        raise UnknownName(f"mode of {info.name} for dqn", mode, info.modes_for("dqn"))
    if args.dtype not in info.dtypes:
        raise UnknownName(f"dtype of {info.name}", args.dtype, info.dtypes)
    missing = registry.missing_packages(info.name)
    if missing:
        raise BadInput(f"{info.name} needs {', '.join(missing)}, not installed")
    try:
        online, _, meta = load_checkpoint(args.checkpoint)
        trained = meta["cell"]
    except (OSError, ValueError, KeyError) as error:
        raise BadInput(f"{args.checkpoint} is not a DQN checkpoint: {error}") from None
    from benchmarks.dqn_evaluate import evaluate_checkpoint

    summary = evaluate_checkpoint(
        online,
        trained,
        info.name,
        mode,
        args.dtype,
        args.episodes,
        args.epsilon,
        args.seed,
        args.threads,
    )
    summary["checkpoint"] = str(args.checkpoint)
    if args.out is not None:
        write_json_atomic(args.out, summary)
        print(f"written: {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="name every workload, variant, backend, mode, preset")
    run = commands.add_parser("run", help="run a matrix of cells and write a report")
    run.add_argument("--workload", default="all", help="W[,W..] or all (default)")
    run.add_argument("--backend", default="all", help="B[,B..] or all (default)")
    run.add_argument("--variant", help="V[,V..]: only these variants (default: the preset's)")
    run.add_argument(
        "--mode",
        default="auto",
        help="M[,M..]; all; default (each backend's first mode); or auto (the default: "
        "every mode on each workload's main variants, first seed; the default mode elsewhere)",
    )
    run.add_argument(
        "--dtype",
        default="default",
        help="float32, float64, all, or default (each backend's first dtype)",
    )
    run.add_argument("--preset", default="quick", help=f"one of {', '.join(PRESETS)}")
    run.add_argument("--seeds", help="0,1,2 or 0-9: override the workload's seeds")
    run.add_argument(
        "--threads", type=int, default=1, help="threads for every framework (default 1)"
    )
    run.add_argument("--timeout", type=float, help="seconds per cell (default: by preset)")
    run.add_argument("--out", type=Path, help="run folder (default results/<time>-<preset>)")
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
        type=Path,
        metavar="BASE",
        help="after the run, compare it with the run in BASE",
    )
    compare = commands.add_parser("compare", help="cells whose time or metrics moved")
    compare.add_argument("base", type=Path)
    compare.add_argument("new", type=Path)
    compare.add_argument(
        "--threshold",
        type=float,
        default=0.10,
        help="smallest relative time change to report (default 0.10)",
    )
    compare.add_argument(
        "--fail-on-change", action="store_true", help="exit with status 1 when anything moved"
    )
    report = commands.add_parser("report", help="rebuild report.md and summary.csv")
    report.add_argument("run_dir", type=Path)
    evaluate = commands.add_parser(
        "evaluate", help="play episodes with a DQN checkpoint (<cell>.ckpt.npz of a run)"
    )
    evaluate.add_argument("checkpoint", type=Path)
    evaluate.add_argument("--backend", default="numpy", help="any backend that runs dqn")
    evaluate.add_argument("--mode", help="default: the backend's first mode for dqn")
    evaluate.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    evaluate.add_argument("--episodes", type=int, default=10, help="whole episodes (default 10)")
    evaluate.add_argument(
        "--epsilon", type=float, help="exploration while playing (default: the workload's 0.05)"
    )
    evaluate.add_argument("--seed", type=int, default=1000, help="the game's and acting seed")
    evaluate.add_argument("--threads", type=int, default=1)
    evaluate.add_argument("--out", type=Path, help="also write the summary as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "preset", PRESETS[0]) not in PRESETS:
            raise UnknownName("preset", args.preset, PRESETS)
        handler = {
            "list": command_list,
            "run": command_run,
            "report": command_report,
            "compare": command_compare,
            "evaluate": command_evaluate,
        }
        return handler[args.command](args)
    except (UnknownName, BadInput, RefusedFolder) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM/SIGHUP during a run
        folder = getattr(args, "out", None) or "<its folder>"
        print(
            f"interrupted{f' by {interrupt.args[0]}' if interrupt.args else ''}: every "
            f"finished cell is kept; finish the run with the same command and --resume "
            f"--out {folder}",
            file=sys.stderr,
        )
        return exit_status(interrupt)
