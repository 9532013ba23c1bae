"""Where and with what a result was measured: machine, versions, threads, commit.

Reads installed versions from package metadata, so nothing here imports a framework.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BASE_DISTRIBUTIONS = ("numpy", "matplotlib", "gymnasium", "ale-py", "scikit-learn")
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "XLA_FLAGS",
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


def environment(threads: int) -> dict:
    """The environment block every record carries."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": threads,
        "thread_env": {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ},
        "versions": distribution_versions(),
        "git_commit": git_commit(),
    }
