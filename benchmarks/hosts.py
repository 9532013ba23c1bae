"""The machine a cell ran on: every record's ``host`` block, and the host class that
``compare`` and the report pair cells within.

A host block (``schema.Host``) is the host's name, CPU model, logical CPUs (usable by
the process, ``sched_getaffinity``, and in all), total memory and its fp32 GEMM ceiling,
measured once per host per run: by the serial runner before its cells (``cli``), on a
Dask cluster once on each host that runs cells (``ceiling.measure_host``, a task the
driver sends, ``benchmarks.cluster``). Its ``host_class`` names what makes timings comparable:
CPU model, usable CPUs and memory in whole GiB. Two hosts of one class are the same
kind of machine; two machines of one model with other core counts are not.

A record from before host blocks has a class from its environment (CPU model and CPU
count, memory unknown); it pairs with a class of the same CPU and count whatever the
memory, so the committed baseline still compares with a run on its machine class.
"""

from __future__ import annotations

import os
import socket
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.metadata import cpu_model

Record = dict[str, Any]
GIB = 2**30


@dataclass(frozen=True)
class HostClass:
    """What a cell's timings are comparable within: CPU model, usable logical CPUs, and
    memory in whole GiB (None: a record from before host blocks, which has none)."""

    cpu: str
    cpus: int
    memory_gib: int | None

    @property
    def label(self) -> str:
        """``Intel(R) Xeon(R) Processor, 2 CPUs, 8 GiB``: a record's ``host_class``."""
        memory = "memory unknown" if self.memory_gib is None else f"{self.memory_gib} GiB"
        return f"{self.cpu}, {self.cpus} CPU{'' if self.cpus == 1 else 's'}, {memory}"

    def matches(self, other: HostClass) -> bool:
        """Same CPU model and usable CPUs, and same memory where both know it."""
        memories = (self.memory_gib, other.memory_gib)
        return (self.cpu, self.cpus) == (other.cpu, other.cpus) and (
            None in memories or memories[0] == memories[1]
        )


def total_memory_bytes() -> int:
    """The machine's memory (``MemTotal``; else physical pages times their size)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def host_facts() -> dict[str, Any]:
    """This machine, as this process sees it: name, CPU model, logical CPUs usable
    (``sched_getaffinity``) and in all, memory in bytes. Cheap: no measurement."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    logical = os.cpu_count() or usable or 1
    return {
        "name": socket.gethostname(),
        "cpu": cpu_model(),
        "usable_cpus": usable or logical,
        "logical_cpus": logical,
        "memory_bytes": total_memory_bytes(),
    }


def host_block(facts: dict[str, Any], ceilings: list[dict[str, Any]]) -> dict[str, Any]:
    """A record's ``host``: ``facts`` (``host_facts``), the GEMM ceiling measured there
    (one entry per thread count: threads, gflops_best, gflops_median in GFLOP/s,
    gemm_size; empty when it could not be measured) and the host class's label."""
    memory_gib = round(facts["memory_bytes"] / GIB)
    kind = HostClass(facts["cpu"], facts["usable_cpus"], memory_gib)
    return {**facts, "gemm_ceiling": list(ceilings), "host_class": kind.label}


def host_class_of(record: Record) -> HostClass | None:
    """The record's host class: from its ``host`` block, else (an older record) from its
    environment's CPU model and usable (else logical) CPUs; None when it has neither (a
    cell that never ran)."""
    host = record.get("host")
    if isinstance(host, dict):
        return HostClass(host["cpu"], host["usable_cpus"], round(host["memory_bytes"] / GIB))
    env = record.get("environment")
    if not isinstance(env, dict):
        return None
    cpu, cpus = env.get("cpu"), env.get("usable_cpus") or env.get("logical_cpus")
    if not isinstance(cpu, str) or not isinstance(cpus, int):
        return None
    return HostClass(cpu, cpus, None)


def comparable(a: Record, b: Record) -> bool:
    """Whether two records' timings may be paired: same host class (``HostClass.matches``),
    or a side whose host is unknown (nothing says it differs)."""
    first, second = host_class_of(a), host_class_of(b)
    return first is None or second is None or first.matches(second)


def by_host_class(records: list[Record]) -> list[tuple[HostClass | None, list[Record]]]:
    """``records`` split by host class, classes in label order, each part in the given
    order; ``[(None, records)]`` when they span at most one class (nothing to split). A
    class without memory (older records) joins the one class of its CPU and count that
    has it; records of no known class form a part of their own (None)."""
    classes = {kind for r in records if (kind := host_class_of(r)) is not None}
    full = [kind for kind in classes if kind.memory_gib is not None]
    canonical = {}
    for kind in classes:
        matching = [other for other in full if other.matches(kind)]
        canonical[kind] = matching[0] if kind.memory_gib is None and len(matching) == 1 else kind
    if len(set(canonical.values())) <= 1:
        return [(None, records)]
    parts: dict[HostClass | None, list[Record]] = defaultdict(list)
    for record in records:
        kind = host_class_of(record)
        parts[canonical[kind] if kind is not None else None].append(record)
    return sorted(parts.items(), key=lambda part: (part[0] is None, part[0] and part[0].label))


def record_ceiling(record: Record, run_ceiling: float | None) -> float | None:
    """Best GEMM GFLOP/s of the host the cell ran on, at the cell's thread count;
    ``run_ceiling`` (the run's, from ``run.json``) for a record without a host block.
    None: not measured there at that count (never another host's or count's)."""
    host = record.get("host")
    if not isinstance(host, dict):
        return run_ceiling
    threads = record.get("threads", 1)
    found = [c["gflops_best"] for c in host["gemm_ceiling"] if c.get("threads") == threads]
    return found[0] if found else None
