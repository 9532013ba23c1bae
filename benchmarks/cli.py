"""Command line: ``python -m benchmarks {list,run,report,compare,estimates,check-report}``,
and the commands the workloads add (``Workload.add_commands``). ``estimates`` (refresh
the table of measured cell times) is ``benchmarks.cell_times``'s, ``check-report`` (the
report in a browser) ``benchmarks.browser_check``'s, ``run --dry-run``
``benchmarks.dry_run``'s; ``run``'s options are in ``benchmarks.run_options``.

Every name is checked before anything is imported or run: a bad name exits with
status 2 and the list of valid ones, and no framework is ever imported for it.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from benchmarks import browser_check, cell_times, cluster
from benchmarks.dry_run import dry_run
from benchmarks.estimates import plan_estimate
from benchmarks.lifetime import exit_status
from benchmarks.options import (
    BadInput,
    WriteFailed,
    check_output_folder,
    check_positive,
    output_failed,
    path_option,
    usable_cpus,
)
from benchmarks.plan import plan, runnable_workloads
from benchmarks.records import Cell, RunContents, load_records, load_run
from benchmarks.run_folder import RefusedFolder, open_for_run
from benchmarks.run_options import add_run_parser, check_run_options
from benchmarks.workloads import BRIEF, PRESETS, BadRegistration, all_presets, workloads
from shared import registry
from shared.paths import absolute
from shared.registry import UnknownName

EXIT_FAILED = 1  # a cell failed, or the results could not be written
EXIT_BAD_INPUT = 2
RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


def command_list(args: argparse.Namespace) -> int:
    print(f"workloads (variants; seeds per preset {'/'.join(PRESETS)}):")
    for workload in workloads().values():
        print(f"  {workload.name}: {workload.description}")
        for variant in workload.variants:
            counts = "/".join(str(len(workload.seeds(variant, p))) for p in PRESETS)
            print(f"    {variant}  (seeds {counts})")
    print("backends (dtypes; installed?; modes, the first is the default):")
    for info in registry.BACKENDS.values():
        missing = registry.missing_packages(info.name)
        state = "installed" if not missing else f"NOT installed ({', '.join(missing)})"
        only = f"; workloads: {', '.join(runnable_workloads(info))}" if info.builds else ""
        print(f"  {info.name}: {info.description}; dtypes {', '.join(info.dtypes)}{only}; {state}")
        for mode, note in info.modes.items():
            print(f"    {mode}: {note}")
    print(f"presets: {', '.join(p + (' (the default)' if p == BRIEF else '') for p in PRESETS)}")
    for preset in all_presets()[len(PRESETS) :]:
        owners = [w.name for w in workloads().values() if preset in w.presets]
        print(
            f"  {preset}: a long run reproducing the source (never in the default run): "
            + ", ".join(owners)
        )
    return 0


def command_run(args: argparse.Namespace) -> int:
    check_run_options(args)
    cells, not_applicable = plan(args)
    args.out = args.out or RESULTS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{args.preset}"
    check_output_folder(args.out, "--out")
    if args.compare is not None:
        _check_run_dir(args.compare)
        planned = [*cells, *(cell for cell, _ in not_applicable)]
        _check_cells_in_common(args.compare, args.out, [c.to_dict() for c in planned])
    if args.dry_run:
        return dry_run(args, cells, not_applicable, RESULTS_DIR)
    estimate = plan_estimate(args, cells, RESULTS_DIR)
    cells = estimate.order  # longest first
    # Imported here: planning and validation above never load the harness's heavy parts.
    from benchmarks.lifetime import interrupt_on_signals
    from benchmarks.runner import RunOptions

    # SIGTERM and SIGHUP take Ctrl-C's way out. A --scheduler that does not answer is
    # refused here, before the folder is touched.
    with interrupt_on_signals(), cluster.fanout_for(args) as fanout:
        # Lock the folder and apply the start and resume rules, before any work.
        try:
            description, lock_fd = open_for_run(args.out, args, cells, not_applicable, sys.argv)
        except OSError as error:
            raise WriteFailed(f"the run in {args.out} could not start: {error}") from None
        print(
            f"{len(cells)} cells -> {args.out}"
            + (f" ({len(not_applicable)} not applicable)" if not_applicable else ""),
            flush=True,
        )
        options = RunOptions(args.out, args.timeout, args.resume, args.repeats, lock_fd)
        estimates = {cell.file_name: e.seconds for cell, e in estimate.cells}
        return _run_matrix(args, cells, estimates, options, description, fanout)


def _run_matrix(
    args: argparse.Namespace, cells: list[Cell], estimates, options, description, fanout
) -> int:
    """Measure the ceiling, run the cells (here, or on the Dask cluster of ``fanout``),
    write the report, end the invocation. ``estimates``: each cell's estimated seconds
    (by file name), for the progress's ETA."""
    from benchmarks.hosts import host_block, host_facts
    from benchmarks.runner import run_cells

    try:
        ceilings = measure_ceilings(args.threads, options.lock_fd)
        description.set_ceiling(ceilings)
        # Every record names this host and its ceiling; on a cluster, the driver's host
        # is measured already, the others once each before their first cell.
        options = replace(options, host=host_block(host_facts(), ceilings))
        if fanout is None:
            records = run_cells(cells, options, estimates)
        else:
            from benchmarks.cluster_run import run_on_cluster

            fanout.measure_hosts(args.threads, known=options.host)
            records = run_on_cluster(cells, options, fanout, estimates)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM/SIGHUP (lifetime.Interrupted)
        _close_run(args.out, description, f"interrupted by {_signal_name(interrupt)}")
        raise
    except OSError as error:
        _close_run(args.out, description, f"stopped: {error}")
        raise WriteFailed(
            f"the run stopped: {error}; the cells finished before it are kept in {args.out}"
        ) from None
    except BaseException:
        _close_run(args.out, description, "crashed")
        raise
    report = _close_run(args.out, description, "finished", best_effort=False)
    counts = {s: sum(r["status"] == s for r in records) for s in {r["status"] for r in records}}
    print(f"done: {counts}; report: {report}")
    if args.compare is not None:
        from benchmarks.compare import compare_runs, format_changes
        from benchmarks.compare_html import write_compare_html

        comparison = compare_runs(args.compare, args.out)
        if comparison.compared == 0:  # the records on disk differ from the plan
            raise BadInput(f"{args.compare} and {args.out} have no cell in common")
        print(format_changes(comparison, args.compare, args.out))
        print(f"page: {write_compare_html(comparison, args.compare, args.out)}")
    return EXIT_FAILED if counts.get("failed") or counts.get("timeout") else 0


