"""The cell process's memory: its resident set size over a run, growth in it, and the
cyclic garbage collection that the timed loops must still run.

The harness's loops keep Python's cyclic garbage collector off, so that a collection
never lands inside a timed span. Reference counting alone then frees everything but
reference cycles, and some frameworks make cycles on every call: Keras on torch builds
each ``keras.tree`` walk on torch's ``tree_flatten``, whose recursive inner function
refers to itself and to Keras's ``is_leaf`` closure over the structure being walked
(keras-team/keras#23110), so every batch fed to a train or predict function stays
alive until a collection. With the collector off for a whole DQN run that was every
batch of the run (about 10 MB a TD step). ``collect_due_garbage`` runs, at a point
between timed spans, the collection Python would have run by then; ``pause_collector``
and ``resume_collector`` go around the loop.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

MB = 1024.0 * 1024.0
# A cell's RSS is flagged as growing when, over the second half of its run, the fitted
# line rises by more than both of these (allocator noise and warm-up stay under them).
GROWTH_FLAG_MB = 64.0
GROWTH_FLAG_FRACTION = 0.10
MIN_HALF_SAMPLES = 3  # fewer samples in the second half: no verdict


def pause_collector() -> bool:
    """Before a timed loop: collect, move every survivor (frameworks, model, data) out
    of the collector's reach with ``gc.freeze``, and switch automatic collection off.

    Frozen, a full collection in the loop scans only what the loop made (~1 s for the
    ~450,000 objects of Keras and torch otherwise). Returns whether it froze: not when
    an enclosing loop (the search) already has, whose objects stay frozen."""
    gc.collect()
    froze = gc.get_freeze_count() == 0
    if froze:
        gc.freeze()
    gc.disable()
    return froze


def resume_collector(froze: bool) -> None:
    """After the loop: automatic collection back on, and what ``pause_collector``
    froze back within reach."""
    gc.enable()
    if froze:
        gc.unfreeze()


def collect_due_garbage() -> None:
    """Collect the oldest generation whose count is past its threshold, as Python's own
    collector does on an allocation when it is enabled; nothing when none is due.

    Call it with the collector disabled, between timed spans: what a step left in
    reference cycles is freed there instead of accumulating for the whole run. Costs a
    ``gc.get_count()`` when nothing is due."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    if not thresholds[0]:  # gc.set_threshold(0): automatic collection switched off
        return
    for generation in reversed(range(len(counts))):
        threshold = thresholds[generation] if generation < len(thresholds) else 0
        if threshold and counts[generation] > threshold:
            gc.collect(generation)
            return


def _page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_mb() -> float | None:
    """This process's resident set size now, in MiB; ~10 us.

    From ``/proc/self/statm`` (Linux). Elsewhere the peak so far
    (``peak_rss_mb``), which a growing process raises as well; None where neither
    can be read."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _page_size() / MB
    except (OSError, IndexError, ValueError):
        return peak_rss_mb()


def peak_rss_mb() -> float | None:
    """This process's peak resident set size so far, in MiB (None where unknown)."""
    try:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (OSError, ValueError):
        return None
    # Linux reports KiB, macOS bytes.
    return peak / MB if sys.platform == "darwin" else peak / 1024.0


def rss_samples(record: dict[str, Any]) -> tuple[str, np.ndarray, np.ndarray] | None:
    """``(unit, x, rss_mb)`` of a record's RSS samples, or None when it has none.

    DQN cells sample at each episode's end (``episodes``: x in agent steps, the replay
    memory's filled bytes ``replay_mb`` subtracted: it grows on purpose until full);
    search cells after each trained candidate (``candidates``); supervised cells after
    each epoch (``epochs``)."""
    for field, x_key, unit in (
        ("episodes", "agent_steps", "agent steps"),
        ("candidates", "order", "candidates"),
        ("epochs", "epoch", "epochs"),
    ):
        rows = [
            row
            for row in record.get(field) or []
            if isinstance(row, dict) and row.get("rss_mb") is not None and x_key in row
        ]
        if rows:
            x = np.array([row[x_key] for row in rows], dtype=np.float64)
            rss = np.array([row["rss_mb"] - (row.get("replay_mb") or 0.0) for row in rows])
            return unit, x, rss
    return None


def growth_summary(x: Sequence[float], rss_mb: Sequence[float]) -> dict[str, Any] | None:
    """The least-squares line of ``rss_mb`` against ``x`` over the second half of the
    run (samples with x past the midpoint of x's range; the first half holds the
    warm-up): its slope in MiB per 1,000 units of x, its rise over that half in MiB, and
    whether the rise is past both GROWTH_FLAG_MB and GROWTH_FLAG_FRACTION of the RSS at
    the half's start. None with fewer than MIN_HALF_SAMPLES samples there."""
    x, rss = np.asarray(x, dtype=np.float64), np.asarray(rss_mb, dtype=np.float64)
    if x.size < 2:
        return None
    middle = (x.min() + x.max()) / 2.0
    late = x >= middle
    if late.sum() < MIN_HALF_SAMPLES or np.ptp(x[late]) == 0:
        return None
    slope, intercept = np.polyfit(x[late], rss[late], 1)
    start = x[late].min()
    rise = float(slope * (x[late].max() - start))
    start_mb = float(slope * start + intercept)
    return {
        "rss_growth_mb_per_1k": float(slope * 1000.0),
        "rss_growth_mb": rise,
        "rss_growing": bool(rise > max(GROWTH_FLAG_MB, GROWTH_FLAG_FRACTION * start_mb)),
    }


def record_growth(record: dict[str, Any]) -> dict[str, Any] | None:
    """``growth_summary`` of a record's samples, with their ``rss_unit`` (None when the
    record has too few samples)."""
    samples = rss_samples(record)
    if samples is None:
        return None
    unit, x, rss = samples
    summary = growth_summary(x, rss)
    return None if summary is None else {"rss_unit": unit, **summary}
