"""Checks of the command line's values: numbers, seed lists and output locations.

Each check raises BadInput with a one-line message; ``benchmarks.cli`` prints it as
``error: ...`` and exits with status 2 before any work starts (before the GEMM
ceiling, the first cell or the first episode).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

from shared.paths import unwritable_reason

MAX_SEEDS = 10_000  # one run's seed list; checked from the ranges, before any list is built
# NumPy's global seeding (Keras) takes unsigned 32-bit seeds, the Atari emulator (ALE,
# the DQN game) signed ones: 2**31 and above fail its reset with a TypeError.
MAX_SEED = 2**31 - 1
MAX_REPEATS = 100  # processes per cell
MAX_EPISODES = 100_000  # evaluate's whole episodes
SEED_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?", re.ASCII)


class BadInput(ValueError):
    """Invalid command-line input; the message says what is valid."""


class WriteFailed(Exception):
    """A command's files could not be written (full disk, ...); the message says which
    and what was kept."""


def output_failed(error: Exception) -> int:
    """Say in one ``error:`` line on stderr that a command's files or output could not be
    written, and return exit status 1. A closed pipe (``list | head`` once ``head`` has
    quit) is one case: stdout, and stderr when it is the same pipe (``2>&1 | head``), are
    then pointed at the null device, since Python's flush at exit would otherwise fail
    again (a traceback, exit status 120)."""
    if isinstance(error, BrokenPipeError):
        _to_null(sys.stdout)
        error = WriteFailed(f"the output could not be written: {error}")
    try:
        print(f"error: {error}", file=sys.stderr, flush=True)
    except BrokenPipeError:
        _to_null(sys.stderr)
    return 1


def _to_null(stream) -> None:
    """Point ``stream``'s file descriptor at the null device: what it still buffers, and
    anything written later, goes nowhere instead of failing."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, stream.fileno())
    os.close(null)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; a container's or taskset's
    limit), which can be fewer than the machine's logical CPUs."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity API on this platform
        return os.cpu_count() or 1


def check_threads(threads: int, option: str = "--threads") -> None:
    """Every framework is configured with ``threads``: more than the CPUs this process
    may use would only oversubscribe them (and BLAS silently caps its own pool)."""
    limit = usable_cpus()
    if not 1 <= threads <= limit:
        raise BadInput(
            f"{option} must be between 1 and {limit} (the CPUs this process may use), got {threads}"
        )


def parse_threads(text: str | None, option: str = "--threads") -> list[int]:
    """``--threads``: ``N``, or ``N,M,..`` to run every cell at each count (threads become
    a matrix dimension); sorted, each count once. None (not given): every CPU this
    process may use. BadInput for anything else, or a count outside 1..usable_cpus()."""
    if text is None:
        return [usable_cpus()]
    limit, counts = usable_cpus(), set()
    for part in text.split(","):
        digits = part.strip()
        if not (digits.isascii() and digits.isdigit() and 1 <= int(digits[:9]) <= limit):
            raise BadInput(
                f"{option} must be a count or a comma list of counts (1,2), each between "
                f"1 and {limit} (the CPUs this process may use), got {text!r}"
            )
        counts.add(int(digits))
    return sorted(counts)


def check_count(value: int, option: str, limit: int) -> None:
    if not 1 <= value <= limit:
        raise BadInput(f"{option} must be between 1 and {limit:,}, got {value}")


def check_positive(value: float, option: str) -> None:
    """A finite number above 0 (NaN compares false with everything, so it must be
    refused explicitly: ``--timeout nan`` would otherwise switch the timeout off)."""
    if not (math.isfinite(value) and value > 0):
        raise BadInput(f"{option} must be a finite number above 0, got {value}")


def check_probability(value: float, option: str) -> None:
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise BadInput(f"{option} must be a number in [0, 1], got {value}")


def check_seed(seed: int, option: str = "--seed") -> None:
    if not 0 <= seed <= MAX_SEED:
        raise BadInput(f"{option} must be between 0 and {MAX_SEED}, got {seed}")


def _seed_range(part: str, text: str) -> tuple[int, int]:
    """``(low, high)`` of one comma-separated part of ``--seeds``, inclusive."""
    match = SEED_RANGE.fullmatch(part.strip())
    if match is None:
        if part.strip().endswith("-"):
            problem = f"the range {part.strip()!r} has no end"
        elif part.strip().startswith("-"):
            problem = f"{part.strip()!r} is not a non-negative seed or a range LOW-HIGH"
        else:
            problem = f"{part.strip()!r} is not a seed"
        raise BadInput(f"--seeds must look like 0,1,2 or 0-9 or 0-3,7: {problem} (in {text!r})")
    digits = [d for d in match.groups() if d is not None]
    if any(len(d) > len(str(MAX_SEED)) or int(d) > MAX_SEED for d in digits):
        raise BadInput(f"--seeds: seeds must be between 0 and {MAX_SEED} (in {text!r})")
    low, high = int(digits[0]), int(digits[-1])
    if high < low:
        raise BadInput(f"--seeds: {part.strip()!r} is a descending range; write {high}-{low}")
    return low, high


def parse_seeds(text: str) -> list[int]:
    """``0,1,5`` or ``0-9`` (inclusive) or a mix: ``0-3,7``; sorted, each seed once.

    The number of distinct seeds is counted from the ranges (merged where they overlap)
    and refused above MAX_SEEDS before any list is built: ``0-999999999`` must not
    allocate a billion integers first."""
    ranges = sorted(_seed_range(part, text) for part in text.split(","))
    count, covered_to = 0, -1
    for low, high in ranges:
        count += max(0, high - max(low, covered_to + 1) + 1)
        covered_to = max(covered_to, high)
    if count > MAX_SEEDS:
        raise BadInput(f"--seeds names {count:,} seeds; at most {MAX_SEEDS:,} per run")
    return sorted({seed for low, high in ranges for seed in range(low, high + 1)})


def check_output_folder(folder: Path, what: str) -> None:
    """Files can be created in ``folder`` (made where missing), else BadInput."""
    reason = unwritable_reason(folder)
    if reason:
        raise BadInput(f"{what} {folder} {reason}")


def check_output_file(path: Path, what: str) -> None:
    """``path`` can be written (replaced by rename where it exists), else BadInput."""
    if os.path.isdir(path):
        raise BadInput(f"{what} {path} is a folder; name a file")
    if os.path.exists(path) and not os.path.isfile(path):
        # written by renaming a new file over it: /dev/null itself would be replaced
        raise BadInput(f"{what} {path} is not a regular file (a device or FIFO); name a file")
    reason = unwritable_reason(path.parent)
    if reason:
        raise BadInput(f"{what} {path}: its folder {path.parent} {reason}")
    # written as .<name>.<8 random characters>.tmp first (shared.files), then renamed
    longest = len(os.fsencode(path.name)) + len("..12345678.tmp")
    if longest > _name_max(path.parent):
        raise BadInput(f"{what} {path}: its file name is too long for this file system")


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system of ``folder`` (or of its nearest
    existing parent) takes."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def path_option(text: str) -> Path:
    """A path on the command line; an empty one (``--out "$UNSET"``) is refused: as
    ``Path("")`` it would silently mean the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text)
