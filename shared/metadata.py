"""Where and with what a result was measured: machine, versions, threads, commit.

Reads installed versions from package metadata, so nothing here imports a framework.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from shared.specs import SpecError

REPO_ROOT = Path(__file__).resolve().parent.parent
BASE_DISTRIBUTIONS = ("numpy", "matplotlib", "gymnasium", "ale-py", "scikit-learn")
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "XLA_FLAGS",
    "NPROC",
)


def tracked_distributions() -> tuple[str, ...]:
    """NumPy, matplotlib and every distribution a registered backend names."""
    from shared.registry import BACKENDS

    names = [*BASE_DISTRIBUTIONS]
    for info in BACKENDS.values():
        names += [name for name in info.distributions if name not in names]
    return tuple(names)


def distribution_versions(names: tuple[str, ...] | None = None) -> dict[str, str]:
    """Installed version of each distribution (default: the tracked ones) that is installed."""
    versions = {}
    for name in names or tracked_distributions():
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    """HEAD's commit, with '+dirty' when tracked files differ from it; 'unknown' outside git."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def _native_pools() -> list[dict[str, Any]] | str:
    """BLAS and OpenMP pools loaded in this process (threadpoolctl, which scikit-learn
    brings; without it, what the environment variables asked is all there is)."""
    try:
        import threadpoolctl
    except ImportError:
        return "threadpoolctl is not installed"
    return [
        {"library": info.get("internal_api"), "threads": info.get("num_threads")}
        for info in threadpoolctl.threadpool_info()
    ]


def _framework_threads() -> dict[str, Any]:
    """Thread counts read back from every framework this process has already imported."""
    found: dict[str, Any] = {}
    torch = sys.modules.get("torch")
    if torch is not None:
        found["torch"] = {
            "intra_op": torch.get_num_threads(),
            "inter_op": torch.get_num_interop_threads(),
        }
    tf = sys.modules.get("tensorflow")
    if tf is not None:  # 0 means TensorFlow's default: one thread per core
        found["tensorflow"] = {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        }
    if "jax" in sys.modules:  # XLA has no API to read its pools back: what it read
        found["jax"] = {name: os.environ.get(name) for name in ("NPROC", "XLA_FLAGS")}
    return found


def threads_in_effect() -> dict[str, Any]:
    """What the frameworks loaded in this process really use, read back from them (it
    imports none): ``native_pools`` lists BLAS and OpenMP libraries with their thread
    counts, then one entry per framework (torch, tensorflow, jax). A reading that fails
    is recorded as its error, never raised: the record matters more."""
    found: dict[str, Any] = {}
    for name, read in (("native_pools", _native_pools), ("frameworks", _framework_threads)):
        try:
            found[name] = read()
        except Exception as error:
            found[name] = f"unreadable: {type(error).__name__}: {error}"
    return found


def environment(threads: int | list[int]) -> dict:
    """The environment block every record carries; ``threads`` is what was asked (in a
    run's ``run.json``, the list of counts when threads are a matrix dimension)."""
    return {
        "host": socket.gethostname(),  # a run fanned out on a cluster spans hosts
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": threads,
        "thread_env": {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ},
        "versions": distribution_versions(),
        "git_commit": git_commit(),
    }


MEMORY_ENV = "BENCH_MEMORY_BYTES"  # pretend the machine has this much memory (tests)


def available_memory_bytes() -> int:
    """Memory the process may use: ``BENCH_MEMORY_BYTES`` when set, else MemAvailable."""
    if os.environ.get(MEMORY_ENV):
        text = os.environ[MEMORY_ENV]
        if not text.strip().isdigit() or int(text) < 1:
            raise SpecError(f"{MEMORY_ENV} must be a whole number of bytes above 0, got {text!r}")
        return int(text)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
