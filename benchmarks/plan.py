"""The matrix a ``run`` asks for: which cells to run, and which requested cells do not
apply (with the reason), from the command line's names. Cheap and framework-free: it
runs, and refuses bad input, before anything is imported or started."""

from __future__ import annotations

import argparse
import itertools
from dataclasses import replace

from benchmarks.options import BadInput, parse_seeds, parse_threads
from benchmarks.records import Cell
from benchmarks.workloads import BRIEF, LONG_RUN_PRESETS, Workload, get_workload, workloads
from shared import registry
from shared.params import DTYPES
from shared.registry import UnknownName
from shared.specs import SpecError


def names(text: str, kind: str, valid: list[str]) -> list[str]:
    """Comma-separated names, or 'all', each once (a repeated name runs its cells once);
    raises UnknownName for a name not in ``valid``."""
    if text == "all":
        return list(valid)
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        raise BadInput(f"no {kind} given; valid: {', '.join(valid)}")
    for name in names:
        if name not in valid:
            raise UnknownName(kind, name, valid)
    return names


MODE_POLICIES = ("auto", "default", "all")


def plan(args: argparse.Namespace) -> tuple[list[Cell], list[tuple[Cell, str]]]:
    """The cells to run and the requested-but-not-applicable ones, with the reason; each
    at every thread count of ``--threads``."""
    workload_names = _with_preset(names(args.workload, "workload", list(workloads())), args)
    backends = names(args.backend, "backend", list(registry.BACKENDS))
    all_variants = sorted({v for w in workload_names for v in get_workload(w).variants})
    variants = None if args.variant is None else names(args.variant, "variant", all_variants)
    all_modes = sorted({m for b in backends for m in registry.get(b).modes})
    modes = () if args.mode in MODE_POLICIES else tuple(names(args.mode, "mode", all_modes))
    dtypes = None if args.dtype == "default" else names(args.dtype, "dtype", list(DTYPES))
    seeds = None if args.seeds is None else parse_seeds(args.seeds)
    cells, not_applicable = [], []
    for workload_name in workload_names:
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
                    _modes(
                        args.mode, info, workload, main and args.preset not in SINGLE_MODE, modes
                    ),
                    dtypes or (info.dtypes[0],),
                ):
                    cell = Cell(workload_name, variant, backend, mode, dtype, seed, args.preset)
                    reason = _not_applicable(info, workload, mode, dtype)
                    if reason:
                        not_applicable.append((cell, reason))
                    else:
                        cells.append(cell)
    if not cells:
        raise BadInput(
            "nothing to run: no requested backend supports the requested "
            "workloads, modes and dtypes"
        )
    # each cell once, whatever overlaps the lists had
    counts = _thread_counts(args)
    cells = _at_each_count(list(dict.fromkeys(cells)), counts)
    not_applicable = [
        (at_count, reason)
        for cell, reason in dict.fromkeys(not_applicable)
        for at_count in _at_each_count([cell], counts)
    ]
    return cells, not_applicable


# presets at which ``--mode auto`` runs each backend's default mode only
SINGLE_MODE = (BRIEF, *LONG_RUN_PRESETS)


def _with_preset(workload_names: list[str], args: argparse.Namespace) -> list[str]:
    """The named workloads that define ``--preset``: with ``--workload all`` those that
    have it (a long-run preset is a few workloads'); a workload named on the command
    line without it is refused (BadInput), naming its presets."""
    having = [name for name in workload_names if args.preset in get_workload(name).presets]
    if args.workload == "all" and having:
        return having
    for name in workload_names:
        if name not in having:
            known = ", ".join(get_workload(name).presets)
            raise BadInput(f"workload {name} has no preset {args.preset!r} (its presets: {known})")
    return workload_names


def _thread_counts(args: argparse.Namespace) -> list[int]:
    """``--threads`` as ``check_run_options`` left it (a list), or still as text."""
    threads = getattr(args, "threads", None)
    return threads if isinstance(threads, list) else parse_threads(threads)


def _at_each_count(cells: list[Cell], counts: list[int]) -> list[Cell]:
    """Each cell at each thread count; one cell's counts run one after another, so that
    the thread-scaling chart compares processes that ran close together in time."""
    several = len(counts) > 1
    return [replace(cell, threads=n, threads_in_name=several) for cell in cells for n in counts]


def _modes(
    policy: str,
    info: registry.BackendInfo,
    workload: Workload,
    main: bool,
    requested: tuple[str, ...],
) -> tuple[str, ...]:
    """``auto``: every mode for a workload's main variants (first seed; ``main`` is
    false at the brief preset), the default mode elsewhere; ``default``: the default
    mode; ``all``: every mode; else as named. The policies pick among the modes that
    apply to the workload."""
    applicable = info.modes_for(workload) or (info.default_mode,)
    if policy == "all" or (policy == "auto" and main):
        return applicable
    if policy in MODE_POLICIES:
        return applicable[:1]
    return requested


def runnable_workloads(info: registry.BackendInfo) -> list[str]:
    """The workloads ``info`` runs, by name."""
    return [workload.name for workload in workloads().values() if info.runs(workload)]


def _not_applicable(info: registry.BackendInfo, workload: Workload, mode: str, dtype: str) -> str:
    if not info.runs(workload):
        return f"{info.name} runs only {', '.join(runnable_workloads(info))}"
    if mode not in info.modes:
        return f"{info.name} has no mode {mode} (modes: {', '.join(info.modes)})"
    modes = info.modes_for(workload)
    if mode not in modes:
        return f"{info.name} runs {workload.name} in {', '.join(modes)} only"
    if dtype not in info.dtypes:
        return f"{info.name} computes in {', '.join(info.dtypes)} only"
    return ""