def _signal_name(interrupt: KeyboardInterrupt) -> str:
    return interrupt.args[0] if interrupt.args else "SIGINT"


def _close_run(out: Path, description, outcome: str, best_effort: bool = True) -> Path | None:
    """End the invocation in run.json and write the report (it lists what finished).

    ``best_effort``: while another error is on its way out, a failure here must not
    replace it; otherwise a write error becomes one WriteFailed line."""
    from benchmarks.report.build import write_report

    try:
        description.end(outcome)
        return write_report(out)
    except Exception as error:
        if best_effort:
            return None
        if isinstance(error, OSError):
            raise WriteFailed(f"the report of {out} was not written: {error}") from None
        raise


def measure_ceilings(threads: list[int], lock_fd: int | None = None) -> list[dict]:
    """The fp32 GEMM ceiling at each of the run's thread counts and at every CPU it may
    use, each in a process that holds the run folder's lock (``lock_fd``) while it
    measures."""
    from benchmarks.ceiling import measure_in_subprocess

    counts = sorted({*threads, usable_cpus()})
    print(
        f"measuring the fp32 GEMM ceiling with {' and '.join(map(str, counts))} thread(s)",
        flush=True,
    )
    fds = () if lock_fd is None else (lock_fd,)
    return [measure_in_subprocess(count, fds) for count in counts]


def command_report(args: argparse.Namespace) -> int:
    from benchmarks.report.build import write_report

    contents = _check_run_dir(args.run_dir)
    check_output_folder(args.run_dir, "the run folder")
    for problem in contents.problems:
        print(f"warning: left out: {problem}", file=sys.stderr)
    try:
        print(write_report(args.run_dir, contents))
    except OSError as error:
        raise WriteFailed(f"the report of {args.run_dir} was not written: {error}") from None
    return 0


def _check_run_dir(path: Path) -> RunContents:
    """The run in ``path``; raises BadInput when it holds no readable cell record."""
    if not path.is_dir():
        raise BadInput(f"{path} {'is not a folder' if path.exists() else 'does not exist'}")
    contents = load_run(path)
    if not contents.records:
        damaged = f" ({len(contents.problems)} damaged or foreign)" if contents.problems else ""
        raise BadInput(f"{path} holds no cell records{damaged}")
    return contents


