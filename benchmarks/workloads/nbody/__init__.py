"""The nbody workload: its spec, presets and data (workload.py), and what only it needs."""

from benchmarks.workloads.nbody.workload import NBody

WORKLOAD = NBody()
