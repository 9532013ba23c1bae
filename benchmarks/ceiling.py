"""The machine's fp32 matrix-multiply ceiling, measured once per run (GFLOP/s).

Run as ``python -m benchmarks.ceiling --threads N`` so that BLAS reads its thread
count from the environment before NumPy is imported; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from shared.metadata import REPO_ROOT

GEMM_SIZE = 2048
REPEATS = 7


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


def measure_in_subprocess(threads: int) -> dict[str, float]:
    """The ceiling with ``threads`` BLAS threads, measured in a fresh process."""
    from benchmarks.runner import thread_environment

    env = {**os.environ, **thread_environment(threads), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.ceiling", "--threads", str(threads)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return {"threads": threads, **json.loads(result.stdout)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, required=True)
    parser.parse_args()
    print(json.dumps(measure()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
