"""The xor workload: its spec, presets and data (workload.py), and what only it needs."""

from benchmarks.workloads.xor.workload import Xor

WORKLOAD = Xor()
