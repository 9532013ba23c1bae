"""Spread and comparison of timings: bootstrap confidence intervals of time ratios.

The unit of a timing sample is the process. Epochs of one process agree closely with
each other, while two processes of the same code on the same machine can differ by
tens of percent (address-space layout, caches, which core, the machine's other load):
measured on this project's machines, reruns of a dispatch-bound cell moved up to 1.7x
with epoch intervals a few percent wide. So a sample is a list of processes, each a
list of steady epoch seconds, and the bootstrap resamples processes first, then epochs
inside each (a two-level bootstrap). With one process per side it reduces to the plain
epoch bootstrap, which then covers epoch noise only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95

# (process, epoch seconds): one inner sequence per process.
Processes = Sequence[Sequence[float]]
# Resampled epochs held at once: a long run's process (DQN learn: 57,500 TD steps) is
# resampled in row chunks, so 2,000 resamples never hold 115 M floats (920 MB) at once.
RESAMPLE_CHUNK = 4_000_000


def center(processes: Processes) -> float:
    """The median over processes of each process's median epoch (seconds)."""
    return float(np.median([np.median(p) for p in _checked(processes)]))


def process_spread(processes: Processes) -> np.ndarray:
    """Each process's log(median epoch) minus their mean, scaled by sqrt(n / (n - 1)) so
    that their spread estimates the process-to-process spread (needs n >= 2)."""
    logs = np.log([np.median(p) for p in _checked(processes)])
    if logs.size < 2:
        raise ValueError("a spread needs at least two processes")
    return (logs - logs.mean()) * np.sqrt(logs.size / (logs.size - 1))


def bootstrap_centers(
    processes: Processes,
    rng: np.random.Generator,
    borrowed_spread: np.ndarray | None = None,
) -> np.ndarray:
    """``BOOTSTRAP_SAMPLES`` resampled centers: processes with replacement, then epochs
    with replacement inside each.

    ``borrowed_spread`` (log deviations, see ``process_spread``, pooled over other
    cells) stands in for the process-to-process noise a single process cannot show:
    each resample of a single process is scaled by one of them, drawn at random."""
    groups = [np.asarray(p, dtype=np.float64) for p in _checked(processes)]
    # (group, sample): each process's resampled median, then processes picked per sample.
    resampled = np.stack([_resampled_medians(g, rng) for g in groups])
    picks = rng.integers(len(groups), size=(BOOTSTRAP_SAMPLES, len(groups)))
    medians = resampled[picks, np.arange(BOOTSTRAP_SAMPLES)[:, None]]
    centers = np.median(medians, axis=1)
    if len(groups) == 1 and borrowed_spread is not None and borrowed_spread.size:
        centers = centers * np.exp(rng.choice(borrowed_spread, BOOTSTRAP_SAMPLES))
    return centers


def _resampled_medians(epochs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``BOOTSTRAP_SAMPLES`` medians of ``epochs`` resampled with replacement; in row
    chunks when all of them at once would exceed ``RESAMPLE_CHUNK`` values (a process
    that fits draws exactly as it always did, so small cells' intervals are unchanged)."""
    rows = max(1, RESAMPLE_CHUNK // epochs.size)
    if rows >= BOOTSTRAP_SAMPLES:
        return np.median(rng.choice(epochs, (BOOTSTRAP_SAMPLES, epochs.size)), axis=1)
    chunks = [
        np.median(rng.choice(epochs, (min(rows, BOOTSTRAP_SAMPLES - done), epochs.size)), axis=1)
        for done in range(0, BOOTSTRAP_SAMPLES, rows)
    ]
    return np.concatenate(chunks)


def bootstrap_ratio(
    numerator: Processes,
    denominator: Processes,
    seed: int = 0,
    borrowed_spread: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """``center(numerator) / center(denominator)`` and its bootstrap 95% interval.

    Each side is resampled on its own (two runs are independent measurements).
    Returns ``(ratio, low, high)``."""
    rng = np.random.default_rng(seed)
    ratios = bootstrap_centers(numerator, rng, borrowed_spread) / bootstrap_centers(
        denominator, rng, borrowed_spread
    )
    low, high = _interval(ratios)
    return center(numerator) / center(denominator), low, high


def center_interval(
    processes: Processes, seed: int = 0, borrowed_spread: np.ndarray | None = None
) -> tuple[float, float]:
    """The bootstrap 95% interval ``(low, high)`` of ``center(processes)``, in its units
    (``bootstrap_centers``; ``borrowed_spread`` as there)."""
    return _interval(bootstrap_centers(processes, np.random.default_rng(seed), borrowed_spread))


def _interval(samples: np.ndarray) -> tuple[float, float]:
    """The central ``CONFIDENCE`` interval of bootstrap ``samples``."""
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def _checked(processes: Processes) -> Processes:
    if not processes or any(len(p) == 0 for p in processes):
        raise ValueError("every sample needs at least one process with one measurement")
    return processes
