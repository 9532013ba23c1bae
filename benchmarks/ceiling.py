"""The machine's fp32 matrix-multiply ceiling, measured once per run (GFLOP/s).

Run as ``python -m benchmarks.ceiling --threads N`` so that BLAS reads its thread
count from the environment before NumPy is imported; prints one JSON object. The
process dies with the runner that started it (``benchmarks.lifetime``).

``BENCH_GEMM_SIZE`` (for the harness's own tests only: tests/conftest.py sets 64) shrinks
the matrices so that a test run does not spend seconds here; the size used is recorded
with the result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks.hosts import host_block, host_facts
from benchmarks.lifetime import PARENT_PID_ENV, die_with_parent
from shared.metadata import REPO_ROOT

GEMM_SIZE = 2048
GEMM_SIZE_ENV = "BENCH_GEMM_SIZE"
REPEATS = 7


def gemm_size() -> int:
    """``$BENCH_GEMM_SIZE`` when set (tests), else 2048; raises ValueError when invalid."""
    text = os.environ.get(GEMM_SIZE_ENV, "").strip()
    if not text:
        return GEMM_SIZE
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{GEMM_SIZE_ENV} must be a positive integer, got {text!r}")
    return int(text)


def measure(size: int = GEMM_SIZE, repeats: int = REPEATS) -> dict[str, float]:
    """Best and median GFLOP/s of ``size``-square float32 matmuls (2 n^3 FLOPs each)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b  # warm-up: thread pool start, page faults
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        seconds.append(time.perf_counter() - start)
    flops = 2.0 * size**3
    seconds.sort()
    return {
        "gemm_size": size,
        "gflops_best": flops / seconds[0] / 1e9,
        "gflops_median": flops / seconds[len(seconds) // 2] / 1e9,
    }


def measure_in_subprocess(threads: int, pass_fds: tuple[int, ...] = ()) -> dict[str, float]:
    """The ceiling with ``threads`` BLAS threads, measured in a fresh process that gets
    the open files ``pass_fds`` (the run folder's lock: see ``benchmarks.run_folder``)."""
    from benchmarks.runner import thread_environment

    env = {
        **os.environ,
        **thread_environment(threads),
        "PYTHONPATH": str(REPO_ROOT),
        PARENT_PID_ENV: str(os.getpid()),
    }
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.ceiling", "--threads", str(threads)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        pass_fds=pass_fds,
    )
    return {"threads": threads, **json.loads(result.stdout)}


def measure_host(threads: list[int]) -> dict[str, Any]:
    """This host's block (``hosts.host_block``), its ceiling measured at each of
    ``threads`` and at every CPU it may use, a fresh process each. A Dask driver sends it
    once to each host that runs cells, as a task that takes the worker's cell resource,
    so that no cell of that worker runs meanwhile (``cluster.Fanout.measure_hosts``)."""
    facts = host_facts()
    counts = sorted({*threads, facts["usable_cpus"]})
    return host_block(facts, [measure_in_subprocess(count) for count in counts])


def main() -> int:
    die_with_parent()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, required=True)
    parser.parse_args()
    print(json.dumps(measure(gemm_size())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
