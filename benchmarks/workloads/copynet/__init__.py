"""The copynet workload: its spec, presets and data (workload.py), and what only it needs."""

from benchmarks.workloads.copynet.workload import CopyNet

WORKLOAD = CopyNet()
