"""The report by host: a ranking per host class, and which hosts ran the cells.

A run whose cells ran on more than one kind of machine (a Dask cluster of unlike hosts,
or a ``--resume`` on another machine) gets one table per host class wherever rows are
ranked ("× fastest"), each under a heading naming the class. Sub-tables rather than a
host column: a ratio is only meaningful inside its class, and a table whose every row
shares one fastest reads as such, where a host column would sit ratios of different
classes one above the other, inviting a comparison across them. A run of one class
(every serial run) keeps its single table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.document import Block, Bullets, Heading, Paragraph
from benchmarks.hosts import by_host_class, host_class_of

Record = dict[str, Any]


def per_host_class(
    records: list[Record], build: Callable[[list[Record]], list[Block]], level: int = 4
) -> list[Block]:
    """``build(records)``, or, when the records span several host classes, ``build`` of
    each class's records under a heading (``level``) naming the class; a class with
    nothing to show (``build`` gives nothing) is left out."""
    parts = by_host_class(records)
    if len(parts) == 1:
        return build(records)
    blocks: list[Block] = []
    for kind, part in parts:
        built = build(part)
        if built:
            label = kind.label if kind else "host unknown (records without a host)"
            blocks += [Heading(level, f"On {label}"), *built]
    return blocks


def hosts_blocks(records: list[Record]) -> list[Block]:
    """Each host that ran cells, with its class, its GEMM ceiling and its cell count,
    where the run's records name more than one host (nothing otherwise: the opening
    already describes the one machine)."""
    hosts: dict[str, tuple[dict[str, Any], int]] = {}
    for record in records:
        host = record.get("host")
        if isinstance(host, dict):
            hosts[host["name"]] = (host, hosts.get(host["name"], (host, 0))[1] + 1)
    if len(hosts) < 2:
        return []
    items = []
    for name, (host, count) in sorted(hosts.items()):
        ceilings = ", ".join(
            f"{c['gflops_best']:.1f} GFLOP/s at {c['threads']} thread(s)"
            for c in host["gemm_ceiling"]
        )
        items.append(
            f"{name}: {host['host_class']} ({host['logical_cpus']} logical CPUs in all); "
            f"fp32 GEMM ceiling {ceilings or 'not measured'}; {count} cell(s)"
        )
    classes = {kind for r in records if (kind := host_class_of(r)) is not None}
    text = (
        f"The cells ran on {len(hosts)} hosts of {len(classes)} host class(es) (CPU model, "
        "usable CPUs, memory). Ratios to the fastest rank rows within one class only, and "
        "each cell's GFLOP/s is a share of its own host's ceiling."
    )
    return [Heading(2, "Hosts"), Paragraph(text), Bullets(tuple(items))]