def _check_cells_in_common(base: Path, new: Path, new_cells: list[dict]) -> None:
    """BadInput unless the run in ``base`` shares a cell with ``new_cells``; when their
    presets or thread counts differ, the message names both runs' (the usual cause)."""
    from benchmarks.compare import cell_key

    base_cells = load_records(base)
    if {cell_key(r) for r in base_cells} & {cell_key(c) for c in new_cells}:
        return
    runs = [[Cell.of(r) for r in run] for run in (base_cells, new_cells)]
    presets = [",".join(sorted({cell.preset for cell in run})) for run in runs]
    counts = [",".join(map(str, sorted({cell.threads for cell in run}))) for run in runs]
    hint = ""
    if presets[0] != presets[1] or counts[0] != counts[1]:
        hint = (
            f": {base} ran at --threads {counts[0]}, preset {presets[0]}; {new} at "
            f"{counts[1]}, preset {presets[1]} (cells pair only at the same thread count "
            f"and preset)"
        )
    raise BadInput(f"{base} and {new} have no cell in common{hint}")


def command_compare(args: argparse.Namespace) -> int:
    from benchmarks.compare import compare_runs, format_changes
    from benchmarks.compare_html import write_compare_html

    check_positive(args.threshold, "--threshold")
    _check_run_dir(args.base)
    _check_run_dir(args.new)
    _check_cells_in_common(args.base, args.new, load_records(args.new))
    comparison = compare_runs(args.base, args.new, args.threshold)
    print(format_changes(comparison, args.base, args.new), flush=True)
    print(f"page: {write_compare_html(comparison, args.base, args.new)}")
    return EXIT_FAILED if comparison.changes and args.fail_on_change else 0


HANDLERS = {
    "list": command_list,
    "run": command_run,
    "report": command_report,
    "compare": command_compare,
}


def build_parser() -> argparse.ArgumentParser:
    """The commands above, then those every workload adds (``Workload.add_commands``);
    the parsed arguments carry ``handlers``, command name -> handler."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="name every workload, variant, backend, mode, preset")
    add_run_parser(commands)
    compare = commands.add_parser(
        "compare", help="cells whose time or metrics moved; also writes NEW/compare.html"
    )
    compare.add_argument("base", type=path_option)
    compare.add_argument("new", type=path_option)
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
    report.add_argument("run_dir", type=path_option)
    handlers = {**HANDLERS, **cell_times.add_commands(commands)}
    handlers.update(browser_check.add_commands(commands))
    for workload in workloads().values():
        handlers.update(workload.add_commands(commands))
    parser.set_defaults(handlers=handlers)
    return parser


PATH_OPTIONS = ("out", "compare", "run_dir", "base", "new", "checkpoint")


def absolute_paths(args: argparse.Namespace) -> None:
    """Every path option made absolute, from the caller's working directory: the cells
    run in the repository, where a relative path would point elsewhere. A leading ``~``
    is the home folder (``--out=~/x`` reaches us unexpanded: the shell expands ``~``
    only at the start of a word). (BENCH_CACHE_DIR: the same, ``shared.cache.cache_dir``.)"""
    for name in PATH_OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            setattr(args, name, absolute(value))


def main(argv: list[str] | None = None) -> int:
    """Exit status 0: done; 1: a cell failed or timed out, ``compare --fail-on-change``
    found a change, or files could not be written; 2: bad input (nothing was run);
    130: interrupted."""
    try:
        parser = build_parser()
    except BadRegistration as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    args = parser.parse_args(argv)
    try:
        absolute_paths(args)
        if getattr(args, "preset", PRESETS[0]) not in all_presets():
            raise UnknownName("preset", args.preset, list(all_presets()))
        return args.handlers[args.command](args)
    except (UnknownName, BadInput, RefusedFolder) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (WriteFailed, BrokenPipeError) as error:  # BrokenPipe: `list | head`, head quit
        return output_failed(error)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM/SIGHUP during a run
        folder = getattr(args, "out", None) or "<its folder>"
        said = f"interrupted{f' by {interrupt.args[0]}' if interrupt.args else ''}"
        # only a run has cells to keep and --resume; the other commands write each file
        # whole (atomically), so an interrupted one left none half-written
        hint = "nothing half-written was left; run the same command again"
        if args.command == "run":
            hint = "every finished cell is kept; finish the run with the same command and "
            hint += f"--resume --out {folder}"
        print(f"{said}: {hint}", file=sys.stderr)
        return exit_status(interrupt)
