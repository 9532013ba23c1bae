"""The dqn workload: its spec, presets and data (workload.py), and what only it needs."""

from benchmarks.workloads.dqn.workload import DQN

WORKLOAD = DQN()
