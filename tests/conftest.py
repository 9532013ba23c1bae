"""Settings for the whole test session, its subprocesses included.

Every ``python -m benchmarks run`` measures the machine's GEMM ceiling first: at the
benchmark's 2048-square matrices that is about 4 s (3 CPU-s) a run, and the suite starts
dozens of runs. The tests check what the harness records, never how fast the machine is,
so they measure it on 64-square matrices unless a test (or the caller) sets another size;
``tests/test_threads.py`` checks the measurement itself.
"""

from __future__ import annotations

import os

from benchmarks.ceiling import GEMM_SIZE_ENV

os.environ.setdefault(GEMM_SIZE_ENV, "64")
