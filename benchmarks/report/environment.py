"""The report's opening (run, machine, invocations) and the files it left out."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.document import Block, Bullets, Heading, Paragraph
from benchmarks.progress import duration
from benchmarks.records import BadFile

Record = dict[str, Any]
# said beside the preset: a smoke run's "never solved" and noisy times read as results
PRESET_NOTES = {
    "smoke": " (checks that every cell runs: too short for anything to converge, and "
    "its few epochs make rough times; the default, brief, is the comparison)"
}


def environment_blocks(run_dir: Path, records: list[Record], info: dict[str, Any]) -> list[Block]:
    env = info.get("environment") or next(
        (r["environment"] for r in records if "environment" in r), {}
    )
    versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
    preset = info.get("preset", records[0]["preset"])
    items = [
        f"preset: {preset}{PRESET_NOTES.get(preset, '')}; cells: {len(records)}",
        f"CPU: {env.get('cpu', '?')} ({env.get('logical_cpus', '?')} logical CPUs); "
        f"threads per framework: {threads_text(env)}",
        f"Python {env.get('python', '?')} on {env.get('platform', '?')}",
        f"versions: {versions}",
        f"commit: {env.get('git_commit', '?')}",
    ]
    items += invocation_items(info)
    items.append(
        "raw data beside this report: summary.csv (a row per cell, for pandas), a JSON "
        "record per cell (every epoch, timing, metric, environment), plots/, logs/"
    )
    return [
        Heading(1, f"Benchmark report: {run_dir.name}"),
        Bullets(tuple(items)),
        Paragraph(
            "Import, build and first epoch are timed once per cell; the first epoch includes "
            "tracing and compiling. Steady = median over the later epochs (IQR beside it), with "
            "the garbage collector off; per step = steady epoch / optimizer steps per epoch. "
            "Every seed, and every repeat of a cell (--repeats), is a process of its own; a "
            "row's steady time is the median over its processes of each one's median epoch. "
            "Ratios are to the fastest row of the same variant on the same host class (CPU "
            "model, usable CPUs, memory; a run on several has a table per class), with a "
            "bootstrap 95% interval "
            "that resamples processes, then epochs inside each (processes of the same code "
            "differ far more than epochs of one process). Other columns: medians over seeds."
        ),
        *cluster_blocks(records),
    ]


def threads_text(env: dict[str, Any]) -> str:
    """The run's thread count, or its counts (``run --threads 1,2``), and of how many
    CPUs the runner could use (where recorded: the default count)."""
    threads = env.get("threads", "?")
    text = str(threads)
    if isinstance(threads, list):
        text = f"{', '.join(map(str, threads))} (every cell at each)"
    usable = env.get("usable_cpus")
    return text + (f" (the runner could use {usable} CPUs)" if usable else "")


def invocation_items(info: dict[str, Any]) -> list[str]:
    """Each invocation of ``run`` on the folder (the first run, each ``--resume``) with
    its GEMM ceiling; a run.json from before invocations were kept is one invocation."""
    invocations = info.get("invocations") or [info]
    items = []
    for number, invocation in enumerate(invocations, 1):
        prefix = ""
        if len(invocations) > 1:
            kind = "--resume" if invocation.get("resume") else "first run"
            outcome = invocation.get("outcome") or (
                "killed: no end recorded" if "outcome" in invocation else "end not recorded"
            )  # no outcome field: a run.json from before invocations were kept
            commit = (invocation.get("environment") or {}).get("git_commit", "?")
            items.append(
                f"invocation {number} ({kind}): started {invocation.get('started', '?')}, "
                f"{outcome}; commit {commit}"
            )
            prefix = f"invocation {number}: "
        else:
            items.append(run_item(invocation))
        for ceiling in invocation.get("gemm_ceiling") or []:
            items.append(
                f"{prefix}measured fp32 GEMM ceiling ({ceiling['gemm_size']}² NumPy matmul, "
                f"{ceiling['threads']} thread(s)): {ceiling['gflops_best']:.1f} GFLOP/s "
                f"best, {ceiling['gflops_median']:.1f} median"
            )
    return items


def run_item(invocation: dict[str, Any]) -> str:
    """The command of a run made in one invocation and how long it took (GEMM ceiling and
    cells, the report excluded), from ``run.json``; a run still going, killed or from
    before ``ended`` was kept gives its start only."""
    argv = invocation.get("argv") or []
    text = f"command: `python -m benchmarks {' '.join(argv[1:])}`" if argv else "command: ?"
    try:
        started, ended = (
            datetime.strptime(invocation[key], "%Y-%m-%dT%H:%M:%S%z")
            for key in ("started", "ended")
        )
    except (KeyError, TypeError, ValueError):  # still running, killed, or an older run.json
        return f"{text}; started {invocation.get('started', '?')}"
    took = duration((ended - started).total_seconds())
    return f"{text}; started {invocation['started']}, took {took}"


def problem_blocks(problems: list[BadFile]) -> list[Block]:
    """The files the report left out: damaged, of another schema, or not of this run."""
    if not problems:
        return []
    return [
        Heading(2, "Damaged or foreign files (left out)"),
        Bullets(tuple(f"{problem.path.name}: {problem.why}" for problem in problems)),
    ]


def shared_host(record: Record) -> bool:
    """Whether the cell ran on a Dask cluster's host beside other cells (a local
    cluster, or several workers on one host): its timings are not comparable."""
    return bool((record.get("cluster") or {}).get("shared_host"))


def cluster_blocks(records: list[Record]) -> list[Block]:
    """Where the cells of a run fanned out on Dask ran, by host, and which timings are
    not comparable (``benchmarks.cluster_run``); nothing for a serial run."""
    on_cluster = [r for r in records if "cluster" in r]
    if not on_cluster:
        return []
    hosts: dict[str, int] = {}
    for record in on_cluster:
        host = record["cluster"].get("host") or "unknown (lost before it ran)"
        hosts[host] = hosts.get(host, 0) + 1
    shared = sum(map(shared_host, on_cluster))
    retried = sum(bool(r["cluster"].get("retried_because")) for r in on_cluster)
    text = (
        f"{len(on_cluster)} of {len(records)} cells ran on a Dask cluster (scheduler "
        f"{on_cluster[0]['cluster'].get('scheduler', '?')}), by host: "
        + ", ".join(f"{host} {count}" for host, count in sorted(hosts.items()))
        + "."
    )
    if shared:
        text += (
            f" {shared} of them shared their host with other cells running at the same time "
            "(--local-cluster, or several workers on one host): their timings are marked "
            "'shared host: not comparable' and compare neither with a serial run's nor with "
            "each other; their statuses, metrics and parity are."
        )
    if retried:
        text += f" {retried} cell(s) ran a second time after their worker was lost."
    return [Heading(2, "Cluster"), Paragraph(text)]
